package zoneadmd

import (
	"errors"
	"fmt"
	"log"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"zonetop/api"
	"zonetop/internal/configs"
	"zonetop/limits"
	"zonetop/limits/cgroups"
	"zonetop/rctl"

	"golang.org/x/sys/unix"
)

// zoneLimits is zoneadmd's side of a zone's caps: the zone cgroup and a
// cgroup per project of the zone's /etc/project below it, written through
// the cgroup manager's backend (its ZoneCgroups only makes, fills and
// removes the zone's cgroups; every cap is written here). zsched lives in the
// "system" project, every command joins its project before it runs.
//
// A project's cgroup is made the first time a process or task goes into
// it (groupOf), not at ready: most projects of a zone never hold a
// process, and a cgroup in every v1 hierarchy per project was most of the
// caps step of ready and of halt. Only system, zsched's home, is made at
// once. Until its cgroup exists a project's limits live in projects
// alone; they are written when it is made.
type zoneLimits struct {
	mu       sync.Mutex
	back     cgroups.Backend
	name     string // the zone, its cgroup's path under the backend's parent
	zoneRoot string
	zone     cgroups.Group
	rctls    map[string]uint64 // zone caps in force
	cpus     string
	projects limits.Projects
	groups   map[string]cgroups.Group // project name -> cgroup, for those made
	tasks    map[int]taskGroup
	// sockTasks are tasks made by newtask inside the zone: no zoneadmd
	// connection waits for their end, so they are swept once empty.
	sockTasks map[int]bool
	nextTask  int
	bad       []string // /etc/project lines that did not apply

	// the previous CPU sample per cgroup path, for CPU %
	lastCPU map[string]cpuSample
	// cpuWatch: a goroutine samples the tasks that have a
	// task.max-cpu-time; none runs while no task has one.
	cpuWatch bool
	// zsched is the zone's zsched (host pid), never a task's process:
	// on cgroup v1 the thread of zsched that starts a command sits in
	// the command's cgroup for a moment (the child is born there), so
	// zsched's pid can show in a task's cgroup.procs.
	zsched int
}

type taskGroup struct {
	project string
	g       cgroups.Group
	// starting: the task's cgroup is made and its command is not yet in
	// it (a held stub is moved in only after its runtime started); it
	// counts as a task although the kernel sees nothing in it yet.
	starting bool
	rctls    map[string]uint64 // task.* controls in force
	// task.max-cpu-time: the CPU time (ns) past which cpuSig goes to the
	// task's processes, once, as illumos sends a task's CPU-time action
	// when the threshold is crossed.
	cpuLimit uint64
	cpuSig   unix.Signal
	cpuSent  bool
}

// taskCPUWatch is how often a task's CPU time is compared with its
// task.max-cpu-time: Linux has no per-group CPU-time limit.
const taskCPUWatch = 200 * time.Millisecond

// cpuTimeAction is a project's task.max-cpu-time as a task takes it: the
// lowest privileged threshold that sends a signal.
func cpuTimeAction(rc map[string][]rctl.Value) (uint64, unix.Signal) {
	var limit uint64
	var sig unix.Signal
	for _, v := range rc[rctl.TaskMaxCPUTime] {
		if v.Privilege == rctl.Basic || v.Action.Signal == 0 || v.Limit == rctl.Unlimited {
			continue
		}
		if sig == 0 || v.Limit < limit {
			limit, sig = v.Limit, v.Action.Signal
		}
	}
	if limit > math.MaxUint64/uint64(time.Second) {
		return 0, 0
	}
	return limit * uint64(time.Second), sig
}

// taskProcs lists the processes of a task's cgroup that a signal meant
// for the task may reach: all of them but zsched, which a signal would
// take the whole zone down with.
func (l *zoneLimits) taskProcs(g cgroups.Group) []int {
	procs, _ := g.Procs(true)
	out := procs[:0]
	for _, pid := range procs {
		if pid != l.zsched {
			out = append(out, pid)
		}
	}
	return out
}

// watchTaskCPU sends a task's task.max-cpu-time signal once its CPU time
// passes the threshold; it ends when no task has the control.
func (l *zoneLimits) watchTaskCPU() {
	tick := time.NewTicker(taskCPUWatch)
	defer tick.Stop()
	for range tick.C {
		l.mu.Lock()
		watched := 0
		for id, t := range l.tasks {
			if t.cpuLimit == 0 || t.cpuSent {
				continue
			}
			watched++
			c, err := t.g.Counters()
			if err != nil {
				// The task's cgroup is gone (a halt took it): stop
				// watching it.
				t.cpuSent = true
				l.tasks[id] = t
				continue
			}
			if c.CPUUsageNs <= t.cpuLimit {
				continue
			}
			procs := l.taskProcs(t.g)
			for _, pid := range procs {
				_ = unix.Kill(pid, t.cpuSig)
			}
			log.Printf("task %d (project %s): task.max-cpu-time %ds passed (%.1fs): %s sent to %d processes",
				id, t.project, t.cpuLimit/uint64(time.Second), float64(c.CPUUsageNs)/1e9, rctl.SignalName(t.cpuSig), len(procs))
			t.cpuSent = true
			l.tasks[id] = t
		}
		if watched == 0 {
			l.cpuWatch = false
			l.mu.Unlock()
			return
		}
		l.mu.Unlock()
	}
}

