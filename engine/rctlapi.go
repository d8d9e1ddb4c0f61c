package engine

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"syscall"
	"time"
	"zonetop/api"
	"zonetop/internal/audit"
	"zonetop/internal/configs"
	"zonetop/internal/wire"
	"zonetop/internal/zoneadmd"
	"zonetop/limits"
	"zonetop/rctl"
	"zonetop/zones"
)

func mayEditProjects(p api.Principal, zone string) error {
	if p.GlobalAdmin() || (p.Zone == zone && p.UID == 0) {
		return nil
	}
	return fmt.Errorf("%w: projects of zone %s are set by its zone administrator or the global administrator", api.ErrPermission, zone)
}

func mayView(p api.Principal, zone string) error {
	if p.Zone == "global" || p.Zone == zone {
		return nil
	}
	return fmt.Errorf("%w: zone %s is not visible from zone %s", api.ErrPermission, zone, p.Zone)
}

// SetRctl changes one rctl of a zone (zone.*) or of one of its projects.
// A ready or running zone takes it at once; persist also writes it to the
// zone's configuration (zone caps) or the zone's /etc/project (project
// controls). A zone administrator asking for a zone cap is refused and
// nothing changes.
func (e *Engine) SetRctl(ctx context.Context, p api.Principal, zone string, ch api.RctlChange, persist bool) (err error) {
	defer e.auditRctl(p, zone, ch, persist)(&err)
	return e.setRctl(ctx, p, zone, ch, persist)
}

// auditRctl records an rctl change (refusals included) with the value it
// replaced.
func (e *Engine) auditRctl(p api.Principal, zone string, ch api.RctlChange, persist bool) func(*error) {
	what := "set-rctl " + ch.Name
	switch {
	case ch.Task >= 0 && strings.HasPrefix(ch.Name, "task."):
		what += fmt.Sprintf(" task %d", ch.Task)
	case ch.Project != "":
		what += " project " + ch.Project
	}
	if persist {
		what += " (persist)"
	}
	before := ""
	if strings.HasPrefix(ch.Name, "zone.") {
		if rc, err := e.ZoneRctls(context.Background(), p, zone); err == nil {
			before = rctl.FormatValues(rc[ch.Name])
		}
	} else if ch.Project != "" {
		if ps, _, err := e.ZoneProjects(context.Background(), p, zone); err == nil {
			if pr, ok := ps.Lookup(ch.Project); ok {
				if rc, err := pr.Rctls(); err == nil {
					before = rctl.FormatValues(rc[ch.Name])
				}
			}
		}
	}
	return func(errp *error) {
		rec := audit.AuditRecord{Principal: audit.AuditPrincipalOf(p), Zone: zone, What: what, Before: before, After: ch.Values, Result: "ok"}
		if *errp != nil {
			rec.Result = (*errp).Error()
		}
		_ = audit.AppendAudit(e.Root, rec)
	}
}

func (e *Engine) setRctl(ctx context.Context, p api.Principal, zone string, ch api.RctlChange, persist bool) error {
	r, err := rctl.Lookup(ch.Name)
	if err != nil {
		return err
	}
	if r.Level == rctl.LevelZone {
		ch.Level = "zone"
		if !p.GlobalAdmin() {
			return zoneadmd.ErrZoneCaps
		}
	} else {
		ch.Level = "project"
		if r.Level == rctl.LevelTask {
			ch.Level = "task"
			if persist {
				// A task lives as long as its processes; what every
				// new task of a project gets is the project's task.*
				// attribute in /etc/project.
				return fmt.Errorf("%s: a task's controls cannot be persisted; set %s in the project's attributes (projmod -K) instead", ch.Name, ch.Name)
			}
		}
		if err := mayEditProjects(p, zone); err != nil {
			return err
		}
	}
	var vs []rctl.Value
	if ch.Values != "" {
		if vs, err = rctl.ParseValues(ch.Values); err != nil {
			return fmt.Errorf("%s: %w", ch.Name, err)
		}
		for _, v := range vs {
			// Validate names the control itself.
			if err := r.Validate(v); err != nil {
				return err
			}
		}
	}
	if zone == "global" && ch.Level != "zone" {
		// The global zone's projects live in the host's /etc/project,
		// which their cgroups are written from (applyGlobalProjects):
		// a change is written there, as a zone's own prctl does.
		persist = true
	}
	live := zone != "global" && zoneadmd.ZoneadmdRunning(e.Root, zone)
	if live {
		if _, err := zoneadmd.Call(e.Root, zone, wire.Request{Op: "set-rctl", Rctl: &ch, RctlValues: vs}, false); err != nil {
			return fmt.Errorf("%s on zone %s: %w", ch.Name, zone, err)
		}
	} else if !persist {
		return fmt.Errorf("%s on zone %s: the zone is not ready or running (use -P to change its configuration)", ch.Name, zone)
	}
	if !persist {
		return nil
	}
	if ch.Level == "zone" {
		cfg, rev, err := e.store.Load(zone)
		if err != nil {
			return err
		}
		setCfgRctl(cfg, ch.Name, vs)
		if _, err := e.store.Commit(cfg, rev); err != nil {
			return fmt.Errorf("%s: persist: %w", ch.Name, err)
		}
		return nil
	}
	return e.editProjects(p, zone, func(ps *limits.Projects) error {
		pr, ok := ps.Lookup(ch.Project)
		if !ok {
			return fmt.Errorf("project %q does not exist", ch.Project)
		}
		zoneadmd.SetProjectAttr(pr, ch.Name, vs)
		return nil
	})
}

