package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
)

// v1Controllers are the hierarchies a zone's cgroup lives in on a v1 host.
// devices belongs to the engine (device access), blkio is not used.
var v1Controllers = []string{"pids", "memory", "cpu", "cpuacct", "cpuset", "freezer"}

// v1Root is where v1 hierarchies are mounted.
const v1Root = "/sys/fs/cgroup"

type v1Backend struct {
	parent Parent
	mode   Mode
	root   string
}

// NewV1 returns the cgroup v1 backend, making groups under p's v1 paths.
func NewV1(p Parent, mode Mode) (Backend, error) {
	if len(p.V1) == 0 {
		return nil, errors.New("cgroup v1: no v1 controllers in the parent")
	}
	return &v1Backend{parent: p, mode: mode, root: v1Root}, nil
}

func (b *v1Backend) Mode() Mode { return b.mode }

func (b *v1Backend) Create(rel string, r *Resources) (Group, error) {
	if err := checkRel(rel); err != nil {
		return nil, err
	}
	if err := b.mkdirs(rel); err != nil {
		return nil, fmt.Errorf("cgroup v1: create %s: %w", rel, err)
	}
	g := &v1Group{b: b, rel: rel}
	for _, c := range v1Controllers {
		if _, ok := b.parent.V1[c]; ok {
			g.ctrls = append(g.ctrls, c)
		}
	}
	if r != nil {
		if err := g.Apply(r); err != nil {
			return g, err
		}
	}
	return g, nil
}

// mkdirs makes rel and whatever is missing above it in every hierarchy,
// filling each cpuset on the way from its parent (v1 refuses tasks in a
// cpuset without cpus and mems). containerd's cgroup1.New, which zonetop
// used before, did the same by walking from the hierarchy root for every
// controller and level, ~115 system calls per group against ~20 here,
// which made the projects a millisecond or more of every ready.
func (b *v1Backend) mkdirs(rel string) error {
	for _, c := range v1Controllers {
		p, ok := b.parent.V1[c]
		if !ok {
			continue
		}
		dir := filepath.Join(b.root, c)
		for _, part := range strings.Split(strings.Trim(path.Join(p, rel), "/"), "/") {
			dir = filepath.Join(dir, part)
			if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
				return err
			}
			if c == "cpuset" {
				if err := fillCpuset(dir); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// fillCpuset copies cpus and mems from the parent into a cpuset that has
// none: v1 refuses tasks in a cpuset without them. The zone cgroups and
// the groups below them both go through it.
func fillCpuset(dir string) error {
	for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
		cur, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			return err
		}
		if len(strings.TrimSpace(string(cur))) > 0 {
			continue
		}
		v, err := os.ReadFile(filepath.Join(filepath.Dir(dir), f))
		if err != nil {
			return err
		}
		if err := writeCgroup(dir, f, string(v)); err != nil {
			return err
		}
	}
	return nil
}

// Load finds the group in every hierarchy it exists in; a hierarchy
// where it is missing (a controller mounted after the zone booted) is left
// out of what the group does.
func (b *v1Backend) Load(rel string) (Group, error) {
	if err := checkRel(rel); err != nil {
		return nil, err
	}
	g := &v1Group{b: b, rel: rel}
	for _, c := range v1Controllers {
		if _, ok := b.parent.V1[c]; !ok {
			continue
		}
		if _, err := os.Lstat(g.dir(c)); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			return nil, fmt.Errorf("cgroup v1: load %s: %w", rel, err)
		}
		g.ctrls = append(g.ctrls, c)
	}
	if len(g.ctrls) == 0 {
		return nil, fmt.Errorf("cgroup v1: load %s: in no hierarchy: %w", rel, os.ErrNotExist)
	}
	return g, nil
}

type v1Group struct {
	b     *v1Backend
	rel   string
	ctrls []string // the hierarchies the group is in, in v1Controllers order
	dirs  cgDirs
}

// has reports whether the group is in controller's hierarchy.
func (g *v1Group) has(controller string) bool {
	for _, c := range g.ctrls {
		if c == controller {
			return true
		}
	}
	return false
}

func (g *v1Group) Path() string { return g.rel }

// dir is the group's directory in one hierarchy.
func (g *v1Group) dir(controller string) string {
	return filepath.Join(g.b.root, controller, g.b.parent.V1[controller], g.rel)
}

func (g *v1Group) readInt(controller, file string) (int64, error) {
	data, err := os.ReadFile(filepath.Join(g.dir(controller), file))
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
}

// write sets one interface file in controller's hierarchy.
func (g *v1Group) write(controller, file, value string) error {
	if err := writeCgroup(g.dir(controller), file, value); err != nil {
		return fmt.Errorf("cgroup v1 %s: %w", g.rel, err)
	}
	return nil
}