type cpuSample struct {
	ns uint64
	at time.Time
}

// projectsAlwaysThere are made even when /etc/project lacks them: zsched
// goes into system, commands without another project into default.
var projectsAlwaysThere = []string{"system", "default"}

func projectNameUsable(name string) error {
	if err := cgroups.NameUsable(name); err != nil {
		return fmt.Errorf("project name %w", err)
	}
	return nil
}

// newZoneLimits opens the zone's cgroup through the backend and applies
// the zone's caps to it.
func newZoneLimits(parent cgroups.Parent, spec *configs.PlatformSpec) (*zoneLimits, error) {
	back, err := cgroups.NewBackend(parent)
	if err != nil {
		return nil, err
	}
	g, err := back.Load(spec.Name)
	if err != nil {
		return nil, err
	}
	l := &zoneLimits{back: back, name: spec.Name, zoneRoot: filepath.Join(spec.Zonepath, "root"), zone: g,
		rctls: map[string]uint64{}, cpus: spec.CPUs, groups: map[string]cgroups.Group{}, tasks: map[int]taskGroup{},
		sockTasks: map[int]bool{},
		nextTask:  1, lastCPU: map[string]cpuSample{}}
	for k, v := range spec.Rctls {
		l.rctls[k] = v
	}
	return l, nil
}

// zoneResources are the zone cgroup's caps.
func (l *zoneLimits) zoneResources() *cgroups.Resources {
	r := resourcesOf(rctl.LevelZone, l.rctls, 0)
	r.CPUs = l.cpus
	return r
}

func (l *zoneLimits) zoneCap() uint64 { return l.rctls[rctl.ZoneCPUCap] }

// applyZone writes the zone's caps. A lower cpu cap is first pushed down
// to the projects (cgroup v1 refuses a parent quota below a child's).
func (l *zoneLimits) applyZone(oldCap uint64) error {
	newCap := l.zoneCap()
	if newCap > 0 && (oldCap == 0 || newCap < oldCap) {
		for name, g := range l.groups {
			if p, ok := l.projects.Lookup(name); ok {
				if err := g.Apply(resourcesOf(rctl.LevelProject, projectRctlValues(p), newCap)); err != nil {
					return err
				}
			}
		}
	}
	if err := l.zone.Apply(l.zoneResources()); err != nil {
		return fmt.Errorf("zone %s caps: %w", l.name, err)
	}
	for name, g := range l.groups {
		if p, ok := l.projects.Lookup(name); ok {
			if err := g.Apply(resourcesOf(rctl.LevelProject, projectRctlValues(p), newCap)); err != nil {
				return err
			}
		}
	}
	return nil
}

// loadProjects (re)reads the zone's /etc/project and re-applies the caps
// of the projects that have a cgroup; the others get theirs when one is
// made (groupOf), except system, made here for zsched. With adopt, a
// project's cgroup left by the zoneadmd before is found on disk, so that
// usage and placement see it again. Bad lines are returned (file:line:
// why); the good ones apply. A project that left the file keeps its
// cgroup while processes are in it.
func (l *zoneLimits) loadProjects(adopt bool) ([]string, error) {
	ps, bad, err := ReadZoneProjects(l.zoneRoot)
	var warn []string
	if err != nil {
		if l.projects != nil {
			// A reload keeps the projects applied before.
			return nil, err
		}
		// The first load (ready, adoption) must not leave a zone down
		// because of a file its own administrator controls (a FIFO, a
		// symlink, 100 MB): the zone comes up with the Solaris defaults
		// and says why, and that administrator repairs it from inside.
		ps, bad = limits.DefaultProjects(), nil
		warn = append(warn, err.Error()+"; the default projects apply")
	}
	for _, e := range bad {
		warn = append(warn, e.Error())
	}
	good := ps[:0:0]
	for _, p := range ps {
		if err := projectNameUsable(p.Name); err != nil {
			warn = append(warn, "/etc/project: "+err.Error())
			continue
		}
		good = append(good, p)
	}
	for _, name := range projectsAlwaysThere {
		if _, ok := good.Lookup(name); !ok {
			for _, d := range limits.DefaultProjects() {
				if d.Name == name {
					good = append(good, d)
				}
			}
		}
	}
	l.projects = good
	seen := map[string]bool{}
	for i := range good {
		p := &good[i]
		seen[p.Name] = true
		g, ok := l.groups[p.Name]
		if !ok && adopt {
			// Made by the zoneadmd this one replaces.
			if lg, err := l.back.Load(l.name + "/" + p.Name); err == nil {
				g, ok = lg, true
				l.groups[p.Name] = g
			}
		}
		if !ok && p.Name != "system" {
			continue // made with its caps on first use (groupOf)
		}
		r := resourcesOf(rctl.LevelProject, projectRctlValues(p), l.zoneCap())
		if ok {
			err = g.Apply(r)
		} else {
			g, err = l.back.Create(l.name+"/"+p.Name, r)
			if g != nil {
				l.groups[p.Name] = g
			}
		}
		if err != nil {
			// The project's cgroup exists but a cap did not take: say so
			// and keep the others.
			warn = append(warn, fmt.Sprintf("/etc/project: project %s: %v", p.Name, err))
		}
	}
	for name, g := range l.groups {
		if seen[name] {
			continue
		}
		if procs, _ := g.Procs(true); len(procs) == 0 && g.Delete() == nil {
			delete(l.groups, name)
		}
	}
	l.bad = warn
	return warn, nil
}

