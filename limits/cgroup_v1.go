package limits

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/containerd/cgroups/v3/cgroup1"
	specs "github.com/opencontainers/runtime-spec/specs-go"
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

func (b *v1Backend) hierarchy() ([]cgroup1.Subsystem, error) {
	var out []cgroup1.Subsystem
	for _, c := range v1Controllers {
		if _, ok := b.parent.V1[c]; !ok {
			continue
		}
		switch c {
		case "pids":
			out = append(out, cgroup1.NewPids(b.root))
		case "memory":
			out = append(out, cgroup1.NewMemory(b.root, cgroup1.OptionalSwap()))
		case "cpu":
			out = append(out, cgroup1.NewCpu(b.root))
		case "cpuacct":
			out = append(out, cgroup1.NewCpuacct(b.root))
		case "cpuset":
			out = append(out, cgroup1.NewCpuset(b.root))
		case "freezer":
			out = append(out, cgroup1.NewFreezer(b.root))
		}
	}
	return out, nil
}

func (b *v1Backend) pathFn(rel string) cgroup1.Path {
	return func(n cgroup1.Name) (string, error) {
		p, ok := b.parent.V1[string(n)]
		if !ok {
			return "", cgroup1.ErrControllerNotActive
		}
		return path.Join(p, rel), nil
	}
}

func (b *v1Backend) opts() []cgroup1.InitOpts {
	return []cgroup1.InitOpts{
		cgroup1.WithHierarchy(b.hierarchy),
		func(c *cgroup1.InitConfig) error { c.InitCheck = cgroup1.AllowAny; return nil },
	}
}

func (b *v1Backend) Create(rel string, r *Resources) (Group, error) {
	if err := checkRel(rel); err != nil {
		return nil, err
	}
	if err := b.mkdirs(rel); err != nil {
		return nil, fmt.Errorf("cgroup v1: create %s: %w", rel, err)
	}
	cg, err := cgroup1.Load(b.pathFn(rel), b.opts()...)
	if err != nil {
		return nil, fmt.Errorf("cgroup v1: create %s: %w", rel, err)
	}
	g := &v1Group{b: b, rel: rel, cg: cg}
	if r != nil {
		if err := g.Apply(r); err != nil {
			return g, err
		}
	}
	return g, nil
}

// mkdirs makes rel and whatever is missing above it in every hierarchy,
// filling each cpuset on the way from its parent (v1 refuses tasks in a
// cpuset without cpus and mems). cgroup1.New does the same by walking
// from the hierarchy root for every controller and level, ~115 system
// calls per group against ~20 here, which made the projects a
// millisecond or more of every ready.
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
// none.
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
		if err := os.WriteFile(filepath.Join(dir, f), v, 0o644); err != nil {
			return fmt.Errorf("%s: %w", filepath.Join(dir, f), err)
		}
	}
	return nil
}

func (b *v1Backend) Load(rel string) (Group, error) {
	if err := checkRel(rel); err != nil {
		return nil, err
	}
	cg, err := cgroup1.Load(b.pathFn(rel), b.opts()...)
	if err != nil {
		return nil, fmt.Errorf("cgroup v1: load %s: %w", rel, err)
	}
	return &v1Group{b: b, rel: rel, cg: cg}, nil
}

