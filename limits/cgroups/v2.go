package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
)

type v2Backend struct {
	mount  string // the unified mount point, /sys/fs/cgroup
	parent string // zonetop's parent group, relative to mount
	// extra are controllers Delegate enables besides v2Controllers (see
	// TestCgroup2Env).
	extra []string
}

// NewV2 returns the cgroup v2 backend: groups go under parent (a path in
// the unified hierarchy mounted at mountpoint).
func NewV2(mountpoint, parent string) (Backend, error) {
	if !strings.HasPrefix(parent, "/") || path.Clean(parent) != parent {
		return nil, fmt.Errorf("cgroup v2: parent %q: want a clean absolute path", parent)
	}
	return &v2Backend{mount: mountpoint, parent: parent}, nil
}

func (b *v2Backend) Mode() Mode { return ModeUnified }

func (b *v2Backend) group(rel string) string { return path.Join(b.parent, rel) }

// v2Controllers are the controllers zonetop's caps and usage sampling
// use. Delegate passes those the host has on to a group's children; a
// cap asks for its own in Apply.
var v2Controllers = []string{"cpu", "memory", "pids"}

// Create makes the group with its parents and applies r. It enables no
// controller by itself: v2 refuses processes in a cgroup that passes
// controllers on to its children, and the other way round, so a group
// hands controllers to its children only when a cap there needs one
// (Apply) or when it is told to (Delegate). A zone's cgroup holds zsched
// for a moment after its birth, before zsched moves into the system
// project; the zone cgroup must pass nothing on until then.
func (b *v2Backend) Create(rel string, r *Resources) (Group, error) {
	if err := checkRel(rel); err != nil {
		return nil, err
	}
	dir := filepath.Join(b.mount, b.group(rel))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("cgroup v2: create %s: %w", rel, err)
	}
	g := &v2Group{b: b, rel: rel}
	if r != nil {
		if err := g.Apply(r); err != nil {
			return g, err
		}
	}
	return g, nil
}

// readControllers reads a space-separated controller list
// (cgroup.controllers, cgroup.subtree_control), as a set and as written.
func readControllers(file string) (map[string]bool, error) {
	set, _, err := readControllerList(file)
	return set, err
}

func readControllerList(file string) (map[string]bool, string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, "", err
	}
	out := map[string]bool{}
	for _, c := range strings.Fields(string(b)) {
		out[strings.TrimPrefix(c, "+")] = true
	}
	return out, strings.TrimSpace(string(b)), nil
}

// enableControllers makes the controllers in want that the host has
// available in dir (inclusive: also to dir's children), by writing them
// to cgroup.subtree_control of every cgroup below the mount's root down to
// dir's parent (or dir), where they are not already enabled. The root's
// own cgroup.subtree_control is read, never written: it is the host's
// (systemd's) to set, and systemd enables there every controller a
// delegated unit uses; a controller the root does not pass on is
// reported like any other that a level withholds. A level that
// cannot be written (a delegated subtree may not write its parents'
// files; a cgroup with processes of its own may not pass controllers on)
// is passed over: what it did not enable is then simply not available
// below it. The returned map tells, for each controller of want that
// dir (or its children) does not get, why, naming the cgroup and what to
// do.
func enableControllers(mount, dir string, want []string, inclusive bool) (map[string]error, error) {
	rel, err := filepath.Rel(mount, dir)
	if err != nil || rel == "." || strings.HasPrefix(rel, "..") {
		return nil, fmt.Errorf("%s is not below %s", dir, mount)
	}
	levels := []string{mount}
	at := mount
	parts := strings.Split(rel, "/")
	if !inclusive {
		parts = parts[:len(parts)-1]
	}
	for _, p := range parts {
		at = filepath.Join(at, p)
		levels = append(levels, at)
	}
	why := map[string]error{}
	for _, level := range levels {
		avail, listed, err := readControllerList(filepath.Join(level, "cgroup.controllers"))
		if err != nil {
			return nil, err
		}
		on, err := readControllers(filepath.Join(level, "cgroup.subtree_control"))
		if err != nil {
			return nil, err
		}
		var add []string
		for _, c := range want {
			switch {
			case why[c] != nil:
			case !avail[c] && level == mount:
				why[c] = fmt.Errorf("%s, the root of the cgroup2 tree, does not have it (its cgroup.controllers: %q; a controller that a cgroup v1 hierarchy uses is not available to v2): run the host with cgroup v2 alone (systemd.unified_cgroup_hierarchy=1), or remove the cap",
					level, listed)
			case !avail[c]:
				why[c] = fmt.Errorf("%s does not have it (its cgroup.controllers: %q): enable %s in the cgroup.subtree_control of the cgroups above it, or give zonetop a --cgroup-parent where it is delegated (systemd: Delegate=yes), or remove the cap",
					level, listed, c)
			case !on[c] && level == mount:
				why[c] = fmt.Errorf("%s, the root of the cgroup2 tree, does not pass it on to its children (its cgroup.subtree_control: %q) and zonetop never changes the root cgroup: enable it there (echo +%s > %s/cgroup.subtree_control; systemd does it for a unit with Delegate=yes), or remove the cap",
					level, strings.Join(sortedKeys(on), " "), c, level)
			case !on[c]:
				add = append(add, c)
			}
		}
		if len(add) == 0 {
			continue
		}
		if err := writeCgroup(level, "cgroup.subtree_control", "+"+strings.Join(add, " +")); err != nil {
			for _, c := range add {
				why[c] = fmt.Errorf("%s does not pass it on to its children: writing +%s to its %w%s", level, c, err, subtreeAdvice(err))
			}
		}
	}
	return why, nil
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// subtreeAdvice says what to do about a refused cgroup.subtree_control
// write.
func subtreeAdvice(err error) string {
	switch {
	case errors.Is(err, syscall.EBUSY):
		return " (cgroup v2 lets no cgroup that holds processes of its own pass controllers to its children: give zonetop a --cgroup-parent that holds no processes)"
	case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM), errors.Is(err, syscall.EROFS):
		return " (the cgroup is not delegated to zonetop: give it a --cgroup-parent that is, systemd: Delegate=yes)"
	}
	return ""
}