// groupOf is p's cgroup, made with p's caps (its cpu cap held to the
// zone's) the first time something goes into it. A cgroup whose caps did
// not take is removed again: a process must not run in a project without
// its limits. The caller holds l.mu.
func (l *zoneLimits) groupOf(p *limits.Project) (cgroups.Group, error) {
	if g := l.groups[p.Name]; g != nil {
		return g, nil
	}
	g, err := l.back.Create(l.name+"/"+p.Name, resourcesOf(rctl.LevelProject, projectRctlValues(p), l.zoneCap()))
	if err != nil {
		if g != nil {
			_ = g.Delete()
		}
		return nil, fmt.Errorf("project %s: %w", p.Name, err)
	}
	l.groups[p.Name] = g
	return g, nil
}

// firstProjects are the projects nearly every zone uses at once: init
// joins default at boot, and root's zlogin its own project.
var firstProjects = []string{"default", "user.root"}

// makeFirstProjects makes the cgroups of firstProjects ahead of their
// first use. ready calls it while zsched starts, when zoneadmd has nothing
// else to do: made then, they cost the boot and the first zlogin nothing
// (about 0.8 ms each otherwise, seven hierarchies of mkdir and caps). A
// failure is left for the first use to meet and report.
func (l *zoneLimits) makeFirstProjects() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, name := range firstProjects {
		if p, ok := l.projects.Lookup(name); ok {
			_, _ = l.groupOf(p)
		}
	}
}

// project returns the project a command joins and its cgroup, made now
// if it is the project's first. The caller holds l.mu.
func (l *zoneLimits) project(req *api.ExecRequest, user string) (*limits.Project, cgroups.Group, error) {
	name := req.Project
	if name == "" {
		if user == "" {
			user = "root"
		}
		name = "default"
		if _, ok := l.projects.Lookup("user." + user); ok {
			name = "user." + user
		}
	}
	p, ok := l.projects.Lookup(name)
	if !ok {
		return nil, nil, fmt.Errorf("project %q is not in the zone's /etc/project", name)
	}
	// Membership first: a refused request makes no cgroup.
	if req.Project != "" && user != "" && user != "root" && !projectMember(p, user, zoneUserGroups(l.zoneRoot, user)) {
		return nil, nil, fmt.Errorf("user %s is not a member of project %s", user, name)
	}
	g, err := l.groupOf(p)
	if err != nil {
		return nil, nil, err
	}
	return p, g, nil
}

// projectMember is project(5) membership: the users field names the
// user or "*", the groups field one of the user's groups or "*", or the
// project is the user's own; a "!name" entry excludes.
func projectMember(p *limits.Project, user string, groups []string) bool {
	if p.Name == "user."+user || p.Name == "default" {
		return true
	}
	for _, u := range p.Users {
		if u == "!"+user {
			return false
		}
	}
	for _, u := range p.Users {
		if u == user || u == "*" {
			return true
		}
	}
	for _, g := range p.Groups {
		if g == "*" || slices.Contains(groups, g) {
			return true
		}
	}
	return false
}

