package cgroups

import (
	"errors"
	"fmt"
	"log"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
	"zonetop/internal/configs"
	"zonetop/internal/pidfd"

	"golang.org/x/sys/unix"
)

// The runtime's share of cgroups: make the zone's cgroup in every
// hierarchy, put zsched in it, list and kill what is in it, remove it.
// Caps are the backends' business (Backend) and are written into the same
// directories by them.

// zoneCgroupControllers are the cgroup v1 controllers a zone gets a cgroup
// in. Comounted controllers share one directory.
var zoneCgroupControllers = []string{"pids", "memory", "cpu", "cpuacct", "cpuset", "freezer", "devices"}

// CgroupHier is one mounted hierarchy and the cgroup this process is in.
type CgroupHier struct {
	Mount       string   // mount point
	controllers []string // v1 controllers; empty for cgroup2
	V2          bool
	Current     string // this process's cgroup, relative to the mount
}

// CgroupHierarchies lists the hierarchies the zone cgroups go into: on a
// pure v2 host the unified one; otherwise each v1 hierarchy holding one of
// zoneCgroupControllers (a hybrid host's v2 tree is left alone). Under
// TestCgroup2Env, the cgroup2 tree mounted where it says, alone, as
// on a pure v2 host. Which of the two is DetectMode's to say, as it is
// for the backends, so that caps land in the hierarchies the zone's
// cgroups were made in.
func CgroupHierarchies() ([]CgroupHier, error) {
	forced, _, isForced := TestCgroup2()
	unified := DetectMode() == ModeUnified
	own, mounts, err := self()
	if err != nil {
		return nil, fmt.Errorf("cgroups: %w", err)
	}
	byCtl := own.V1
	byCtl[""] = own.V2
	var v1, v2 []CgroupHier
	seen := map[string]bool{}
	for _, m := range mounts {
		fstype, mnt, mroot := m.FSType, m.MountPoint, m.Root
		switch fstype {
		case "cgroup2":
			if isForced && mnt != forced {
				continue
			}
			rel := underRoot(byCtl[""], mroot)
			v2 = append(v2, CgroupHier{Mount: mnt, V2: true, Current: rel})
		case "cgroup":
			if unified {
				continue
			}
			var ctls []string
			for _, o := range strings.Split(m.Super, ",") {
				for _, want := range zoneCgroupControllers {
					if o == want {
						ctls = append(ctls, o)
					}
				}
			}
			if len(ctls) == 0 || seen[mnt] {
				continue
			}
			seen[mnt] = true
			rel := underRoot(byCtl[ctls[0]], mroot)
			v1 = append(v1, CgroupHier{Mount: mnt, controllers: ctls, Current: rel})
		}
	}
	if len(v1) > 0 {
		return v1, nil
	}
	if len(v2) > 0 {
		return v2[:1], nil
	}
	return nil, errors.New("cgroups: no cgroup hierarchy mounted")
}

// EnterLeaf moves pid into child leaf of the unified cgroup scope (made
// when missing), leaving scope free of processes so that it may pass
// controllers on; rel is the leaf's path in the unified hierarchy. For a
// supervisor in a systemd scope of its own, on a pure v2 host only.
func EnterLeaf(scope, leaf string, pid int) (rel string, err error) {
	hs, err := CgroupHierarchies()
	if err != nil {
		return "", err
	}
	if len(hs) != 1 || !hs[0].V2 {
		return "", errors.New("not a cgroup v2 host")
	}
	rel = path.Join(scope, leaf)
	dir := filepath.Join(hs[0].Mount, rel)
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return "", fmt.Errorf("cgroup %s: %w", dir, err)
	}
	if err := addProc(dir, "cgroup.procs", pid); err != nil {
		return "", fmt.Errorf("cgroup %s: %w", dir, err)
	}
	return rel, nil
}

// ZoneCgroups are the directories of one zone's cgroup, one per hierarchy.
type ZoneCgroups struct {
	Dirs    []string
	back    []string // where this process was before it stepped in, to step out again
	freezer string   // the one of Dirs in the v1 freezer hierarchy, when made here (not adopted)
}

