package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Life inside a zone as an illumos zone administrator lives it: the
// administrator's tools are simply on PATH, the host's /usr tools work in
// a sparse zone, the login prompt shows the zone, and the global zone's
// commands say where they belong. Each brand gets the same commands typed
// the same way.

// newInZoneLab is a lab whose zones are named ztcli...: the names say
// which tests made them.
func newInZoneLab(t *testing.T) *lab {
	t.Helper()
	l := newLab(t)
	l.tag = fmt.Sprintf("ztcli%d%04x", os.Getpid()%100000, rand.IntN(1<<16))
	return l
}

// adminTools are the zone administrator's commands, as illumos has them on
// every zone's PATH.
var adminTools = []string{"prctl", "projects", "projadd", "projmod", "projdel", "newtask", "zonestat", "zonetop"}

func TestInZoneToolsOnPath(t *testing.T) {
	needZones(t)
	t.Run("busybox", func(t *testing.T) {
		needBusybox(t)
		inZoneTools(t, "busybox", "", true)
	})
	t.Run("sparse", func(t *testing.T) { inZoneTools(t, "sparse", "", true) })
	// A Debian-like root: its own /etc/profile resets PATH for a login
	// shell and sets its own prompt.
	t.Run("tarball-debian", func(t *testing.T) {
		inZoneTools(t, "tarball", buildDebianRootArchive(t), false)
	})
}

func inZoneTools(t *testing.T, brand, archive string, ownProfile bool) {
	l := newInZoneLab(t)
	z := l.newZone(brand, "set max-lwps=300")
	install := []string{"zoneadm", "-z", z, "install"}
	if archive != "" {
		install = append(install, "-a", archive)
	}
	l.ok(install...)
	l.ok("zoneadm", "-z", z, "boot")

	// zlogin's commands: the tools by their names alone.
	if out := l.zlogin(z, "prctl", "-n", "zone.max-lwps", "-i", "zone", z); !strings.Contains(out, "zone.max-lwps") || !strings.Contains(out, "300") {
		t.Errorf("zlogin %s prctl -n zone.max-lwps -i zone %s:\n%s", z, z, out)
	}
	if out := l.zlogin(z, "projects", "-l"); !strings.Contains(out, "default") {
		t.Errorf("zlogin %s projects -l:\n%s", z, out)
	}
	for _, tool := range adminTools {
		if out := strings.TrimSpace(l.zlogin(z, "sh", "-c", "command -v "+tool)); out != "/run/zonetop/bin/"+tool {
			t.Errorf("zlogin %s: command -v %s = %q, want /run/zonetop/bin/%s", z, tool, out, tool)
		}
	}
	// A login shell reads /etc/profile, which sets PATH again.
	if out := strings.TrimSpace(l.zlogin(z, "sh", "-l", "-c", "command -v prctl; command -v zonestat")); out != "/run/zonetop/bin/prctl\n/run/zonetop/bin/zonestat" {
		t.Errorf("zlogin %s: in a login shell command -v prctl zonestat = %q", z, out)
	}
	// The global zone's commands say that they are.
	for _, c := range [][]string{{"zonecfg", "-z", z, "info"}, {"zlogin", z, "true"}, {"zoneadm", "-z", z, "halt"}} {
		_, errOut, code := l.run(append([]string{"zlogin", z}, c...)...)
		if code != 1 || !strings.Contains(errOut, "global zone") || strings.Contains(errOut, "no such zone") {
			t.Errorf("zlogin %s %s: exit %d, stderr %q; want 1 and that it is a global-zone command", z, strings.Join(c, " "), code, errOut)
		}
	}
	if out := l.zlogin(z, "zoneadm", "list"); strings.TrimSpace(out) != z {
		t.Errorf("zlogin %s zoneadm list: %q, want the zone itself", z, out)
	}
	l.state(z, "running")

	if ownProfile {
		// The prompt: what `zlogin Z` shows on a terminal, and bash's
		// where the zone has bash, the zone in it and the directory
		// following cd.
		logins := [][]string{{"zlogin", z}}
		if brand == "sparse" {
			if _, err := os.Stat("/bin/bash"); err == nil {
				logins = append(logins, []string{"zlogin", "-t", z, "bash", "-l"})
			}
		}
		for _, argv := range logins {
			tm := (&cliZone{t: t}).startCmdTerm(24, 80, exec.Command(ztBin, append([]string{"--root", l.root}, argv...)...))
			tm.expect("root@" + z + ":/root# ")
			tm.send("cd /tmp\r")
			tm.expect("root@" + z + ":/tmp# ")
			tm.send("exit\r")
			tm.wait()
		}
	}
}

