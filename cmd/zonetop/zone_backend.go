package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"zonetop/api"
	"zonetop/client"
	"zonetop/internal/authz"
	"zonetop/rctl"

	"golang.org/x/sys/unix"

	"zonetop/engine"
	"zonetop/ui"
	"zonetop/zones"
)

// zoneBackend is the console inside a zone: every call goes to the zone
// socket (client.ZoneServer), which knows the caller from its peer
// credentials and shows only this zone. Life-cycle and configuration
// changes are the global administrator's; they get the engine's own
// refusal, decided by the same Authorize the host uses.
type zoneBackend struct {
	srv *client.ZoneServer
}

var (
	_ ui.Backend         = zoneBackend{}
	_ ui.UsageBackend    = zoneBackend{}
	_ ui.ProjectEditor   = zoneBackend{}
	_ ui.ProcessSignaler = zoneBackend{}
	_ ui.LogBackend      = zoneBackend{}
)

// newZoneBackend asks the zone socket who and where this is.
func newZoneBackend() (zoneBackend, api.Principal, error) {
	srv, err := client.DialZoneServer(api.ZoneSockPath)
	if err != nil {
		return zoneBackend{}, api.Principal{}, err
	}
	b := zoneBackend{srv: srv}
	p := api.Principal{UID: os.Getuid(), GID: os.Getgid(), Zone: srv.Self().Name}
	if p.UID == 0 {
		p.User = "root"
	}
	return b, p, nil
}

// refuse is the engine's answer to a change only the global
// administrator may make.
func (b zoneBackend) refuse(p api.Principal, zone string, act api.Action) error {
	if err := authz.Authorize(p, zone, act, nil); err != nil {
		return err
	}
	return fmt.Errorf("%s %s: %w: only the global administrator may do this", act, zone, api.ErrPermission)
}

func (b zoneBackend) List(ctx context.Context, p api.Principal, opts api.ListOptions) ([]api.ZoneInfo, error) {
	return b.srv.List(ctx, p, opts)
}

func (b zoneBackend) Host() api.HostInfo {
	var h api.HostInfo
	h.Hostname, _ = os.Hostname()
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		h.Kernel = unix.ByteSliceToString(u.Release[:])
	}
	h.Brands = slices.Clone(zones.Brands)
	return h
}

// CheckNewZone gives the engine's checks, which read nothing of the host,
// though only the global administrator, never a zone, gets the form.
func (b zoneBackend) CheckNewZone(z api.NewZone) []api.FieldProblem {
	_, probs := engine.NewZoneConfig(z)
	return probs
}

func (b zoneBackend) CreateZone(_ context.Context, p api.Principal, z api.NewZone) error {
	return b.refuse(p, z.Name, api.ActConfigure)
}

func (b zoneBackend) DeleteZone(_ context.Context, p api.Principal, name string) error {
	return b.refuse(p, name, api.ActConfigure)
}

// ZoneConfig shows what the zone may know of itself: its state, brand and
// IP type, and its caps, read only, as the zonecfg statements that set
// them.
func (b zoneBackend) ZoneConfig(ctx context.Context, p api.Principal, name string) (string, string, error) {
	if err := b.srv.Own(name); err != nil {
		return "", "", err
	}
	in, err := b.srv.Info()
	if err != nil {
		return "", "", err
	}
	var s strings.Builder
	fmt.Fprintf(&s, "zonename: %s\nstate: %s\nzoneid: %d\nbrand: %s\nip-type: %s\nautoboot: %t\nyou: uid %d (%s)\n",
		in.Name, in.State, in.ZoneID, in.Brand, in.IPType, in.Autoboot, in.UID, in.Role)
	// The caps in force, from zoneadmd, named as prctl names them.
	var caps []string
	if u, err := b.srv.Usage(ctx, p, in.Name); err == nil {
		for name, v := range u.Caps {
			q := strconv.FormatUint(v, 10)
			if rc, err := rctl.Lookup(name); err == nil {
				q = rctl.FormatQuantity(v, rc.Unit)
			}
			caps = append(caps, name+"="+q)
		}
	}
	sort.Strings(caps)
	if len(caps) > 0 {
		s.WriteString("caps (set by the global administrator):\n")
		for _, c := range caps {
			fmt.Fprintf(&s, "\t%s\n", c)
		}
	}
	return s.String(), strings.Join(in.Caps, "\n"), nil
}

