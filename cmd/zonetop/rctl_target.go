package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"zonetop/api"
	"zonetop/client"
	"zonetop/internal/zoneadmd"
	"zonetop/rctl"

	"zonetop/engine"
	"zonetop/limits"
)

// rctlTarget is what prctl, projects, projadd, projmod, projdel and
// zonestat act on: the host's engine, or, inside a zone, the zone socket,
// which sees only that zone. The commands parse, print and exit alike in
// both places; only this side differs.
type rctlTarget interface {
	// Zone is the zone a command means without -z: the global zone on the
	// host, the zone itself inside one.
	Zone() string
	Usage(zone string) (api.ZoneUsage, error)
	Projects(zone string) (limits.Projects, []string, error)
	ZoneRctls(zone string) (map[string][]rctl.Value, error)
	ZoneID(zone string) int
	// ZoneOfID is the zone whose zone ID is id, as the caller may see it.
	ZoneOfID(id int) (string, error)
	// ProcessOf is the zone, project and task (-1: none) of a pid as the
	// caller sees it.
	ProcessOf(pid string) (zone, project string, task int, err error)
	SetRctl(zone string, ch api.RctlChange, persist bool) error
	// EditProjects applies a projadd/projmod/projdel/set-limit request;
	// notes are limits accepted above the zone's caps.
	EditProjects(zone string, req api.ProjectRequest) (notes []string, err error)
}

// targetFor picks the host engine or, inside a zone, the zone socket.
func targetFor(g *globals) (rctlTarget, error) {
	if client.InZone() {
		return dialZoneTarget()
	}
	e, err := engine.New(g.root, g.cgroupParent)
	if err != nil {
		return nil, err
	}
	return hostTarget{e: e, root: g.root, p: engine.CurrentPrincipal()}, nil
}

type hostTarget struct {
	e    *engine.Engine
	root string
	p    api.Principal
}

func (h hostTarget) Zone() string { return "global" }

func (h hostTarget) Usage(zone string) (api.ZoneUsage, error) {
	return h.e.Usage(context.Background(), h.p, zone)
}

func (h hostTarget) Projects(zone string) (limits.Projects, []string, error) {
	ps, bad, err := h.e.ZoneProjects(context.Background(), h.p, zone)
	var out []string
	for _, b := range bad {
		out = append(out, b.Error())
	}
	return ps, out, err
}

func (h hostTarget) ZoneRctls(zone string) (map[string][]rctl.Value, error) {
	return h.e.ZoneRctls(context.Background(), h.p, zone)
}

func (h hostTarget) ZoneID(zone string) int {
	if zs, err := zoneadmd.Status(h.root, zone); err == nil {
		return zs.ZoneID
	}
	return 0
}

func (h hostTarget) ZoneOfID(id int) (string, error) {
	if id == 0 {
		return "global", nil
	}
	zs, err := h.e.List(context.Background(), h.p, api.ListOptions{Installed: true})
	if err != nil {
		return "", err
	}
	for _, z := range zs {
		if z.ID == id {
			return z.Name, nil
		}
	}
	return "", fmt.Errorf("zone ID %d: no ready or running zone has it", id)
}

func (h hostTarget) ProcessOf(pid string) (string, string, int, error) { return zoneOfPid(pid) }

func (h hostTarget) SetRctl(zone string, ch api.RctlChange, persist bool) error {
	return h.e.SetRctl(context.Background(), h.p, zone, ch, persist)
}

func (h hostTarget) EditProjects(zone string, req api.ProjectRequest) ([]string, error) {
	var edited *limits.Project
	err := h.e.EditProjects(context.Background(), h.p, zone, func(ps *limits.Projects) error {
		if err := zoneadmd.ApplyProject(req, ps); err != nil {
			return err
		}
		name := req.Name
		if req.NewName != "" {
			name = req.NewName
		}
		if p, ok := ps.Lookup(name); ok {
			cp := *p
			edited = &cp
		}
		return nil
	})
	if err != nil || edited == nil || zone == "global" || !zoneadmd.ZoneadmdRunning(h.root, zone) {
		return nil, err
	}
	// A running zone's caps in force say which limits it overrides.
	u, uerr := h.Usage(zone)
	if uerr != nil {
		return nil, nil
	}
	return zoneadmd.CappedByZone(edited, u.Caps), nil
}

// zoneTarget is the zone socket, for the commands run inside a zone.
type zoneTarget struct {
	zc   *client.ZoneClient
	info api.ZoneSelfInfo
}

func dialZoneTarget() (*zoneTarget, error) {
	zc, err := client.DialZone(api.ZoneSockPath)
	if err != nil {
		return nil, err
	}
	r, err := zc.Do(api.ZoneRequest{Op: "info"})
	if err != nil {
		zc.Close()
		return nil, err
	}
	return &zoneTarget{zc: zc, info: *r.Info}, nil
}

func (z *zoneTarget) Zone() string { return z.info.Name }

