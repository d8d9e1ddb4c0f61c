package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"zonetop/internal/audit"
)

// shutdown, reboot, boot arguments, autoboot, verify and the refusals of
// operations a zone's state does not allow, through the binary.

// TestShutdownRebootBootargs: shutdown runs the zone's inittab shutdown
// entries before halting; reboot gives a new zone ID; boot -- ARGS reach
// init, which prints them on the console.
func TestShutdownRebootBootargs(t *testing.T) {
	l, z, root := busyboxZoneWithInittab(t, "::shutdown:/bin/sh -c 'echo bye > /root/shutdown-ran'\n")

	l.ok("zoneadm", "-z", z, "boot", "--", "-s", "zt-arg-1")
	id := l.state(z, "running")
	logPath := filepath.Join(l.root, "var/log/zonetop", z+".console")
	want := "boot arguments: -s zt-arg-1"
	var log []byte
	for i := 0; i < 200 && !strings.Contains(string(log), want); i++ {
		log, _ = os.ReadFile(logPath)
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(string(log), want) {
		t.Errorf("console log %s lacks %q:\n%s", logPath, want, log)
	}

	l.ok("zoneadm", "-z", z, "reboot")
	id2 := l.state(z, "running")
	if id2 == id {
		t.Errorf("reboot kept zone ID %d", id)
	}

	// shutdown -r: the shutdown entries run, then the zone boots again
	// with the arguments after --.
	ran := filepath.Join(root, "root/shutdown-ran")
	l.ok("zoneadm", "-z", z, "shutdown", "-r", "--", "zt-arg-2")
	if id3 := l.state(z, "running"); id3 == id2 {
		t.Errorf("shutdown -r kept zone ID %d", id2)
	}
	if b, err := os.ReadFile(ran); err != nil || strings.TrimSpace(string(b)) != "bye" {
		t.Errorf("shutdown -r: inittab shutdown entry did not run: %q %v", b, err)
	}
	must(t, os.Remove(ran))
	want = "boot arguments: zt-arg-2"
	for i := 0; i < 200 && !strings.Contains(string(log), want); i++ {
		log, _ = os.ReadFile(logPath)
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(string(log), want) {
		t.Errorf("console log lacks %q after shutdown -r:\n%s", want, log)
	}

	l.ok("zoneadm", "-z", z, "shutdown")
	l.state(z, "installed")
	if b, err := os.ReadFile(filepath.Join(root, "root/shutdown-ran")); err != nil || strings.TrimSpace(string(b)) != "bye" {
		t.Errorf("inittab shutdown entry did not run: %q %v", b, err)
	}
	l.checkGone(z)

	// The audit log holds each operation with the states around it,
	// those boot and halt take from zoneadmd's answers included.
	l.ok("zoneadm", "-z", z, "boot")
	// The index keeps installed (what outlives a host restart); that the
	// zone runs is zoneadmd's word, and zonecfg still sees it.
	idx, err := os.ReadFile(filepath.Join(l.root, "etc/zonetop/zones/index"))
	if err != nil || !strings.Contains(string(idx), "\n"+z+":installed:") {
		t.Errorf("index of a running zone: %v\n%s", err, idx)
	}
	l.fails(1, []string{"halt it first"}, "zonecfg", "-z", z, "set zonename="+z+"x")
	l.ok("zoneadm", "-z", z, "halt")
	recs, _, err := audit.ReadAudit(l.root, audit.AuditQuery{Zone: z})
	if err != nil {
		t.Fatal(err)
	}
	var saw []string
	for _, r := range recs {
		saw = append(saw, r.What+":"+r.Before+">"+r.After+":"+r.Result)
	}
	joined := strings.Join(saw, "\n")
	for _, want := range []string{"ready:installed>ready:ok\nboot:installed>running:ok\nhalt:running>installed:ok"} {
		if !strings.HasSuffix(joined, want) {
			t.Errorf("audit log ends\n%s\nwant it to end\n%s", joined, want)
		}
	}
}

// TestAutoboot: `zonetop autoboot` boots the zones with autoboot=true and
// leaves the others; --shutdown stops what runs.
func TestAutoboot(t *testing.T) {
	needZones(t)
	l := newLab(t)
	on := l.newZone("sparse", "set autoboot=true")
	off := l.newZone("sparse")
	l.ok("zoneadm", "-z", on, "install")
	l.ok("zoneadm", "-z", off, "install")
	out := l.ok("autoboot")
	if !strings.Contains(out, on) || strings.Contains(out, off) {
		t.Errorf("autoboot said %q; want it to boot %s only", out, on)
	}
	l.state(on, "running")
	l.state(off, "installed")
	// Booting again is harmless: a running zone is left alone.
	l.ok("autoboot")
	l.ok("autoboot", "--shutdown")
	l.state(on, "installed")
	l.state(off, "installed")
	l.checkGone(on)
	l.fails(2, []string{"unexpected argument"}, "autoboot", "--bogus")
}

// TestVerifyAndRefusals: verify reports every problem; operations the
// zone's state does not allow are refused with a reason and exit 1; usage
// errors exit 2.
func TestVerifyAndRefusals(t *testing.T) {
	needZones(t)
	l := newLab(t)
	z := l.newZone("sparse")
	// A zonepath that exists, is not empty and has the wrong mode.
	zp := l.zonepath(z)
	must(t, os.Mkdir(zp, 0o755))
	must(t, os.Chmod(zp, 0o755))
	must(t, os.WriteFile(filepath.Join(zp, "junk"), nil, 0o644))
	errOut := l.fails(1, []string{"not empty", "0755"}, "zoneadm", "-z", z, "verify")
	if n := strings.Count(errOut, "zoneadm: "+z+":"); n < 2 {
		t.Errorf("verify reported %d problems, want each on its own line:\n%s", n, errOut)
	}
	l.fails(1, []string{"not empty"}, "zoneadm", "-z", z, "install")
	l.state(z, "configured")
	must(t, os.RemoveAll(zp))
	l.ok("zoneadm", "-z", z, "verify")

	l.fails(1, []string{z, "configured", "install"}, "zoneadm", "-z", z, "boot")
	l.fails(1, []string{z, "configured"}, "zoneadm", "-z", z, "ready")
	l.fails(1, []string{z}, "zlogin", z, "true")
	l.ok("zoneadm", "-z", z, "install")
	l.fails(1, []string{z, "installed"}, "zoneadm", "-z", z, "install")
	l.ok("zoneadm", "-z", z, "boot")
	l.fails(1, []string{z, "running"}, "zoneadm", "-z", z, "uninstall", "-F")
	l.fails(1, []string{z, "running"}, "zoneadm", "-z", z, "boot")
	l.state(z, "running")
	l.ok("zoneadm", "-z", z, "halt")
	l.fails(1, []string{"no such zone"}, "zoneadm", "-z", l.tag+"nosuch", "boot")

	// A failed install goes back to configured, leaving nothing behind.
	tb := l.newZone("tarball")
	l.fails(1, []string{"needs an archive"}, "zoneadm", "-z", tb, "install")
	junk := filepath.Join(l.root, "junk.tar")
	must(t, os.WriteFile(junk, []byte("not a tar archive at all"), 0o644))
	l.fails(1, []string{"not a tar archive"}, "zoneadm", "-z", tb, "install", "-a", junk)
	l.fails(1, []string{"no such file"}, "zoneadm", "-z", tb, "install", "-a", junk+".missing")
	l.state(tb, "configured")
	if _, err := os.Lstat(l.zonepath(tb)); err == nil {
		t.Errorf("failed installs left %s", l.zonepath(tb))
	}
	l.fails(2, nil, "zoneadm", "-z", tb, "install", "-a")

	l.fails(2, nil, "zoneadm", "-z", z, "frobnicate")
	l.fails(2, nil, "zoneadm", "boot")
	l.fails(2, nil, "zoneadm", "list", "-x")
	l.fails(2, nil, "zoneadm", "-z", z, "halt", "now")
	l.fails(2, nil, "zlogin")
}

// TestBootMemoryCapTooSmall: a memory cap below the floor a zone needs
// to boot is refused before anything is made, naming the control and its
// value, at verify and at boot alike, on cgroup v1 and v2 (where zsched
// is charged elsewhere and such a zone used to boot and then lose its
// processes).
func TestBootMemoryCapTooSmall(t *testing.T) {
	needZones(t)
	l := newLab(t)
	z := l.newZone("", "add capped-memory", "set physical=1M", "end")
	l.ok("zoneadm", "-z", z, "install")
	why := []string{"zone.max-physical-memory (capped-memory physical) is 1.00MB", "below the 8.00MB", "raise capped-memory physical"}
	l.fails(1, why, "zoneadm", "-z", z, "verify")
	errOut := l.fails(1, why, "zoneadm", "-z", z, "boot")
	if strings.Count(errOut, "ready "+z+":") != 1 {
		t.Errorf("error repeats or lacks where it happened: %q", errOut)
	}
	l.state(z, "installed")
	l.checkGone(z)
}

// TestZoneDiesOfMemoryCapAfterBoot: a small cap the zone boots with
// stops what passes it, not the zone: the out-of-memory killer ends the
// command that needed more (exit 137, counted in the zone's memory
// cgroups), zlogin says it was the zone's memory cap, and the zone, its
// init and its next logins go on.
func TestZoneDiesOfMemoryCapAfterBoot(t *testing.T) {
	needZones(t)
	l := newLab(t)
	z := l.newZone("", "add capped-memory", "set physical=16M", "end")
	l.ok("zoneadm", "-z", z, "install")
	l.ok("zoneadm", "-z", z, "boot")
	_, errOut, code := l.run("zlogin", z, "dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1")
	if code != 128+9 {
		t.Errorf("a 64M buffer under a 16M cap: exit %d, want 137 (killed) (%q)", code, errOut)
	}
	if !strings.Contains(errOut, "out-of-memory killer ended the command: zone "+z+" reached its zone.max-physical-memory (16.0MB)") {
		t.Errorf("zlogin does not say which cap killed the command: %q", errOut)
	}
	kills := 0
	for _, d := range zoneCgroups(z) {
		_ = filepath.WalkDir(d, func(p string, e os.DirEntry, err error) error {
			if err != nil || !e.IsDir() {
				return nil
			}
			for _, f := range []string{"memory.events", "memory.oom_control"} {
				b, _ := os.ReadFile(filepath.Join(p, f))
				for _, line := range strings.Split(string(b), "\n") {
					if v, ok := strings.CutPrefix(line, "oom_kill "); ok {
						n, _ := strconv.Atoi(v)
						kills += n
					}
				}
			}
			return nil
		})
	}
	if kills == 0 {
		t.Error("the zone's memory cgroups record no out-of-memory kill")
	}
	if out := l.ok("zlogin", z, "echo", "alive"); strings.TrimSpace(out) != "alive" {
		t.Errorf("zlogin after the kill: %q", out)
	}
	// Taken live below the floor boot holds to, the cap would kill the
	// zone's init: refused, naming the control, and the cap unchanged.
	l.fails(1, []string{"zone.max-physical-memory of 1.00MB", "below the 8.00MB", "stays as it was"},
		"prctl", "-n", "zone.max-physical-memory", "-v", "1M", "-r", "-i", "zone", z)
	// Other habits: a lowercase modifier and a fraction just under it.
	l.fails(1, []string{"zone.max-physical-memory of 7.50MB", "below the 8.00MB"},
		"prctl", "-n", "zone.max-physical-memory", "-v", "7.5m", "-r", "-i", "zone", z)
	if out := l.ok("prctl", "-n", "zone.max-physical-memory", "-i", "zone", z); !strings.Contains(out, "16.0MB") {
		t.Errorf("after the refused change prctl shows:\n%s\nwant the 16.0MB cap kept", out)
	}
	l.state(z, "running")
	l.ok("zoneadm", "-z", z, "halt")
	l.state(z, "installed")
	l.checkGone(z)
}

// TestStaleRuntimeStateInIndex: an index an older zonetop left saying
// running (it recorded runtime states) after the host restarted reads as
// installed, and is mended, so uninstall and zonecfg work on the zone.
func TestStaleRuntimeStateInIndex(t *testing.T) {
	needZones(t)
	l := newLab(t)
	z := l.newZone("")
	l.ok("zoneadm", "-z", z, "install")
	idx := filepath.Join(l.root, "etc/zonetop/zones/index")
	b, err := os.ReadFile(idx)
	if err != nil {
		t.Fatal(err)
	}
	stale := strings.Replace(string(b), "\n"+z+":installed:", "\n"+z+":running:", 1)
	if stale == string(b) {
		t.Fatalf("no installed line for %s in\n%s", z, b)
	}
	if err := os.WriteFile(idx, []byte(stale), 0o644); err != nil {
		t.Fatal(err)
	}
	l.state(z, "installed")
	if b, _ := os.ReadFile(idx); !strings.Contains(string(b), "\n"+z+":installed:") {
		t.Errorf("index not mended:\n%s", b)
	}
	l.ok("zoneadm", "-z", z, "uninstall", "-F")
	l.state(z, "configured")
}

// TestShutdownRightAfterBoot: a shutdown that comes while init is still
// starting (before its signal handlers are in place) still runs the
// inittab's shutdown entries.
func TestShutdownRightAfterBoot(t *testing.T) {
	l, z, root := busyboxZoneWithInittab(t, "::sysinit:/bin/sh -c 'grep SigBlk /proc/self/status > /root/sigblk'\n"+
		"::shutdown:/bin/sh -c 'echo bye > /root/shutdown-ran'\n")
	for i := 0; i < 10; i++ {
		_ = os.Remove(filepath.Join(root, "root/shutdown-ran"))
		l.ok("zoneadm", "-z", z, "boot")
		l.ok("zoneadm", "-z", z, "shutdown")
		if b, err := os.ReadFile(filepath.Join(root, "root/shutdown-ran")); err != nil || strings.TrimSpace(string(b)) != "bye" {
			t.Fatalf("round %d: the shutdown entry did not run: %q %v", i, b, err)
		}
	}
	// init is born with SIGUSR1 and SIGUSR2 blocked; what it starts is
	// not.
	b, err := os.ReadFile(filepath.Join(root, "root/sigblk"))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b))
	mask, err := strconv.ParseUint(f[len(f)-1], 16, 64)
	if err != nil {
		t.Fatalf("SigBlk of an inittab process: %q", b)
	}
	if usr := uint64(1)<<(10-1) | uint64(1)<<(12-1); mask&usr != 0 {
		t.Errorf("an inittab process starts with SIGUSR1/SIGUSR2 blocked: SigBlk %016x", mask)
	}
	l.state(z, "installed")
	l.checkGone(z)
}

