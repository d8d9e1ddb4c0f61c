package engine

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"zonetop/api"
	"zonetop/internal/configs"
	"zonetop/internal/platform"
	"zonetop/internal/ztest"
	"zonetop/zones"
)

func TestAllocUserns(t *testing.T) {
	root := t.TempDir()
	a, err := platform.AllocUserns(root, "a")
	ztest.Must(t, err)
	b, err := platform.AllocUserns(root, "b")
	ztest.Must(t, err)
	again, err := platform.AllocUserns(root, "a")
	ztest.Must(t, err)
	if a != (configs.IDRange{HostID: platform.UsernsBase, Count: platform.UsernsSize}) || b != (configs.IDRange{HostID: platform.UsernsBase + platform.UsernsSize, Count: platform.UsernsSize}) || again != a {
		t.Fatalf("ranges a=%v b=%v a again=%v", a, b, again)
	}
	// A released range goes to the next zone; the others keep theirs.
	ztest.Must(t, platform.ReleaseUserns(root, "a"))
	ztest.Must(t, platform.ReleaseUserns(root, "never-had-one"))
	e, err := platform.AllocUserns(root, "e")
	ztest.Must(t, err)
	b2, err := platform.AllocUserns(root, "b")
	ztest.Must(t, err)
	if e != a || b2 != b {
		t.Fatalf("after releasing a: e=%v (want %v), b=%v (want %v)", e, a, b2, b)
	}
	ztest.Must(t, platform.ReleaseUserns(t.TempDir(), "a"))
	ztest.Must(t, os.WriteFile(platform.UsernsFile(root), []byte("b 1065536 65536\n"), 0o644))
	c, err := platform.AllocUserns(root, "c")
	ztest.Must(t, err)
	if c.HostID != platform.UsernsBase {
		t.Fatalf("the free range below b was not reused: %v", c)
	}
	ztest.Must(t, os.WriteFile(platform.UsernsFile(root), []byte("b 1065536\n"), 0o644))
	if _, err := platform.AllocUserns(root, "d"); err == nil || !strings.Contains(err.Error(), ":1:") {
		t.Fatalf("bad line: %v", err)
	}
}

// A user-namespaced zone: its root is root inside and host id 1000000 (the
// range's first id) on the host; its root file system and inherited
// directories are idmapped, so host root's files show as the zone's root.
func TestUsernsZone(t *testing.T) {
	z := newBusyboxZone(t)
	z.spec.UserNS = &configs.IDRange{HostID: platform.UsernsBase, Count: platform.UsernsSize}
	z.spec.Mounts = append(z.spec.Mounts, configs.MountSpec{Source: "/etc", Target: "/mnt/hostetc", Type: "bind", Options: []string{"ro", "nodev", "nosuid"}})
	st := z.ready()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(st.ZschedPid) + "/status")
	ztest.Must(t, err)
	if !strings.Contains(string(b), "\nUid:\t1000000\t1000000\t1000000\t1000000\n") {
		t.Errorf("zsched's host credentials:\n%s", b)
	}
	if out := z.sh("id -u; id -g"); out != "0\n0\n" {
		t.Errorf("id in the zone: %q", out)
	}
	if out := z.sh("stat -c %u:%g /bin/busybox /mnt/hostetc/passwd"); out != "0:0\n0:0\n" {
		t.Errorf("owners in the zone: %q", out)
	}
	z.sh("echo x > /root/made; chown 7:8 /root/made")
	var fst syscall.Stat_t
	ztest.Must(t, syscall.Stat(filepath.Join(z.zroot(), "root/made"), &fst))
	if fst.Uid != 7 || fst.Gid != 8 {
		t.Errorf("file the zone chowned to 7:8 is %d:%d on disk", fst.Uid, fst.Gid)
	}
	z.mustFail("inherited directory is read-only", "touch /mnt/hostetc/zonetop-userns-test")
	z.mustFail("device nodes cannot be made", "mknod /dev/xu c 1 3")
	if out := z.sh("echo hi > /dev/null && head -c 4 /dev/zero | wc -c"); strings.TrimSpace(out) != "4" {
		t.Errorf("devices: %q", out)
	}
	if out := z.sh("cat /proc/self/uid_map"); len(strings.Fields(out)) != 3 || strings.Fields(out)[1] != "1000000" {
		t.Errorf("uid_map: %q", out)
	}
	// No mount of the zone is a peer or a slave of one of the host's:
	// what the zone mounts must not appear on the host, nor the
	// host's in the zone.
	if out := z.sh("cat /proc/self/mountinfo"); strings.Contains(out, " shared:") || strings.Contains(out, " master:") {
		t.Errorf("the zone's mounts propagate:\n%s", out)
	}
	if out := z.sh("ls /sys/fs/cgroup"); !strings.Contains(out, "memory") {
		t.Errorf("cgroup file systems: %q", out)
	}
	z.halt()
	z.assertGone(st)
}

