package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
	"zonetop/api"
	"zonetop/console"
	"zonetop/internal/authz"
	"zonetop/internal/configs"
	"zonetop/internal/zoneadmd"
	"zonetop/zones"
)

// eventLog keeps the newest events of each zone. The zero value is ready.
type eventLog struct {
	mu     sync.Mutex
	byZone map[string][]api.Event
}

// maxEvents bounds each zone's list so a flapping zone cannot grow memory.
const maxEvents = 200

func (l *eventLog) add(ev api.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.byZone == nil {
		l.byZone = map[string][]api.Event{}
	}
	list := append(l.byZone[ev.Zone], ev)
	if len(list) > maxEvents {
		list = append([]api.Event(nil), list[len(list)-maxEvents:]...)
	}
	l.byZone[ev.Zone] = list
}

// note records the outcome of op on zone by p.
func (e *Engine) note(p api.Principal, zone, op string, err error) {
	ev := api.Event{Time: time.Now(), Zone: zone, UID: p.UID, Op: op, Result: "ok"}
	if err != nil {
		ev.Result, ev.Failed = err.Error(), true
	}
	e.events.add(ev)
}

// Events returns what happened to zone through this engine, newest first.
// A zone administrator sees only the events of its own zone.
func (e *Engine) Events(p api.Principal, zone string) []api.Event {
	if p.Zone != "global" && p.Zone != zone {
		return nil
	}
	e.events.mu.Lock()
	defer e.events.mu.Unlock()
	src := e.events.byZone[zone]
	out := make([]api.Event, len(src))
	for i, ev := range src {
		out[len(src)-1-i] = ev
	}
	return out
}

// others loads every configured zone except name, for the checks that span
// zones (unique zonepaths).
func (e *Engine) others(name string) []*zones.Config {
	var out []*zones.Config
	list, err := e.store.List()
	if err != nil {
		return nil
	}
	names := make([]string, 0, len(list))
	for _, o := range list {
		if o.Name != name {
			names = append(names, o.Name)
		}
	}
	loaded, err := e.store.LoadMany(names)
	if err != nil {
		return nil
	}
	for _, n := range names {
		if l := loaded[n]; l.Err == nil {
			out = append(out, l.Config)
		}
	}
	return out
}

// CreateZone verifies a new zone's configuration and commits it. The
// console's form comes here through CreateNewZone, so the same checks apply
// whatever produced cfg.
func (e *Engine) CreateZone(ctx context.Context, p api.Principal, cfg *zones.Config) error {
	if cfg == nil {
		return errors.New("create zone: no configuration")
	}
	return e.createZone(p, cfg, nil)
}

// createZone is CreateZone with the problems of fields that did not parse
// (unparsed), which refuse the zone once the principal may create it.
func (e *Engine) createZone(p api.Principal, cfg *zones.Config, unparsed []string) (err error) {
	defer func() { e.note(p, cfg.Name, "create", err) }()
	defer e.auditOp(p, cfg.Name, "zonecfg create")(&err)
	if err := authz.RequireGlobal(p, "create", cfg.Name); err != nil {
		return err
	}
	if err := zones.ValidateName(cfg.Name); err != nil {
		return fmt.Errorf("create zone: %w", err)
	}
	if len(unparsed) > 0 {
		return fmt.Errorf("create zone %s: %s", cfg.Name, strings.Join(unparsed, "; "))
	}
	if _, err := e.store.State(cfg.Name); err == nil {
		return fmt.Errorf("create zone %s: a zone of that name is already configured", cfg.Name)
	}
	if errs := zones.Verify(cfg, e.others(cfg.Name)); len(errs) > 0 {
		return fmt.Errorf("create zone %s: %w", cfg.Name, errors.Join(errs...))
	}
	if _, err := e.store.Commit(cfg.Clone(), zones.Revision{}); err != nil {
		return fmt.Errorf("create zone %s: %w", cfg.Name, err)
	}
	return nil
}

// DeleteZone removes a configured zone's configuration, as `zonecfg delete`.
func (e *Engine) DeleteZone(ctx context.Context, p api.Principal, name string) (err error) {
	defer func() { e.note(p, name, "delete", err) }()
	defer e.auditOp(p, name, "zonecfg delete")(&err)
	if err := authz.RequireGlobal(p, "delete", name); err != nil {
		return err
	}
	return e.store.Delete(name)
}

// ZoneConfig returns a zone's configuration as `zonecfg info` shows it
// (text) and as an editable zonecfg script (export).
func (e *Engine) ZoneConfig(ctx context.Context, p api.Principal, name string) (info, export string, err error) {
	if p.Zone != "global" && p.Zone != name {
		return "", "", fmt.Errorf("zone %s: %w: not your zone", name, api.ErrPermission)
	}
	cfg, _, err := e.store.Load(name)
	if err != nil {
		return "", "", fmt.Errorf("zone %s: %w", name, err)
	}
	var out, errOut bytes.Buffer
	if zones.RunZonecfg(e.store, []string{"-z", name, "info"}, strings.NewReader(""), &out, &errOut) != 0 {
		return "", "", fmt.Errorf("zone %s: info: %s", name, strings.TrimSpace(errOut.String()))
	}
	return out.String(), zones.Export(cfg), nil
}