// CreateZoneCgroups makes <parent>/zonetop/<zone> in every hierarchy.
// parent is the caller's own cgroup unless parentOverride is set.
func CreateZoneCgroups(zone, parentOverride string, extraDevs []configs.DevNode) (*ZoneCgroups, error) {
	hs, err := CgroupHierarchies()
	if err != nil {
		return nil, err
	}
	if parentOverride != "" {
		// An operator's --cgroup-parent is theirs to make: name every
		// hierarchy it is missing from at once, with the command.
		var missing []string
		for _, h := range hs {
			dir := filepath.Join(h.Mount, filepath.Clean("/"+parentOverride))
			if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
				missing = append(missing, dir)
			}
		}
		if len(missing) > 0 {
			return nil, fmt.Errorf("cgroup parent %s: missing in %d of %d hierarchies (%s); make it with: mkdir -p %s",
				parentOverride, len(missing), len(hs), strings.Join(missing, ", "), strings.Join(missing, " "))
		}
	}
	cg := &ZoneCgroups{}
	for _, h := range hs {
		parent := h.Current
		if parentOverride != "" {
			parent = parentOverride
		}
		parentDir := filepath.Join(h.Mount, filepath.Clean("/"+parent))
		top := filepath.Join(parentDir, DefaultParentName)
		dir := filepath.Join(top, zone)
		// The shared zonetop directory goes with the last zone in it: a
		// zone halting now may remove it between the two mkdirs.
		for attempt := 0; ; attempt++ {
			err := os.Mkdir(top, 0o755)
			if err == nil || errors.Is(err, os.ErrExist) {
				if err = os.Mkdir(dir, 0o755); err == nil || errors.Is(err, os.ErrExist) {
					break
				}
			}
			if errors.Is(err, os.ErrNotExist) && attempt < 10 {
				continue
			}
			cg.Remove()
			return nil, fmt.Errorf("cgroup %s: %w", dir, err)
		}
		for _, d := range []string{top, dir} {
			if d == dir {
				cg.Dirs = append(cg.Dirs, dir)
				if slices.Contains(h.controllers, "freezer") {
					cg.freezer = dir
				}
				cg.back = append(cg.back, filepath.Join(h.Mount, filepath.Clean("/"+h.Current)))
			}
			if slices.Contains(h.controllers, "cpuset") {
				if err := fillCpuset(d); err != nil {
					cg.Remove()
					return nil, fmt.Errorf("cgroup %s: %w", d, err)
				}
			}
			if d == dir && slices.Contains(h.controllers, "devices") {
				if err := limitDevices(dir, extraDevs); err != nil {
					cg.Remove()
					return nil, err
				}
			}
			if d == dir && h.V2 {
				if err := attachDeviceFilter(dir, extraDevs); err != nil {
					cg.Remove()
					return nil, err
				}
			}
		}
	}
	return cg, nil
}

// limitDevices lets the zone use only its /dev nodes (v1 devices
// controller): with mknod in its bounding set a zone root could otherwise
// make and open a node for any host disk. attachDeviceFilter does the same
// on v2.
func limitDevices(dir string, extra []configs.DevNode) error {
	var rules []string
	for _, r := range zoneDevRules(extra) {
		rules = append(rules, r.v1())
	}
	if err := writeCgroup(dir, "devices.deny", "a"); err != nil {
		return fmt.Errorf("cgroup %s: devices: %w", dir, err)
	}
	for _, r := range rules {
		if err := writeCgroup(dir, "devices.allow", r); err != nil {
			return fmt.Errorf("cgroup %s: devices %q: %w", dir, r, err)
		}
	}
	return nil
}

// UnifiedDir is the zone's cgroup in the unified (v2) hierarchy, the
// only one on a pure v2 host: the cgroup zsched is cloned into there.
func (cg *ZoneCgroups) UnifiedDir() string {
	for _, d := range cg.Dirs {
		if _, err := os.Stat(filepath.Join(d, "cgroup.controllers")); err == nil {
			return d
		}
	}
	if len(cg.Dirs) > 0 {
		return cg.Dirs[0]
	}
	return ""
}