// Uninstall gives a user-namespaced zone's host id range back: nothing on
// disk carries it any more.
func TestUninstallReleasesUserns(t *testing.T) {
	ztest.RequireRoot(t, "installing a zone")
	e, err := New(t.TempDir(), "")
	ztest.Must(t, err)
	ctx := context.Background()
	root := api.Principal{Zone: "global"}
	cfg := &zones.Config{Name: "usrel", Zonepath: "/zones/usrel", Brand: "busybox", IPType: "shared", UserNamespace: "auto"}
	ztest.Must(t, e.CreateZone(ctx, root, cfg))
	ztest.Must(t, os.Mkdir(filepath.Join(e.Root, "zones"), 0o700))
	ztest.Must(t, e.InstallZone(ctx, root, "usrel", "", nil))
	if _, err := e.platformSpec(cfg); err != nil {
		t.Fatal(err)
	}
	held := func() bool {
		b, err := os.ReadFile(platform.UsernsFile(e.Root))
		return err == nil && strings.Contains(string(b), "usrel ")
	}
	if !held() {
		t.Fatal("the zone's platform spec allocated no range")
	}
	ztest.Must(t, e.UninstallZone(ctx, root, "usrel", false))
	if held() {
		t.Fatal("uninstall kept the zone's range")
	}
}

// A user namespace may not mount a block device's file system; zoneadmd
// mounts an fs resource of such a type for a user-namespaced zone, and
// the zone's root owns what it finds there as host root made it.
func TestUsernsZoneBlockDeviceFS(t *testing.T) {
	for _, tool := range []string{"losetup", "mkfs.ext4"} {
		if _, err := exec.LookPath(tool); err != nil {
			ztest.Unavailable(t, tool+" missing")
		}
	}
	// Registered before the zone's own cleanup, so the devices are
	// detached after the zone is gone and nothing mounts them.
	rw, ro := loopExt4(t), loopExt4(t)
	z := newBusyboxZone(t)
	z.spec.UserNS = &configs.IDRange{HostID: platform.UsernsBase, Count: platform.UsernsSize}
	z.spec.Mounts = append(z.spec.Mounts,
		configs.MountSpec{Source: rw, Target: "/data", Type: "ext4", Options: []string{"nodev", "nosuid"}},
		configs.MountSpec{Source: ro, Target: "/data-ro", Type: "ext4", Options: []string{"ro"}})
	st := z.ready()
	if out := z.sh("stat -c %u:%g /data/lost+found; grep -c ' /data ext4 ' /proc/mounts"); out != "0:0\n1\n" {
		t.Errorf("the ext4 resource in the zone: %q", out)
	}
	z.sh("echo hi > /data/made")
	z.mustFail("write through the read-only resource", "touch /data-ro/x")
	z.halt()
	z.assertGone(st)
	// Written by the zone's root, owned by root on the device: the mount
	// was idmapped, not chowned.
	dir := t.TempDir()
	if b, err := exec.Command("mount", "-o", "ro", rw, dir).CombinedOutput(); err != nil {
		t.Fatalf("mount %s: %v %s", rw, err, b)
	}
	defer func() { _ = syscall.Unmount(dir, 0) }()
	var fst syscall.Stat_t
	ztest.Must(t, syscall.Stat(filepath.Join(dir, "made"), &fst))
	if fst.Uid != 0 || fst.Gid != 0 {
		t.Errorf("file the zone's root made is %d:%d on the device, want 0:0", fst.Uid, fst.Gid)
	}
}

// loopExt4 is a loop device over a fresh 16 MiB ext4 image, detached
// when the test ends.
func loopExt4(t *testing.T) string {
	t.Helper()
	img := filepath.Join(t.TempDir(), "fs.img")
	ztest.Must(t, os.WriteFile(img, nil, 0o600))
	ztest.Must(t, os.Truncate(img, 16<<20))
	if b, err := exec.Command("mkfs.ext4", "-q", "-F", img).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext4: %v\n%s", err, b)
	}
	b, err := exec.Command("losetup", "-f", "--show", img).Output()
	if err != nil {
		ztest.Unavailable(t, "no loop device: "+err.Error())
	}
	loop := strings.TrimSpace(string(b))
	t.Cleanup(func() {
		if b, err := exec.Command("losetup", "-d", loop).CombinedOutput(); err != nil {
			t.Errorf("losetup -d %s: %v %s", loop, err, b)
		}
	})
	return loop
}