// busyboxZoneWithInittab installs a busybox zone whose /etc/inittab is
// inittab, and returns its lab, name and root.
func busyboxZoneWithInittab(t *testing.T, inittab string) (*lab, string, string) {
	t.Helper()
	needZones(t)
	needBusybox(t)
	l := newLab(t)
	z := l.newZone("busybox")
	l.ok("zoneadm", "-z", z, "install")
	root := filepath.Join(l.zonepath(z), "root")
	must(t, os.WriteFile(filepath.Join(root, "etc/inittab"), []byte(inittab), 0o644))
	return l, z, root
}

// Messages say a thing once, in words: the live state ("running", not the
// stored "installed"), no doubled command names, install steps a person
// reads, and -K limits with unit modifiers as illumos' projadd takes them.
func TestMessagesSayItOnce(t *testing.T) {
	l := newLab(t)
	z := l.newZone("busybox")
	out, errOut, code := l.run("zoneadm", "-z", z, "install")
	if code != 0 {
		t.Fatalf("install: %d %s", code, errOut)
	}
	for _, want := range []string{"making the zone's directories", "linking busybox's commands"} {
		if !strings.Contains(out+errOut, want) {
			t.Errorf("install's progress lacks %q:\n%s%s", want, out, errOut)
		}
	}
	l.ok("zoneadm", "-z", z, "boot")
	if errOut := l.fails(1, []string{"zone " + z + " is running; halt it first"}, "zoneadm", "-z", z, "install"); strings.Contains(errOut, "installed") {
		t.Errorf("install of a running zone speaks of its stored state: %q", errOut)
	}
	if errOut := l.fails(1, []string{"zone " + z + " is already running"}, "zoneadm", "-z", z, "boot"); strings.Count(errOut, "running") != 1 {
		t.Errorf("boot of a running zone: %q", errOut)
	}
	l.ok("projadd", "-z", z, "-K", "project.max-shm-memory=(priv,4G,deny)", "user.oracle")
	if out := l.ok("projects", "-z", z, "-l"); !strings.Contains(out, "project.max-shm-memory=(privileged,4294967296,deny)") {
		t.Errorf("projadd -K with 4G:\n%s", out)
	}
	if errOut := l.fails(1, []string{"user.oracle", "already exists"}, "projadd", "-z", z, "user.oracle"); strings.Count(errOut, "projadd") != 1 {
		t.Errorf("the refusal names its command twice: %q", errOut)
	}
	l.ok("projmod", "-z", z, "-s", "-K", "project.max-shm-memory=(priv,1.5G,deny)", "user.oracle")
	if out := l.ok("projects", "-z", z, "-l"); !strings.Contains(out, "project.max-shm-memory=(privileged,1610612736,deny)") {
		t.Errorf("projmod -s -K with 1.5G:\n%s", out)
	}
	l.fails(2, []string{"project.max-shm-memory"}, "projadd", "-z", z, "-K", "project.max-shm-memory=(priv,4Q,deny)", "bad")
}