// machineryPrefix begins the name of the cgroup zsched lives in on a
// unified (v2) host, beside its zone's: no zone name begins with "_", so
// it never clashes with another zone's cgroup.
const machineryPrefix = "_zsched."

// MachineryDir is where zsched lives on a unified (v2) host: beside the
// zone's cgroup, outside every cap of the zone. v2 keeps a process in one
// cgroup for every controller, so zsched cannot leave the zone's pids
// count alone as it does on v1; it leaves the zone's cgroup altogether.
// Derived from the zone's directory, so an adopting zoneadmd finds it.
func (cg *ZoneCgroups) MachineryDir() string {
	d := cg.UnifiedDir()
	if d == "" {
		return ""
	}
	return filepath.Join(filepath.Dir(d), machineryPrefix+filepath.Base(d))
}

// PlaceZschedV2 moves zsched, born in the zone's cgroup (so that its
// cgroup namespace is rooted there), into MachineryDir: its Go runtime's
// threads then take nothing of zone.max-lwps, and the zone's cgroup is
// left without processes, free to pass controllers on to its projects.
// The zone's processes are born held beside zsched and moved into their
// project by zoneadmd before they run.
func (cg *ZoneCgroups) PlaceZschedV2(pid int) error {
	m := cg.MachineryDir()
	if m == "" {
		return errors.New("cgroups: no unified cgroup for the zone")
	}
	if err := os.Mkdir(m, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("cgroup %s: %w", m, err)
	}
	if err := addProc(m, "cgroup.procs", pid); err != nil {
		return fmt.Errorf("cgroup %s: zsched (pid %d): %w", m, pid, err)
	}
	return nil
}

// machinery lists MachineryDir when it exists (a v2 zone's), for the
// kill and removal paths.
func (cg *ZoneCgroups) machinery() []string {
	m := cg.MachineryDir()
	if m == "" {
		return nil
	}
	if _, err := os.Stat(filepath.Join(m, "cgroup.procs")); err != nil {
		return nil
	}
	return []string{m}
}

// ZschedHomes are the cgroups zsched belongs in, one per hierarchy of
// cg: zonetop's own cgroup in pids, the zone's project named system where
// it has one, the zone cgroup otherwise. nil when a thread cannot be
// placed on its own (cgroup v2, no tasks file): then zsched is born in the
// zone cgroup and moved (PlaceZschedV2).
//
// zsched is outside the zone's pids cgroup on a v1 host, where pids is a
// hierarchy of its own: zsched's threads are the zone's machinery, not its
// work, and illumos counts no system process against zone.max-lwps.
// Without this a Go runtime's handful of threads would take that many
// tasks from every zone's cap. zsched stays in the zone's system project
// in every other hierarchy (memory, cpu, freezer), and every process it
// starts is moved into its project before it runs, so nothing of the
// zone's work escapes the count. On a unified (v2) host the controllers
// cannot be split: zsched leaves the zone's cgroup for MachineryDir.
func (cg *ZoneCgroups) ZschedHomes(system string) []string {
	homes := make([]string, len(cg.Dirs))
	for i, d := range cg.Dirs {
		if _, err := os.Stat(filepath.Join(d, "tasks")); err != nil {
			return nil
		}
		homes[i] = d
		if _, err := os.Stat(filepath.Join(d, "pids.max")); err == nil {
			homes[i] = filepath.Dir(d)
		} else if system != "" {
			if st, err := os.Stat(filepath.Join(d, system)); err == nil && st.IsDir() {
				homes[i] = filepath.Join(d, system)
			}
		}
	}
	return homes
}

