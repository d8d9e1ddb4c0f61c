package limits

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
)

type v2Backend struct {
	mount  string // the unified mount point, /sys/fs/cgroup
	parent string // zonetop's parent group, relative to mount
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

// v2Controllers are the controllers a group's parents enable for it, so
// that its interface files exist; the caps come next, in Apply.
var v2Controllers = []string{"cpu", "memory", "pids"}

func (b *v2Backend) Create(rel string, r *Resources) (Group, error) {
	if err := checkRel(rel); err != nil {
		return nil, err
	}
	dir := filepath.Join(b.mount, b.group(rel))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("cgroup v2: create %s: %w", rel, err)
	}
	if err := enableControllers(b.mount, dir, v2Controllers); err != nil {
		os.Remove(dir)
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

// enableControllers writes +ctl to cgroup.subtree_control of the mount's
// root and of every group between it and dir. Only the last level's
// failure counts: a delegated subtree may not write its parents' files,
// which is harmless when they already enable the controllers.
func enableControllers(mount, dir string, ctls []string) error {
	rel, err := filepath.Rel(mount, dir)
	if err != nil || rel == "." || strings.HasPrefix(rel, "..") {
		return fmt.Errorf("%s is not below %s", dir, mount)
	}
	val := "+" + strings.Join(ctls, " +")
	var lastErr error
	at := mount
	for _, part := range strings.Split(rel, "/") {
		if err := writeCgroup(at, "cgroup.subtree_control", val); err != nil {
			lastErr = fmt.Errorf("enable %s in %s: %w", strings.Join(ctls, " "), at, err)
		} else {
			lastErr = nil
		}
		at = filepath.Join(at, part)
	}
	return lastErr
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
	for _, w := range v2Writes(r, cur) {
		if err := writeCgroup(g.dir(), w.file, w.value); err != nil {
			return fmt.Errorf("cgroup v2 %s: %w", g.rel, err)
		}
	}
	return nil
}

type v2Write struct{ file, value string }

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
		err = removeGroup(g.dir())
	}
	if err != nil {
		return fmt.Errorf("cgroup v2 %s: delete: %w", g.rel, err)
	}
	return nil
}
