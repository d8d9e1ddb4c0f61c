package engine

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"zonetop/api"
	"zonetop/internal/configs"
	"zonetop/internal/zoneadmd"
	"zonetop/internal/ztest"
	"zonetop/limits/cgroups"

	"golang.org/x/sys/unix"
)

// cgroup2ForTest makes the test's zones live in the host's real cgroup2
// tree as on a pure v2 host (cgroups.TestCgroup2Env), under a parent
// cgroup made for the test alone. On these machines that tree is the
// hybrid one at /sys/fs/cgroup/unified. A controller the tree's root
// already passes on to its children is passed on to zones too, so that the
// v2 rule "no processes in a cgroup that passes controllers to its
// children" applies to them; ctl is "" when the root passes none, as on
// these machines: the tests never change the host's root cgroup. When the
// test ends, after the zones' own cleanup, processes left in the parent
// are killed by pid and the cgroups removed.
func cgroup2ForTest(t *testing.T) (mount, parent, ctl string) {
	t.Helper()
	ztest.RequireTestHooks(t)
	for _, m := range []string{"/sys/fs/cgroup/unified", "/sys/fs/cgroup"} {
		var st unix.Statfs_t
		if unix.Statfs(m, &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
			mount = m
			break
		}
	}
	if mount == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("no cgroup2 tree mounted")
		}
		t.Skip("no cgroup2 tree mounted")
	}
	on, err := os.ReadFile(filepath.Join(mount, "cgroup.subtree_control"))
	ztest.Must(t, err)
	passed := strings.Fields(string(on))
	if len(passed) > 0 {
		ctl = passed[0]
		if slices.Contains(passed, "hugetlb") {
			ctl = "hugetlb"
		}
	} else {
		t.Logf("%s passes no controller on to its children, and the tests leave the host's root cgroup as it is: zones get no controller", mount)
	}
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	parent = "/zonetop-test-" + regexp.MustCompile(`[^A-Za-z0-9]+`).ReplaceAllString(t.Name(), "-") + "-" + hex.EncodeToString(rnd[:])
	dir := filepath.Join(mount, parent)
	ztest.Must(t, os.Mkdir(dir, 0o755))
	t.Cleanup(func() {
		left := (&cgroups.ZoneCgroups{Dirs: []string{dir}}).Pids()
		if len(left) > 0 {
			t.Errorf("processes left in %s: %v", dir, left)
			for _, p := range left {
				_ = syscall.Kill(p, syscall.SIGKILL)
			}
		}
		if err := cgroups.RemoveTree(dir); err != nil {
			t.Errorf("remove %s: %v", dir, err)
		}
	})
	t.Setenv(cgroups.TestCgroup2Env, strings.TrimSpace(mount+" "+ctl))
	return mount, parent, ctl
}

// unifiedLine is the "0::" line of /proc/PID/cgroup (or of a zone's
// /proc/.../cgroup output).
func unifiedLine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, "0::") {
			return l
		}
	}
	return ""
}