// StartFromThread runs start on an OS thread of its own that first moves
// itself into the zone cgroups, takes a new cgroup namespace there and
// moves on to homes: the process start forks is born in homes with its
// cgroup namespace rooted at the zone cgroup, and nothing is moved after.
// A thread moving itself (0 written to a v1 tasks file) skips the
// kernel's process-wide migration lock, whose RCU grace period makes each
// first cgroup.procs write cost 5 to 20 ms on these hosts. The thread then
// returns to this process's cgroups and namespace; if it cannot, it is
// never unlocked and dies with its goroutine.
func (cg *ZoneCgroups) StartFromThread(homes []string, start func() (*pidfd.PidProc, error)) (*pidfd.PidProc, error) {
	type result struct {
		p   *pidfd.PidProc
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/cgroup")
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{nil, fmt.Errorf("cgroup namespace: %w", err)}
			return
		}
		defer orig.Close()
		var p *pidfd.PidProc
		err = moveThread(cg.Dirs)
		if err == nil {
			if err = unix.Unshare(unix.CLONE_NEWCGROUP); err != nil {
				err = fmt.Errorf("cgroup namespace: %w", err)
			}
		}
		if err == nil {
			err = moveThread(homes)
		}
		if err == nil {
			p, err = start()
		}
		back := unix.Setns(int(orig.Fd()), unix.CLONE_NEWCGROUP)
		if back == nil {
			back = moveThread(cg.back)
		}
		if back == nil {
			runtime.UnlockOSThread()
		} else {
			log.Printf("thread left in the zone cgroup, ending it: %v", back)
		}
		ch <- result{p, err}
	}()
	r := <-ch
	return r.p, r.err
}

// TaskFiles opens the v1 tasks files a forking thread moves itself
// through (see StartFromThread for why a thread moving itself is cheap)
// so that the process it forks is born in the cgroup rel, a path relative
// to the cgroup holding the zone's as a Group's Path is: into holds rel's
// in each hierarchy it is in, back the home of homes there, to return to.
// ok is false, and nothing is open, when rel is not below the zone or a
// file will not open.
func (cg *ZoneCgroups) TaskFiles(rel string, homes []string) (into, back []*os.File, ok bool) {
	fail := func() ([]*os.File, []*os.File, bool) {
		for _, f := range append(into, back...) {
			f.Close()
		}
		return nil, nil, false
	}
	for i, zd := range cg.Dirs {
		gd := filepath.Join(filepath.Dir(zd), rel)
		if !strings.HasPrefix(gd, zd+"/") || i >= len(homes) {
			return fail()
		}
		if _, err := os.Stat(gd); err != nil {
			continue // a hierarchy rel is not in (devices): the zone's own
		}
		in, err := os.OpenFile(filepath.Join(gd, "tasks"), os.O_WRONLY, 0)
		if err != nil {
			return fail()
		}
		into = append(into, in)
		out, err := os.OpenFile(filepath.Join(homes[i], "tasks"), os.O_WRONLY, 0)
		if err != nil {
			return fail()
		}
		back = append(back, out)
	}
	if len(into) == 0 {
		return fail()
	}
	return into, back, true
}

// moveThread moves the calling thread alone into a v1 cgroup per
// hierarchy.
func moveThread(dirs []string) error {
	for _, d := range dirs {
		if err := writeCgroup(d, "tasks", "0"); err != nil {
			return fmt.Errorf("cgroup %s: move thread: %w", d, err)
		}
	}
	return nil
}

// Pids lists every process in the zone's cgroups and their descendants.
func (cg *ZoneCgroups) Pids() []int {
	var d cgDirs
	defer d.close()
	set := map[int]bool{}
	for _, dir := range append(cg.Dirs[:len(cg.Dirs):len(cg.Dirs)], cg.machinery()...) {
		ps, _ := d.listProcs(dir, true) // a hierarchy already gone holds none
		for _, p := range ps {
			set[p] = true
		}
	}
	out := make([]int, 0, len(set))
	for p := range set {
		out = append(out, p)
	}
	sort.Ints(out)
	return out
}

