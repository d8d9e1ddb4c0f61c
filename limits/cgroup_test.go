package limits

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// skipOrFail skips a test that cannot run here, but fails it under CI,
// where every test must run.
func skipOrFail(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(why)
	}
	t.Skip(why)
}

// startSleeper starts a child that sleeps, and kills and reaps it (by its
// pid only) when the test ends.
func startSleeper(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("sleep", "600")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	t.Cleanup(func() {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		_ = cmd.Wait()
	})
	return pid
}

func ptr[T any](v T) *T { return &v }

func TestParseProcCgroup(t *testing.T) {
	in := "9:name=systemd:/\n8:pids:/\n4:memory:/process_api/abc\n2:cpu,cpuacct:/x\n0::/\n"
	p, err := ParseProcCgroup(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if p.V1["memory"] != "/process_api/abc" || p.V1["pids"] != "/" || p.V1["cpu"] != "/x" || p.V1["cpuacct"] != "/x" || p.V2 != "/" {
		t.Errorf("parsed %+v", p)
	}
	if _, ok := p.V1["name=systemd"]; ok {
		t.Error("named hierarchy kept")
	}
	q, err := p.Join("zonetop")
	if err != nil {
		t.Fatal(err)
	}
	if q.V1["memory"] != "/process_api/abc/zonetop" || q.V1["pids"] != "/zonetop" || q.V2 != "/zonetop" {
		t.Errorf("joined %+v", q)
	}
	for _, bad := range []string{"", "/abs", "../up", "a/../b", "a/./b", "a/"} {
		if _, err := p.Join(bad); err == nil {
			t.Errorf("Join(%q) accepted", bad)
		}
	}
	if _, err := ParseProcCgroup(strings.NewReader("garbage\n")); err == nil {
		t.Error("garbage accepted")
	}
	if _, err := ParentFromFlag("/a/../b"); err == nil {
		t.Error("--cgroup-parent with .. accepted")
	}
	if f, err := ParentFromFlag("/system.slice/zonetop.service"); err != nil || f.V2 != "/system.slice/zonetop.service/zonetop" || f.V1["pids"] != f.V2 {
		t.Errorf("ParentFromFlag = %+v, %v", f, err)
	}
	if underRoot("/process_api/abc/x", "/process_api/abc") != "/x" || underRoot("/x", "/") != "/x" {
		t.Error("underRoot")
	}
}

func TestDetectParent(t *testing.T) {
	p, err := DetectParent()
	if err != nil {
		t.Fatal(err)
	}
	if DetectMode() != ModeUnified && len(p.V1) == 0 {
		t.Errorf("v1 host but no v1 controllers in %+v", p)
	}
	for c, v := range p.V1 {
		if !strings.HasSuffix(v, "/"+DefaultParentName) {
			t.Errorf("%s parent %q does not end in /zonetop", c, v)
		}
	}
}

func TestResourcesFor(t *testing.T) {
	r := ResourcesFor(LevelZone, map[string]uint64{
		"zone.max-lwps": 50, "zone.max-processes": 40, "zone.max-physical-memory": 64 << 20,
		"zone.max-swap": 128 << 20, "zone.cpu-shares": 10, "zone.cpu-cap": 50,
		"project.max-lwps": 3, // another level: ignored
	})
	if *r.Pids != 40 || *r.Memory != 64<<20 || *r.MemorySwap != 128<<20 || *r.CPUShares != 10 || *r.CPUCap != 50 {
		t.Errorf("zone resources %+v", r)
	}
	r = ResourcesFor(LevelProject, map[string]uint64{"project.max-lwps": Unlimited, "project.max-memory": 1 << 30})
	if *r.Pids != -1 || *r.Memory != 1<<30 || r.CPUShares != nil {
		t.Errorf("project resources %+v", r)
	}
	if sharesV1(1) != 4 || sharesV1(65535) != 262140 || weightV2(0) != 1 || weightV2(20000) != 10000 || quotaUs(50) != 50000 || quotaUs(250) != 250000 {
		t.Error("cpu conversions")
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func writeFile(t *testing.T, p, s string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// The v2 backend against a cgroup2 file tree in a temporary directory:
// the host binds its controllers to v1, so only the files can be checked.
func TestV2FakeTree(t *testing.T) {
	mount := t.TempDir()
	parent := "/engine/zonetop"
	for _, d := range []string{"", "engine", "engine/zonetop"} {
		if err := os.MkdirAll(filepath.Join(mount, d), 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(mount, d, "cgroup.subtree_control"), "")
	}
	b, err := NewV2(mount, parent)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewV2(mount, "relative"); err == nil {
		t.Error("relative v2 parent accepted")
	}
	g, err := b.Create("z1", &Resources{Pids: ptr[int64](50), Memory: ptr[int64](64 << 20), MemorySwap: ptr[int64](128 << 20),
		CPUShares: ptr[uint64](10), CPUCap: ptr[uint64](50), CPUs: "0"})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(mount, parent, "z1")
	want := map[string]string{
		"pids.max": "50", "memory.max": "67108864", "memory.swap.max": "67108864",
		"cpu.weight": "10", "cpu.max": "50000 100000", "cpuset.cpus": "0",
	}
	for f, v := range want {
		if got := readFile(t, filepath.Join(dir, f)); got != v {
			t.Errorf("%s = %q, want %q", f, got, v)
		}
	}
	if got := readFile(t, filepath.Join(mount, parent, "cgroup.subtree_control")); !strings.Contains(got, "+pids") || !strings.Contains(got, "+memory") || !strings.Contains(got, "+cpu") {
		t.Errorf("parent subtree_control %q", got)
	}
	// Remove the caps again.
	if err := g.Apply(&Resources{Pids: ptr[int64](-1), CPUCap: ptr[uint64](0), Memory: ptr[int64](-1), MemorySwap: ptr[int64](-1)}); err != nil {
		t.Fatal(err)
	}
	for f, v := range map[string]string{"pids.max": "max", "cpu.max": "max 100000", "memory.max": "9223372036854775807", "memory.swap.max": "9223372036854775807"} {
		if got := readFile(t, filepath.Join(dir, f)); got != v {
			t.Errorf("uncapped %s = %q, want %q", f, got, v)
		}
	}
	// Swap alone, under an existing memory cap: swap.max is the difference.
	if err := g.Apply(&Resources{Memory: ptr[int64](100)}); err != nil {
		t.Fatal(err)
	}
	if err := g.Apply(&Resources{MemorySwap: ptr[int64](300)}); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(dir, "memory.swap.max")); got != "200" {
		t.Errorf("swap under a memory cap = %q, want 200", got)
	}

	// The kernel makes a new group's interface files; the fake must.
	writeFile(t, filepath.Join(dir, "cgroup.subtree_control"), "")
	p, err := b.Create("z1/default", &Resources{Pids: ptr[int64](10)})
	if err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(dir, "default", "pids.max")); got != "10" {
		t.Errorf("project pids.max = %q", got)
	}
	// Kernel-maintained files, faked.
	writeFile(t, filepath.Join(dir, "cgroup.procs"), "7\n")
	writeFile(t, filepath.Join(dir, "default", "cgroup.procs"), "12\n11\n")
	writeFile(t, filepath.Join(dir, "cpu.stat"), "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 20\nnr_throttled 5\nthrottled_usec 3000\n")
	writeFile(t, filepath.Join(dir, "memory.stat"), "anon 4096\n")
	writeFile(t, filepath.Join(dir, "memory.current"), "8192\n")
	writeFile(t, filepath.Join(dir, "memory.swap.current"), "4096\n")
	writeFile(t, filepath.Join(dir, "pids.current"), "3\n")
	procs, err := g.Procs(true)
	if err != nil || !slices.Equal(procs, []int{7, 11, 12}) {
		t.Errorf("recursive procs %v %v", procs, err)
	}
	if procs, _ := g.Procs(false); !slices.Equal(procs, []int{7}) {
		t.Errorf("procs %v", procs)
	}
	st, err := g.Stats()
	if err != nil {
		t.Fatal(err)
	}
	wantSt := Stats{CPUUsageNs: 1500000, NrPeriods: 20, NrThrottled: 5, ThrottledNs: 3000000, MemoryUsage: 8192,
		MemoryLimit: 100, SwapUsage: 4096, Pids: 3, PidsLimit: 0}
	if st != wantSt {
		t.Errorf("stats %+v\nwant  %+v", st, wantSt)
	}
	if c, err := g.Counters(); err != nil || c != (Stats{CPUUsageNs: 1500000, MemoryUsage: 8192, Pids: 3}) {
		t.Errorf("counters %+v %v", c, err)
	}
	// A leaf group (no subdirectories) lists its own processes.
	if procs, err := p.Procs(true); err != nil || !slices.Equal(procs, []int{11, 12}) {
		t.Errorf("leaf procs %v %v", procs, err)
	}
	if err := g.Freeze(); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(dir, "cgroup.freeze")); got != "1" {
		t.Errorf("cgroup.freeze = %q", got)
	}
	if err := g.Thaw(); err != nil {
		t.Fatal(err)
	}
	if err := g.Kill(); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(dir, "cgroup.kill")); got != "1" {
		t.Errorf("cgroup.kill = %q", got)
	}
	if err := g.Delete(); err == nil {
		t.Error("delete of a group with processes succeeded")
	}
	writeFile(t, filepath.Join(dir, "default", "cgroup.procs"), "")
	writeFile(t, filepath.Join(dir, "cgroup.procs"), "")
	if err := p.Delete(); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Load("z1/default"); err == nil {
		t.Error("loaded a deleted group")
	}
	if err := g.Delete(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("group dir still there: %v", err)
	}
	if _, err := b.Create("../escape", nil); err == nil {
		t.Error("Create climbed out of the parent")
	}
}

