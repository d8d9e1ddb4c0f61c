package main

import (
	"context"
	"fmt"
	"sync"
	"time"
	"zonetop/api"
	"zonetop/client"
	"zonetop/internal/authz"

	"zonetop/engine"
	"zonetop/ui"
	"zonetop/zones"
)

// delegServer is client.Server for a delegated host user (zonetop run
// without root): the store is root's, so zones are listed by the zonetop
// service, zonecfg runs there too, and life-cycle and console-log
// requests go to each zone's zoneadmd (client.Service), which authorize
// them by the caller's credentials. Usage, caps and projects go to the
// engine in this process, as the user. What the user may not do is
// refused in the engine's words before a request is made; the service and
// zoneadmd decide again whatever this process says.
type delegServer struct {
	engineServer
	svc client.Service

	mu    sync.Mutex
	auths map[string][]string // zone → the user's auths, from the last List
}

var _ client.Server = (*delegServer)(nil)

func newDelegServer(e *engine.Engine) *delegServer {
	return &delegServer{engineServer: engineServer{e}, svc: client.Service{Root: e.Root}, auths: map[string][]string{}}
}

// List asks the zonetop service, which lists only the zones this user
// administers, each with the user's auths on it.
func (b *delegServer) List(ctx context.Context, p api.Principal, opts api.ListOptions) ([]api.ZoneInfo, error) {
	zs, err := b.svc.List(ctx, p, opts)
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
func (b *delegServer) may(p api.Principal, zone string, action api.Action) error {
	b.mu.Lock()
	auths := b.auths[zone]
	b.mu.Unlock()
	return authz.AuthorizeAuths(p, zone, auths, action)
}

func (b *delegServer) CreateZone(ctx context.Context, p api.Principal, z api.NewZone) error {
	return authz.CheckConfigChange(p, nil, &zones.Config{Name: z.Name})
}

func (b *delegServer) DeleteZone(ctx context.Context, p api.Principal, name string) error {
	return authz.CheckConfigChange(p, &zones.Config{Name: name}, nil)
}

func (b *delegServer) ZoneConfig(ctx context.Context, p api.Principal, name string) (info, export string, err error) {
	return b.svc.ZoneConfig(ctx, p, name)
}

func (b *delegServer) ApplyZonecfg(ctx context.Context, p api.Principal, name, file, script string) (string, error) {
	return b.svc.ApplyZonecfg(ctx, p, name, file, script)
}

func (b *delegServer) InstallZone(ctx context.Context, p api.Principal, name, archive string, progress func(api.Progress)) error {
	return b.may(p, name, api.ActInstall)
}

func (b *delegServer) UninstallZone(ctx context.Context, p api.Principal, name string, force bool) error {
	return b.may(p, name, api.ActUninstall)
}

// op runs a life-cycle operation through the zone's zoneadmd.
func (b *delegServer) op(p api.Principal, name, op string, action api.Action, args []string, timeout time.Duration) (api.ZoneStatus, error) {
	if err := b.may(p, name, action); err != nil {
		return api.ZoneStatus{}, err
	}
	return b.svc.Op(name, op, args, timeout)
}

func (b *delegServer) ReadyZone(ctx context.Context, p api.Principal, name string) (api.ZoneStatus, error) {
	return b.op(p, name, "ready", api.ActReady, nil, 0)
}

func (b *delegServer) BootZone(ctx context.Context, p api.Principal, name string, args []string) (api.ZoneStatus, error) {
	return b.op(p, name, "boot", api.ActBoot, args, 0)
}

func (b *delegServer) HaltZone(ctx context.Context, p api.Principal, name string) (api.ZoneStatus, error) {
	return b.op(p, name, "halt", api.ActHalt, nil, 0)
}

func (b *delegServer) ShutdownZone(ctx context.Context, p api.Principal, name string, timeout time.Duration) (api.ZoneStatus, error) {
	return b.op(p, name, "shutdown", api.ActShutdown, nil, timeout)
}

func (b *delegServer) RebootZone(ctx context.Context, p api.Principal, name string, args []string) (api.ZoneStatus, error) {
	if _, err := b.op(p, name, "halt", api.ActReboot, nil, 0); err != nil {
		return api.ZoneStatus{}, err
	}
	return b.op(p, name, "boot", api.ActReboot, args, 0)
}

// Events are the engine's in-process notes of the root console; a
// delegated console has none of its own.
func (b *delegServer) Events(p api.Principal, zone string) []api.Event { return nil }

// Processes needs the host's view of every process of the zone, which is
// root's.
func (b *delegServer) Processes(ctx context.Context, p api.Principal, zone string) ([]api.Process, error) {
	return nil, fmt.Errorf("processes of %s: %w: the host's process table of a zone is the global administrator's view; use zlogin %s ps", zone, api.ErrPermission, zone)
}

// ConsoleLog: the log file is root's; the zone's zoneadmd reads it for a
// user with the login auth.
func (b *delegServer) ConsoleLog(ctx context.Context, p api.Principal, zone string) (string, error) {
	if err := b.may(p, zone, api.ActReadConsoleLog); err != nil {
		return "", err
	}
	return b.svc.ConsoleLog(ctx, p, zone)
}

// ActionAllowed tells the console which keys to offer on a zone.
func (b *delegServer) ActionAllowed(p api.Principal, zone string, action api.Action) bool {
	return b.may(p, zone, action) == nil
}

// delegConsole is a delegated user's console: the host's console over
// delegServer, offering on each zone only the keys the user's auths allow.
type delegConsole struct {
	hostConsole
	d *delegServer
}

var (
	_ ui.Backend        = delegConsole{}
	_ ui.UsageBackend   = delegConsole{}
	_ ui.ConsoleBackend = delegConsole{}
	_ ui.LoginBackend   = delegConsole{}
	_ ui.LogBackend     = delegConsole{}
	_ ui.ActionScope    = delegConsole{}
)

func newDelegBackend(e *engine.Engine) delegConsole {
	d := newDelegServer(e)
	return delegConsole{hostConsole: hostConsole{consoleUI: consoleUI{Server: d, eng: e}, engineEditing: engineEditing{e}}, d: d}
}

func (b delegConsole) ActionAllowed(p api.Principal, zone string, action api.Action) bool {
	return b.d.ActionAllowed(p, zone, action)
}