// OomKills is how many processes the kernel's out-of-memory killer ended
// in the zone's memory cgroups (v1 memory.oom_control, v2 memory.events);
// it tells a zone whose cap is too small from one that failed otherwise.
// v1 counts a kill only in the victim's own cgroup (zsched's is the
// system project), so every cgroup of the zone is read.
func (cg *ZoneCgroups) OomKills() int {
	n := 0
	for _, d := range cg.Dirs {
		for _, sub := range WalkCgroups(d) {
			for _, f := range []string{"memory.oom_control", "memory.events"} {
				b, err := readPath(filepath.Join(sub, f))
				if err != nil {
					continue
				}
				for _, line := range strings.Split(string(b), "\n") {
					if v, ok := strings.CutPrefix(line, "oom_kill "); ok {
						k, _ := strconv.Atoi(strings.TrimSpace(v))
						n += k
					}
				}
			}
		}
	}
	return n
}

func (cg *ZoneCgroups) FreezerDir() string {
	if cg.freezer != "" {
		return cg.freezer
	}
	for _, d := range cg.Dirs {
		if _, err := os.Stat(filepath.Join(d, "freezer.state")); err == nil {
			return d
		}
	}
	return ""
}

// KillAll freezes the zone so nothing can fork while it is being killed,
// sends SIGKILL to every process, thaws, and waits until the cgroups are
// empty or timeout passes. zschedGone, when not nil, closes when zsched
// has been reaped: as the pid namespace's init it goes last, so the wait
// starts there instead of polling the cgroups while the zone dies.
func (cg *ZoneCgroups) KillAll(timeout time.Duration, zschedGone <-chan struct{}) error {
	fz := cg.FreezerDir()
	if fz != "" {
		_ = writeCgroup(fz, "freezer.state", "FROZEN")
		// A small zone freezes in well under a millisecond: poll with a
		// backoff instead of a fixed sleep that would dominate halt.
		wait := newBackoff()
		for i := 0; i < 100; i++ {
			b, _ := readPath(filepath.Join(fz, "freezer.state"))
			if strings.TrimSpace(string(b)) != "FREEZING" {
				break
			}
			wait.sleep()
		}
	}
	for _, d := range cg.Dirs {
		_ = writeCgroup(d, "cgroup.kill", "1")
	}
	for _, p := range cg.Pids() {
		_ = syscall.Kill(p, syscall.SIGKILL)
	}
	if fz != "" {
		_ = writeCgroup(fz, "freezer.state", "THAWED")
	}
	deadline := time.Now().Add(timeout)
	if zschedGone != nil {
		select {
		case <-zschedGone:
		case <-time.After(timeout):
		}
	}
	left, _, _ := killUntilEmpty(func() ([]int, error) { return cg.Pids(), nil }, deadline, nil)
	if len(left) > 0 {
		return fmt.Errorf("processes that would not die: %v", left)
	}
	return nil
}

// backoff sleeps 100 µs, then twice as long each time, up to 5 ms: the
// kernel usually finishes a freeze or a kill within the first steps, and a
// stuck zone is still polled gently.
type backoff struct{ d time.Duration }

func newBackoff() *backoff { return &backoff{d: 100 * time.Microsecond} }

func (b *backoff) sleep() {
	time.Sleep(b.d)
	if b.d *= 2; b.d > 5*time.Millisecond {
		b.d = 5 * time.Millisecond
	}
}