func (b *v2Backend) Load(rel string) (Group, error) {
	if err := checkRel(rel); err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(b.mount, b.group(rel))); err != nil {
		return nil, fmt.Errorf("cgroup v2: load %s: %w", rel, err)
	}
	return &v2Group{b: b, rel: rel}, nil
}

type v2Group struct {
	b    *v2Backend
	rel  string
	dirs cgDirs
}

func (g *v2Group) Path() string { return g.rel }

func (g *v2Group) dir() string { return filepath.Join(g.b.mount, g.b.group(g.rel)) }

// Apply writes r's caps, first making the controllers they need
// available to the group. A cap whose controller the group cannot get
// fails, naming the controller, the cgroup that withholds it and what to
// do; nothing of r is written then.
func (g *v2Group) Apply(r *Resources) error {
	if r == nil {
		return nil
	}
	var cur *int64
	if r.Memory == nil && r.MemorySwap != nil {
		if v, err := readV2Limit(filepath.Join(g.dir(), "memory.max")); err == nil {
			cur = &v
		}
	}
	ws, err := g.needControllers(v2Writes(r, cur))
	if err != nil {
		return fmt.Errorf("cgroup v2 %s: %w", g.rel, err)
	}
	for _, w := range ws {
		if err := writeCgroup(g.dir(), w.file, w.value); err != nil {
			return fmt.Errorf("cgroup v2 %s: %w", g.rel, err)
		}
	}
	return nil
}

type v2Write struct{ file, value string }

// needControllers makes sure the group has the controller of every file
// in ws (the part of its name before the dot), enabling it above the
// group where it is missing, and returns the writes to make. A write that
// only says "no cap" (a limit of max, the default single share) needs no
// controller: a group without the controller has no such cap, which is
// what it asks, and the write is left out. The engine writes those for
// every cap a zone or project does not set, and a host without the
// controller must still boot a zone that sets none.
func (g *v2Group) needControllers(ws []v2Write) ([]v2Write, error) {
	if len(ws) == 0 {
		return nil, nil
	}
	have, err := readControllers(filepath.Join(g.dir(), "cgroup.controllers"))
	if err != nil {
		return nil, err
	}
	var need []string
	file := map[string]string{}
	for _, w := range ws {
		c, _, _ := strings.Cut(w.file, ".")
		if !have[c] && !noCap(w) && file[c] == "" {
			need = append(need, c)
			file[c] = w.file
		}
	}
	if len(need) > 0 {
		why, err := enableControllers(g.b.mount, g.dir(), need, false)
		if err != nil {
			return nil, err
		}
		var errs []error
		for _, c := range need {
			if why[c] != nil {
				errs = append(errs, fmt.Errorf("%s (the cap) needs the %s controller, which the group cannot get: %w", file[c], c, why[c]))
			}
			have[c] = true
		}
		if err := errors.Join(errs...); err != nil {
			return nil, err
		}
	}
	out := ws[:0:0]
	for _, w := range ws {
		if c, _, _ := strings.Cut(w.file, "."); have[c] {
			out = append(out, w)
		}
	}
	return out, nil
}

