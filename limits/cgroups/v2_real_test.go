package cgroups

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"zonetop/internal/ztest"

	"golang.org/x/sys/unix"
)

// v2ForTest prepares a test of the v2 backend against the host's real
// cgroup2 tree (on these machines the hybrid one at
// /sys/fs/cgroup/unified): it returns the mount, a controller the tree's
// root already passes on to its children ("" when it passes none, as on
// these machines: the tests never change the host's root cgroup, so the
// checks that need a controller are then left out), and a parent cgroup
// made for the test alone, named after it. The parent and what is below
// it are removed when the test ends, their processes killed by pid.
func v2ForTest(t *testing.T) (mount, ctl, parent string) {
	t.Helper()
	ztest.RequireRoot(t, "cgroup v2 test")
	for _, m := range []string{"/sys/fs/cgroup/unified", "/sys/fs/cgroup"} {
		if typ, err := statfsType(m); err == nil && typ == unix.CGROUP2_SUPER_MAGIC {
			mount = m
			break
		}
	}
	if mount == "" {
		skipOrFail(t, "no cgroup2 tree mounted")
	}
	on, err := readControllers(filepath.Join(mount, "cgroup.subtree_control"))
	if err != nil {
		t.Fatal(err)
	}
	for c := range on {
		if ctl == "" || c == "hugetlb" || (ctl != "hugetlb" && c < ctl) {
			ctl = c
		}
	}
	if ctl == "" {
		t.Logf("%s passes no controller on to its children, and the tests leave the host's root cgroup as it is: the checks of controller delegation are left out", mount)
	}
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	name := regexp.MustCompile(`[^A-Za-z0-9]+`).ReplaceAllString(t.Name(), "-")
	parent = "/zonetop-test-" + name + "-" + hex.EncodeToString(rnd[:])
	dir := filepath.Join(mount, parent)
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { removeTestCgroup(t, dir) })
	return mount, ctl, parent
}

// removeTestCgroup kills (by pid) whatever is left in dir and below, and
// removes the cgroups.
func removeTestCgroup(t *testing.T, dir string) {
	t.Helper()
	var d cgDirs
	defer d.close()
	if pids, _ := d.listProcs(dir, true); len(pids) > 0 {
		t.Errorf("processes left in %s: %v", dir, pids)
		for _, p := range pids {
			_ = syscall.Kill(p, syscall.SIGKILL)
		}
	}
	if err := RemoveTree(dir); err != nil {
		t.Errorf("remove %s: %v", dir, err)
	}
}