// Survey lists the zone's cgroup in one hierarchy: the cgroups below it,
// as paths relative to it and deepest first, and the processes in any of
// them. Each of the zone's processes is in the zone's subtree of every
// hierarchy (zsched alone leaves the pids one, see ZschedHomes), so one
// hierarchy tells whether the zone is empty and what remove must take
// down. It is the freezer's where there is one: its directories hold seven
// files where memory's or cpu's hold dozens, and listing them is most of
// the cost.
func (cg *ZoneCgroups) Survey() (subs []string, pids []int, err error) {
	if len(cg.Dirs) == 0 {
		return nil, nil, errors.New("cgroups: none recorded")
	}
	top := cg.FreezerDir()
	if top == "" {
		top = cg.Dirs[0]
	}
	var walk func(rel string) error
	walk = func(rel string) error {
		dir := filepath.Join(top, rel)
		// A cgroup's link count is two plus its child cgroups: the
		// projects, mostly leaves, are not listed at all.
		var st syscall.Stat_t
		if err := syscall.Lstat(dir, &st); err != nil {
			return fmt.Errorf("cgroup %s: %w", dir, err)
		}
		if st.Nlink > 2 {
			ents, err := os.ReadDir(dir)
			if err != nil {
				return fmt.Errorf("cgroup %s: %w", dir, err)
			}
			for _, e := range ents {
				if e.IsDir() {
					if err := walk(filepath.Join(rel, e.Name())); err != nil {
						return err
					}
				}
			}
		}
		b, err := readPath(filepath.Join(dir, "cgroup.procs"))
		if err != nil {
			return fmt.Errorf("cgroup %s: %w", dir, err)
		}
		for _, f := range strings.Fields(string(b)) {
			if n, err := strconv.Atoi(f); err == nil {
				pids = append(pids, n)
			}
		}
		if rel != "" {
			subs = append(subs, rel)
		}
		return nil
	}
	if err := walk(""); err != nil {
		return nil, nil, err
	}
	return subs, pids, nil
}

// KillByInit ends the zone through its pid namespace instead of process by
// process: SIGKILL to zsched, the namespace's init, makes the kernel kill
// every process in the namespace and refuse new ones, and zsched is not
// reaped (done does not close) before they are all gone. What the
// namespace cannot reach is a process the host put into the zone's
// cgroups, so Survey checks that nothing is left, and the sub-cgroups it
// found are returned for RemoveAs. An error means the zone is not known to
// be empty, and KillAll must finish the job.
func (cg *ZoneCgroups) KillByInit(zsched *pidfd.PidProc, done <-chan struct{}, timeout time.Duration) ([]string, error) {
	if err := zsched.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return nil, fmt.Errorf("kill zsched (pid %d): %w", zsched.Pid, err)
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		return nil, fmt.Errorf("zsched (pid %d) did not die", zsched.Pid)
	}
	subs, left, err := cg.Survey()
	if err != nil {
		return nil, err
	}
	if len(left) > 0 {
		return nil, fmt.Errorf("processes outside the zone's pid namespace: %v", left)
	}
	return subs, nil
}

// Remove deletes the zone's cgroups and everything below them, and the
// shared zonetop directory when no other zone uses it.
func (cg *ZoneCgroups) Remove() error {
	subs, _, _ := cg.Survey()
	return cg.RemoveAs(subs)
}

// RemoveAs is Remove given the sub-cgroups Survey found, relative and
// deepest first. Every hierarchy holds the same project and task cgroups,
// so they are removed by name without listing each hierarchy; only one
// whose zone cgroup still will not go (a cgroup made since, a process
// still leaving) is listed and waited for. Nothing outside the zone's own
// cgroups is touched but the shared zonetop directory.
func (cg *ZoneCgroups) RemoveAs(subs []string) error {
	var errs []error
	for _, m := range cg.machinery() {
		// zsched may still be leaving it (the v2 guest left one behind
		// once): waited for as the zone's own cgroups are.
		if err := syscall.Rmdir(m); err != nil && !errors.Is(err, syscall.ENOENT) {
			if err := RemoveTree(m); err != nil {
				errs = append(errs, fmt.Errorf("cgroup %s: %w", m, err))
			}
		}
	}
	for _, d := range cg.Dirs {
		for _, s := range subs {
			_ = syscall.Rmdir(filepath.Join(d, s))
		}
		if err := syscall.Rmdir(d); err != nil && !errors.Is(err, syscall.ENOENT) {
			if err := RemoveTree(d); err != nil {
				errs = append(errs, err)
			}
		}
		_ = syscall.Rmdir(filepath.Dir(d)) // the shared zonetop dir; busy while other zones live
	}
	return errors.Join(errs...)
}
