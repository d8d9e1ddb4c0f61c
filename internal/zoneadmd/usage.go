package zoneadmd

import (
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
	"zonetop/api"
	"zonetop/internal/pathrs"
	"zonetop/internal/wire"
	"zonetop/limits"
	"zonetop/limits/cgroups"
	"zonetop/rctl"

	"golang.org/x/sys/unix"
)

func jsonIndent(v any) ([]byte, error) { return json.MarshalIndent(v, "", "  ") }

// reloadProjects re-reads the zone's /etc/project and applies it.
func (d *zoneadmd) reloadProjects() error {
	d.mu.Lock()
	l := d.lim
	d.mu.Unlock()
	if l == nil {
		return fmt.Errorf("zone %s is not ready or running", d.name)
	}
	warn, err := d.loadProjects(l, false)
	if err != nil {
		return err
	}
	d.reportProjects(warn)
	return nil
}

// loadProjects is l.loadProjects, recording the file's bytes as applied
// so that the watch, told of a change that changed nothing (its first
// word after ready, adoption or a keeper's restart), leaves the zone
// alone. The bytes are read before the load, so a write in between makes
// them differ from the file and the watch applies it again.
func (d *zoneadmd) loadProjects(l *zoneLimits, adopt bool) ([]string, error) {
	b, rerr := pathrs.ReadZoneFile(l.zoneRoot, "/etc/project", pathrs.ZoneDBMax)
	if errors.Is(rerr, unix.ENOENT) {
		b, rerr = []byte{}, nil
	}
	l.mu.Lock()
	warn, err := l.loadProjects(adopt)
	l.mu.Unlock()
	d.mu.Lock()
	if err == nil && rerr == nil {
		d.projApplied = b
	} else if rerr != nil {
		d.projApplied = nil
	}
	d.mu.Unlock()
	return warn, err
}

// cpuPct is the CPU use of a cgroup since its previous sample, in percent
// of one CPU.
func (l *zoneLimits) cpuPct(key string, ns uint64, now time.Time) float64 {
	prev, ok := l.lastCPU[key]
	l.lastCPU[key] = cpuSample{ns: ns, at: now}
	if !ok || ns < prev.ns || !now.After(prev.at) {
		return 0
	}
	return float64(ns-prev.ns) / float64(now.Sub(prev.at).Nanoseconds()) * 100
}

func limitOf(rc map[string]uint64, names ...string) (uint64, bool) {
	best, found := uint64(0), false
	for _, n := range names {
		if v, ok := rc[n]; ok && (!found || v < best) {
			best, found = v, true
		}
	}
	return best, found
}

func row(name string, usage uint64, own map[string]uint64, ownNames []string, zone map[string]uint64, zoneNames []string) api.RctlUsage {
	r := api.RctlUsage{Name: name, Usage: usage}
	r.Limit, r.Limited = limitOf(own, ownNames...)
	r.Effective, r.EffectiveLimited = r.Limit, r.Limited
	if zoneNames != nil {
		if z, ok := limitOf(zone, zoneNames...); ok {
			if !r.Limited || z < r.Limit {
				r.Effective, r.EffectiveLimited = z, true
			}
			r.CappedByZone = r.Limited && r.Limit > z
		}
	}
	return r
}