// setCfgRctl writes a zone cap into the configuration where zonecfg keeps
// it: the capped-memory or capped-cpu resource when the zone has one,
// an rctl resource otherwise.
func setCfgRctl(cfg *zones.Config, name string, vs []rctl.Value) {
	lim, ok := zoneadmd.Privileged(name, vs)
	if m := cfg.CappedMemory; m != nil {
		var f *uint64
		switch name {
		case rctl.ZoneMaxPhysicalMemory:
			f = &m.Physical
		case rctl.ZoneMaxSwap:
			f = &m.Swap
		case rctl.ZoneMaxLockedMemory:
			f = &m.Locked
		}
		if f != nil {
			*f = 0
			if ok {
				*f = lim
			}
			removeCfgRctl(cfg, name)
			return
		}
	}
	if name == rctl.ZoneCPUCap && cfg.CappedCPU != nil {
		if ok {
			cfg.CappedCPU.NCPUs = math.Round(float64(lim)) / 100
		} else {
			cfg.CappedCPU = nil
		}
		removeCfgRctl(cfg, name)
		return
	}
	removeCfgRctl(cfg, name)
	if len(vs) == 0 {
		return
	}
	rc := zones.Rctl{Name: name}
	for _, v := range vs {
		rc.Values = append(rc.Values, zones.RctlValue{Priv: v.Privilege.String(), Limit: v.Limit, Action: v.Action.String()})
	}
	cfg.Rctls = append(cfg.Rctls, rc)
}

func removeCfgRctl(cfg *zones.Config, name string) {
	out := cfg.Rctls[:0]
	for _, r := range cfg.Rctls {
		if r.Name != name {
			out = append(out, r)
		}
	}
	cfg.Rctls = out
}

// zoneRootOf is where a zone's files are: the host for the global zone.
func (e *Engine) zoneRootOf(zone string) (string, error) {
	if zone == "global" {
		return e.Root, nil
	}
	cfg, _, err := e.store.Load(zone)
	if err != nil {
		return "", err
	}
	return filepath.Join(e.hostPath(cfg.Zonepath), "root"), nil
}

// ZoneProjects reads a zone's /etc/project (the host's for "global"): the
// good entries and one error per bad line.
func (e *Engine) ZoneProjects(ctx context.Context, p api.Principal, zone string) (limits.Projects, []error, error) {
	if err := mayView(p, zone); err != nil {
		return nil, nil, err
	}
	root, err := e.zoneRootOf(zone)
	if err != nil {
		return nil, nil, err
	}
	return zoneadmd.ReadZoneProjects(root)
}

// EditProjects is projadd, projmod and projdel: fn edits the zone's
// projects, the file is written back atomically inside the zone root
// (bad lines are refused, so nothing is silently dropped), and a running
// zone applies it at once.
func (e *Engine) EditProjects(ctx context.Context, p api.Principal, zone string, fn func(*limits.Projects) error) (err error) {
	var before, after []byte
	defer func() {
		// The lines that went and came, not the whole file.
		gone, came := lineDiff(before, after)
		rec := audit.AuditRecord{Principal: audit.AuditPrincipalOf(p), Zone: zone, What: "edit /etc/project", Before: gone, After: came, Result: "ok"}
		if err != nil {
			rec.Result = err.Error()
		}
		_ = audit.AppendAudit(e.Root, rec)
	}()
	return e.editProjects(p, zone, func(ps *limits.Projects) error {
		before = ps.Format()
		if err := fn(ps); err != nil {
			return err
		}
		after = ps.Format()
		return nil
	})
}