// placement decides where a command runs: its project's cgroup, or a new
// task cgroup below it, and the rlimits its process.* rctls ask for.
func (l *zoneLimits) placement(req *api.ExecRequest) (cgroups.Group, int, []limits.RlimitSetting, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	p, g, err := l.project(req, req.User)
	if err != nil {
		return nil, 0, nil, err
	}
	rc, err := p.Rctls()
	if err != nil {
		return nil, 0, nil, err
	}
	procRc := map[string][]rctl.Value{}
	for name, vs := range rc {
		if strings.HasPrefix(name, "process.") {
			procRc[name] = vs
		}
	}
	taskRc := taskRctls(rc)
	rl, err := limits.Rlimits(procRc)
	if err != nil {
		return nil, 0, nil, err
	}
	// max-locked-memory has no group counter in Linux: it is every
	// process's RLIMIT_MEMLOCK (the lower of the zone's and project's).
	lock, okZ := l.rctls[rctl.ZoneMaxLockedMemory]
	if v, ok := projectRctlValues(p)[rctl.ProjectMaxLockedMemory]; ok && (!okZ || v < lock) {
		lock, okZ = v, true
	}
	if okZ {
		v := lock
		rl = append(rl, limits.RlimitSetting{Rctl: "max-locked-memory", Resource: unix.RLIMIT_MEMLOCK, Soft: &v, Hard: &v})
	}
	task := 0
	// On cgroup v2 a project that passes controllers on to its tasks
	// (one of them has a task cap) may hold no process of its own: the
	// command becomes a task of its own there, as every login is on
	// illumos, instead of failing with the kernel's EBUSY.
	if req.NewTask || cgroups.PassesOn(g) {
		// project.max-tasks: Linux has no task, so zonetop counts them,
		// from what the kernel says (liveTasksLocked) and under l.mu,
		// where tasks are made too: two newtasks at once cannot both
		// take the last place.
		if max, ok := projectRctlValues(p)[rctl.ProjectMaxTasks]; ok {
			if n := l.liveTasksLocked(p.Name); uint64(n) >= max {
				return nil, 0, nil, fmt.Errorf("project %s: project.max-tasks is %d and %d of its tasks run: %w; a new task may start when one ends",
					p.Name, max, n, api.ErrBusy)
			}
		}
		task = l.nextTask
		for {
			if _, err := l.back.Load(fmt.Sprintf("%s/%s/task.%d", l.name, p.Name, task)); err != nil {
				break
			}
			task++
		}
		l.nextTask = task + 1
		tg, err := l.back.Create(fmt.Sprintf("%s/%s/task.%d", l.name, p.Name, task), resourcesOf(rctl.LevelTask, taskRc, 0))
		if err != nil {
			if tg != nil {
				_ = tg.Delete()
			}
			return nil, 0, nil, fmt.Errorf("task of project %s: %w", p.Name, err)
		}
		tk := taskGroup{project: p.Name, g: tg, rctls: taskRc, starting: true}
		tk.cpuLimit, tk.cpuSig = cpuTimeAction(rc)
		l.tasks[task] = tk
		if tk.cpuLimit > 0 && !l.cpuWatch {
			l.cpuWatch = true
			go l.watchTaskCPU()
		}
		g = tg
	}
	return g, task, rl, nil
}

// taskRctls are the task.* controls a project gives each of its tasks.
func taskRctls(rc map[string][]rctl.Value) map[string]uint64 {
	out := map[string]uint64{}
	for name, vs := range rc {
		if strings.HasPrefix(name, "task.") {
			if v, ok := Privileged(name, vs); ok {
				out[name] = v
			}
		}
	}
	return out
}

// adoptTasks takes up the task cgroups (task.N below a project's) that
// the zoneadmd before this one made, so that usage and prctl -i task see
// the zone's running tasks again. zoneDir is the zone's cgroup in one
// hierarchy; a task found in several is taken up once. A task's controls are
// taken to be its project's, as placement gave them; a change made to one
// task alone since is not recorded anywhere and is shown as the project's
// (the kernel keeps enforcing the value written). Nothing waits for these
// tasks' ends any more, so they are swept once empty, as in-zone newtask's
// are. The caller holds l.mu.
func (l *zoneLimits) adoptTasks(zoneDir string) {
	for name := range l.groups {
		ents, err := os.ReadDir(filepath.Join(zoneDir, name))
		if err != nil {
			continue
		}
		p, ok := l.projects.Lookup(name)
		rc := map[string]uint64{}
		if ok {
			if all, err := p.Rctls(); err == nil {
				rc = taskRctls(all)
			}
		}
		for _, e := range ents {
			n, found := strings.CutPrefix(e.Name(), "task.")
			id, err := strconv.Atoi(n)
			if !e.IsDir() || !found || err != nil || id <= 0 || strconv.Itoa(id) != n {
				continue
			}
			if _, seen := l.tasks[id]; seen {
				continue
			}
			g, err := l.back.Load(fmt.Sprintf("%s/%s/task.%d", l.name, name, id))
			if err != nil {
				continue
			}
			l.tasks[id] = taskGroup{project: name, g: g, rctls: rc}
			l.sockTasks[id] = true
			if id >= l.nextTask {
				l.nextTask = id + 1
			}
		}
	}
}

