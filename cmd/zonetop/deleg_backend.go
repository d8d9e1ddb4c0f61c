package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"zonetop/api"
	"zonetop/client"
	"zonetop/internal/authz"

	"zonetop/engine"
	"zonetop/ui"
	"zonetop/zones"
)

// delegBackend is the console of a delegated host user (zonetop run
// without root): the store is root's, so zones are listed by the zonetop
// service, zonecfg runs there too, and life-cycle, console, login and
// usage requests go to each zone's zoneadmd, which authorizes them by the
// caller's credentials. What the user may not do is refused in the
// engine's words before a request is made; the service and zoneadmd
// decide again whatever this process says.
type delegBackend struct {
	consoleBackend

	mu    sync.Mutex
	auths map[string][]string // zone → the user's auths, from the last List
}

var (
	_ ui.Backend        = (*delegBackend)(nil)
	_ ui.UsageBackend   = (*delegBackend)(nil)
	_ ui.ConsoleBackend = (*delegBackend)(nil)
	_ ui.LoginBackend   = (*delegBackend)(nil)
	_ ui.LogBackend     = (*delegBackend)(nil)
)

func newDelegBackend(e *engine.Engine) *delegBackend {
	return &delegBackend{consoleBackend: consoleBackend{e}, auths: map[string][]string{}}
}

// List asks the zonetop service, which lists only the zones this user
// administers, each with the user's auths on it.
func (b *delegBackend) List(ctx context.Context, p api.Principal, opts api.ListOptions) ([]api.ZoneInfo, error) {
	zs, err := client.DelegatedList(b.Root, opts)
	if err != nil {
		return nil, err
	}
	m := make(map[string][]string, len(zs))
	for _, z := range zs {
		m[z.Name] = z.Auths
	}
	b.mu.Lock()
	b.auths = m
	b.mu.Unlock()
	return zs, nil
}

// may is the engine's answer for action on zone, from the user's auths.
func (b *delegBackend) may(p api.Principal, zone string, action api.Action) error {
	b.mu.Lock()
	auths := b.auths[zone]
	b.mu.Unlock()
	return authz.AuthorizeAuths(p, zone, auths, action)
}

func (b *delegBackend) CreateZone(ctx context.Context, p api.Principal, z api.NewZone) error {
	return authz.CheckConfigChange(p, nil, &zones.Config{Name: z.Name})
}

func (b *delegBackend) DeleteZone(ctx context.Context, p api.Principal, name string) error {
	return authz.CheckConfigChange(p, &zones.Config{Name: name}, nil)
}

// zonecfg runs one zonecfg session through the service.
func (b *delegBackend) zonecfg(args []string, script string) (string, error) {
	var out, errOut bytes.Buffer
	code, err := client.DelegatedZonecfg(b.Root, args, false, strings.NewReader(script), &out, &errOut)
	if err != nil {
		return out.String(), err
	}
	if code != 0 {
		msg := strings.TrimSpace(errOut.String())
		if msg == "" {
			msg = fmt.Sprintf("exit status %d", code)
		}
		return out.String(), errors.New(msg)
	}
	return out.String(), nil
}

func (b *delegBackend) ZoneConfig(ctx context.Context, p api.Principal, name string) (info, export string, err error) {
	if info, err = b.zonecfg([]string{"-z", name, "info"}, ""); err != nil {
		return "", "", err
	}
	export, err = b.zonecfg([]string{"-z", name, "export"}, "")
	return info, export, err
}

func (b *delegBackend) ApplyZonecfg(ctx context.Context, p api.Principal, name, file, script string) (string, error) {
	out, err := b.zonecfg([]string{"-z", name, "-f", "-"}, script)
	if err != nil && file != "" {
		err = errors.New(strings.ReplaceAll(err.Error(), "stdin:", file+":"))
	}
	return out, err
}

func (b *delegBackend) InstallZone(ctx context.Context, p api.Principal, name, archive string, progress func(api.Progress)) error {
	return b.may(p, name, api.ActInstall)
}

func (b *delegBackend) UninstallZone(ctx context.Context, p api.Principal, name string, force bool) error {
	return b.may(p, name, api.ActUninstall)
}

// op runs a life-cycle operation through the zone's zoneadmd.
func (b *delegBackend) op(p api.Principal, name, op string, action api.Action, args []string, timeout time.Duration) (api.ZoneStatus, error) {
	if err := b.may(p, name, action); err != nil {
		return api.ZoneStatus{}, err
	}
	return client.DelegatedOp(b.Root, name, op, args, timeout)
}

func (b *delegBackend) ReadyZone(ctx context.Context, p api.Principal, name string) (api.ZoneStatus, error) {
	return b.op(p, name, "ready", api.ActReady, nil, 0)
}

func (b *delegBackend) BootZone(ctx context.Context, p api.Principal, name string, args []string) (api.ZoneStatus, error) {
	return b.op(p, name, "boot", api.ActBoot, args, 0)
}

func (b *delegBackend) HaltZone(ctx context.Context, p api.Principal, name string) (api.ZoneStatus, error) {
	return b.op(p, name, "halt", api.ActHalt, nil, 0)
}

func (b *delegBackend) ShutdownZone(ctx context.Context, p api.Principal, name string, timeout time.Duration) (api.ZoneStatus, error) {
	return b.op(p, name, "shutdown", api.ActShutdown, nil, timeout)
}

func (b *delegBackend) RebootZone(ctx context.Context, p api.Principal, name string, args []string) (api.ZoneStatus, error) {
	if _, err := b.op(p, name, "halt", api.ActReboot, nil, 0); err != nil {
		return api.ZoneStatus{}, err
	}
	return b.op(p, name, "boot", api.ActReboot, args, 0)
}

// Events are the engine's in-process notes of the root console; a
// delegated console has none of its own.
func (b *delegBackend) Events(p api.Principal, zone string) []api.Event { return nil }

// Processes needs the host's view of every process of the zone, which is
// root's.
func (b *delegBackend) Processes(ctx context.Context, p api.Principal, zone string) ([]api.Process, error) {
	return nil, fmt.Errorf("processes of %s: %w: the host's process table of a zone is the global administrator's view; use zlogin %s ps", zone, api.ErrPermission, zone)
}

// ConsoleLog: the log file is root's; the zone's zoneadmd reads it for a
// user with the login auth.
func (b *delegBackend) ConsoleLog(ctx context.Context, p api.Principal, zone string) (string, error) {
	if err := b.may(p, zone, api.ActReadConsoleLog); err != nil {
		return "", err
	}
	return client.DelegatedConsoleLog(b.Root, zone)
}

// ActionAllowed tells the console which keys to offer on a zone.
func (b *delegBackend) ActionAllowed(p api.Principal, zone string, action api.Action) bool {
	return b.may(p, zone, action) == nil
}
