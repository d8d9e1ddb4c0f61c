package cgroups

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"zonetop/internal/ztest"
	"zonetop/rctl"

	"golang.org/x/sys/unix"
)

// skipOrFail skips a test that cannot run here, but fails it under CI,
// where every test must run.
func skipOrFail(t *testing.T, why string) {
	t.Helper()
	ztest.Unavailable(t, why)
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
	if _, err := parentFromFlag("/a/../b"); err == nil {
		t.Error("--cgroup-parent with .. accepted")
	}
	if f, err := parentFromFlag("/system.slice/zonetop.service"); err != nil || f.V2 != "/system.slice/zonetop.service/zonetop" || f.V1["pids"] != f.V2 {
		t.Errorf("ParentFromFlag = %+v, %v", f, err)
	}
	if underRoot("/process_api/abc/x", "/process_api/abc") != "/x" || underRoot("/x", "/") != "/x" {
		t.Error("underRoot")
	}
}

func TestDetectParent(t *testing.T) {
	p, err := detectParent()
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
	r := ResourcesFor(rctl.LevelZone, map[string]uint64{
		"zone.max-lwps": 50, "zone.max-processes": 40, "zone.max-physical-memory": 64 << 20,
		"zone.max-swap": 128 << 20, "zone.cpu-shares": 10, "zone.cpu-cap": 50,
		"project.max-lwps": 3, // another level: ignored
	})
	if *r.Pids != 40 || *r.Memory != 64<<20 || *r.MemorySwap != 128<<20 || *r.CPUShares != 10 || *r.CPUCap != 50 {
		t.Errorf("zone resources %+v", r)
	}
	r = ResourcesFor(rctl.LevelProject, map[string]uint64{"project.max-lwps": rctl.Unlimited, "project.max-memory": 1 << 30})
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
		fakeV2Group(t, filepath.Join(mount, d))
	}
	// The host (systemd) passes every controller on from the root.
	writeFile(t, filepath.Join(mount, "cgroup.subtree_control"), "cpu cpuset memory pids")
	b, err := NewV2(mount, parent)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewV2(mount, "relative"); err == nil {
		t.Error("relative v2 parent accepted")
	}
	// The kernel makes a new group's interface files; the fake must. A
	// new group has no controllers until its parents pass them on.
	fakeV2Group(t, filepath.Join(mount, parent, "z1"))
	writeFile(t, filepath.Join(mount, parent, "z1", "cgroup.controllers"), "")
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
	// The caps' controllers are enabled from below the root down to the
	// group's parent, none in the group itself nor in the root.
	if got := readFile(t, filepath.Join(mount, "cgroup.subtree_control")); got != "cpu cpuset memory pids" {
		t.Errorf("the root's cgroup.subtree_control written: %q", got)
	}
	for _, d := range []string{"engine", "engine/zonetop"} {
		if got := readFile(t, filepath.Join(mount, d, "cgroup.subtree_control")); got != "+cpu +cpuset +memory +pids" {
			t.Errorf("%s/cgroup.subtree_control %q", d, got)
		}
	}
	if got := readFile(t, filepath.Join(mount, parent, "z1", "cgroup.subtree_control")); got != "" {
		t.Errorf("z1/cgroup.subtree_control %q", got)
	}
	// What the kernel now shows in z1.
	writeFile(t, filepath.Join(dir, "cgroup.controllers"), "cpu cpuset memory pids")
	// Remove the caps again.
	if err := g.Apply(&Resources{Pids: ptr[int64](-1), CPUCap: ptr[uint64](0), Memory: ptr[int64](-1), MemorySwap: ptr[int64](-1)}); err != nil {
		t.Fatal(err)
	}
	for f, v := range map[string]string{"pids.max": "max", "cpu.max": "max 100000", "memory.max": "max", "memory.swap.max": "max"} {
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

	fakeV2Group(t, filepath.Join(dir, "default"))
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
	// Freeze waits for the kernel's word in cgroup.events, not for its
	// own write to cgroup.freeze to read back.
	writeFile(t, filepath.Join(dir, "cgroup.events"), "populated 1\nfrozen 1\n")
	if err := g.Freeze(); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(dir, "cgroup.freeze")); got != "1" {
		t.Errorf("cgroup.freeze = %q", got)
	}
	writeFile(t, filepath.Join(dir, "cgroup.events"), "populated 1\nfrozen 0\n")
	if err := g.Thaw(); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(dir, "cgroup.freeze")); got != "0" {
		t.Errorf("thawed cgroup.freeze = %q", got)
	}
	// A freeze that does not take is undone, not left half done.
	defer func(w time.Duration) { freezeWait = w }(freezeWait)
	freezeWait = 0
	if err := g.Freeze(); err == nil || !strings.Contains(err.Error(), "cgroup v2 z1: freeze") {
		t.Errorf("freeze that never took: %v", err)
	}
	if got := readFile(t, filepath.Join(dir, "cgroup.freeze")); got != "0" {
		t.Errorf("cgroup.freeze after a failed freeze = %q", got)
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
	// cgroupfs removes a group's files with it; a fake's are removed first.
	unfakeV2Group(t, dir)
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

// fakeV2Group makes dir with empty interface files, as the kernel makes
// a new cgroup2 group's.
func fakeV2Group(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"cgroup.procs", "cgroup.subtree_control", "cgroup.freeze", "cgroup.kill", "cgroup.events",
		"cpu.weight", "cpu.max", "cpuset.cpus", "memory.max", "memory.swap.max", "pids.max"} {
		writeFile(t, filepath.Join(dir, f), "")
	}
	writeFile(t, filepath.Join(dir, "cgroup.controllers"), "cpu cpuset memory pids\n")
}