// liveTasksLocked counts project's tasks that run: those whose cgroup
// the kernel says is populated, and those still starting. A task found
// empty is over for good (nothing joins a task but its own processes'
// children) and is removed here. Counting what zonetop remembered
// instead let a task whose removal failed once (its command's end and
// the cgroup's emptying are not one event) count until the zone halted.
// A cgroup that cannot be read counts: the cap must never be passed.
// The caller holds l.mu.
func (l *zoneLimits) liveTasksLocked(project string) int {
	n := 0
	for id, t := range l.tasks {
		if t.project != project {
			continue
		}
		if t.starting {
			n++
			continue
		}
		if busy, err := t.g.Populated(); err != nil || busy {
			n++
			continue
		}
		l.dropTaskLocked(id, t)
	}
	return n
}

// dropTaskLocked removes an empty task's cgroup and forgets the task; a
// cgroup that will not go yet is kept for the next sweep. The caller
// holds l.mu.
func (l *zoneLimits) dropTaskLocked(id int, t taskGroup) {
	if t.g.Delete() == nil {
		delete(l.tasks, id)
		delete(l.sockTasks, id)
	}
}

// taskStarted tells that a task's command is in its cgroup, or will
// never be: from now on the kernel's word on the cgroup decides whether
// the task runs.
func (l *zoneLimits) taskStarted(id int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if t, ok := l.tasks[id]; ok && t.starting {
		t.starting = false
		l.tasks[id] = t
	}
}

// endTask removes a task's cgroup once nothing is left in it; it is the
// task's maker's word that its command is over (or never started).
func (l *zoneLimits) endTask(id int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	t, ok := l.tasks[id]
	if !ok {
		return
	}
	t.starting = false
	l.tasks[id] = t
	if busy, err := t.g.Populated(); err == nil && !busy {
		l.dropTaskLocked(id, t)
	}
}

// sweepSocketTasks removes the task cgroups of in-zone newtasks whose
// processes have all ended; a task still starting is its maker's.
func (l *zoneLimits) sweepSocketTasks() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for id := range l.sockTasks {
		t, ok := l.tasks[id]
		if !ok || t.starting {
			continue
		}
		if busy, err := t.g.Populated(); err == nil && !busy {
			l.dropTaskLocked(id, t)
		}
	}
}

// openLimits is the part of the caps step zsched's birth needs: the
// zone's cgroup opened through the backend and the system project's
// cgroup made (with no caps yet; applyLimits writes them).
func (d *zoneadmd) openLimits(spec *configs.PlatformSpec) (*zoneLimits, *cgroups.Parent, error) {
	parent, err := cgroups.ParentFor(spec.CgroupParent)
	if err != nil {
		return nil, nil, err
	}
	l, err := newZoneLimits(parent, spec)
	if err != nil {
		return nil, nil, err
	}
	g, err := l.back.Create(l.name+"/system", nil)
	if err != nil {
		return nil, nil, fmt.Errorf("project system: %w", err)
	}
	l.groups["system"] = g
	return l, &parent, nil
}

// placeZschedV2 moves zsched, born in the zone cgroup (cgroup v2), out
// to its machinery cgroup beside the zone's (cgroups.PlaceZschedV2) and
// only then lets the zone cgroup pass controllers on to its projects: v2
// refuses controllers for the children of a cgroup with a process in it.
func (l *zoneLimits) placeZschedV2(cg *cgroups.ZoneCgroups, pid int) error {
	if err := cg.PlaceZschedV2(pid); err != nil {
		return fmt.Errorf("zsched out of the zone's caps: %w", err)
	}
	if err := l.zone.Delegate(); err != nil {
		return fmt.Errorf("zone %s: %w", l.name, err)
	}
	return nil
}

// applyLimits writes the zone's caps and its projects' and reports bad
// /etc/project lines.
func (d *zoneadmd) applyLimits(l *zoneLimits) error {
	// The memory caps went on before zsched was born (ready).
	r := l.zoneResources()
	r.Memory, r.MemorySwap = nil, nil
	if err := l.zone.Apply(r); err != nil {
		return fmt.Errorf("zone caps: %w", err)
	}
	warn, err := d.loadProjects(l, false)
	if err != nil {
		return err
	}
	d.reportProjects(warn)
	return nil
}

// reportProjects records bad /etc/project lines: zoneadmd log, the zone's
// console log (where the zone administrator looks), and the zone status.
// A set of lines is reported once (by its hash) until it changes, and at
// most maxWarnings of them, escaped and cut: the file is the zone's to
// write, as large and as often as it likes.
func (d *zoneadmd) reportProjects(warn []string) {
	warn = boundWarnings(warn)
	h := warningsHash(warn)
	d.mu.Lock()
	if !slices.Equal(d.st.Warnings, warn) {
		// Unchanged (none, at nearly every ready), the record stands.
		d.st.Warnings = warn
		_ = d.saveLocked()
	}
	same := h == d.reported
	d.reported = h
	d.mu.Unlock()
	if len(warn) == 0 || same {
		return
	}
	var b strings.Builder
	for _, w := range warn {
		log.Printf("%s (the other projects apply)", w)
		fmt.Fprintf(&b, "zoneadmd: %s\r\n", w)
	}
	// Through the console log's own writer, which rotates.
	if _, err := d.conslog.Write([]byte(b.String())); err != nil {
		d.conslog.reportOnce(err)
	}
}