// own refuses any zone but this one, as the engine does for a zone's
// principal.
func (z *zoneTarget) own(zone string) error {
	if zone == z.info.Name || zone == strconv.Itoa(z.info.ZoneID) {
		return nil
	}
	return fmt.Errorf("%w: zone %s is not visible from zone %s", api.ErrPermission, zone, z.info.Name)
}

func (z *zoneTarget) Usage(zone string) (api.ZoneUsage, error) {
	if err := z.own(zone); err != nil {
		return api.ZoneUsage{}, err
	}
	r, err := z.zc.Do(api.ZoneRequest{Op: "usage"})
	if err != nil {
		return api.ZoneUsage{}, err
	}
	if r.Usage == nil {
		return api.ZoneUsage{}, fmt.Errorf("usage of %s: empty answer", zone)
	}
	return *r.Usage, nil
}

func (z *zoneTarget) Projects(zone string) (limits.Projects, []string, error) {
	if err := z.own(zone); err != nil {
		return nil, nil, err
	}
	r, err := z.zc.Do(api.ZoneRequest{Op: "project", Project: &api.ProjectRequest{Op: "list"}})
	if err != nil {
		return nil, nil, err
	}
	var pl zoneadmd.ProjectList
	if err := json.Unmarshal(r.Project, &pl); err != nil {
		return nil, nil, fmt.Errorf("projects of %s: malformed answer: %w", zone, err)
	}
	return pl.Projects, pl.Bad, nil
}

func (z *zoneTarget) ZoneRctls(zone string) (map[string][]rctl.Value, error) {
	u, err := z.Usage(zone)
	if err != nil {
		return nil, err
	}
	return engine.CapValues(u.Caps), nil
}

func (z *zoneTarget) ZoneID(string) int { return z.info.ZoneID }

func (z *zoneTarget) ZoneOfID(id int) (string, error) {
	if id == z.info.ZoneID {
		return z.info.Name, nil
	}
	return "", fmt.Errorf("zone ID %d: not this zone (%s is zone %d)", id, z.info.Name, z.info.ZoneID)
}

func (z *zoneTarget) ProcessOf(pid string) (string, string, int, error) {
	n, err := strconv.Atoi(pid)
	if err != nil {
		return "", "", -1, fmt.Errorf("process %q: want a pid", pid)
	}
	ps, err := z.processes()
	if err != nil {
		return "", "", -1, err
	}
	for _, p := range ps {
		if p.PID == n {
			return z.info.Name, p.Project, p.Task, nil
		}
	}
	return "", "", -1, fmt.Errorf("process %d: no such process in zone %s", n, z.info.Name)
}

func (z *zoneTarget) processes() ([]api.Process, error) {
	r, err := z.zc.Do(api.ZoneRequest{Op: "processes"})
	if err != nil {
		return nil, err
	}
	return r.Processes, nil
}

// SetRctl asks zoneadmd: a zone cap is refused there (and audited), a
// project control is written to /etc/project and applied live.
func (z *zoneTarget) SetRctl(zone string, ch api.RctlChange, _ bool) error {
	if err := z.own(zone); err != nil {
		return err
	}
	r, err := rctl.Lookup(ch.Name)
	if err != nil {
		return err
	}
	if r.Level == rctl.LevelZone {
		_, err := z.zc.Do(api.ZoneRequest{Op: "set-zone-cap", Rctl: ch.Name, Value: ch.Values})
		return err
	}
	if r.Level == rctl.LevelTask {
		_, err := z.zc.Do(api.ZoneRequest{Op: "set-task-rctl", TaskID: ch.Task, Rctl: ch.Name, Value: ch.Values})
		return err
	}
	_, err = z.EditProjects(zone, api.ProjectRequest{Op: "set-limit", Name: ch.Project,
		Limits: map[string]string{ch.Name: ch.Values}})
	return err
}

func (z *zoneTarget) EditProjects(zone string, req api.ProjectRequest) ([]string, error) {
	if err := z.own(zone); err != nil {
		return nil, err
	}
	r, err := z.zc.Do(api.ZoneRequest{Op: "project", Project: &req})
	if err != nil {
		return nil, err
	}
	var res api.ProjectResult
	if len(r.Project) > 0 {
		if err := json.Unmarshal(r.Project, &res); err != nil {
			return nil, fmt.Errorf("%s %s: malformed answer: %w", req.Op, req.Name, err)
		}
	}
	return res.Notes, nil
}

// runNewtaskInZone is newtask(1) inside a zone (client.NewTask).
func runNewtaskInZone(args []string, stderr io.Writer) int {
	o, rest, err := getopt(args, "p:")
	if err != nil || len(rest) == 0 {
		return usageFail(stderr, "newtask", err, newtaskUsage)
	}
	err = client.NewTask(last(o, 'p'), rest)
	return fail(stderr, "newtask", 1, "%v", err)
}