// PassesOn tells a cgroup v2 group that hands controllers on to its
// children (a project whose tasks have caps): v2 refuses any process in
// it then, so a process for it must go into a child. False on v1, where
// every group takes processes.
func PassesOn(g Group) bool {
	v2, ok := g.(*v2Group)
	if !ok {
		return false
	}
	on, err := readControllers(filepath.Join(v2.dir(), "cgroup.subtree_control"))
	return err == nil && len(on) > 0
}

// noCap tells a write that removes a cap or sets the default.
func noCap(w v2Write) bool {
	return w.value == "max" || strings.HasPrefix(w.value, "max ") || w.file == "cpu.weight" && w.value == strconv.FormatUint(weightV2(1), 10)
}

// Delegate passes the controllers zonetop uses (those of them the host
// has) on to the group's children, enabling them above it where needed.
// The group must hold no processes of its own: v2 refuses it otherwise.
func (g *v2Group) Delegate() error {
	want := append(append([]string(nil), v2Controllers...), g.b.extra...)
	why, err := enableControllers(g.b.mount, g.dir(), want, true)
	if err != nil {
		return fmt.Errorf("cgroup v2 %s: delegate controllers: %w", g.rel, err)
	}
	// A controller the host lacks is no error (a cap that needs it is);
	// one the group has but could not pass on is.
	have, err := readControllers(filepath.Join(g.dir(), "cgroup.controllers"))
	if err != nil {
		return fmt.Errorf("cgroup v2 %s: delegate controllers: %w", g.rel, err)
	}
	var errs []error
	for _, c := range want {
		if have[c] && why[c] != nil {
			errs = append(errs, why[c])
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("cgroup v2 %s: delegate controllers: %w", g.rel, err)
	}
	return nil
}

// v2Writes are the interface files and values for r, in the order they
// are written. curMemory is the group's memory.max (-1: max) when r
// changes swap alone, which v2 counts apart from memory: illumos' max-swap
// is memory + swap, so swap.max is the difference.
func v2Writes(r *Resources, curMemory *int64) []v2Write {
	var out []v2Write
	add := func(f, v string) { out = append(out, v2Write{f, v}) }
	if r.CPUShares != nil {
		add("cpu.weight", strconv.FormatUint(weightV2(*r.CPUShares), 10))
	}
	if r.CPUCap != nil {
		q := "max"
		if *r.CPUCap > 0 {
			q = strconv.FormatInt(quotaUs(*r.CPUCap), 10)
		}
		add("cpu.max", q+" "+strconv.Itoa(CPUPeriodUs))
	}
	if r.CPUs != "" {
		add("cpuset.cpus", r.CPUs)
	}
	if r.MemorySwap != nil {
		limit := int64(-1)
		if r.Memory != nil {
			limit = *r.Memory
		} else if curMemory != nil {
			limit = *curMemory
		}
		sw := "max"
		if s := *r.MemorySwap; s >= 0 {
			v := int64(0)
			if limit < 0 {
				v = s
			} else if s > limit {
				v = s - limit
			}
			sw = strconv.FormatInt(v, 10)
		}
		add("memory.swap.max", sw)
	}
	if r.Memory != nil {
		add("memory.max", v2Limit(*r.Memory))
	}
	if r.Pids != nil {
		add("pids.max", pidsMax(*r.Pids))
	}
	return out
}

// v2Limit spells a byte cap for memory files: "max" for none.
func v2Limit(v int64) string {
	if v < 0 {
		return "max"
	}
	return strconv.FormatInt(v, 10)
}

func readV2Limit(file string) (int64, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return 0, err
	}
	s := strings.TrimSpace(string(data))
	if s == "max" {
		return -1, nil
	}
	return strconv.ParseInt(s, 10, 64)
}

func (g *v2Group) AddProc(pid int) error {
	if err := addProc(g.dir(), "cgroup.procs", pid); err != nil {
		return fmt.Errorf("cgroup v2 %s: add %d: %w", g.rel, pid, err)
	}
	return nil
}

func (g *v2Group) Procs(recursive bool) ([]int, error) {
	ps, err := g.dirs.listProcs(g.dir(), recursive)
	if err != nil {
		return nil, fmt.Errorf("cgroup v2 %s: list processes: %w", g.rel, err)
	}
	return ps, nil
}