// adoptLimits reopens the caps of an adopted zone: the project cgroups
// already made are found on disk, the others stay to be made on first
// use.
func (d *zoneadmd) adoptLimits() {
	if d.spec == nil || d.st.CgParent == nil {
		return
	}
	l, err := newZoneLimits(*d.st.CgParent, d.spec)
	if err != nil {
		log.Printf("adopt: caps: %v", err)
		return
	}
	if _, err := d.loadProjects(l, true); err != nil {
		log.Printf("adopt: projects: %v", err)
	}
	l.mu.Lock()
	l.zsched = d.st.ZschedPid
	for _, dir := range d.st.Cgroups {
		// Not every hierarchy holds the projects (devices does not).
		l.adoptTasks(dir)
	}
	l.mu.Unlock()
	d.lim = l
}

// setRctl applies a change at once. vs are ch's values, parsed once by
// whoever took the text (the engine, the zone socket); they are checked
// against the catalogue here again, where they cross a socket, but not
// parsed again.
func (d *zoneadmd) setRctl(ch *api.RctlChange, vs []rctl.Value) error {
	d.mu.Lock()
	l := d.lim
	spec := d.spec
	d.mu.Unlock()
	if l == nil || spec == nil {
		return fmt.Errorf("zone %s is not ready or running", d.name)
	}
	if ch == nil {
		return errors.New("set-rctl: no change")
	}
	r, err := rctl.Lookup(ch.Name)
	if err != nil {
		return err
	}
	if ch.Values != "" && len(vs) == 0 {
		return fmt.Errorf("set-rctl %s: the values %q come unparsed", ch.Name, ch.Values)
	}
	for _, v := range vs {
		if err := r.Validate(v); err != nil {
			return fmt.Errorf("%s: %w", ch.Name, err)
		}
	}
	ipcProject := ""
	if ch.Level == "project" {
		ipcProject = ch.Project
	}
	ipc, err := d.ipcLiveCheck(ch.Level, ipcProject, ch.Name, vs)
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	switch ch.Level {
	case "task":
		if r.Level != rctl.LevelTask {
			return fmt.Errorf("%s is not a task control", ch.Name)
		}
		t, ok := l.tasks[ch.Task]
		if !ok {
			return fmt.Errorf("task %d does not exist in zone %s", ch.Task, d.name)
		}
		rc := map[string]uint64{}
		for k, v := range t.rctls {
			rc[k] = v
		}
		if v, ok := Privileged(ch.Name, vs); ok {
			rc[ch.Name] = v
		} else {
			delete(rc, ch.Name)
		}
		if err := t.g.Apply(resourcesOf(rctl.LevelTask, rc, 0)); err != nil {
			return fmt.Errorf("task %d %s: %w", ch.Task, ch.Name, err)
		}
		t.rctls = rc
		if ch.Name == rctl.TaskMaxCPUTime {
			t.cpuLimit, t.cpuSig = cpuTimeAction(map[string][]rctl.Value{ch.Name: vs})
			t.cpuSent = false
			if t.cpuLimit > 0 && !l.cpuWatch {
				l.cpuWatch = true
				go l.watchTaskCPU()
			}
		}
		l.tasks[ch.Task] = t
		return nil
	case "zone":
		if r.Level != rctl.LevelZone {
			return fmt.Errorf("%s is not a zone control", ch.Name)
		}
		old := l.zoneCap()
		prev, had := l.rctls[ch.Name]
		if v, ok := Privileged(ch.Name, vs); ok {
			if err := liveMemoryFloor(d.name, ch.Name, v); err != nil {
				return err
			}
			l.rctls[ch.Name] = v
		} else {
			delete(l.rctls, ch.Name)
		}
		if err := l.applyZone(old); err != nil {
			if had {
				l.rctls[ch.Name] = prev
			} else {
				delete(l.rctls, ch.Name)
			}
			_ = l.applyZone(l.zoneCap())
			return err
		}
		if err := d.applyIPC(l.rctls); err != nil {
			return err
		}
		if ipc != nil {
			ipc.setLive("", ch.Name, vs)
		}
		d.mu.Lock()
		if ch.Name == rctl.ZoneCPUCap && d.ipc != nil {
			d.ipc.checker.setPace(l.zoneCap())
		}
		d.spec.Rctls = map[string]uint64{}
		for k, v := range l.rctls {
			d.spec.Rctls[k] = v
		}
		if isIPCRctl(ch.Name) {
			// The check of a zoneadmd started after this one (the
			// keeper's) takes its caps from here.
			if d.spec.IPCRctls == nil {
				d.spec.IPCRctls = map[string]string{}
			}
			if len(vs) > 0 {
				d.spec.IPCRctls[ch.Name] = rctl.FormatValues(vs)
			} else {
				delete(d.spec.IPCRctls, ch.Name)
			}
		}
		if b, err := jsonIndent(d.spec); err == nil {
			_ = writeRunFile(filepath.Join(d.dir, "spec.json"), b)
		}
		d.mu.Unlock()
		return nil
	case "project":
		if r.Level == rctl.LevelZone {
			return fmt.Errorf("%s is not a project control", ch.Name)
		}
		p, ok := l.projects.Lookup(ch.Project)
		if !ok {
			return fmt.Errorf("project %q is not in the zone's /etc/project", ch.Project)
		}
		SetProjectAttr(p, ch.Name, vs)
		if ipc != nil {
			ipc.setLive(p.Name, ch.Name, vs)
		}
		g := l.groups[p.Name]
		if g == nil {
			return nil // written when its cgroup is made (groupOf)
		}
		return g.Apply(resourcesOf(rctl.LevelProject, projectRctlValues(p), l.zoneCap()))
	}
	return fmt.Errorf("set-rctl: level %q: want zone or project", ch.Level)
}