// ApplyZonecfg runs script as `zonecfg -z name -f FILE` would: syntax
// first, then the commands; the first error stops it and is reported as
// FILE:LINE:COL with nothing written. file names the script in errors.
func (e *Engine) ApplyZonecfg(ctx context.Context, p api.Principal, name, file, script string) (out string, err error) {
	defer func() { e.note(p, name, "zonecfg", err) }()
	if err := authz.RequireGlobal(p, "zonecfg", name); err != nil {
		return "", err
	}
	if file == "" {
		file = "script"
	}
	// RunZonecfg reads "-" as stdin and names it so; give it a real name
	// through a private file so errors read FILE:LINE:COL.
	dir, err := os.MkdirTemp("", "zonetop-zonecfg-")
	if err != nil {
		return "", fmt.Errorf("zonecfg %s: %w", name, err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, filepath.Base(file))
	if err := os.WriteFile(path, []byte(script), 0o600); err != nil {
		return "", fmt.Errorf("zonecfg %s: %w", name, err)
	}
	var stdout, stderr bytes.Buffer
	code := e.Zonecfg(p, []string{"-z", name, "-f", path}, strings.NewReader(""), &stdout, &stderr)
	msg := strings.ReplaceAll(strings.TrimSpace(stderr.String()), path, file)
	if code != 0 {
		if msg == "" {
			msg = fmt.Sprintf("exit status %d", code)
		}
		return stdout.String(), errors.New(msg)
	}
	return stdout.String(), nil
}

// Processes lists the processes of a ready or running zone: every host
// process in the pid namespace of the zone's zsched.
func (e *Engine) Processes(ctx context.Context, p api.Principal, name string) ([]api.Process, error) {
	if p.Zone != "global" && p.Zone != name {
		return nil, fmt.Errorf("processes of %s: %w: not your zone", name, api.ErrPermission)
	}
	cfg, _, err := e.store.Load(name)
	if err != nil {
		return nil, fmt.Errorf("processes of %s: %w", name, err)
	}
	if !zoneadmd.RuntimePresent(e.Root, name) {
		return nil, nil
	}
	st, err := zoneadmd.Status(e.Root, name)
	if err != nil {
		return nil, fmt.Errorf("processes of %s: %w", name, err)
	}
	if st.ZschedPid <= 0 {
		return nil, nil
	}
	users := zoneadmd.ZonePasswd(filepath.Join(e.hostPath(cfg.Zonepath), "root"))
	return zoneadmd.ProcessesOf(ctx, name, st.ZschedPid, users, false)
}

// SignalProcess sends a signal to one process of a ready or running zone,
// for the console's process view and kill. The global administrator may
// signal any zone's process by its host pid; a zone's own administrator
// reaches zoneadmd through the zone socket instead, and a delegated host
// user, who does not see the zone's processes, may not. The process must
// be the zone's (zoneadmd.SignalProcess holds it by pidfd and checks its
// pid namespace), so no request names a host process or another zone's.
func (e *Engine) SignalProcess(ctx context.Context, p api.Principal, req api.SignalRequest) (err error) {
	defer func() { e.note(p, req.Zone, "signal "+req.Signal+" "+strconv.Itoa(req.PID), err) }()
	if err := configs.CheckZoneName(req.Zone); err != nil {
		return fmt.Errorf("signal: %w", err)
	}
	cfg, _, err := e.store.Load(req.Zone)
	if err != nil {
		return fmt.Errorf("signal %s: %w", req.Zone, err)
	}
	if err := authz.Authorize(p, req.Zone, api.ActSignal, cfg); err != nil {
		return err
	}
	if !zoneadmd.RuntimePresent(e.Root, req.Zone) {
		return fmt.Errorf("signal %s: %w: zone %s is not ready or running", req.Zone, api.ErrNotFound, req.Zone)
	}
	st, err := zoneadmd.Status(e.Root, req.Zone)
	if err != nil {
		return fmt.Errorf("signal %s: %w", req.Zone, err)
	}
	// A zone principal names the zone's pids, as its own listing gives them.
	return zoneadmd.SignalProcess(req.Zone, st.ZschedPid, req, p.Zone != "global")
}

// consoleLogMax is how much of a console log's end ConsoleLog returns.
const consoleLogMax = 1 << 20

// ConsoleLog is the end of a zone's console log (what zoneadmd kept of
// its /dev/console), for the console's log view: the global
// administrator, and a host user with the login auth, who may watch the
// console live anyway. A zone's administrator reads it through the zone
// socket, a delegated user through zoneadmd (ActReadConsoleLog both).
func (e *Engine) ConsoleLog(ctx context.Context, p api.Principal, zone string) (string, error) {
	if err := configs.CheckZoneName(zone); err != nil {
		return "", fmt.Errorf("console log: %w", err)
	}
	cfg, _, err := e.store.Load(zone)
	if err != nil {
		return "", fmt.Errorf("console log of %s: %w", zone, err)
	}
	if err := authz.Authorize(p, zone, api.ActReadConsoleLog, cfg); err != nil {
		return "", err
	}
	text, err := console.ReadTail(filepath.Join(configs.LogDir(e.Root), zone+".console"), consoleLogMax)
	if err != nil {
		return "", fmt.Errorf("console log of %s: %w", zone, err)
	}
	return text, nil
}