// usage samples the zone's and its projects' cgroups.
func (d *zoneadmd) usage() (api.ZoneUsage, error) {
	d.mu.Lock()
	l := d.lim
	u := api.ZoneUsage{Zone: d.name, State: d.st.State, Warnings: append([]string(nil), d.st.Warnings...)}
	d.mu.Unlock()
	if l == nil {
		return u, errors.New("zone is not ready or running")
	}
	// The IPC check's running totals, taken before the limits' lock: the
	// check has its own.
	ipcUsed, ipcLimit := map[string]map[string]uint64{}, map[string]map[string]uint64{}
	for _, iu := range d.ipcTotals(false) {
		ipcUsed[iu.Project], ipcLimit[iu.Project] = iu.Used, iu.Limit
	}
	// An IPC row's binding limit is the one the check applies (a
	// project's default ids included), not only what was written.
	ipcRow := func(r api.RctlUsage, project, short string) api.RctlUsage {
		if l, ok := ipcLimit[project][short]; ok {
			r.Effective, r.EffectiveLimited = l, true
		}
		return r
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	u.Sampled = now
	st, err := l.zone.Stats()
	if err != nil {
		return u, err
	}
	// The zone's processes are its own cgroup's and its projects' (tasks
	// are below projects): counted once per group, not walked again.
	procsOf := map[string]int{}
	if procs, err := l.zone.Procs(false); err == nil {
		u.Procs = len(procs)
	}
	for name, g := range l.groups {
		if procs, err := g.Procs(true); err == nil {
			procsOf[name] = len(procs)
			u.Procs += len(procs)
		}
	}
	u.CPUPct = l.cpuPct("", st.CPUUsageNs, now)
	u.NrPeriods, u.NrThrottled = st.NrPeriods, st.NrThrottled
	zr := l.rctls
	u.Caps = map[string]uint64{}
	for k, v := range zr {
		u.Caps[k] = v
	}
	u.Rctls = []api.RctlUsage{
		row(rctl.ZoneMaxLwps, st.Pids, zr, []string{rctl.ZoneMaxLwps, rctl.ZoneMaxProcesses}, nil, nil),
		row(rctl.ZoneMaxPhysicalMemory, st.MemoryUsage, zr, []string{rctl.ZoneMaxPhysicalMemory}, nil, nil),
		row(rctl.ZoneMaxSwap, st.MemoryUsage+st.SwapUsage, zr, []string{rctl.ZoneMaxSwap}, nil, nil),
		row(rctl.ZoneCPUCap, uint64(u.CPUPct+0.5), zr, []string{rctl.ZoneCPUCap}, nil, nil),
		row(rctl.ZoneCPUShares, 0, zr, []string{rctl.ZoneCPUShares}, nil, nil),
	}
	for _, r := range ipcRctls {
		u.Rctls = append(u.Rctls, ipcRow(row("zone."+r, ipcUsed[""][r], zr, []string{"zone." + r}, nil, nil), "", r))
	}
	for i := range l.projects {
		p := &l.projects[i]
		pu := api.ProjectUsage{Name: p.Name, ID: p.ID}
		// A project whose cgroup is not made yet has never held a
		// process: it is listed, with nothing in use.
		var ps cgroups.Stats
		if g := l.groups[p.Name]; g != nil {
			if ps, err = g.Counters(); err != nil {
				log.Printf("usage: project %s: %v", p.Name, err)
				continue
			}
			pu.CPUPct = l.cpuPct(p.Name, ps.CPUUsageNs, now)
		}
		pu.Procs = procsOf[p.Name]
		pr := projectRctlValues(p)
		pu.Rctls = []api.RctlUsage{
			row(rctl.ProjectMaxLwps, ps.Pids, pr, []string{rctl.ProjectMaxLwps, rctl.ProjectMaxProcesses}, zr, []string{rctl.ZoneMaxLwps, rctl.ZoneMaxProcesses}),
			row(rctl.ProjectMaxMemory, ps.MemoryUsage, pr, []string{rctl.ProjectMaxMemory}, zr, []string{rctl.ZoneMaxPhysicalMemory}),
			row(rctl.ProjectCPUCap, uint64(pu.CPUPct+0.5), pr, []string{rctl.ProjectCPUCap}, zr, []string{rctl.ZoneCPUCap}),
			row(rctl.ProjectCPUShares, 0, pr, []string{rctl.ProjectCPUShares}, nil, nil),
		}
		for _, r := range ipcRctls {
			pu.Rctls = append(pu.Rctls, ipcRow(row("project."+r, ipcUsed[p.Name][r], pr, []string{"project." + r}, zr, []string{"zone." + r}), p.Name, r))
		}
		u.Projects = append(u.Projects, pu)
	}
	ids := make([]int, 0, len(l.tasks))
	for id := range l.tasks {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	for _, id := range ids {
		t := l.tasks[id]
		ts, err := t.g.Counters()
		if err != nil {
			continue // ended and being removed
		}
		tu := api.TaskUsage{ID: id, Project: t.project}
		if procs, err := t.g.Procs(true); err == nil {
			tu.Procs = len(procs)
		}
		// What binds a task is the lowest of its own, its project's and
		// its zone's lwp limits.
		above := map[string]uint64{}
		if v, ok := limitOf(zr, rctl.ZoneMaxLwps, rctl.ZoneMaxProcesses); ok {
			above["zone"] = v
		}
		if p, ok := l.projects.Lookup(t.project); ok {
			if v, ok := limitOf(projectRctlValues(p), rctl.ProjectMaxLwps, rctl.ProjectMaxProcesses); ok {
				above["project"] = v
			}
		}
		tu.Rctls = []api.RctlUsage{row(rctl.TaskMaxLwps, ts.Pids, t.rctls, []string{rctl.TaskMaxLwps}, above, []string{"zone", "project"})}
		u.Tasks = append(u.Tasks, tu)
	}
	return u, nil
}

// release puts a held command (zsched's first answer) into its cgroup and
// lets it go on with its rlimits.
//
// execs says whether the stub becomes another program (a command, or
// zinit): until it has, its Go runtime's threads beyond one are not the
// zone's to count.
func (d *zoneadmd) release(zc *wire.Conn, g cgroups.Group, rl []limits.RlimitSetting, born, execs bool) error {
	var resp wire.Response
	got, err := zc.Recv(&resp)
	wire.CloseAll(got)
	if err != nil {
		return fmt.Errorf("zsched: %w", err)
	}
	if !resp.OK {
		return api.FromWire(resp.Error, resp.Code)
	}
	if !resp.Held {
		return errors.New("zsched did not hold the command")
	}
	if !born {
		d.mu.Lock()
		zpid, lim := d.st.ZschedPid, d.lim
		d.mu.Unlock()
		hp := hostPidOf(zpid, resp.Pid)
		// Moving a process in is never refused by a pids cap (the
		// kernel charges it whatever the limit): the caps are checked
		// here, as a fork would meet them, with the check and the move
		// one step. A stub moved in before holds its Go runtime's
		// threads until it becomes its command: it counts as the one
		// task it will be.
		d.holdMu.Lock()
		d.moved = pendingStubs(d.moved)
		err = lim.lwpsFull(g, stubExtra(d.moved))
		switch {
		case err != nil:
		case hp == 0:
			err = fmt.Errorf("held command (pid %d in the zone) not found among zsched's children", resp.Pid)
		default:
			if err = g.AddProc(hp); err == nil && execs {
				d.moved = append(d.moved, movedStub{pid: hp, path: g.Path(), exe: exeOf(hp)})
			}
		}
		d.holdMu.Unlock()
	}
	if err != nil {
		_ = zc.Send(wire.Request{Op: "release", Error: err.Error()})
		return err
	}
	return zc.Send(wire.Request{Op: "release", Rlimits: rl})
}

// needsHold tells whether a command for group g must start held in the
// zhold stub: to be moved into g after its birth, or to take rlimits
// before it runs. A command born in g (place) with no rlimits is started
// directly, which spares a start of the Go runtime.
func needsHold(g cgroups.Group, place []*os.File, rl []limits.RlimitSetting) bool {
	return g != nil && (place == nil || len(rl) > 0)
}

// placeFor is placeFiles for a command that runs directly; a command
// held for its rlimits gets none. The held stub is zonetop, a Go
// program that starts its runtime's threads before it is released:
// born in its project at a full lwp cap it died of "failed to create new
// OS thread". Born beside zsched instead (outside the zone's pids
// count, cgroups.ZschedHomes) and moved by zoneadmd once release has
// checked the caps (lwpsFull), it takes nothing of the zone's caps until
// it is the command.
func (d *zoneadmd) placeFor(g cgroups.Group, rl []limits.RlimitSetting) []*os.File {
	if len(rl) > 0 {
		return nil
	}
	return d.placeFiles(g)
}

// placeFiles opens the cgroup v1 tasks files zsched's forking thread
// moves itself through so that a command is born in g
// (cgroups.TaskFiles): g's cgroup in each hierarchy of the zone, then
// zsched's own there. nil (the command is then moved after its birth)
// without g, on cgroup v2, when g's cgroups are not where the zone's are,
// or when they would take more descriptors than zsched is given.
func (d *zoneadmd) placeFiles(g cgroups.Group) []*os.File {
	d.mu.Lock()
	cg := d.cg
	d.mu.Unlock()
	if g == nil || cg == nil {
		return nil
	}
	homes := cg.ZschedHomes("system")
	if homes == nil {
		return nil
	}
	into, back, ok := cg.TaskFiles(g.Path(), homes)
	if !ok || 2*len(into)+3 > wire.ZschedFDs {
		wire.CloseAll(into)
		wire.CloseAll(back)
		return nil
	}
	return append(into, back...)
}

// bootHeld starts init in the zone's default project. The pidfd zsched
// sends names init for good, where its pid number could name whatever
// reuses it once init has gone; nil when zsched sent none.
func (d *zoneadmd) bootHeld(args []string) (wire.Response, *os.File, error) {
	d.mu.Lock()
	l := d.lim
	d.mu.Unlock()
	var g cgroups.Group
	var rl []limits.RlimitSetting
	if l != nil {
		var err error
		if g, _, rl, err = l.placement(&api.ExecRequest{Project: "default"}); err != nil {
			return wire.Response{}, nil, err
		}
	}
	zc, err := wire.Dial(d.zschedSock(), 2*time.Second)
	if err != nil {
		return wire.Response{}, nil, fmt.Errorf("zsched: %w", err)
	}
	defer zc.Close()
	place := d.placeFor(g, rl)
	hold := needsHold(g, place, rl)
	err = zc.Send(wire.Request{Op: "boot", Args: args, Hold: hold, Place: len(place)}, place...)
	wire.CloseAll(place)
	if err != nil {
		return wire.Response{}, nil, err
	}
	if hold {
		// The stub becomes zinit, a program of its own (one thread).
		if err := d.release(zc, g, rl, place != nil, true); err != nil {
			return wire.Response{}, nil, err
		}
	}
	var resp wire.Response
	got, err := zc.Recv(&resp)
	if err != nil || !resp.OK || len(got) != 1 {
		wire.CloseAll(got)
		got = nil
	}
	if err != nil {
		return resp, nil, fmt.Errorf("zsched: %w", err)
	}
	if !resp.OK {
		return resp, nil, l.namedCapError(g, api.FromWire(resp.Error, resp.Code))
	}
	for _, w := range resp.Warnings {
		log.Printf("init: %s", w)
	}
	if got == nil {
		return resp, nil, nil
	}
	resp.HostPid = pidfdPid(got[0])
	f, perr := Pollable(got[0], "init-pidfd")
	if perr != nil {
		// Without it, boot falls back to the pid, checked (initByPid).
		log.Printf("init's pidfd: %v", perr)
		return resp, nil, nil
	}
	return resp, f, nil
}

// movedStub is a held command's stub moved into its cgroup (path), with
// its executable then: until that changes the stub has not become its
// command and holds its runtime's threads.
type movedStub struct {
	pid  int
	path string
	exe  string
}

func exeOf(pid int) string {
	l, _ := os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe")
	return l
}

// pendingStubs keeps the stubs still alive and not yet their command.
func pendingStubs(ms []movedStub) []movedStub {
	out := ms[:0]
	for _, m := range ms {
		if e := exeOf(m.pid); e != "" && e == m.exe {
			out = append(out, m)
		}
	}
	return out
}

// stubExtra is, for a cgroup path, the tasks stubs in it (or below it)
// hold beyond the one each will be.
func stubExtra(ms []movedStub) func(path string) uint64 {
	return func(path string) uint64 {
		var n uint64
		for _, m := range ms {
			if m.path != path && !strings.HasPrefix(m.path, path+"/") {
				continue
			}
			b, err := os.ReadFile("/proc/" + strconv.Itoa(m.pid) + "/status")
			if err != nil {
				continue
			}
			for _, line := range strings.Split(string(b), "\n") {
				if v, ok := strings.CutPrefix(line, "Threads:"); ok {
					if t, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64); err == nil && t > 1 {
						n += t - 1
					}
				}
			}
		}
		return n
	}
}

// GlobalProjectUsage is a global-zone project's row: its cgroup's
// counters st and its procs processes against its own limits (no zone
// above it; its CPU is not sampled, no zoneadmd keeps its history).
func GlobalProjectUsage(p *limits.Project, st cgroups.Stats, procs int) api.ProjectUsage {
	pr := projectRctlValues(p)
	return api.ProjectUsage{Name: p.Name, ID: p.ID, Procs: procs, Rctls: []api.RctlUsage{
		row(rctl.ProjectMaxLwps, st.Pids, pr, []string{rctl.ProjectMaxLwps, rctl.ProjectMaxProcesses}, nil, nil),
		row(rctl.ProjectMaxMemory, st.MemoryUsage, pr, []string{rctl.ProjectMaxMemory}, nil, nil),
	}}
}