// TestInZoneSparseAlternatives: a sparse zone's /usr is the host's, and so
// are the alternatives its links go through.
func TestInZoneSparseAlternatives(t *testing.T) {
	needZones(t)
	var names []string
	for _, n := range []string{"vi", "awk", "editor", "which"} {
		if target, err := os.Readlink("/usr/bin/" + n); err == nil && strings.HasPrefix(target, "/etc/alternatives/") {
			if _, err := os.Stat("/usr/bin/" + n); err == nil {
				names = append(names, n)
			}
		}
	}
	if len(names) == 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("the host has none of vi, awk, editor, which as a Debian alternative")
		}
		t.Skip("the host has no Debian alternatives")
	}
	l := newInZoneLab(t)
	z := l.newZone("sparse")
	l.ok("zoneadm", "-z", z, "install")
	l.ok("zoneadm", "-z", z, "boot")
	for _, n := range names {
		if out := strings.TrimSpace(l.zlogin(z, "sh", "-c", "command -v "+n+" && test -x /usr/bin/"+n+" && echo runs")); out != "/usr/bin/"+n+"\nruns" {
			t.Errorf("zlogin %s: %s: %q", z, n, out)
		}
	}
	if slicesContains(names, "which") {
		if out := strings.TrimSpace(l.zlogin(z, "which", "sh")); out != "/usr/bin/sh" && out != "/bin/sh" {
			t.Errorf("zlogin %s which sh: %q", z, out)
		}
	}
	if slicesContains(names, "awk") {
		if out := strings.TrimSpace(l.zlogin(z, "awk", "BEGIN { print 6*7 }")); out != "42" {
			t.Errorf("zlogin %s awk: %q", z, out)
		}
	}
	// The view is the host's and read-only: the zone cannot redirect the
	// host's tools, and a change on the host shows at once.
	if _, _, code := l.run("zlogin", z, "sh", "-c", "ln -sf /bin/false /etc/alternatives/awk"); code == 0 {
		t.Errorf("zlogin %s: the zone changed /etc/alternatives", z)
	}
}