// A zone on a cgroup v2 tree: zsched is cloned into the zone cgroup
// (CLONE_INTO_CGROUP) with its cgroup namespace rooted there and moves out
// beside it before the zone cgroup passes controllers on;
// zoneadmd never leaves its own cgroup; commands run in their project;
// halt leaves no cgroup. A memory cap where the tree has no memory
// controller fails ready with the cgroup backend's explanation and leaves
// nothing behind.
func TestZoneCgroupV2(t *testing.T) {
	needZones(t)
	mount, parent, ctl := cgroup2ForTest(t)
	z := newBusyboxZone(t)
	z.spec.CgroupParent = parent
	ztest.Must(t, os.WriteFile(filepath.Join(z.zroot(), "etc/inittab"), []byte("::respawn:/bin/sleep 1000\n"), 0o644))
	zoneDir := filepath.Join(mount, parent, "zonetop", z.spec.Name)

	// zoneadmd first, so that its cgroup is watched from before ready
	// to after halt.
	ztest.Must(t, zoneadmd.StartZoneadmd(z.root, z.spec.Name))
	pidb, err := os.ReadFile(filepath.Join(configs.RunDir(z.root, z.spec.Name), "zoneadmd.pid"))
	ztest.Must(t, err)
	zpid, err := strconv.Atoi(strings.TrimSpace(string(pidb)))
	ztest.Must(t, err)
	cgFile := "/proc/" + strconv.Itoa(zpid) + "/cgroup"
	// The unified line: the hierarchy the zones live in here. zonetop
	// touches no v1 hierarchy in this mode, and the harness running these
	// tests has been seen moving processes between v1 memory cgroups.
	fb, err := os.ReadFile(cgFile)
	ztest.Must(t, err)
	first := unifiedLine(string(fb))
	var (
		mu      sync.Mutex
		seen    = map[string]bool{}
		reads   int
		stop    = make(chan struct{})
		stopped = make(chan struct{})
	)
	go func() {
		defer close(stopped)
		for {
			select {
			case <-stop:
				return
			default:
			}
			b, err := os.ReadFile(cgFile)
			if err != nil {
				return // zoneadmd gone (after halt)
			}
			mu.Lock()
			seen[unifiedLine(string(b))] = true
			reads++
			mu.Unlock()
		}
	}()

	st := z.ready()
	zs, err := os.ReadFile("/proc/" + strconv.Itoa(st.ZschedPid) + "/cgroup")
	ztest.Must(t, err)
	// zsched is the zone's machinery: beside the zone's cgroup, outside
	// its caps (its threads take nothing of zone.max-lwps).
	if got, want := unifiedLine(string(zs)), "0::"+parent+"/zonetop/_zsched."+z.spec.Name; got != want {
		t.Errorf("zsched's cgroup %q, want %q", got, want)
	}
	if procs := strings.TrimSpace(readOr(filepath.Join(zoneDir, "cgroup.procs"))); procs != "" {
		t.Errorf("processes in the zone cgroup itself: %q", procs)
	}
	if sc := readOr(filepath.Join(zoneDir, "cgroup.subtree_control")); ctl != "" && !slices.Contains(strings.Fields(sc), ctl) {
		t.Errorf("zone cgroup passes on %q, want %s", sc, ctl)
	}
	// A namespace of its own, rooted at the zone cgroup: the zone sees
	// zsched outside its tree, not the host's path.
	var ours, its syscall.Stat_t
	ztest.Must(t, syscall.Stat("/proc/self/ns/cgroup", &ours))
	ztest.Must(t, syscall.Stat("/proc/"+strconv.Itoa(st.ZschedPid)+"/ns/cgroup", &its))
	if ours.Ino == its.Ino {
		t.Error("zsched shares the host's cgroup namespace")
	}
	if got, want := unifiedLine(z.sh("cat /proc/1/cgroup")), "0::/../_zsched."+z.spec.Name; got != want {
		t.Errorf("zsched's cgroup seen in the zone: %q, want %q", got, want)
	}

	// No devices controller on v2: the zone's BPF device filter keeps
	// host devices out of reach (this test's zone has mknod) and its own
	// /dev in reach. The device tried is one root opens without any
	// capability (a fuse or tun device: this VM forbids its disks even to
	// the host's root, so a disk would prove nothing).
	maj, min, dev := hostCharDevice(t)
	z.mustFail("open the host's "+dev+" through mknod", fmt.Sprintf("mknod /tmp/hd c %d %d && exec 3<>/tmp/hd; r=$?; rm -f /tmp/hd; exit $r", maj, min))
	z.mustFail("open the host's console (5:1) through mknod", "mknod /tmp/hc c 5 1 && exec 3>/tmp/hc; r=$?; rm -f /tmp/hc; exit $r")
	z.mustFail("make a pty node", "mknod /tmp/pt c 136 0; r=$?; rm -f /tmp/pt; exit $r")
	z.sh("head -c 1 /dev/urandom >/dev/null && echo x >/dev/null && test -c /dev/null && echo x >/dev/console")

	bst, err := zoneadmd.Boot(z.root, z.spec.Name, nil)
	if err != nil {
		t.Fatalf("boot: %v", err)
	}
	// root's own project (the default /etc/project has user.root).
	if got := unifiedLine(z.sh("cat /proc/self/cgroup")); got != "0::/user.root" {
		t.Errorf("a zlogin command's cgroup: %q, want 0::/user.root", got)
	}
	// What a cgroup2 mount made in zsched's cgroup namespace shows (zsched
	// mounts it at /sys/fs/cgroup on a pure v2 host; on this hybrid one
	// the zone gets the v1 hierarchies): the zone's tree, with its
	// projects, and nothing of the host's.
	view, err := exec.Command("unshare", "-m", "sh", "-c",
		`d=$(mktemp -d) && nsenter --cgroup=/proc/`+strconv.Itoa(st.ZschedPid)+`/ns/cgroup mount -t cgroup2 none "$d" && ls "$d"; r=$?; umount "$d"; rmdir "$d"; exit $r`).CombinedOutput()
	if err != nil {
		t.Errorf("cgroup2 in zsched's namespace: %v: %s", err, view)
	} else if names := strings.Fields(string(view)); !slices.Contains(names, "system") || !slices.Contains(names, "user.root") || slices.Contains(names, "zonetop") {
		t.Errorf("cgroup2 in zsched's namespace shows %q, want the zone's projects", names)
	}
	if procs := readOr(filepath.Join(zoneDir, "default", "cgroup.procs")); !strings.Contains(" "+strings.Join(strings.Fields(procs), " ")+" ", " "+strconv.Itoa(bst.InitPid)+" ") {
		t.Errorf("init (pid %d) not in project default: %q", bst.InitPid, procs)
	}
	// A new task: a cgroup below its project, next to init's processes
	// in that project (a task without task caps asks the project for no
	// controllers, so v2's rule does not stand in the way).
	var out, errb bytes.Buffer
	code, err := zoneadmd.Exec(z.root, z.spec.Name, api.ExecRequest{Argv: []string{"cat", "/proc/self/cgroup"}, Project: "default", NewTask: true}, nil, &out, &errb)
	if err != nil || code != 0 || !strings.HasPrefix(unifiedLine(out.String()), "0::/default/task.") {
		t.Errorf("newtask in default: %d %v %q %q", code, err, out.String(), errb.String())
	}
	// Usage sampling reads the v2 files, whichever controllers there are.
	busy := false
	for _, p := range z.usage().Projects {
		busy = busy || p.Name == "default" && p.Procs > 0
	}
	if !busy {
		t.Errorf("usage: init not seen in project default: %+v", z.usage().Projects)
	}
	z.halt()
	close(stop)
	<-stopped
	mu.Lock()
	if len(seen) != 1 || !seen[first] || first == "" {
		t.Errorf("zoneadmd's cgroup changed during ready, boot, zlogin and halt (%d reads, first %q): %v", reads, first, seen)
	}
	t.Logf("zoneadmd's cgroup read %d times, always %q", reads, first)
	mu.Unlock()
	z.assertGone(st)
	for _, d := range []string{zoneDir, filepath.Join(filepath.Dir(zoneDir), "_zsched."+z.spec.Name), filepath.Dir(zoneDir)} {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("%s left after halt (%v)", d, err)
		}
	}

	// A memory cap where the tree has no memory controller.
	if strings.Contains(readOr(filepath.Join(mount, "cgroup.controllers")), "memory") {
		t.Logf("%s has memory: the refused cap is not tried", mount)
		return
	}
	z2 := newBusyboxZone(t)
	z2.spec.CgroupParent = parent
	z2.spec.Rctls = map[string]uint64{"zone.max-physical-memory": 64 << 20}
	st2, err := zoneadmd.Ready(z2.root, z2.spec)
	if err == nil {
		t.Fatalf("ready with a memory cap and no memory controller: %+v", st2)
	}
	for _, want := range []string{"zone caps", "memory.max (the cap) needs the memory controller", mount + ", the root of the cgroup2 tree, does not have it", "remove the cap"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("ready error %q\nwant it to say %q", err, want)
		}
	}
	t.Logf("ready refused: %v", err)
	waitFor(t, "zsched of the refused zone to go", func() bool {
		_, err := os.Stat(filepath.Join(mount, parent, "zonetop", z2.spec.Name))
		return os.IsNotExist(err)
	})
	if st, err := zoneadmd.Status(z2.root, z2.spec.Name); err != nil || st.State != "installed" || st.ZschedPid != 0 {
		t.Errorf("status after the refused ready: %+v %v", st, err)
	}
}

// hostCharDevice is a device this process opens with no capability
// needed, so that a zone failing to open it was stopped by its device
// filter.
func hostCharDevice(t *testing.T) (major, minor int, path string) {
	t.Helper()
	for _, p := range []string{"/dev/fuse", "/dev/net/tun"} {
		var st syscall.Stat_t
		if syscall.Stat(p, &st) != nil || st.Mode&syscall.S_IFMT != syscall.S_IFCHR {
			continue
		}
		if f, err := os.OpenFile(p, os.O_RDWR, 0); err == nil {
			f.Close()
			return int(unix.Major(st.Rdev)), int(unix.Minor(st.Rdev)), p
		}
	}
	t.Fatal("no /dev/fuse or /dev/net/tun that opens, to try the device filter with")
	return 0, 0, ""
}

// readOr reads a small file, "" when it cannot.
func readOr(p string) string {
	b, _ := os.ReadFile(p)
	return string(b)
}