// unfakeV2Group removes the plain files of a fake tree, leaving its
// directories as cgroupfs would look to rmdir.
func unfakeV2Group(t *testing.T, dir string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		return os.Remove(p)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// The v1 backend for real, under this process's own cgroups.
func TestV1Real(t *testing.T) {
	mode := DetectMode()
	if mode != ModeV1 && mode != ModeHybrid {
		t.Skipf("host cgroups are %v, not v1", mode)
	}
	ztest.RequireRoot(t, "cgroup v1 test")
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
			if err := RemoveTree(filepath.Join(v1Root, c, p)); err != nil {
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

	pid := ztest.Sleeper(t)
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
	// A cap of 0 is written, not skipped; then uncapping.
	if err := g.Apply(&Resources{Pids: ptr[int64](0)}); err != nil {
		t.Fatal(err)
	}
	check(map[string]string{zdir("pids", "pids.max"): "0"})
	if err := g.Apply(&Resources{Pids: ptr[int64](-1), CPUCap: ptr[uint64](0), CPUShares: ptr[uint64](65535)}); err != nil {
		t.Fatal(err)
	}
	check(map[string]string{zdir("pids", "pids.max"): "max", zdir("cpu", "cpu.cfs_quota_us"): "-1", zdir("cpu", "cpu.shares"): "262140"})
	if err := g.Apply(&Resources{MemorySwap: ptr[int64](-1)}); err != nil {
		t.Fatal(err)
	}
	if err := g.Apply(&Resources{Memory: ptr[int64](-1)}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"memory.limit_in_bytes", "memory.memsw.limit_in_bytes"} {
		if v, err := strconv.ParseInt(readFile(t, zdir("memory", f)), 10, 64); err != nil || v < 1<<62 {
			t.Errorf("uncapped %s = %d %v", f, v, err)
		}
	}
	// The kernel's refusal names the group and the file.
	if err := g.Apply(&Resources{MemorySwap: ptr[int64](64 << 20)}); err != nil {
		t.Fatal(err)
	}
	err = g.Apply(&Resources{Memory: ptr[int64](128 << 20)})
	if !errors.Is(err, syscall.EINVAL) || !strings.Contains(err.Error(), "cgroup v1 z1: memory.limit_in_bytes: invalid argument") {
		t.Errorf("memory above memsw: %v", err)
	}
	if err := g.Apply(&Resources{Memory: ptr[int64](-1), MemorySwap: ptr[int64](-1)}); err != nil {
		t.Fatal(err)
	}

	// Freezing stops the project's sleeper until it is thawed.
	freezer := func(rel string) string {
		return readFile(t, filepath.Join(v1Root, "freezer", parent.V1["freezer"], rel, "freezer.state"))
	}
	if err := p.Freeze(); err != nil {
		t.Fatal(err)
	}
	if got := freezer("z1/default"); got != "FROZEN" {
		t.Errorf("frozen project freezer.state = %q", got)
	}
	if err := p.Thaw(); err != nil {
		t.Fatal(err)
	}
	if got := freezer("z1/default"); got != "THAWED" {
		t.Errorf("thawed project freezer.state = %q", got)
	}
	// A pid that does not exist: the error says where it was written.
	if err := p.AddProc(1 << 30); !errors.Is(err, syscall.ESRCH) || !strings.Contains(err.Error(), "cgroup v1 z1/default: add 1073741824: pids/cgroup.procs") {
		t.Errorf("AddProc of no process: %v", err)
	}
	// Load finds the group again, in every hierarchy.
	if lg, err := b.Load("z1/default"); err != nil {
		t.Error(err)
	} else if procs, err := lg.Procs(false); err != nil || !slices.Equal(procs, []int{pid}) {
		t.Errorf("loaded project procs %v %v", procs, err)
	}
	if _, err := b.Load("z1/nosuch"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load of a missing group: %v", err)
	}

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

	// A group with children (a zone with projects and tasks) goes with
	// them, from every hierarchy.
	g2, err := b.Create("z2", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Create("z2/default/task.1", &Resources{Pids: ptr[int64](5)}); err != nil {
		t.Fatal(err)
	}
	if err := g2.Delete(); err != nil {
		t.Fatal(err)
	}
	for c, pp := range parent.V1 {
		if _, err := os.Stat(filepath.Join(v1Root, c, pp, "z2")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: z2 still there: %v", c, err)
		}
	}
}

func TestModeFrom(t *testing.T) {
	const tmpfs, cg1 = 0x01021994, 0x27e0eb
	gone := errors.New("no such file")
	for _, c := range []struct {
		top, unified int64
		topErr       error
		unifiedErr   error
		want         Mode
	}{
		{top: unix.CGROUP2_SUPER_MAGIC, want: ModeUnified},
		{top: tmpfs, unified: unix.CGROUP2_SUPER_MAGIC, want: ModeHybrid},
		{top: tmpfs, unifiedErr: gone, want: ModeV1},
		{top: tmpfs, unified: cg1, want: ModeV1},
		{topErr: gone, want: ModeUnavailable},
	} {
		got := modeFrom(func(p string) (int64, error) {
			switch p {
			case "/sys/fs/cgroup":
				return c.top, c.topErr
			case "/sys/fs/cgroup/unified":
				return c.unified, c.unifiedErr
			}
			t.Fatalf("statfs of %s", p)
			return 0, nil
		})
		if got != c.want {
			t.Errorf("%+v: %v", c, got)
		}
	}
}

func TestV2Writes(t *testing.T) {
	str := func(ws []v2Write) string {
		var b strings.Builder
		for _, w := range ws {
			b.WriteString(w.file + "=" + w.value + " ")
		}
		return strings.TrimSpace(b.String())
	}
	for _, c := range []struct {
		r    Resources
		cur  *int64
		want string
	}{
		{Resources{CPUShares: ptr[uint64](10), CPUCap: ptr[uint64](250), CPUs: "0-1"},
			nil, "cpu.weight=10 cpu.max=250000 100000 cpuset.cpus=0-1"},
		{Resources{CPUShares: ptr[uint64](0), CPUCap: ptr[uint64](0)}, nil, "cpu.weight=1 cpu.max=max 100000"},
		{Resources{CPUShares: ptr[uint64](65535)}, nil, "cpu.weight=10000"},
		{Resources{Pids: ptr[int64](0)}, nil, "pids.max=0"},
		{Resources{Pids: ptr[int64](-1)}, nil, "pids.max=max"},
		{Resources{Pids: ptr[int64](7)}, nil, "pids.max=7"},
		// memory+swap 300 over memory 100: 200 of swap.
		{Resources{Memory: ptr[int64](100), MemorySwap: ptr[int64](300)}, nil, "memory.swap.max=200 memory.max=100"},
		{Resources{Memory: ptr[int64](100), MemorySwap: ptr[int64](50)}, nil, "memory.swap.max=0 memory.max=100"},
		{Resources{Memory: ptr[int64](-1), MemorySwap: ptr[int64](-1)}, nil, "memory.swap.max=max memory.max=max"},
		{Resources{Memory: ptr[int64](-1), MemorySwap: ptr[int64](300)}, nil, "memory.swap.max=300 memory.max=max"},
		// Swap alone: against the memory cap in place.
		{Resources{MemorySwap: ptr[int64](300)}, ptr[int64](100), "memory.swap.max=200"},
		{Resources{MemorySwap: ptr[int64](300)}, ptr[int64](-1), "memory.swap.max=300"},
		{Resources{MemorySwap: ptr[int64](300)}, nil, "memory.swap.max=300"},
		{Resources{}, nil, ""},
	} {
		if got := str(v2Writes(&c.r, c.cur)); got != c.want {
			t.Errorf("%+v (memory.max %v):\n got %s\nwant %s", c.r, c.cur, got, c.want)
		}
	}
}

func TestMemoryOrder(t *testing.T) {
	str := func(ss []memoryStep) string {
		var out []string
		for _, s := range ss {
			out = append(out, strings.TrimPrefix(s.file, "memory.")+"="+strconv.FormatInt(s.value, 10))
		}
		return strings.Join(out, " ")
	}
	for _, c := range []struct {
		mem       *int64
		sw, curSw int64
		want      string
	}{
		{ptr[int64](200), 400, 300, "memsw.limit_in_bytes=400 limit_in_bytes=200"}, // raising
		{ptr[int64](100), 200, 300, "limit_in_bytes=100 memsw.limit_in_bytes=200"}, // lowering
		{ptr[int64](100), -1, 300, "memsw.limit_in_bytes=-1 limit_in_bytes=100"},   // uncapping swap
		{ptr[int64](-1), 300, 300, "memsw.limit_in_bytes=300 limit_in_bytes=-1"},
		{nil, 200, 300, "memsw.limit_in_bytes=200"},
	} {
		if got := str(memoryOrder(c.mem, c.sw, c.curSw)); got != c.want {
			t.Errorf("memory %v swap %d (now %d): %s, want %s", c.mem, c.sw, c.curSw, got, c.want)
		}
	}
}

func TestEventsFrozen(t *testing.T) {
	if v, ok := eventsFrozen([]byte("populated 1\nfrozen 1\n")); !ok || v != "1" {
		t.Errorf("frozen = %q %v", v, ok)
	}
	if _, ok := eventsFrozen([]byte("populated 0\n")); ok {
		t.Error("frozen found in an old kernel's cgroup.events")
	}
}

// Controllers are enabled from the mount's root down to the group's
// parent (or the group itself, for its children), only where the level
// has them and does not enable them yet; one a level lacks is not
// available below it, and the reason names that level.
func TestEnableControllers(t *testing.T) {
	mount := t.TempDir()
	for _, d := range []string{"", "a", "a/b", "a/b/c"} {
		fakeV2Group(t, filepath.Join(mount, d))
	}
	// A root that passes nothing on is reported, and left as it is.
	why, err := enableControllers(mount, filepath.Join(mount, "a/b/c"), v2Controllers, false)
	if err != nil || len(why) != 3 || !strings.Contains(fmt.Sprint(why["pids"]), "never changes the root cgroup") {
		t.Fatalf("enable below a root that passes nothing on: %v %v", why, err)
	}
	if got := readFile(t, filepath.Join(mount, "cgroup.subtree_control")); got != "" {
		t.Errorf("the root's cgroup.subtree_control written: %q", got)
	}
	writeFile(t, filepath.Join(mount, "cgroup.subtree_control"), "cpu memory pids")
	why, err = enableControllers(mount, filepath.Join(mount, "a/b/c"), v2Controllers, false)
	if err != nil || len(why) != 0 {
		t.Fatalf("enable: %v %v", why, err)
	}
	for _, d := range []string{"a", "a/b"} {
		if got := readFile(t, filepath.Join(mount, d, "cgroup.subtree_control")); got != "+cpu +memory +pids" {
			t.Errorf("%q: %q", d, got)
		}
	}
	if got := readFile(t, filepath.Join(mount, "a/b/c", "cgroup.subtree_control")); got != "" {
		t.Errorf("the group's own subtree_control written: %q", got)
	}
	// Already enabled: not written again (a level that cannot be written,
	// above a delegated subtree, is no obstacle then).
	writeFile(t, filepath.Join(mount, "a", "cgroup.subtree_control"), "cpu memory pids")
	if why, err := enableControllers(mount, filepath.Join(mount, "a/b/c"), v2Controllers, true); err != nil || len(why) != 0 {
		t.Fatalf("inclusive: %v %v", why, err)
	}
	if got := readFile(t, filepath.Join(mount, "a", "cgroup.subtree_control")); got != "cpu memory pids" {
		t.Errorf("an enabled level written again: %q", got)
	}
	if got := readFile(t, filepath.Join(mount, "a/b/c", "cgroup.subtree_control")); got != "+cpu +memory +pids" {
		t.Errorf("inclusive: the group's own subtree_control %q", got)
	}
	// A level without memory: memory stops there, the others go on.
	writeFile(t, filepath.Join(mount, "a/b", "cgroup.controllers"), "cpu pids")
	writeFile(t, filepath.Join(mount, "a/b", "cgroup.subtree_control"), "")
	why, err = enableControllers(mount, filepath.Join(mount, "a/b/c"), v2Controllers, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(why) != 1 || !strings.Contains(fmt.Sprint(why["memory"]), filepath.Join(mount, "a/b")+` does not have it (its cgroup.controllers: "cpu pids")`) {
		t.Errorf("memory missing at a/b: %q", why)
	}
	if got := readFile(t, filepath.Join(mount, "a/b", "cgroup.subtree_control")); got != "+cpu +pids" {
		t.Errorf("a/b: %q", got)
	}
	// Missing at the root: the host's v2 tree lacks it.
	writeFile(t, filepath.Join(mount, "cgroup.controllers"), "hugetlb")
	why, _ = enableControllers(mount, filepath.Join(mount, "a"), []string{"memory"}, false)
	if !strings.Contains(fmt.Sprint(why["memory"]), "the root of the cgroup2 tree") {
		t.Errorf("memory missing at the root: %q", why)
	}
	if _, err := enableControllers(mount, mount, v2Controllers, false); err == nil {
		t.Error("enable for the root itself accepted")
	}
}

// A v2 group that passes controllers on may hold no process: the engine
// asks PassesOn before putting a command into a project's own cgroup.
func TestPassesOn(t *testing.T) {
	mount := t.TempDir()
	for _, d := range []string{"", "p", "p/z1", "p/z1/user.root"} {
		fakeV2Group(t, filepath.Join(mount, d))
	}
	b, err := NewV2(mount, "/p")
	if err != nil {
		t.Fatal(err)
	}
	g, err := b.Load("z1/user.root")
	if err != nil {
		t.Fatal(err)
	}
	if PassesOn(g) {
		t.Error("a group with an empty cgroup.subtree_control passes controllers on")
	}
	writeFile(t, filepath.Join(mount, "p/z1/user.root/cgroup.subtree_control"), "pids")
	if !PassesOn(g) {
		t.Error("a group whose tasks get pids does not pass controllers on")
	}
	if PassesOn(nil) {
		t.Error("nil passes controllers on")
	}
}

// Children lists the groups below a directory, a v1 group from every
// hierarchy it is in, never an interface file, and nothing (no error)
// where no group was ever made; a path that climbs out is refused.
func TestChildren(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"p/zonetop/_global/a", "p/zonetop/_global/b"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "p/zonetop/_global/pids.max"), []byte("max\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := NewV2(dir, "/p/zonetop")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := Children(b, "_global"); err != nil || strings.Join(got, ",") != "a,b" {
		t.Errorf("v2 children %v, %v; want a,b", got, err)
	}
	if got, err := Children(b, "_none"); err != nil || len(got) != 0 {
		t.Errorf("children of a group never made: %v, %v", got, err)
	}
	if _, err := Children(b, "../x"); err == nil {
		t.Error("children of ../x: no error")
	}
	for _, d := range []string{"pids/q/_global/a", "memory/q/_global/c"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	v1 := &v1Backend{parent: Parent{V1: map[string]string{"pids": "/q", "memory": "/q"}}, mode: ModeV1, root: dir}
	if got, err := Children(v1, "_global"); err != nil || strings.Join(got, ",") != "a,c" {
		t.Errorf("v1 children %v, %v; want a,c", got, err)
	}
}