// lineDiff is the lines only in a and the lines only in b, each joined by
// "; ".
func lineDiff(a, b []byte) (onlyA, onlyB string) {
	in := func(s []byte) map[string]bool {
		m := map[string]bool{}
		for _, l := range strings.Split(string(s), "\n") {
			if l != "" {
				m[l] = true
			}
		}
		return m
	}
	ma, mb := in(a), in(b)
	var ga, gb []string
	for _, l := range strings.Split(string(a), "\n") {
		if l != "" && !mb[l] {
			ga = append(ga, l)
		}
	}
	for _, l := range strings.Split(string(b), "\n") {
		if l != "" && !ma[l] {
			gb = append(gb, l)
		}
	}
	return strings.Join(ga, "; "), strings.Join(gb, "; ")
}

// editProjects is EditProjects without its audit record (SetRctl makes
// its own).
func (e *Engine) editProjects(p api.Principal, zone string, fn func(*limits.Projects) error) error {
	if err := mayEditProjects(p, zone); err != nil {
		return err
	}
	root, err := e.zoneRootOf(zone)
	if err != nil {
		return err
	}
	if _, err := zoneadmd.EditProjectsFile(e.Root, root, zone, fn); err != nil {
		return err
	}
	if zone == "global" {
		if err := e.applyGlobalProjects(); err != nil {
			return fmt.Errorf("/etc/project written, but the global zone's projects did not take it: %w", err)
		}
	}
	if zone != "global" && zoneadmd.ZoneadmdRunning(e.Root, zone) {
		if _, err := zoneadmd.Call(e.Root, zone, wire.Request{Op: "reload-projects"}, false); err != nil {
			return fmt.Errorf("zone %s: /etc/project written, but the running zone did not take it: %w", zone, err)
		}
	}
	return nil
}

// Usage samples a ready or running zone's usage against its caps, with a
// row per project. CPU percentages are since the previous Usage call.
func (e *Engine) Usage(ctx context.Context, p api.Principal, zone string) (api.ZoneUsage, error) {
	if err := mayView(p, zone); err != nil {
		return api.ZoneUsage{}, err
	}
	if zone == "global" {
		return e.globalUsage()
	}
	if err := configs.CheckZoneName(zone); err != nil {
		return api.ZoneUsage{}, err
	}
	// A caller with a deadline (the console's refresh) gets its answer or
	// an error by then: a zoneadmd that holds the request, or is stopped
	// and answers nothing, must not hold a whole refresh of every zone's
	// usage.
	var wait time.Duration
	if dl, ok := ctx.Deadline(); ok {
		if wait = time.Until(dl); wait <= 0 {
			return api.ZoneUsage{}, fmt.Errorf("usage %s: %w", zone, context.DeadlineExceeded)
		}
	}
	// No ping first: a socket nobody serves refuses the connection,
	// which says the zone has no zoneadmd as well as a ping's round trip
	// did, and a ping had no deadline.
	resp, err := wire.RoundTripWithin(configs.ZoneadmdSock(e.Root, zone), wait, wire.Request{Op: "usage"})
	if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED) {
		return api.ZoneUsage{Zone: zone, State: "installed"}, fmt.Errorf("zone %s is not ready or running", zone)
	}
	if err != nil {
		return api.ZoneUsage{}, fmt.Errorf("usage %s: %w", zone, err)
	}
	if !resp.OK || resp.Usage == nil {
		return api.ZoneUsage{}, fmt.Errorf("usage %s: %s", zone, resp.Error)
	}
	return *resp.Usage, nil
}

// ZoneRctls are the zone caps a zone's configuration sets (rctl name ->
// its values), for prctl; a ready or running zone's live values win.
func (e *Engine) ZoneRctls(ctx context.Context, p api.Principal, zone string) (map[string][]rctl.Value, error) {
	if err := mayView(p, zone); err != nil {
		return nil, err
	}
	cfg, _, err := e.store.Load(zone)
	if err != nil {
		return nil, err
	}
	out := map[string][]rctl.Value{}
	for _, r := range rctl.RctlsAt(rctl.LevelZone) {
		v, ok := cfg.ZoneRctl(r.Name)
		if !ok {
			continue
		}
		vs, err := rctl.ParseValues(fmt.Sprintf("(%s,%d,%s)", v.Priv, v.Limit, v.Action))
		if err == nil {
			out[r.Name] = vs
		}
	}
	if zoneadmd.ZoneadmdRunning(e.Root, zone) {
		if resp, err := wire.RoundTrip(configs.ZoneadmdSock(e.Root, zone), wire.Request{Op: "usage"}); err == nil && resp.Usage != nil {
			return rctl.CapValues(resp.Usage.Caps), nil
		}
	}
	return out, nil
}