// Populated reads the kernel's own flag, which a process's exit clears
// at once, rather than a listing of cgroup.procs.
func (g *v2Group) Populated() (bool, error) {
	b, err := os.ReadFile(filepath.Join(g.dir(), "cgroup.events"))
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("cgroup v2 %s: %w", g.rel, err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "populated "); ok {
			return strings.TrimSpace(v) != "0", nil
		}
	}
	return false, fmt.Errorf("cgroup v2 %s: cgroup.events has no populated line", g.rel)
}

func (g *v2Group) Counters() (Stats, error) {
	var s Stats
	dir := g.dir()
	var usec uint64
	err := readKeyed(g.dirs.file(dir, "cpu.stat"), map[string]*uint64{"usage_usec": &usec})
	if err == nil {
		s.MemoryUsage, err = readCounter(g.dirs.file(dir, "memory.current"))
	}
	if err == nil {
		s.Pids, err = readCounter(g.dirs.file(dir, "pids.current"))
	}
	if err != nil {
		return Stats{}, fmt.Errorf("cgroup v2 %s: stats: %w", g.rel, err)
	}
	s.CPUUsageNs = usec * 1000
	return s, nil
}

func (g *v2Group) Stats() (Stats, error) {
	var s Stats
	dir := g.dir()
	var usec, throttledUsec uint64
	err := readKeyed(g.dirs.file(dir, "cpu.stat"), map[string]*uint64{
		"usage_usec": &usec, "nr_periods": &s.NrPeriods, "nr_throttled": &s.NrThrottled, "throttled_usec": &throttledUsec})
	for _, f := range []struct {
		v    *uint64
		name string
	}{{&s.MemoryUsage, "memory.current"}, {&s.MemoryLimit, "memory.max"}, {&s.SwapUsage, "memory.swap.current"},
		{&s.Pids, "pids.current"}, {&s.PidsLimit, "pids.max"}} {
		if err != nil {
			break
		}
		*f.v, err = readCounter(g.dirs.file(dir, f.name))
	}
	if err != nil {
		return Stats{}, fmt.Errorf("cgroup v2 %s: stats: %w", g.rel, err)
	}
	s.CPUUsageNs, s.ThrottledNs = usec*1000, throttledUsec*1000
	return s, nil
}

func (g *v2Group) Freeze() error {
	if err := g.setFrozen("1"); err != nil {
		_ = g.setFrozen("0")
		return fmt.Errorf("cgroup v2 %s: freeze: %w", g.rel, err)
	}
	return nil
}

func (g *v2Group) Thaw() error {
	if err := g.setFrozen("0"); err != nil {
		return fmt.Errorf("cgroup v2 %s: thaw: %w", g.rel, err)
	}
	return nil
}

// setFrozen writes cgroup.freeze and waits until cgroup.events says the
// group got there: cgroup.freeze reads back what was asked, not whether
// every task has stopped yet.
func (g *v2Group) setFrozen(v string) error {
	dir := g.dir()
	return waitState(func() error { return writeCgroup(dir, "cgroup.freeze", v) }, false, func() (bool, error) {
		b, err := os.ReadFile(filepath.Join(dir, "cgroup.events"))
		if err != nil {
			return false, fmt.Errorf("cgroup.events: %w", err)
		}
		got, ok := eventsFrozen(b)
		return !ok || got == v, nil
	})
}

// eventsFrozen is the value of the "frozen" key in cgroup.events; ok is
// false when the kernel does not report it.
func eventsFrozen(events []byte) (v string, ok bool) {
	for _, line := range strings.Split(string(events), "\n") {
		if k, val, found := strings.Cut(line, " "); found && k == "frozen" {
			return strings.TrimSpace(val), true
		}
	}
	return "", false
}

// Kill writes cgroup.kill, which kills the whole subtree at once; kernels
// before 5.14 lack it, and the group is killed by freezing instead.
func (g *v2Group) Kill() error {
	err := writeCgroup(g.dir(), "cgroup.kill", "1")
	if errors.Is(err, os.ErrNotExist) {
		return killFrozen(g, "cgroup v2 "+g.rel)
	}
	if err != nil {
		return fmt.Errorf("cgroup v2 %s: kill: %w", g.rel, err)
	}
	return nil
}

// Delete removes the group and any group below it; one with processes is
// refused, naming them.
func (g *v2Group) Delete() error {
	g.dirs.close()
	err := busyGroup(g.dir())
	if err == nil {
		err = RemoveTree(g.dir())
	}
	if err != nil {
		return fmt.Errorf("cgroup v2 %s: delete: %w", g.rel, err)
	}
	return nil
}