// isIPCRctl tells the System V IPC controls, which the IPC check
// enforces (beside the kernel's namespace sysctls for zone caps).
func isIPCRctl(name string) bool {
	_, r, _ := strings.Cut(name, ".")
	return slices.Contains(ipcRctls, r)
}

// ipcLiveCheck is the IPC check's say in a live change of a zone cap
// (project "") or project limit: a value below what the zone or project
// holds now is refused, naming both, since the check could only stand by
// while the total stays above its limit. It returns the checker the
// change goes to once applied elsewhere, nil when there is none.
func (d *zoneadmd) ipcLiveCheck(level, project, name string, vs []rctl.Value) (*ipcChecker, error) {
	if level != "zone" && level != "project" || !isIPCRctl(name) {
		return nil, nil
	}
	d.mu.Lock()
	s := d.ipc
	d.mu.Unlock()
	if s == nil {
		return nil, nil
	}
	c := s.checker
	lim, ok := Privileged(name, vs)
	if !ok {
		return c, nil
	}
	// The totals as of now, removals included.
	c.requestTick(time.Second)
	_, r, _ := strings.Cut(name, ".")
	n, holder := c.zone, "zone "+d.name
	if project != "" {
		var found bool
		if n, found = c.zone.Lookup(project); !found {
			return c, nil
		}
		holder = "project " + project
	}
	if used := n.Usage(rctl.Resource(r)).Used; lim < used {
		return nil, fmt.Errorf("%w: %s %d is below the %d %s holds now; remove objects (ipcrm) first or set at least %d",
			api.ErrConflict, name, lim, used, holder, used)
	}
	return c, nil
}

// setProjectAttr replaces (or, with no values, removes) an rctl attribute
// of a project entry.
func SetProjectAttr(p *limits.Project, name string, vs []rctl.Value) {
	out := p.Attrs[:0:0]
	for _, a := range p.Attrs {
		if a.Name != name {
			out = append(out, a)
		}
	}
	if len(vs) > 0 {
		// HasValue, or the entry is written back as a bare name and the
		// limit is lost from /etc/project.
		out = append(out, limits.Attr{Name: name, Value: rctl.FormatValues(vs), HasValue: true})
	}
	p.Attrs = out
}

