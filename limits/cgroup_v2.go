package limits

import (
	"fmt"
	"math"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/containerd/cgroups/v3/cgroup2"
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

func (b *v2Backend) Create(rel string, r *Resources) (Group, error) {
	if err := checkRel(rel); err != nil {
		return nil, err
	}
	// Enable the controllers zonetop caps with on the way down, so the
	// group's interface files exist; the caps come next, in Apply.
	res := &cgroup2.Resources{CPU: &cgroup2.CPU{}, Memory: &cgroup2.Memory{}, Pids: &cgroup2.Pids{}}
	m, err := cgroup2.NewManager(b.mount, b.group(rel), res)
	if err != nil {
		return nil, fmt.Errorf("cgroup v2: create %s: %w", rel, err)
	}
	g := &v2Group{b: b, rel: rel, m: m}
	if r != nil {
		if err := g.Apply(r); err != nil {
			return g, err
		}
	}
	return g, nil
}

func (b *v2Backend) Load(rel string) (Group, error) {
	if err := checkRel(rel); err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(b.mount, b.group(rel))); err != nil {
		return nil, fmt.Errorf("cgroup v2: load %s: %w", rel, err)
	}
	m, err := cgroup2.Load(b.group(rel), cgroup2.WithMountpoint(b.mount))
	if err != nil {
		return nil, fmt.Errorf("cgroup v2: load %s: %w", rel, err)
	}
	return &v2Group{b: b, rel: rel, m: m}, nil
}

type v2Group struct {
	b    *v2Backend
	rel  string
	m    *cgroup2.Manager
	dirs cgDirs
}

func (g *v2Group) Path() string { return g.rel }

func (g *v2Group) dir() string { return filepath.Join(g.b.mount, g.b.group(g.rel)) }

// v2Max is what the kernel takes as "no limit" for memory files.
const v2Max = math.MaxInt64

func (g *v2Group) Apply(r *Resources) error {
	if r == nil {
		return nil
	}
	var res cgroup2.Resources
	if r.Pids != nil {
		// The library writes "max" for -1 and nothing for 0: 0 is written here.
		if *r.Pids == 0 {
			if err := os.WriteFile(filepath.Join(g.dir(), "pids.max"), []byte("0"), 0o644); err != nil {
				return fmt.Errorf("cgroup v2 %s: pids.max: %w", g.rel, err)
			}
		} else {
			res.Pids = &cgroup2.Pids{Max: *r.Pids}
		}
	}
	if r.Memory != nil || r.MemorySwap != nil {
		mem := &cgroup2.Memory{}
		var limit int64 = -1
		if r.Memory != nil {
			limit = *r.Memory
			v := limitOrMax(limit)
			mem.Max = &v
		} else if cur, err := readV2Limit(filepath.Join(g.dir(), "memory.max")); err == nil {
			limit = cur
		}
		if r.MemorySwap != nil {
			// v2 counts swap alone; illumos' max-swap is memory + swap.
			sw := int64(v2Max)
			if *r.MemorySwap >= 0 {
				sw = 0
				if limit >= 0 && *r.MemorySwap > limit {
					sw = *r.MemorySwap - limit
				} else if limit < 0 {
					sw = *r.MemorySwap
				}
			}
			mem.Swap = &sw
		}
		res.Memory = mem
	}
	if r.CPUShares != nil || r.CPUCap != nil || r.CPUs != "" {
		cpu := &cgroup2.CPU{Cpus: r.CPUs}
		if r.CPUShares != nil {
			w := weightV2(*r.CPUShares)
			cpu.Weight = &w
		}
		if r.CPUCap != nil {
			p := uint64(CPUPeriodUs)
			var q *int64
			if *r.CPUCap > 0 {
				v := quotaUs(*r.CPUCap)
				q = &v
			}
			cpu.Max = cgroup2.NewCPUMax(q, &p)
		}
		res.CPU = cpu
	}
	if err := g.m.Update(&res); err != nil {
		return fmt.Errorf("cgroup v2 %s: %w", g.rel, err)
	}
	return nil
}

func limitOrMax(v int64) int64 {
	if v < 0 {
		return v2Max
	}
	return v
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
	if err := g.m.AddProc(uint64(pid)); err != nil {
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
	if err := g.m.Freeze(); err != nil {
		return fmt.Errorf("cgroup v2 %s: freeze: %w", g.rel, err)
	}
	return nil
}

func (g *v2Group) Thaw() error {
	if err := g.m.Thaw(); err != nil {
		return fmt.Errorf("cgroup v2 %s: thaw: %w", g.rel, err)
	}
	return nil
}

func (g *v2Group) Kill() error {
	if err := g.m.Kill(); err != nil {
		return fmt.Errorf("cgroup v2 %s: kill: %w", g.rel, err)
	}
	return nil
}

func (g *v2Group) Delete() error {
	g.dirs.close()
	if err := g.m.Delete(); err != nil {
		return fmt.Errorf("cgroup v2 %s: delete: %w", g.rel, err)
	}
	return nil
}