type v1Group struct {
	b    *v1Backend
	rel  string
	cg   cgroup1.Cgroup
	dirs cgDirs
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

func (g *v1Group) update(res *specs.LinuxResources) error {
	if err := g.cg.Update(res); err != nil {
		return fmt.Errorf("cgroup v1 %s: %w", g.rel, err)
	}
	return nil
}

func (g *v1Group) Apply(r *Resources) error {
	if r == nil {
		return nil
	}
	if r.Pids != nil {
		if _, ok := g.b.parent.V1["pids"]; !ok {
			return fmt.Errorf("cgroup v1 %s: no pids controller: max-lwps/max-processes cannot be enforced", g.rel)
		}
		if *r.Pids > 0 {
			if err := g.update(&specs.LinuxResources{Pids: &specs.LinuxPids{Limit: r.Pids}}); err != nil {
				return err
			}
		} else {
			// The library skips limits below 1; "max" and 0 are written here.
			v := "max"
			if *r.Pids == 0 {
				v = "0"
			}
			if err := os.WriteFile(filepath.Join(g.dir("pids"), "pids.max"), []byte(v), 0o644); err != nil {
				return fmt.Errorf("cgroup v1 %s: pids.max: %w", g.rel, err)
			}
		}
	}
	if err := g.applyMemory(r); err != nil {
		return err
	}
	if r.CPUShares != nil || r.CPUCap != nil || r.CPUs != "" {
		cpu := &specs.LinuxCPU{Cpus: r.CPUs}
		if r.CPUShares != nil {
			s := sharesV1(*r.CPUShares)
			cpu.Shares = &s
		}
		if r.CPUCap != nil {
			q, p := int64(-1), uint64(CPUPeriodUs)
			if *r.CPUCap > 0 {
				q = quotaUs(*r.CPUCap)
			}
			cpu.Quota, cpu.Period = &q, &p
		}
		if r.CPUs != "" {
			// cpuset needs mems too; keep the parent's.
			data, err := os.ReadFile(filepath.Join(g.dir("cpuset"), "cpuset.mems"))
			if err != nil {
				return fmt.Errorf("cgroup v1 %s: cpuset: %w", g.rel, err)
			}
			cpu.Mems = strings.TrimSpace(string(data))
		}
		if err := g.update(&specs.LinuxResources{CPU: cpu}); err != nil {
			return err
		}
	}
	return nil
}

// applyMemory writes memory and memory+swap in the order the kernel
// accepts: memory.limit_in_bytes may never exceed memsw.limit_in_bytes.
func (g *v1Group) applyMemory(r *Resources) error {
	if r.Memory == nil && r.MemorySwap == nil {
		return nil
	}
	if _, ok := g.b.parent.V1["memory"]; !ok {
		return fmt.Errorf("cgroup v1 %s: no memory controller: memory caps cannot be enforced", g.rel)
	}
	mem := r.Memory
	if r.MemorySwap == nil {
		return g.update(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: mem}})
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
	swapFirst := sw < 0 || sw >= curSw
	steps := []*specs.LinuxMemory{{Limit: mem}, {Swap: &sw}}
	if swapFirst {
		steps[0], steps[1] = steps[1], steps[0]
	}
	for _, s := range steps {
		if s.Limit == nil && s.Swap == nil {
			continue
		}
		if err := g.update(&specs.LinuxResources{Memory: s}); err != nil {
			return err
		}
	}
	return nil
}

func (g *v1Group) AddProc(pid int) error {
	if err := g.cg.AddProc(uint64(pid)); err != nil {
		return fmt.Errorf("cgroup v1 %s: add %d: %w", g.rel, pid, err)
	}
	return nil
}

// procsController is the hierarchy whose membership lists processes: pids
// if present (every zone process is in it), otherwise the first one.
func (g *v1Group) procsController() cgroup1.Name {
	for _, c := range []string{"pids", "freezer", "memory", "cpu"} {
		if _, ok := g.b.parent.V1[c]; ok {
			return cgroup1.Name(c)
		}
	}
	return cgroup1.Pids
}

func (g *v1Group) Procs(recursive bool) ([]int, error) {
	c := string(g.procsController())
	ps, err := g.dirs.listProcs(g.dir(c), recursive)
	if err != nil {
		return nil, fmt.Errorf("cgroup v1 %s: list processes: %w", g.rel, err)
	}
	return ps, nil
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
	if _, ok := g.b.parent.V1["freezer"]; !ok {
		return fmt.Errorf("cgroup v1 %s: no freezer controller", g.rel)
	}
	if err := g.cg.Freeze(); err != nil {
		return fmt.Errorf("cgroup v1 %s: freeze: %w", g.rel, err)
	}
	return nil
}

func (g *v1Group) Thaw() error {
	if _, ok := g.b.parent.V1["freezer"]; !ok {
		return fmt.Errorf("cgroup v1 %s: no freezer controller", g.rel)
	}
	if err := g.cg.Thaw(); err != nil {
		return fmt.Errorf("cgroup v1 %s: thaw: %w", g.rel, err)
	}
	return nil
}

// Kill freezes the group so nothing forks while the list is read, sends
// SIGKILL to every pid in it, thaws so the signals are delivered, and
// repeats until the group is empty (v1 has no cgroup.kill).
func (g *v1Group) Kill() error {
	frozen := g.Freeze() == nil
	var lastErr error
	for attempt := 0; attempt < 50; attempt++ {
		pids, err := g.Procs(true)
		if err != nil {
			lastErr = err
			break
		}
		if len(pids) == 0 {
			if frozen {
				return g.Thaw()
			}
			return nil
		}
		for _, pid := range pids {
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
				lastErr = fmt.Errorf("cgroup v1 %s: kill %d: %w", g.rel, pid, err)
			}
		}
		if frozen {
			if err := g.Thaw(); err != nil {
				lastErr = err
			}
			frozen = false
		}
		// Killed processes leave the group once their parent reaps them.
		time.Sleep(time.Duration(attempt+1) * 2 * time.Millisecond)
	}
	if frozen {
		_ = g.Thaw()
	}
	if lastErr == nil {
		lastErr = fmt.Errorf("cgroup v1 %s: processes still present after SIGKILL (unreaped zombies?)", g.rel)
	}
	return lastErr
}

func (g *v1Group) Delete() error {
	g.dirs.close()
	if err := g.cg.Delete(); err != nil {
		return fmt.Errorf("cgroup v1 %s: delete: %w", g.rel, err)
	}
	return nil
}