func (b zoneBackend) ApplyZonecfg(_ context.Context, p api.Principal, name, _, _ string) (string, error) {
	return "", b.refuse(p, name, api.ActConfigure)
}

func (b zoneBackend) InstallZone(_ context.Context, p api.Principal, name, _ string, _ func(api.Progress)) error {
	return b.refuse(p, name, api.ActInstall)
}

func (b zoneBackend) UninstallZone(_ context.Context, p api.Principal, name string, _ bool) error {
	return b.refuse(p, name, api.ActUninstall)
}

func (b zoneBackend) ReadyZone(_ context.Context, p api.Principal, name string) (api.ZoneStatus, error) {
	return api.ZoneStatus{}, b.refuse(p, name, api.ActReady)
}

func (b zoneBackend) BootZone(_ context.Context, p api.Principal, name string, _ []string) (api.ZoneStatus, error) {
	return api.ZoneStatus{}, b.refuse(p, name, api.ActBoot)
}

func (b zoneBackend) HaltZone(_ context.Context, p api.Principal, name string) (api.ZoneStatus, error) {
	return api.ZoneStatus{}, b.refuse(p, name, api.ActHalt)
}

func (b zoneBackend) ShutdownZone(_ context.Context, p api.Principal, name string, _ time.Duration) (api.ZoneStatus, error) {
	return api.ZoneStatus{}, b.refuse(p, name, api.ActShutdown)
}

func (b zoneBackend) RebootZone(_ context.Context, p api.Principal, name string, _ []string) (api.ZoneStatus, error) {
	return api.ZoneStatus{}, b.refuse(p, name, api.ActReboot)
}

// Events: the audit log is the host's; the zone has none to show.
func (b zoneBackend) Events(api.Principal, string) []api.Event { return nil }

func (b zoneBackend) Processes(ctx context.Context, p api.Principal, zone string) ([]api.Process, error) {
	return b.srv.Processes(ctx, p, zone)
}

// ConsoleLog: zoneadmd authorizes it (the zone's administrator) and has
// no other zone's to give.
func (b zoneBackend) ConsoleLog(ctx context.Context, p api.Principal, zone string) (string, error) {
	return b.srv.ConsoleLog(ctx, p, zone)
}

// SignalProcess: zoneadmd authorizes it and finds the process in this
// zone's pid namespace only.
func (b zoneBackend) SignalProcess(ctx context.Context, p api.Principal, req api.SignalRequest) error {
	return b.srv.SignalProcess(ctx, p, req)
}

func (b zoneBackend) Usage(ctx context.Context, p api.Principal, zone string) (ui.ZoneUsage, error) {
	u, err := b.srv.Usage(ctx, p, zone)
	if err != nil {
		return ui.ZoneUsage{}, err
	}
	return usageForConsole(u), nil
}

// project sends a project change; the zone socket authorizes it.
func (b zoneBackend) project(ctx context.Context, p api.Principal, zone string, req api.ProjectRequest) error {
	_, err := b.srv.EditProjects(ctx, p, zone, req)
	return err
}

func (b zoneBackend) AddProject(ctx context.Context, p api.Principal, zone string, spec ui.ProjectSpec) error {
	req := api.ProjectRequest{Op: "add", Name: spec.Name}
	if spec.ID != 0 {
		id := spec.ID
		req.ID = &id
	}
	if spec.Comment != "" {
		c := spec.Comment
		req.Comment = &c
	}
	names := make([]string, 0, len(spec.Limits))
	for n := range spec.Limits {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if spec.Limits[n] == "" {
			continue
		}
		v, err := prctlValue(n, spec.Limits[n], rctl.Privileged)
		if err != nil {
			return err
		}
		req.Attrs = append(req.Attrs, n+"="+v)
	}
	return b.project(ctx, p, zone, req)
}

func (b zoneBackend) SetProjectLimit(ctx context.Context, p api.Principal, zone, project, name, value string) error {
	v := ""
	if value != "" {
		var err error
		if v, err = prctlValue(name, value, rctl.Privileged); err != nil {
			return err
		}
	}
	return b.project(ctx, p, zone, api.ProjectRequest{Op: "set-limit", Name: project, Limits: map[string]string{name: v}})
}

func (b zoneBackend) DeleteProject(ctx context.Context, p api.Principal, zone, project string) error {
	return b.project(ctx, p, zone, api.ProjectRequest{Op: "del", Name: project})
}