// applyIPC writes the zone's IPC sysctls in its IPC namespace: the
// kernel reads kernel.shm*/msg*/sem from the writer's namespace, so one
// locked thread joins it for the writes.
func (d *zoneadmd) applyIPC(rc map[string]uint64) error {
	sys, err := limits.IPCSysctls(rc, limits.DefaultSem)
	if err != nil || len(sys) == 0 {
		return err
	}
	d.mu.Lock()
	pid := d.st.ZschedPid
	var userns *configs.IDRange
	if d.spec != nil {
		userns = d.spec.UserNS
	}
	d.mu.Unlock()
	if pid <= 0 {
		return errors.New("no zsched")
	}
	nsf, err := os.Open("/proc/" + strconv.Itoa(pid) + "/ns/ipc")
	if err != nil {
		return fmt.Errorf("zone IPC namespace: %w", err)
	}
	defer nsf.Close()
	self, err := os.Open("/proc/thread-self/ns/ipc")
	if err != nil {
		return fmt.Errorf("own IPC namespace: %w", err)
	}
	defer self.Close()
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := unix.Setns(int(nsf.Fd()), unix.CLONE_NEWIPC); err != nil {
			runtime.UnlockOSThread()
			done <- fmt.Errorf("join zone IPC namespace: %w", err)
			return
		}
		keys := make([]string, 0, len(sys))
		for k := range sys {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var werr error
		if userns != nil {
			// A user namespace's IPC sysctls are its root's to write
			// (owner mode bits, by effective uid); host root is just
			// another user there without CAP_SYS_RESOURCE. This thread
			// alone takes the zone root's host uid for the writes.
			if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, ^uintptr(0), uintptr(userns.HostID), ^uintptr(0)); e != 0 {
				werr = fmt.Errorf("sysctl as zone root: %w", e)
			}
		}
		for _, k := range keys {
			if werr != nil {
				break
			}
			p := "/proc/sys/" + strings.ReplaceAll(k, ".", "/")
			if err := os.WriteFile(p, []byte(sys[k]), 0o644); err != nil && werr == nil {
				werr = fmt.Errorf("sysctl %s: %w", k, err)
			}
		}
		if userns != nil {
			if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, ^uintptr(0), 0, ^uintptr(0)); e != 0 {
				// Still the zone root's uid: the thread dies locked.
				done <- fmt.Errorf("sysctl: back to root: %w", e)
				return
			}
		}
		if err := unix.Setns(int(self.Fd()), unix.CLONE_NEWIPC); err != nil {
			// The thread cannot go back: let it die with its goroutine
			// (still locked) rather than serve others in the zone's ns.
			done <- fmt.Errorf("leave zone IPC namespace: %w", err)
			return
		}
		runtime.UnlockOSThread()
		done <- werr
	}()
	return <-done
}

// lwpsFull names the lwp cap that leaves no room for one more process in
// g: its task's, its project's or the zone's, the lowest level first, as
// the kernel would refuse the fork. nil when every level has room (or g
// is not one of this zone's groups). It is how a refusal of a login or
// a held command names its cap instead of the kernel's bare EAGAIN or a
// Go runtime's "failed to create new OS thread".
func (l *zoneLimits) lwpsFull(g cgroups.Group, extra func(path string) uint64) error {
	if l == nil || g == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	rel, ok := strings.CutPrefix(g.Path(), l.name+"/")
	if !ok {
		return nil
	}
	project, _, _ := strings.Cut(rel, "/")
	type level struct {
		kind, who string
		g         cgroups.Group
		rc        map[string]uint64
		names     []string
	}
	var levels []level
	for id, t := range l.tasks {
		if t.g.Path() == g.Path() {
			levels = append(levels, level{"task", strconv.Itoa(id), t.g, t.rctls, []string{rctl.TaskMaxLwps, rctl.TaskMaxProcesses}})
		}
	}
	if p, ok := l.projects.Lookup(project); ok && l.groups[project] != nil {
		levels = append(levels, level{"project", project, l.groups[project], projectRctlValues(p), []string{rctl.ProjectMaxLwps, rctl.ProjectMaxProcesses}})
	}
	levels = append(levels, level{"zone", l.name, l.zone, l.rctls, []string{rctl.ZoneMaxLwps, rctl.ZoneMaxProcesses}})
	for _, lv := range levels {
		name, limit, ok := lowestOf(lv.rc, lv.names...)
		if !ok {
			continue
		}
		c, err := lv.g.Counters()
		if err != nil {
			continue
		}
		if extra != nil {
			c.Pids -= min(c.Pids, extra(lv.g.Path()))
		}
		if c.Pids < limit {
			continue
		}
		return fmt.Errorf("%s (%d) reached: %s %s has %d tasks: %w", name, limit, lv.kind, lv.who, c.Pids, api.ErrBusy)
	}
	return nil
}

// lowestOf is limitOf with the name of the control that gives the value.
func lowestOf(rc map[string]uint64, names ...string) (string, uint64, bool) {
	best, bestName, found := uint64(0), "", false
	for _, n := range names {
		if v, ok := rc[n]; ok && (!found || v < best) {
			best, bestName, found = v, n, true
		}
	}
	return bestName, best, found
}

// namedCapError gives a failed start of a command for g the cap that
// stopped it, when one is full: the kernel's EAGAIN from the fork, or a
// held stub that died starting its threads, say nothing of which cap
// and whose.
func (l *zoneLimits) namedCapError(g cgroups.Group, err error) error {
	if err == nil || !capLike(err.Error()) {
		return err
	}
	if full := l.lwpsFull(g, nil); full != nil {
		return fmt.Errorf("%w (%v)", full, err)
	}
	return err
}

// capLike tells the failures a full lwp cap gives a command's start:
// fork's EAGAIN, and a held stub that died before its word (its Go
// runtime could not start a thread).
func capLike(msg string) bool {
	for _, s := range []string{unix.EAGAIN.Error(), "stub ended without a word", "failed to create new OS thread"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}