// A --cgroup-parent that does not exist is named with every hierarchy it
// is missing from and the command that makes it, not one at a time.
func TestCgroupParentMissingSaysAll(t *testing.T) {
	l := newLab(t)
	z := l.newZone("busybox", "set max-lwps=50")
	l.ok("zoneadm", "-z", z, "install")
	parent := "/ztnosuch" + l.tag
	errOut := l.fails(1, []string{"cgroup parent " + parent + ": missing in", "mkdir -p"}, "--cgroup-parent", parent, "zoneadm", "-z", z, "boot")
	if n := strings.Count(errOut, parent+",") + strings.Count(errOut, parent+")"); n < 2 && !strings.Contains(errOut, "missing in 1 of 1") {
		t.Errorf("not every hierarchy named: %q", errOut)
	}
	l.state(z, "installed")
}

// zlogin runs a command string through the zone's shell, as illumos does
// and every admin script expects, with the command's exit status.
func TestZloginCommandString(t *testing.T) {
	l := newLab(t)
	z := l.newZone("busybox")
	l.ok("zoneadm", "-z", z, "install")
	l.ok("zoneadm", "-z", z, "boot")
	out, errOut, code := l.run("zlogin", z, "ls /; exit 3")
	if code != 3 || !strings.Contains(out, "etc") {
		t.Errorf("zlogin Z 'ls /; exit 3': exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if out := l.zlogin(z, "echo zonetop | tr a-z A-Z"); strings.TrimSpace(out) != "ZONETOP" {
		t.Errorf("a pipeline: %q", out)
	}
	// Words the caller's shell split stay words.
	if out := l.zlogin(z, "echo", "a  b", "$HOME"); strings.TrimSpace(out) != "a  b $HOME" {
		t.Errorf("argv as given: %q", out)
	}
}