func (g *v1Group) Apply(r *Resources) error {
	if r == nil {
		return nil
	}
	if r.Pids != nil {
		if !g.has("pids") {
			return fmt.Errorf("cgroup v1 %s: no pids controller: max-lwps/max-processes cannot be enforced", g.rel)
		}
		if err := g.write("pids", "pids.max", pidsMax(*r.Pids)); err != nil {
			return err
		}
	}
	if err := g.applyMemory(r); err != nil {
		return err
	}
	if g.has("cpu") {
		if r.CPUShares != nil {
			if err := g.write("cpu", "cpu.shares", strconv.FormatUint(sharesV1(*r.CPUShares), 10)); err != nil {
				return err
			}
		}
		if r.CPUCap != nil {
			// The period first, as runc and containerd write them: each
			// write is checked against the other file's current value.
			q := int64(-1)
			if *r.CPUCap > 0 {
				q = quotaUs(*r.CPUCap)
			}
			if err := g.write("cpu", "cpu.cfs_period_us", strconv.Itoa(CPUPeriodUs)); err != nil {
				return err
			}
			if err := g.write("cpu", "cpu.cfs_quota_us", strconv.FormatInt(q, 10)); err != nil {
				return err
			}
		}
	}
	if r.CPUs != "" {
		if !g.has("cpuset") {
			return fmt.Errorf("cgroup v1 %s: no cpuset controller: dedicated-cpu cannot be enforced", g.rel)
		}
		// A group made by someone else may have no mems yet, and v1
		// refuses tasks in a cpuset without them.
		if err := fillCpuset(g.dir("cpuset")); err != nil {
			return fmt.Errorf("cgroup v1 %s: cpuset: %w", g.rel, err)
		}
		if err := g.write("cpuset", "cpuset.cpus", r.CPUs); err != nil {
			return err
		}
	}
	return nil
}

// pidsMax is the pids.max value for a cap: "max" for none (negative).
func pidsMax(v int64) string {
	if v < 0 {
		return "max"
	}
	return strconv.FormatInt(v, 10)
}

// applyMemory writes memory and memory+swap in the order the kernel
// accepts: memory.limit_in_bytes may never exceed memsw.limit_in_bytes.
// v1 takes -1 for no limit in both.
func (g *v1Group) applyMemory(r *Resources) error {
	if r.Memory == nil && r.MemorySwap == nil {
		return nil
	}
	if !g.has("memory") {
		return fmt.Errorf("cgroup v1 %s: no memory controller: memory caps cannot be enforced", g.rel)
	}
	mem := r.Memory
	if r.MemorySwap == nil {
		return g.write("memory", "memory.limit_in_bytes", strconv.FormatInt(*mem, 10))
	}
	if _, err := os.Stat(filepath.Join(g.dir("memory"), "memory.memsw.limit_in_bytes")); err != nil {
		return fmt.Errorf("cgroup v1 %s: swap accounting is off in this kernel (memory.memsw.*): max-swap cannot be enforced", g.rel)
	}
	sw := *r.MemorySwap
	if mem == nil && sw >= 0 {
		// Memory alone can never exceed memory+swap: lower it if needed.
		cur, err := g.readInt("memory", "memory.limit_in_bytes")
		if err != nil {
			return fmt.Errorf("cgroup v1 %s: %w", g.rel, err)
		}
		if cur > sw {
			mem = &sw
		}
	}
	curSw, err := g.readInt("memory", "memory.memsw.limit_in_bytes")
	if err != nil {
		return fmt.Errorf("cgroup v1 %s: %w", g.rel, err)
	}
	for _, step := range memoryOrder(mem, sw, curSw) {
		if err := g.write("memory", step.file, strconv.FormatInt(step.value, 10)); err != nil {
			return err
		}
	}
	return nil
}

type memoryStep struct {
	file  string
	value int64
}

// memoryOrder is the writes that set memory (nil: unchanged) and
// memory+swap sw, given the current memory+swap limit curSw: memsw first
// when it grows (or goes), so memory never exceeds it on the way.
func memoryOrder(mem *int64, sw, curSw int64) []memoryStep {
	swStep := memoryStep{"memory.memsw.limit_in_bytes", sw}
	if mem == nil {
		return []memoryStep{swStep}
	}
	memStep := memoryStep{"memory.limit_in_bytes", *mem}
	if sw < 0 || sw >= curSw {
		return []memoryStep{swStep, memStep}
	}
	return []memoryStep{memStep, swStep}
}

func (g *v1Group) AddProc(pid int) error {
	for _, c := range g.ctrls {
		if err := addProc(g.dir(c), "cgroup.procs", pid); err != nil {
			return fmt.Errorf("cgroup v1 %s: add %d: %s/%w", g.rel, pid, c, err)
		}
	}
	return nil
}

// procsController is the hierarchy whose membership lists processes: pids
// if present (every zone process is in it), otherwise the first one.
func (g *v1Group) procsController() string {
	for _, c := range []string{"pids", "freezer", "memory", "cpu"} {
		if g.has(c) {
			return c
		}
	}
	if len(g.ctrls) > 0 {
		return g.ctrls[0]
	}
	return "pids"
}