// removeTree rmdirs a cgroup directory tree bottom-up (cgroupfs refuses
// RemoveAll: its files cannot be unlinked).
func removeTree(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.IsDir() {
			if err := removeTree(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	return syscall.Rmdir(dir)
}

// The v1 backend for real, under this process's own cgroups.
func TestV1Real(t *testing.T) {
	mode := DetectMode()
	if mode != ModeV1 && mode != ModeHybrid {
		t.Skipf("host cgroups are %v, not v1", mode)
	}
	if os.Geteuid() != 0 {
		skipOrFail(t, "cgroup v1 test needs root")
	}
	self, err := SelfCgroups()
	if err != nil {
		t.Fatal(err)
	}
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	parent, err := self.Join("zonetop-test-" + hex.EncodeToString(rnd[:]))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for c, p := range parent.V1 {
			if err := removeTree(filepath.Join(v1Root, c, p)); err != nil {
				t.Errorf("cleanup %s: %v", c, err)
			}
		}
	})
	b, err := NewV1(parent, mode)
	if err != nil {
		t.Fatal(err)
	}
	g, err := b.Create("z1", &Resources{Pids: ptr[int64](50), Memory: ptr[int64](64 << 20), MemorySwap: ptr[int64](128 << 20),
		CPUShares: ptr[uint64](10), CPUCap: ptr[uint64](50), CPUs: "0"})
	if err != nil {
		t.Fatal(err)
	}
	zdir := func(c, f string) string { return filepath.Join(v1Root, c, parent.V1[c], "z1", f) }
	want := map[string]string{
		zdir("pids", "pids.max"): "50", zdir("memory", "memory.limit_in_bytes"): "67108864",
		zdir("memory", "memory.memsw.limit_in_bytes"): "134217728", zdir("cpu", "cpu.shares"): "40",
		zdir("cpu", "cpu.cfs_quota_us"): "50000", zdir("cpu", "cpu.cfs_period_us"): "100000", zdir("cpuset", "cpuset.cpus"): "0",
	}
	check := func(want map[string]string) {
		t.Helper()
		for f, v := range want {
			if got := readFile(t, f); got != v {
				t.Errorf("%s = %q, want %q", f, got, v)
			}
		}
	}
	check(want)
	// Raising both: memsw must go first or the kernel refuses.
	if err := g.Apply(&Resources{Memory: ptr[int64](256 << 20), MemorySwap: ptr[int64](512 << 20)}); err != nil {
		t.Fatal(err)
	}
	check(map[string]string{zdir("memory", "memory.limit_in_bytes"): "268435456", zdir("memory", "memory.memsw.limit_in_bytes"): "536870912"})
	// Lowering both: memory must go first.
	if err := g.Apply(&Resources{Memory: ptr[int64](32 << 20), MemorySwap: ptr[int64](48 << 20)}); err != nil {
		t.Fatal(err)
	}
	check(map[string]string{zdir("memory", "memory.limit_in_bytes"): "33554432", zdir("memory", "memory.memsw.limit_in_bytes"): "50331648"})
	// Swap alone below the memory cap pulls the memory cap down with it.
	if err := g.Apply(&Resources{MemorySwap: ptr[int64](16 << 20)}); err != nil {
		t.Fatal(err)
	}
	check(map[string]string{zdir("memory", "memory.limit_in_bytes"): "16777216", zdir("memory", "memory.memsw.limit_in_bytes"): "16777216"})

	p, err := b.Create("z1/default", &Resources{Pids: ptr[int64](10)})
	if err != nil {
		t.Fatal(err)
	}
	check(map[string]string{filepath.Join(v1Root, "pids", parent.V1["pids"], "z1/default/pids.max"): "10"})

	pid := startSleeper(t)
	if err := p.AddProc(pid); err != nil {
		t.Fatal(err)
	}
	if procs, err := p.Procs(false); err != nil || !slices.Equal(procs, []int{pid}) {
		t.Errorf("project procs %v %v, want [%d]", procs, err, pid)
	}
	if procs, err := g.Procs(true); err != nil || !slices.Contains(procs, pid) {
		t.Errorf("zone procs (recursive) %v %v", procs, err)
	}
	if procs, _ := g.Procs(false); len(procs) != 0 {
		t.Errorf("zone's own procs %v, want none", procs)
	}
	st, err := p.Stats()
	if err != nil {
		t.Fatal(err)
	}
	// Memory charged before the move stays with the old group in v1, so
	// the project's memory usage is not checked here.
	if st.Pids != 1 || st.PidsLimit != 10 {
		t.Errorf("project stats %+v", st)
	}
	if c, err := p.Counters(); err != nil || c.Pids != 1 {
		t.Errorf("project counters %+v %v (stats %+v)", c, err, st)
	}
	if procs, err := p.Procs(true); err != nil || !slices.Equal(procs, []int{pid}) {
		t.Errorf("leaf project procs (recursive) %v %v, want [%d]", procs, err, pid)
	}
	if zs, err := g.Stats(); err != nil || zs.PidsLimit != 50 || zs.MemoryLimit != 16<<20 {
		t.Errorf("zone stats %+v %v", zs, err)
	}
	// Uncapping.
	if err := g.Apply(&Resources{Pids: ptr[int64](-1), CPUCap: ptr[uint64](0)}); err != nil {
		t.Fatal(err)
	}
	check(map[string]string{zdir("pids", "pids.max"): "max", zdir("cpu", "cpu.cfs_quota_us"): "-1"})

	if err := g.Delete(); err == nil {
		t.Error("deleted a zone group with a process in it")
	}
	if err := g.Kill(); err != nil {
		t.Fatal(err)
	}
	if procs, _ := g.Procs(true); len(procs) != 0 {
		t.Errorf("processes left after kill: %v", procs)
	}
	if err := p.Delete(); err != nil {
		t.Fatal(err)
	}
	if err := g.Delete(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(zdir("pids", "")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("zone group still there: %v", err)
	}
}
