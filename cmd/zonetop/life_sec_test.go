package main

import (
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The security floor, proven through real zonecfg configurations.

// TestFSSymlinkOut (CVE-2021-30465): an fs resource whose dir is a symlink
// the zone planted, pointing at a host path, is mounted inside the zone
// root where the link resolves there, never over the host path.
func TestFSSymlinkOut(t *testing.T) {
	needZones(t)
	needBusybox(t)
	l := newLab(t)
	src := filepath.Join(l.root, "fs-src")
	victim := filepath.Join(l.root, "victim")
	must(t, os.Mkdir(src, 0o755))
	must(t, os.WriteFile(filepath.Join(src, "marker"), []byte("from-fs-src\n"), 0o644))
	must(t, os.Mkdir(victim, 0o755))
	must(t, os.WriteFile(filepath.Join(victim, "host-file"), []byte("host\n"), 0o644))
	z := l.newZone("busybox", "add fs", "set dir=/mnt/data", "set special="+src, "set type=lofs", "add options [ro]", "end")
	l.ok("zoneadm", "-z", z, "install")
	zroot := filepath.Join(l.zonepath(z), "root")
	must(t, os.MkdirAll(filepath.Join(zroot, "mnt"), 0o755))
	// What the zone's root could do from inside: replace the mount point
	// by a link to an absolute path that, read on the host, is victim.
	must(t, os.Symlink(victim, filepath.Join(zroot, "mnt/data")))

	l.ok("zoneadm", "-z", z, "boot")
	if got := strings.TrimSpace(l.zlogin(z, "cat", "/mnt/data/marker")); got != "from-fs-src" {
		t.Errorf("fs not visible through the zone's own link: %q", got)
	}
	// The host path is untouched: not mounted over in any namespace, and
	// the zone does not see the host's file there.
	if _, _, code := l.run("zlogin", z, "cat", "/mnt/data/host-file"); code == 0 {
		t.Error("zone sees the host directory the link names")
	}
	// Had the mount followed the link on the host, the zone's link (which
	// resolves inside its root) would show an empty directory above, and
	// the host's directory would be covered in the zone's namespace.
	if ents, _ := os.ReadDir(victim); len(ents) != 1 {
		t.Errorf("host directory %s changed: %d entries", victim, len(ents))
	}
	l.ok("zoneadm", "-z", z, "halt")
	l.checkGone(z)
}

// TestDefaultLimitpriv: root in a zone with the default limitpriv cannot
// mount, load modules, set the clock, write /sys or write the zonetop
// binary.
func TestDefaultLimitpriv(t *testing.T) {
	needZones(t)
	needBusybox(t)
	l := newLab(t)
	z := l.newZone("busybox")
	l.ok("zoneadm", "-z", z, "install")
	zroot := filepath.Join(l.zonepath(z), "root")
	must(t, os.WriteFile(filepath.Join(zroot, "root/fake.ko"), []byte("\x7fELF not a module"), 0o644))
	l.ok("zoneadm", "-z", z, "boot")
	zinitBin := filepath.Join(filepath.Dir(zdBin), "zinit")
	binSum, zdSum, initSum := fileSum(t, ztBin), fileSum(t, zdBin), fileSum(t, zinitBin)
	before := time.Now()
	for _, c := range []struct {
		why  string
		argv []string
	}{
		{"mount a tmpfs", []string{"mount", "-t", "tmpfs", "none", "/mnt"}},
		{"bind-mount", []string{"mount", "--bind", "/root", "/mnt"}},
		{"load a module", []string{"insmod", "/root/fake.ko"}},
		{"set the clock", []string{"date", "-s", "2001-02-03 04:05:06"}},
		{"write /sys", []string{"sh", "-c", "echo 1 > /sys/kernel/mm/ksm/run"}},
		{"write /proc/sys", []string{"sh", "-c", "echo zt > /proc/sys/kernel/hostname"}},
		{"write zsched's binary", []string{"sh", "-c", "echo pwned > /proc/1/exe"}},
		{"write init's binary", []string{"sh", "-c", "for p in /proc/[0-9]*; do echo pwned > $p/exe && exit 0; done; exit 1"}},
	} {
		out, errOut, code := l.run(append([]string{"zlogin", z}, c.argv...)...)
		// busybox date reports a refused settimeofday but exits 0.
		refused := code != 0 || strings.Contains(errOut, "not permitted")
		if !refused {
			t.Errorf("zone root could %s (%v): %s%s", c.why, c.argv, out, errOut)
		}
	}
	if time.Since(before) < 0 || time.Now().Year() < 2020 {
		t.Errorf("the host clock moved: %v", time.Now())
	}
	if got := fileSum(t, ztBin); got != binSum {
		t.Error("the zonetop binary changed")
	}
	// zsched and every joined command's stub run from the per-zone
	// binary, zinit from its own: the writes to /proc/N/exe above aimed
	// at both.
	if got := fileSum(t, zdBin); got != zdSum {
		t.Error("the per-zone binary zoneadmd changed")
	}
	if got := fileSum(t, zinitBin); got != initSum {
		t.Error("the zone init zinit changed")
	}
	if h, _ := os.Hostname(); h == "zt" {
		t.Error("the zone changed the host's name")
	}
	caps := zoneCaps(t, l, z)
	for bit, name := range map[uint]string{21: "sys_admin", 16: "sys_module", 25: "sys_time", 17: "sys_rawio", 19: "sys_ptrace"} {
		if caps&(1<<bit) != 0 {
			t.Errorf("default bounding set %#x holds %s", caps, name)
		}
	}
	l.ok("zoneadm", "-z", z, "halt")
	l.checkGone(z)
}

func fileSum(t *testing.T, p string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(p)
	must(t, err)
	return sha256.Sum256(b)
}

// TestZoneSessionKeyring: a zone booted from a shell whose session
// keyring holds a key does not get that keyring, and its processes can
// neither use the kernel's keyrings nor add to them.
func TestZoneSessionKeyring(t *testing.T) {
	needZones(t)
	if _, err := exec.LookPath("keyctl"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("keyctl (keyutils) is needed")
		}
		t.Skip("keyctl (keyutils) is needed")
	}
	l := newLab(t)
	// A key the zone managed to add would land in host root's keyrings.
	t.Cleanup(func() { removeKeys("xs-zone-key") })
	l.tag = fmt.Sprintf("xs%04x", rand.IntN(1<<16))
	z := l.newZone("sparse")
	l.ok("zoneadm", "-z", z, "install")
	desc := fmt.Sprintf("ztsc-sess-%d", os.Getpid())
	// The anonymous session keyring, and the key in it, go away with the
	// last process holding it: zoneadmd, at halt.
	boot := exec.Command("keyctl", "session", "-", "sh", "-c",
		`keyctl add user "$1" secret @s >/dev/null && exec "$2" --root "$3" zoneadm -z "$4" boot`, "sh", desc, ztBin, l.root, z)
	if out, err := boot.CombinedOutput(); err != nil {
		t.Fatalf("boot from a session with a key: %v: %s", err, out)
	}
	for _, argv := range [][]string{
		{"keyctl", "search", "@s", "user", desc},
		{"keyctl", "request", "user", desc},
		{"keyctl", "show", "@s"},
		{"keyctl", "add", "user", "xs-zone-key", "x", "@s"},
		{"keyctl", "add", "user", "xs-zone-key", "x", "@u"},
	} {
		if out, errOut, code := l.run(append([]string{"zlogin", z}, argv...)...); code == 0 {
			t.Errorf("zone: %v succeeded: %s%s", argv, out, errOut)
		}
	}
	l.ok("zoneadm", "-z", z, "halt")
	l.checkGone(z)
}