func (g *v1Group) Procs(recursive bool) ([]int, error) {
	c := g.procsController()
	ps, err := g.dirs.listProcs(g.dir(c), recursive)
	if err != nil {
		return nil, fmt.Errorf("cgroup v1 %s: list processes: %w", g.rel, err)
	}
	return ps, nil
}

func (g *v1Group) Populated() (bool, error) {
	ps, err := g.Procs(true)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	return len(ps) > 0, err
}

func (g *v1Group) Counters() (Stats, error) {
	var s Stats
	var err error
	g.counters(&s, &err)
	if err != nil {
		return Stats{}, fmt.Errorf("cgroup v1 %s: stats: %w", g.rel, err)
	}
	return s, nil
}

func (g *v1Group) set(v *uint64, err *error, controller, file string) {
	if *err != nil {
		return
	}
	if _, ok := g.b.parent.V1[controller]; ok {
		*v, *err = readCounter(g.dirs.file(g.dir(controller), file))
	}
}

func (g *v1Group) counters(s *Stats, err *error) {
	g.set(&s.CPUUsageNs, err, "cpuacct", "cpuacct.usage")
	g.set(&s.MemoryUsage, err, "memory", "memory.usage_in_bytes")
	g.set(&s.Pids, err, "pids", "pids.current")
}

func (g *v1Group) Stats() (Stats, error) {
	var s Stats
	var err error
	set := func(v *uint64, controller, file string) { g.set(v, &err, controller, file) }
	g.counters(&s, &err)
	set(&s.MemoryLimit, "memory", "memory.limit_in_bytes")
	var memsw uint64
	set(&memsw, "memory", "memory.memsw.usage_in_bytes")
	set(&s.PidsLimit, "pids", "pids.max")
	if _, ok := g.b.parent.V1["cpu"]; ok && err == nil {
		err = readKeyed(g.dirs.file(g.dir("cpu"), "cpu.stat"), map[string]*uint64{
			"nr_periods": &s.NrPeriods, "nr_throttled": &s.NrThrottled, "throttled_time": &s.ThrottledNs})
	}
	if err != nil {
		return Stats{}, fmt.Errorf("cgroup v1 %s: stats: %w", g.rel, err)
	}
	if memsw > s.MemoryUsage {
		s.SwapUsage = memsw - s.MemoryUsage
	}
	return s, nil
}

func (g *v1Group) Freeze() error {
	if !g.has("freezer") {
		return fmt.Errorf("cgroup v1 %s: no freezer controller", g.rel)
	}
	if err := g.setFreezer("FROZEN"); err != nil {
		// A group left half frozen would keep its frozen tasks stopped.
		_ = g.setFreezer("THAWED")
		return fmt.Errorf("cgroup v1 %s: freeze: %w", g.rel, err)
	}
	return nil
}

func (g *v1Group) Thaw() error {
	if !g.has("freezer") {
		return fmt.Errorf("cgroup v1 %s: no freezer controller", g.rel)
	}
	if err := g.setFreezer("THAWED"); err != nil {
		return fmt.Errorf("cgroup v1 %s: thaw: %w", g.rel, err)
	}
	return nil
}

// setFreezer writes state to freezer.state until the kernel reports it:
// freezing goes through FREEZING while tasks stop, and a write of FROZEN
// then retries those that did not.
func (g *v1Group) setFreezer(state string) error {
	dir := g.dir("freezer")
	var last string
	err := waitState(func() error { return writeCgroup(dir, "freezer.state", state) }, true, func() (bool, error) {
		b, err := os.ReadFile(filepath.Join(dir, "freezer.state"))
		last = strings.TrimSpace(string(b))
		return last == state, err
	})
	if err != nil && last != "" && last != state {
		return fmt.Errorf("freezer.state %s: %w", last, err)
	}
	return err
}

// Kill signals every process: v1 has no cgroup.kill.
func (g *v1Group) Kill() error { return killFrozen(g, "cgroup v1 "+g.rel) }

// Delete removes the group, and any group below it, from every hierarchy
// it is in. The kernel would refuse a group with processes anyway; they
// are named here instead of retrying for nothing.
func (g *v1Group) Delete() error {
	g.dirs.close()
	for _, c := range g.ctrls {
		if err := busyGroup(g.dir(c)); err != nil {
			return fmt.Errorf("cgroup v1 %s: delete: %w", g.rel, err)
		}
	}
	for _, c := range g.ctrls {
		if err := RemoveTree(g.dir(c)); err != nil {
			return fmt.Errorf("cgroup v1 %s: delete: %w", g.rel, err)
		}
	}
	return nil
}

// Delegate does nothing: every v1 group has every controller of its
// hierarchies.
func (g *v1Group) Delegate() error { return nil }