func slicesContains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestInZoneConsoleLogin: after boot, the console of a new zone offers a
// shell, with job control (ctrl-C stops a command, not the shell).
func TestInZoneConsoleLogin(t *testing.T) {
	needZones(t)
	needBusybox(t)
	root, err := os.MkdirTemp("", "ztcli-console-")
	if err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("ztcli%dc%04x", os.Getpid()%100000, rand.IntN(1<<16))
	z := newCLIZoneIn(t, root, name, "")
	c := z.startTerm(24, 80, "zlogin", "-C", z.name)
	c.expect("[Connected to zone '" + z.name + "' console]")
	z.mustRun("zoneadm", "-z", z.name, "boot")
	c.expect("root@" + z.name + ":/# ")
	c.send("echo typed-$((2+3))\r")
	c.expect("typed-5")
	c.send("sleep 100; echo not-interrupted\r")
	// ctrl-C once the command runs (before, the shell's line editor
	// would read it as a character).
	for i := 0; ; i++ {
		code, out := z.run("zlogin", z.name, "sh", "-c", `for p in /proc/[0-9]*; do read c <$p/comm && [ "$c" = sleep ] && exit 0; done 2>/dev/null; exit 1`)
		if code == 0 {
			break
		}
		if i == 200 {
			t.Fatalf("the console's sleep never started: %d %s\n%s", code, out, c.output())
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.send("\x03")
	c.send("echo after-$((3+4))\r")
	c.expect("after-7")
	if strings.Contains(c.output(), "\nnot-interrupted") {
		t.Errorf("ctrl-C on the console did not stop the command:\n%s", c.output())
	}
	// exit gives a new shell, as a getty would give a new login.
	c.send("exit\r")
	c.expect("root@" + z.name + ":/# ")
	c.send("~.")
	c.wait()
}

// buildDebianRootArchive is buildRootArchive with what a Debian login
// shell reads: the host's own /etc/profile (which sets PATH and PS1 and
// runs /etc/profile.d) and the tools it calls.
func buildDebianRootArchive(t *testing.T) string {
	t.Helper()
	if b, err := os.ReadFile("/etc/profile"); err != nil || !strings.Contains(string(b), "/etc/profile.d") {
		if os.Getenv("CI") == "true" {
			t.Fatalf("the host's /etc/profile is not Debian's: %v", err)
		}
		t.Skip("the host's /etc/profile is not Debian's")
	}
	id, err := exec.LookPath("id")
	if err != nil {
		t.Fatalf("no id(1): %v", err)
	}
	return buildRootArchiveWith(t, "gz", map[string]string{"/usr/bin/id": filepath.Base(id)},
		map[string]string{"/etc/profile": "/etc/profile"}, []string{"/etc/profile.d"})
}

// TestInZoneInitDiesRebootsZone: when the zone's init dies on its own
// (here killed by the zone's root), the zone reboots, as illumos reboots
// a zone whose init exits (its lx brand; a native zone restarts init in
// place): a new zone ID, a new init, the console saying why.
func TestInZoneInitDiesRebootsZone(t *testing.T) {
	needZones(t)
	needBusybox(t)
	l := newInZoneLab(t)
	z := l.newZone("busybox")
	l.ok("zoneadm", "-z", z, "install")
	l.ok("zoneadm", "-z", z, "boot")
	id := l.state(z, "running")
	findInit := `for p in /proc/[0-9]*; do read c <$p/comm && [ "$c" = zinit ] && echo ${p#/proc/}; done 2>/dev/null; true`
	// zinit names itself once it runs, a moment after boot answers.
	pid := ""
	for i := 0; pid == ""; i++ {
		if i == 100 {
			t.Fatal("no zinit in the zone")
		}
		time.Sleep(50 * time.Millisecond)
		pid = strings.TrimSpace(l.zlogin(z, "sh", "-c", findInit))
	}
	l.zlogin(z, "kill", "-KILL", pid)
	var r listRow
	for i := 0; ; i++ {
		r = l.list(z)
		if r.State == "running" && r.ID != id {
			break
		}
		if i == 600 {
			t.Fatalf("zone %s after its init died: %s, zone ID %d (was %d); want running again with a new ID\n%s", z, r.State, r.ID, id, l.verbose(z))
		}
		time.Sleep(50 * time.Millisecond)
	}
	for i := 0; strings.TrimSpace(l.zlogin(z, "sh", "-c", findInit)) == ""; i++ {
		if i == 100 {
			procs := `for p in /proc/[0-9]*; do read c <$p/comm && echo "${p#/proc/} $c"; done 2>/dev/null; true`
			log, _ := os.ReadFile(filepath.Join(l.root, "var/log/zonetop", z+".console"))
			t.Fatalf("no zinit after the reboot; the zone's processes:\n%s\n%s\nconsole:\n%s", l.zlogin(z, "sh", "-c", procs), l.verbose(z), log)
		}
		time.Sleep(50 * time.Millisecond)
	}
	log, _ := os.ReadFile(filepath.Join(l.root, "var/log/zonetop", z+".console"))
	if !strings.Contains(string(log), "init exited") || !strings.Contains(string(log), "rebooting") {
		t.Errorf("the console does not say why the zone rebooted:\n%s", log)
	}
}

// An init that keeps exiting right after its start does not reboot its
// zone forever: the zone goes down, and its console says why.
func TestInZoneInitLoopHalts(t *testing.T) {
	needZones(t)
	needBusybox(t)
	l := newInZoneLab(t)
	z := l.newZone("busybox", "set init=/bin/true")
	l.ok("zoneadm", "-z", z, "install")
	l.ok("zoneadm", "-z", z, "boot")
	// Each reboot passes through installed for a moment: the console
	// says when it is over.
	consoleLog := filepath.Join(l.root, "var/log/zonetop", z+".console")
	for i := 0; ; i++ {
		log, _ := os.ReadFile(consoleLog)
		if strings.Contains(string(log), "halting the zone") && l.list(z).State == "installed" {
			break
		}
		if i == 600 {
			// zoneadmd's log says which deaths it saw and what it did.
			zlog, _ := os.ReadFile(filepath.Join(l.root, "var/log/zonetop", z+".zoneadmd.log"))
			t.Fatalf("zone %s whose init exits at once: %s\nconsole:\n%s\nzoneadmd log:\n%s", z, l.verbose(z), log, zlog)
		}
		time.Sleep(50 * time.Millisecond)
	}
	l.checkGone(z)
}

// TestInZoneRebootHalt: the zone's root reboots and halts their own zone
// with the commands illumos gives them, and zoneadmd carries it out.
func TestInZoneRebootHalt(t *testing.T) {
	needZones(t)
	t.Run("busybox", func(t *testing.T) {
		needBusybox(t)
		inZoneRebootHalt(t, "busybox")
	})
	t.Run("sparse", func(t *testing.T) { inZoneRebootHalt(t, "sparse") })
}

func inZoneRebootHalt(t *testing.T, brand string) {
	l := newInZoneLab(t)
	z := l.newZone(brand)
	l.ok("zoneadm", "-z", z, "install")
	l.ok("zoneadm", "-z", z, "boot")
	// waitState polls until the zone is in state with an ID other than
	// notID (a reboot gives a new one).
	// said is what the last in-zone command answered, for a failure.
	var said string
	waitState := func(what, state string, notID int) int {
		t.Helper()
		for i := 0; ; i++ {
			r := l.list(z)
			if r.State == state && (state != "running" || r.ID != notID) {
				return r.ID
			}
			if i == 600 {
				log, _ := os.ReadFile(filepath.Join(l.root, "var/log/zonetop", z+".console"))
				t.Fatalf("zone %s after %s: %s, want %s\n%s\nthe command said: %s\nconsole:\n%s", z, what, r.State, state, l.verbose(z), said, log)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	id := l.state(z, "running")
	for _, cmd := range [][]string{{"reboot"}, {"init", "6"}, {"shutdown", "-y", "-g0", "-i6"}} {
		// The session may end with the zone: its status is not the point.
		out, errs, code := l.run(append([]string{"zlogin", z}, cmd...)...)
		said = fmt.Sprintf("exit %d: %s%s", code, out, errs)
		id = waitState(strings.Join(cmd, " "), "running", id)
	}
	out, errs, code := l.run("zlogin", z, "halt")
	said = fmt.Sprintf("exit %d: %s%s", code, out, errs)
	waitState("halt", "installed", 0)
	// installed for good, not a reboot's moment of it.
	time.Sleep(time.Second)
	l.state(z, "installed")
	log, _ := os.ReadFile(filepath.Join(l.root, "var/log/zonetop", z+".console"))
	if strings.Count(string(log), "reboot asked in the zone") != 3 || !strings.Contains(string(log), "halt asked in the zone") {
		t.Errorf("the console does not say who took the zone down:\n%s", log)
	}
	l.checkGone(z)
	// From the global zone they refuse and say what to use.
	l.fails(1, []string{"only inside a zone", "zoneadm"}, "reboot")
}

// A zone root that asks for reboot after reboot makes the host halt and
// ready its zone each time; more than a burst within a minute halts the
// zone instead, so a loop inside costs the host a bounded amount.
func TestInZoneRebootLoopHalts(t *testing.T) {
	needZones(t)
	needBusybox(t)
	l := newInZoneLab(t)
	z := l.newZone("busybox")
	l.ok("zoneadm", "-z", z, "install")
	l.ok("zoneadm", "-z", z, "boot")
	id := l.state(z, "running")
	state := "running"
	for i := 0; i < 8 && state == "running"; i++ {
		l.run("zlogin", z, "reboot")
		// The next running (a new ID), or installed for good (a
		// reboot passes through installed for a moment).
		var since time.Time
		for j := 0; ; j++ {
			r := l.list(z)
			if r.State == "running" && r.ID != id {
				state, id = r.State, r.ID
				break
			}
			if r.State != "installed" {
				since = time.Time{}
			} else if since.IsZero() {
				since = time.Now()
			} else if time.Since(since) > 2*time.Second {
				state = r.State
				break
			}
			if j == 1200 {
				t.Fatalf("zone %s after reboot %d: %s\n%s", z, i+1, r.State, l.verbose(z))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	if state != "installed" {
		t.Fatalf("eight reboots asked within a minute; the zone is still %s", state)
	}
	log, _ := os.ReadFile(filepath.Join(l.root, "var/log/zonetop", z+".console"))
	if !strings.Contains(string(log), "reboot asked in the zone more than 5 times") {
		t.Errorf("the console does not say why the zone stopped:\n%s", log)
	}
}
