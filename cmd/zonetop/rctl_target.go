package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"
	"zonetop/api"
	"zonetop/client"
	"zonetop/engine"
	"zonetop/internal/zoneadmd"
	"zonetop/limits"
	"zonetop/rctl"
)

// rctlTarget is what prctl, projects, projadd, projmod, projdel and
// zonestat act on: client.Zones, the host's engine or, inside a zone, the
// zone socket, which sees only that zone. The commands parse, print and
// exit alike in both places; only where ids and pids are looked up
// differs (the host's /proc and zone IDs, or the zone's own).
type rctlTarget struct {
	zs client.Zones
	p  api.Principal
	// zone is the zone socket inside a zone; nil on the host.
	zone *client.ZoneServer
	root string
}

// targetFor picks the host engine or, inside a zone, the zone socket.
func targetFor(g *globals) (rctlTarget, error) {
	if client.InZone() {
		zs, err := client.DialZoneServer(api.ZoneSockPath)
		if err != nil {
			return rctlTarget{}, err
		}
		self := zs.Self()
		return rctlTarget{zs: zs, zone: zs, p: api.Principal{UID: self.UID, Zone: self.Name}}, nil
	}
	e, err := engine.New(g.root, g.cgroupParent)
	if err != nil {
		return rctlTarget{}, err
	}
	return rctlTarget{zs: engineServer{e}, root: g.root, p: engine.CurrentPrincipal()}, nil
}

// Zone is the zone a command means without -z: the global zone on the
// host, the zone itself inside one.
func (t rctlTarget) Zone() string {
	if t.zone != nil {
		return t.zone.Self().Name
	}
	return "global"
}

func (t rctlTarget) inZone() bool { return t.zone != nil }

// usageWait bounds one zone's usage sample for prctl and zonestat: a
// zoneadmd answers from what it holds, so only a stopped or wedged one
// takes this long, and it must not stall the command's output for good.
var usageWait = 10 * time.Second

func (t rctlTarget) Usage(zone string) (api.ZoneUsage, error) {
	ctx, cancel := context.WithTimeout(context.Background(), usageWait)
	defer cancel()
	u, err := t.zs.Usage(ctx, t.p, zone)
	if err != nil && (errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded)) {
		return u, fmt.Errorf("usage of %s: its zoneadmd did not answer within %v", zone, usageWait)
	}
	return u, err
}

func (t rctlTarget) Projects(zone string) (limits.Projects, []string, error) {
	return t.zs.Projects(context.Background(), t.p, zone)
}

func (t rctlTarget) ZoneRctls(zone string) (map[string][]rctl.Value, error) {
	return t.zs.ZoneRctls(context.Background(), t.p, zone)
}

func (t rctlTarget) SetRctl(zone string, ch api.RctlChange, persist bool) error {
	return t.zs.SetRctl(context.Background(), t.p, zone, ch, persist)
}

// EditProjects applies a projadd/projmod/projdel/set-limit request;
// notes are limits accepted above the zone's caps.
func (t rctlTarget) EditProjects(zone string, req api.ProjectRequest) ([]string, error) {
	return t.zs.EditProjects(context.Background(), t.p, zone, req)
}

// ZoneID is zone's ID, 0 when it has none.
func (t rctlTarget) ZoneID(zone string) int {
	if t.zone != nil {
		return t.zone.Self().ZoneID
	}
	if zs, err := zoneadmd.Status(t.root, zone); err == nil {
		return zs.ZoneID
	}
	return 0
}

// ZoneOfID is the zone whose zone ID is id, as the caller may see it.
func (t rctlTarget) ZoneOfID(id int) (string, error) {
	if self := t.zone; self != nil {
		if id == self.Self().ZoneID {
			return self.Self().Name, nil
		}
		return "", fmt.Errorf("zone ID %d: not this zone (%s is zone %d)", id, self.Self().Name, self.Self().ZoneID)
	}
	if id == 0 {
		return "global", nil
	}
	zs, err := t.zs.List(context.Background(), t.p, api.ListOptions{Installed: true})
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

// ProcessOf is the zone, project and task (-1: none) of a pid as the
// caller sees it: the host's /proc, or the zone's own process list.
func (t rctlTarget) ProcessOf(pid string) (string, string, int, error) {
	if t.zone == nil {
		return zoneOfPid(pid)
	}
	name := t.zone.Self().Name
	n, err := strconv.Atoi(pid)
	if err != nil {
		return "", "", -1, fmt.Errorf("process %q: want a pid", pid)
	}
	ps, err := t.zs.Processes(context.Background(), t.p, name)
	if err != nil {
		return "", "", -1, err
	}
	for _, p := range ps {
		if p.PID == n {
			return name, p.Project, p.Task, nil
		}
	}
	return "", "", -1, fmt.Errorf("process %d: no such process in zone %s", n, name)
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