// The v2 backend for real, in the host's cgroup2 tree: controllers go
// where a cap or Delegate asks for them and nowhere else, the kernel's
// no-internal-process rule holds both ways and is explained, a cap whose
// controller the tree lacks fails with what to do, and freeze, kill,
// usage and delete work.
func TestV2Real(t *testing.T) {
	mount, ctl, parent := v2ForTest(t)
	bk, err := NewV2(mount, parent+"/zonetop")
	if err != nil {
		t.Fatal(err)
	}
	b := bk.(*v2Backend)
	if ctl != "" {
		b.extra = []string{ctl}
	}
	subtree := func(rel string) map[string]bool {
		t.Helper()
		on, err := readControllers(filepath.Join(mount, parent, rel, "cgroup.subtree_control"))
		if err != nil {
			t.Fatal(err)
		}
		return on
	}
	g, err := b.Create("z1", nil)
	if err != nil {
		t.Fatal(err)
	}
	zdir := filepath.Join(mount, parent, "zonetop", "z1")
	// Creating enables nothing, at the group or above it.
	if on := subtree(""); len(on) != 0 {
		t.Errorf("parent's subtree_control after Create: %v", on)
	}
	if on := subtree("zonetop/z1"); len(on) != 0 {
		t.Errorf("z1's subtree_control after Create: %v", on)
	}
	// zsched's place at a zone's birth: a process in the zone cgroup,
	// which then may not pass controllers on.
	pid := ztest.Sleeper(t)
	if err := g.AddProc(pid); err != nil {
		t.Fatal(err)
	}
	sys, err := b.Create("z1/system", nil)
	if err != nil {
		t.Fatal(err)
	}
	pid2 := ztest.Sleeper(t)
	if ctl != "" {
		err = g.Delegate()
		if !errors.Is(err, syscall.EBUSY) || !strings.Contains(err.Error(), zdir+" does not pass it on") ||
			!strings.Contains(err.Error(), "holds processes of its own") {
			t.Errorf("Delegate of a group with a process: %v", err)
		}
		if subtree("zonetop/z1")[ctl] {
			t.Errorf("%s enabled in z1 with a process in it", ctl)
		}
	}
	// The process moves into a child; now the group passes ctl on, and
	// every level above it does too.
	if err := sys.AddProc(pid); err != nil {
		t.Fatal(err)
	}
	if err := g.Delegate(); err != nil {
		t.Fatal(err)
	}
	if ctl != "" {
		for _, rel := range []string{"", "zonetop", "zonetop/z1"} {
			if !subtree(rel)[ctl] {
				t.Errorf("%s not enabled in %q", ctl, rel)
			}
		}
		if have, _ := readControllers(filepath.Join(zdir, "system", "cgroup.controllers")); !have[ctl] {
			t.Errorf("system lacks %s: %v", ctl, have)
		}
		// The rule the other way: no process may join z1 now.
		if err := g.AddProc(pid2); !errors.Is(err, syscall.EBUSY) {
			t.Errorf("process into a group that passes controllers on: %v", err)
		}
	} else if on := subtree("zonetop/z1"); len(on) != 0 {
		t.Errorf("z1 passes on %v, which the tree does not have", on)
	}
	// A project with no caps gets no controllers of its own to pass on,
	// so its processes are welcome.
	def, err := b.Create("z1/default", &Resources{})
	if err != nil {
		t.Fatal(err)
	}
	if err := def.AddProc(pid2); err != nil {
		t.Fatal(err)
	}
	if procs, err := g.Procs(true); err != nil || !slices.Equal(procs, []int{pid, pid2}) && !slices.Equal(procs, []int{pid2, pid}) {
		t.Errorf("zone procs %v %v", procs, err)
	}
	if procs, err := g.Procs(false); err != nil || len(procs) != 0 {
		t.Errorf("zone's own procs %v %v", procs, err)
	}
	// Populated is the kernel's flag: set for a group whose processes
	// are below it, clear for an empty one, and clear for one gone.
	if busy, err := g.Populated(); err != nil || !busy {
		t.Errorf("zone with processes below it: populated %v %v", busy, err)
	}
	empty, err := b.Create("z1/empty", nil)
	if err != nil {
		t.Fatal(err)
	}
	if busy, err := empty.Populated(); err != nil || busy {
		t.Errorf("empty group: populated %v %v", busy, err)
	}
	if err := empty.Delete(); err != nil {
		t.Fatal(err)
	}
	if busy, err := empty.Populated(); err != nil || busy {
		t.Errorf("deleted group: populated %v %v", busy, err)
	}

	// A memory cap on a tree without memory fails, naming the controller,
	// the cgroup that lacks it and what to do, and writes nothing.
	memAvail, _ := readControllers(filepath.Join(mount, "cgroup.controllers"))
	err = g.Apply(&Resources{Memory: ptr[int64](64 << 20)})
	if memAvail["memory"] {
		if err != nil {
			t.Errorf("memory cap where memory is available: %v", err)
		}
	} else {
		t.Logf("memory cap refused: %v", err)
		for _, want := range []string{"cgroup v2 z1: ", "memory.max (the cap) needs the memory controller", mount + ", the root of the cgroup2 tree, does not have it", "or remove the cap"} {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("memory cap without memory: %v\nwant it to say %q", err, want)
			}
		}
		if _, serr := os.Stat(filepath.Join(zdir, "memory.max")); !errors.Is(serr, os.ErrNotExist) {
			t.Errorf("memory.max exists without the controller: %v", serr)
		}
	}

	// Usage works with whatever controllers there are: cpu.stat is
	// always there; the others read as 0 when missing.
	if _, err := g.Stats(); err != nil {
		t.Errorf("stats: %v", err)
	}
	if _, err := sys.Counters(); err != nil {
		t.Errorf("counters: %v", err)
	}

	// Freeze and thaw through cgroup.freeze and cgroup.events.
	if err := g.Freeze(); err != nil {
		t.Fatal(err)
	}
	if ev := readFile(t, filepath.Join(zdir, "cgroup.events")); !strings.Contains(ev, "frozen 1") {
		t.Errorf("frozen zone's cgroup.events: %q", ev)
	}
	if err := g.Thaw(); err != nil {
		t.Fatal(err)
	}
	if ev := readFile(t, filepath.Join(zdir, "default", "cgroup.events")); !strings.Contains(ev, "frozen 0") {
		t.Errorf("thawed project's cgroup.events: %q", ev)
	}
	if err := g.Delete(); err == nil {
		t.Error("deleted a zone with processes")
	}
	// cgroup.kill takes the whole subtree.
	if err := g.Kill(); err != nil {
		t.Fatal(err)
	}
	for _, p := range []int{pid, pid2} {
		var ws syscall.WaitStatus
		if _, err := syscall.Wait4(p, &ws, 0, nil); err != nil || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Errorf("pid %d after Kill: %v %v", p, ws, err)
		}
	}
	// Reaped, the killed processes leave the group unpopulated.
	if busy, err := g.Populated(); err != nil || busy {
		t.Errorf("zone after its processes were reaped: populated %v %v", busy, err)
	}
	if err := g.Delete(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(zdir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("zone cgroup left: %v", err)
	}
}
