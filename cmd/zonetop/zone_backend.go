package main

import (
	"context"
	"fmt"
	"os"
	"sort"
	"time"
	"zonetop/api"
	"zonetop/client"
	"zonetop/internal/authz"
	"zonetop/rctl"
	"zonetop/ui"
)

// zoneServer is the zone socket (client.ZoneServer) as client.Server:
// the socket knows the caller from its peer credentials and shows only
// this zone. Life-cycle and configuration changes are the global
// administrator's and the socket carries none of them; they get the
// engine's own refusal, decided here by the same Authorize the host uses,
// since client decides nothing itself.
type zoneServer struct {
	*client.ZoneServer
}

var _ client.Server = zoneServer{}

// refuse is the engine's answer to a change only the global
// administrator may make.
func (zoneServer) refuse(p api.Principal, zone string, act api.Action) error {
	if err := authz.Authorize(p, zone, act, nil); err != nil {
		return err
	}
	return fmt.Errorf("%s %s: %w: only the global administrator may do this", act, zone, api.ErrPermission)
}

func (s zoneServer) CreateZone(_ context.Context, p api.Principal, z api.NewZone) error {
	return s.refuse(p, z.Name, api.ActConfigure)
}

func (s zoneServer) DeleteZone(_ context.Context, p api.Principal, name string) error {
	return s.refuse(p, name, api.ActConfigure)
}

func (s zoneServer) ApplyZonecfg(_ context.Context, p api.Principal, name, _, _ string) (string, error) {
	return "", s.refuse(p, name, api.ActConfigure)
}

func (s zoneServer) InstallZone(_ context.Context, p api.Principal, name, _ string, _ func(api.Progress)) error {
	return s.refuse(p, name, api.ActInstall)
}

func (s zoneServer) UninstallZone(_ context.Context, p api.Principal, name string, _ bool) error {
	return s.refuse(p, name, api.ActUninstall)
}

func (s zoneServer) ReadyZone(_ context.Context, p api.Principal, name string) (api.ZoneStatus, error) {
	return api.ZoneStatus{}, s.refuse(p, name, api.ActReady)
}

func (s zoneServer) BootZone(_ context.Context, p api.Principal, name string, _ []string) (api.ZoneStatus, error) {
	return api.ZoneStatus{}, s.refuse(p, name, api.ActBoot)
}

func (s zoneServer) HaltZone(_ context.Context, p api.Principal, name string) (api.ZoneStatus, error) {
	return api.ZoneStatus{}, s.refuse(p, name, api.ActHalt)
}

func (s zoneServer) ShutdownZone(_ context.Context, p api.Principal, name string, _ time.Duration) (api.ZoneStatus, error) {
	return api.ZoneStatus{}, s.refuse(p, name, api.ActShutdown)
}

func (s zoneServer) RebootZone(_ context.Context, p api.Principal, name string, _ []string) (api.ZoneStatus, error) {
	return api.ZoneStatus{}, s.refuse(p, name, api.ActReboot)
}

// zoneConsole is the console inside a zone: the one console adapter over
// the zone socket, showing what a zone offers (its usage, processes,
// console log and projects) and nothing of the host (no host meters, no
// console or login panes: the operator is already in the zone).
type zoneConsole struct {
	zoneViews
	zoneEditing
}

// zoneViews is what of consoleUI a zone's console offers.
type zoneViews interface {
	ui.Backend
	ui.UsageBackend
	ui.ProcessSignaler
	ui.LogBackend
}

var (
	_ ui.Backend         = zoneConsole{}
	_ ui.UsageBackend    = zoneConsole{}
	_ ui.ProjectEditor   = zoneConsole{}
	_ ui.ProcessSignaler = zoneConsole{}
	_ ui.LogBackend      = zoneConsole{}
)

func newZoneConsole(srv *client.ZoneServer) zoneConsole {
	zs := zoneServer{srv}
	return zoneConsole{zoneViews: consoleUI{Server: zs}, zoneEditing: zoneEditing{zs}}
}

// newZoneBackend asks the zone socket who and where this is.
func newZoneBackend() (zoneConsole, api.Principal, error) {
	srv, err := client.DialZoneServer(api.ZoneSockPath)
	if err != nil {
		return zoneConsole{}, api.Principal{}, err
	}
	p := api.Principal{UID: os.Getuid(), GID: os.Getgid(), Zone: srv.Self().Name}
	if p.UID == 0 {
		p.User = "root"
	}
	return newZoneConsole(srv), p, nil
}

// zoneEditing is the zone console's projects: changes sent as the zone
// socket's project requests, values as prctl takes them; zoneadmd
// authorizes each.
type zoneEditing struct {
	srv zoneServer
}

func (b zoneEditing) project(ctx context.Context, p api.Principal, zone string, req api.ProjectRequest) error {
	_, err := b.srv.EditProjects(ctx, p, zone, req)
	return err
}

func (b zoneEditing) AddProject(ctx context.Context, p api.Principal, zone string, spec ui.ProjectSpec) error {
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

func (b zoneEditing) SetProjectLimit(ctx context.Context, p api.Principal, zone, project, name, value string) error {
	v := ""
	if value != "" {
		var err error
		if v, err = prctlValue(name, value, rctl.Privileged); err != nil {
			return err
		}
	}
	return b.project(ctx, p, zone, api.ProjectRequest{Op: "set-limit", Name: project, Limits: map[string]string{name: v}})
}

func (b zoneEditing) DeleteProject(ctx context.Context, p api.Principal, zone, project string) error {
	return b.project(ctx, p, zone, api.ProjectRequest{Op: "del", Name: project})
}