// removeKeys unlinks every user key named desc from root's user and
// user-session keyrings.
func removeKeys(desc string) {
	for _, ring := range []string{"@u", "@us"} {
		for i := 0; i < 100; i++ {
			id, err := exec.Command("keyctl", "search", ring, "user", desc).Output()
			if err != nil || exec.Command("keyctl", "unlink", strings.TrimSpace(string(id)), ring).Run() != nil {
				break
			}
		}
	}
}

// TestZoneUsernsOptIn: a zone makes no user namespace unless its
// limitpriv names zonetop_userns, and never an ipc namespace.
func TestZoneUsernsOptIn(t *testing.T) {
	needZones(t)
	needBusybox(t)
	l := newLab(t)
	l.tag = fmt.Sprintf("xs%04x", rand.IntN(1<<16))
	plain := l.newZone("busybox")
	nested := l.newZone("busybox", "set limitpriv=default,zonetop_userns")
	if got := l.ok("zonecfg", "-z", nested, "info", "limitpriv"); !strings.Contains(got, "zonetop_userns") {
		t.Errorf("zonecfg info limitpriv: %q", got)
	}
	for _, z := range []string{plain, nested} {
		l.ok("zoneadm", "-z", z, "install")
		l.ok("zoneadm", "-z", z, "boot")
	}
	if out, errOut, code := l.run("zlogin", plain, "unshare", "-U", "-r", "true"); code == 0 {
		t.Errorf("unshare -U in a zone without the opt-in succeeded: %s%s", out, errOut)
	}
	if got := strings.TrimSpace(l.zlogin(nested, "unshare", "-U", "-r", "id", "-u")); got != "0" {
		t.Errorf("unshare -U -r id -u with the opt-in: %q", got)
	}
	if out, errOut, code := l.run("zlogin", nested, "unshare", "-U", "-r", "-i", "true"); code == 0 {
		t.Errorf("unshare -U -r -i with the opt-in succeeded: %s%s", out, errOut)
	}
	for _, z := range []string{plain, nested} {
		l.ok("zoneadm", "-z", z, "halt")
		l.checkGone(z)
	}
}
