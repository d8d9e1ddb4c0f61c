package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
	"zonetop/api"
	"zonetop/internal/configs"
)

// Security tests of what reaches zonetop's configuration and what zonetop
// reads and removes on the host because of it: delegated zonecfg, hand
// edited zone files, uninstall, and files read from a zone root. Zone
// names start with xc; host users made here start with ztxc.

// newXCLab is a lab on the test's own temporary root prefix, readable by
// every user (a delegated user must reach the service's socket there).
func newXCLab(t *testing.T) *lab {
	t.Helper()
	needZones(t)
	root := t.TempDir()
	for _, d := range []string{filepath.Dir(root), root} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	l := &lab{t: t, root: root, tag: fmt.Sprintf("xc%04x", rand.IntN(1<<16))}
	if err := os.Mkdir(filepath.Join(root, "zones"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.cleanup)
	return l
}

// hostUser creates a host user named ztxc..., removed when the test ends.
func hostUser(t *testing.T) (name string, uid int) {
	t.Helper()
	name = fmt.Sprintf("ztxc%05x", rand.IntN(1<<20))
	var out []byte
	var err error
	// Other tests may hold the passwd lock for a moment.
	for i := 0; i < 20; i++ {
		out, err = exec.Command("useradd", "-M", "-N", "-g", "nogroup", "-d", "/nonexistent", "-s", "/usr/sbin/nologin", name).CombinedOutput()
		if err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("useradd %s: %v: %s", name, err, out)
	}
	t.Cleanup(func() {
		for i := 0; i < 20; i++ {
			if out, err := exec.Command("userdel", name).CombinedOutput(); err == nil {
				return
			} else if i == 19 {
				t.Errorf("userdel %s: %v: %s", name, err, out)
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	out, err = exec.Command("id", "-u", name).Output()
	if err != nil {
		t.Fatalf("id -u %s: %v", name, err)
	}
	if _, err := fmt.Sscan(string(out), &uid); err != nil {
		t.Fatalf("id -u %s: %q", name, out)
	}
	return name, uid
}

// startServe runs `zonetop serve` on the lab's root until the test ends,
// and returns a copy of the binary any user may run.
func startServe(l *lab) string {
	t := l.t
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bin := copyBins(t, dir)
	serve := exec.Command(ztBin, "--root", l.root, "serve")
	serve.Stdout, serve.Stderr = os.Stderr, os.Stderr
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = serve.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = serve.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = serve.Process.Kill()
			<-done
		}
	})
	sock := configs.ServeSock(l.root)
	for i := 0; ; i++ {
		if st, err := os.Stat(sock); err == nil && st.Mode()&os.ModeSocket != 0 {
			break
		}
		if i > 400 {
			t.Fatal("zonetop serve never made its socket")
		}
		time.Sleep(25 * time.Millisecond)
	}
	return bin
}

// runAsUser runs bin under the lab's root as uid: exit status and stderr.
func runAsUser(l *lab, bin string, uid int, args ...string) (int, string) {
	l.t.Helper()
	cmd := exec.Command(bin, append([]string{"--root", l.root}, args...)...)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=/"}
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: 65534}}
	var errOut strings.Builder
	cmd.Stderr = &errOut
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), errOut.String()
	}
	if err != nil {
		l.t.Fatalf("%v: %v", args, err)
	}
	return 0, errOut.String()
}

// init and bootargs choose the command the zone's next boot runs as its
// root, so the config auth (which does not include login) must not reach
// them; autoboot stays the config user's.
func TestXCDelegatedConfigNoCode(t *testing.T) {
	l := newXCLab(t)
	user, uid := hostUser(t)
	z := l.newZone("busybox", "add admin", "set user="+user, "set auths=config", "end")
	bin := startServe(l)
	before := l.ok("zonecfg", "-z", z, "export")
	for _, cmd := range []string{
		"set init=/bin/sh",
		"set bootargs=-s",
		"set autoboot=true; set init=/bin/sh",
	} {
		code, errOut := runAsUser(l, bin, uid, "zonecfg", "-z", z, cmd)
		prop := "init"
		if strings.Contains(cmd, "bootargs") {
			prop = "bootargs"
		}
		if code != 1 || !strings.Contains(errOut, "permission denied") || !strings.Contains(errOut, prop) ||
			!strings.Contains(errOut, "what runs as the zone's root") {
			t.Errorf("%q as config user %s: exit %d, want 1 and a permission denied naming %s and why:\n%s", cmd, user, code, prop, errOut)
		}
	}
	if after := l.ok("zonecfg", "-z", z, "export"); after != before {
		t.Fatalf("refused commands changed the configuration:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	if code, errOut := runAsUser(l, bin, uid, "zonecfg", "-z", z, "set autoboot=true"); code != 0 {
		t.Fatalf("set autoboot as config user: exit %d: %s", code, errOut)
	}
	if got := l.ok("zonecfg", "-z", z, "export"); !strings.Contains(got, "set autoboot=true") {
		t.Errorf("autoboot not stored:\n%s", got)
	}
}

// xcVictim makes a directory with a marker file and returns a check that
// both are still there, unchanged.
func xcVictim(t *testing.T, dir string) func() {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	marker := filepath.Join(dir, "marker")
	if err := os.WriteFile(marker, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	return func() {
		t.Helper()
		if b, err := os.ReadFile(marker); err != nil || string(b) != "keep" {
			t.Fatalf("victim %s: marker %q, %v", dir, b, err)
		}
	}
}

// xcHandEdit replaces from by to in a zone's XML file.
func xcHandEdit(l *lab, zone, from, to string) string {
	l.t.Helper()
	file := filepath.Join(l.root, "etc/zonetop/zones", zone+".xml")
	b, err := os.ReadFile(file)
	if err != nil {
		l.t.Fatal(err)
	}
	if !strings.Contains(string(b), from) {
		l.t.Fatalf("%s does not hold %q:\n%s", file, from, b)
	}
	if err := os.WriteFile(file, []byte(strings.Replace(string(b), from, to, 1)), 0o644); err != nil {
		l.t.Fatal(err)
	}
	return file
}

// A zone file edited by hand past the rules of verify is reported broken
// and never acted on: no uninstall, boot, install or clone, in either
// direction; the directory its zonepath points at stays untouched.
func TestXCHandEditedConfigBroken(t *testing.T) {
	l := newXCLab(t)
	intact := xcVictim(t, filepath.Join(filepath.Dir(l.root), "victim"))
	inst := l.newZone("")
	l.ok("zoneadm", "-z", inst, "install")
	conf := l.newZone("")
	good := l.newZone("")
	escape := `zonepath="/zones/../../victim"`
	files := map[string]string{}
	for _, z := range []string{inst, conf} {
		files[z] = xcHandEdit(l, z, `zonepath="/zones/`+z+`"`, escape)
	}
	rule := `contains a ".." element`
	for _, z := range []string{inst, conf} {
		if v := l.verbose(z); !strings.Contains(v, "broken") || !strings.Contains(v, rule) || !strings.Contains(v, files[z]) {
			t.Errorf("zoneadm list -cv does not report %s broken: %q", z, v)
		}
	}
	if _, errOut, _ := l.run("zoneadm", "list", "-c"); !strings.Contains(errOut, inst+" is broken") {
		t.Errorf("zoneadm list -c says nothing of the broken zone on stderr: %q", errOut)
	}
	for _, args := range [][]string{
		{"zoneadm", "-z", inst, "uninstall", "-F"},
		{"zoneadm", "-z", inst, "boot"},
		{"zoneadm", "-z", inst, "ready"},
		{"zoneadm", "-z", conf, "install"},
		{"zoneadm", "-z", conf, "clone", good},
	} {
		l.fails(1, []string{files[args[2]], rule}, args...)
		intact()
	}
	// A sound zone cloned from a broken one: refused too.
	l.fails(1, []string{files[inst], rule}, "zoneadm", "-z", good, "clone", inst)
	intact()
	// Another rule of verify broken by hand: an rctl value out of range.
	capped := l.newZone("", "set max-lwps=500")
	cfile := xcHandEdit(l, capped, `limit="500"`, `limit="99999999999"`)
	l.fails(1, []string{cfile, "out of range"}, "zoneadm", "-z", capped, "install")
	if v := l.verbose(capped); !strings.Contains(v, "broken") {
		t.Errorf("zoneadm list -cv does not report %s broken: %q", capped, v)
	}
	// The repair: zonecfg opens the zone, says what is wrong, and takes
	// the recorded zonepath back even though the zone is installed.
	_, errOut, code := l.run("zonecfg", "-z", inst, "set zonepath=/zones/"+inst)
	if code != 0 || !strings.Contains(errOut, rule) {
		t.Fatalf("zonecfg repair of %s: exit %d: %s", inst, code, errOut)
	}
	if v := l.verbose(inst); strings.Contains(v, "broken") {
		t.Errorf("repaired zone still broken: %q", v)
	}
	l.ok("zonecfg", "-z", conf, "delete -F")
	l.ok("zonecfg", "-z", capped, "set max-lwps=400")
	intact()
}

// A zonepath whose parent is (or became) a symlink to a directory outside
// the root prefix: reported broken; uninstall and boot refuse it and what
// is behind the link stays.
func TestXCZonepathParentSymlink(t *testing.T) {
	l := newXCLab(t)
	z := l.newZone("", "set zonepath=/zones/lnk/xcz")
	if err := os.MkdirAll(filepath.Join(l.root, "zones/lnk"), 0o755); err != nil {
		t.Fatal(err)
	}
	l.ok("zoneadm", "-z", z, "install")
	outside := filepath.Join(filepath.Dir(l.root), "outside")
	if err := os.Rename(filepath.Join(l.root, "zones/lnk"), outside); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(l.root, "zones/lnk")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Put the zone back where it was, for the lab's uninstall.
		os.Remove(filepath.Join(l.root, "zones/lnk"))
		os.Rename(outside, filepath.Join(l.root, "zones/lnk"))
	})
	intact := xcVictim(t, filepath.Join(outside, "xcz", "root", "victim"))
	link := filepath.Join(l.root, "zones/lnk") + " is a symbolic link"
	if v := l.verbose(z); !strings.Contains(v, "broken") || !strings.Contains(v, link) {
		t.Errorf("zoneadm list -cv does not report %s broken: %q", z, v)
	}
	for _, args := range [][]string{
		{"zoneadm", "-z", z, "uninstall", "-F"},
		{"zoneadm", "-z", z, "boot"},
	} {
		l.fails(1, []string{link}, args...)
		intact()
	}
	other := l.newZone("", "set zonepath=/zones/lnk/xco")
	l.fails(1, []string{link}, "zoneadm", "-z", other, "install")
	if _, err := os.Lstat(filepath.Join(outside, "xco")); err == nil {
		t.Error("install made a zonepath behind the symlink")
	}
	intact()
}

// guarded runs the binary under the lab's root, failing the test if it
// has not returned after 30 s: what it must never do is wait on a file
// of the zone.
func guarded(l *lab, args ...string) (stdout, stderr string, code int) {
	l.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, ztBin, append([]string{"--root", l.root}, args...)...)
	var o, e strings.Builder
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ctx.Err() != nil {
		l.t.Fatalf("zonetop %s has not returned after 30 s\nstdout: %s\nstderr: %s", strings.Join(args, " "), o.String(), e.String())
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return o.String(), e.String(), ee.ExitCode()
	} else if err != nil {
		l.t.Fatalf("zonetop %s: %v", strings.Join(args, " "), err)
	}
	return o.String(), e.String(), 0
}

// guardedOK is guarded wanting exit status 0.
func guardedOK(l *lab, args ...string) string {
	l.t.Helper()
	out, errOut, code := guarded(l, args...)
	if code != 0 {
		l.t.Fatalf("zonetop %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// waitLog waits (boundedly) for zoneadmd's log of zone to mention want.
func waitLog(l *lab, zone, want string) {
	l.t.Helper()
	file := filepath.Join(l.root, "var/log/zonetop", zone+".zoneadmd.log")
	for i := 0; i < 400; i++ {
		if b, _ := os.ReadFile(file); strings.Contains(string(b), want) {
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	b, _ := os.ReadFile(file)
	l.t.Errorf("zoneadmd's log never said %q:\n%s", want, b)
}

// vmHWM is the peak resident memory of a process, in kB.
func vmHWM(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			var kb int
			fmt.Sscan(f[1], &kb)
			return kb
		}
	}
	t.Fatalf("no VmHWM in /proc/%d/status", pid)
	return 0
}

// Files zonetop reads from a zone root are the zone administrator's: a
// FIFO, a 100 MB sparse file or a symlink to a host file at /etc/project,
// /etc/passwd, /etc/inittab or /etc/hostname is refused by name, and no
// zoneadmd, zsched, init or front end waits on it.
func TestXCZoneFilesFIFOSizeSymlink(t *testing.T) {
	needBusybox(t)
	l := newXCLab(t)
	z := l.newZone("busybox")
	l.ok("zoneadm", "-z", z, "install")
	zroot := filepath.Join(l.zonepath(z), "root")
	guardedOK(l, "zoneadm", "-z", z, "boot")

	// Made by the zone's root, inside the zone: the watch reads it.
	guardedOK(l, "zlogin", z, "sh", "-c", "rm /etc/project && mkfifo /etc/project")
	waitLog(l, z, "/etc/project: a FIFO, not a regular file")
	_, errOut, code := guarded(l, "zlogin", z, api.ZoneBinaryPath, "projects")
	if code == 0 || !strings.Contains(errOut, "/etc/project: a FIFO, not a regular file") {
		t.Errorf("projects in the zone with a FIFO at /etc/project: exit %d: %s", code, errOut)
	}
	// zsched looks users up in /etc/passwd: a FIFO there refuses the
	// user by name, and root still gets in to repair it.
	guardedOK(l, "zlogin", z, "sh", "-c", "cp /etc/passwd /etc/passwd.good && rm /etc/passwd && mkfifo /etc/passwd")
	if _, errOut, code := guarded(l, "zlogin", "-l", "nobody", z, "true"); code == 0 || !strings.Contains(errOut, "/etc/passwd: a FIFO, not a regular file") {
		t.Errorf("zlogin -l nobody with a FIFO at /etc/passwd: exit %d: %s", code, errOut)
	}
	guardedOK(l, "zlogin", z, "sh", "-c", "rm /etc/passwd && mv /etc/passwd.good /etc/passwd")
	guardedOK(l, "zoneadm", "-z", z, "halt")
	// ready reads /etc/project too: the zone comes up with the default
	// projects and says why, for its administrator to repair it.
	guardedOK(l, "zoneadm", "-z", z, "boot")
	waitConsole(l, z, "/etc/project: a FIFO, not a regular file; the default projects apply")
	guardedOK(l, "zoneadm", "-z", z, "halt")
	project := filepath.Join(zroot, "etc/project")
	if err := os.Remove(project); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(project, []byte("system:0::::\nuser.root:1::::\nnoproject:2::::\ndefault:3::::\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	// init reads /etc/inittab at boot.
	inittab := filepath.Join(zroot, "etc/inittab")
	if err := os.Remove(inittab); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(inittab, 0o644); err != nil {
		t.Fatal(err)
	}
	guardedOK(l, "zoneadm", "-z", z, "boot")
	waitConsole(l, z, "/etc/inittab: a FIFO, not a regular file")
	guardedOK(l, "zoneadm", "-z", z, "halt")
	if err := os.Remove(inittab); err != nil {
		t.Fatal(err)
	}

	// 100 MB, sparse: refused by its size, never read.
	guardedOK(l, "zoneadm", "-z", z, "boot")
	guardedOK(l, "zlogin", z, "truncate", "-s", "100M", "/etc/project")
	waitLog(l, z, "/etc/project: 104857600 bytes, over the")
	_, errOut, code = guarded(l, "zlogin", z, api.ZoneBinaryPath, "projects")
	if code == 0 || !strings.Contains(errOut, "/etc/project: 104857600 bytes, over the") {
		t.Errorf("projects in the zone with a 100 MB /etc/project: exit %d: %s", code, errOut)
	}
	b, err := os.ReadFile(filepath.Join(l.root, "run/zonetop", z, "zoneadmd.pid"))
	if err != nil {
		t.Fatal(err)
	}
	var pid int
	fmt.Sscan(string(b), &pid)
	if kb := vmHWM(t, pid); kb > 80<<10 {
		t.Errorf("zoneadmd's peak memory is %d kB with a 100 MB /etc/project", kb)
	}

	// A symlink to a host file is refused as a symlink: neither the
	// host's file nor the zone's is read.
	guardedOK(l, "zlogin", z, "sh", "-c", "rm /etc/project && ln -s /etc/shadow /etc/project")
	waitLog(l, z, "/etc/project: a symbolic link, not a regular file")
	_, errOut, code = guarded(l, "zlogin", z, api.ZoneBinaryPath, "projects")
	if code == 0 || !strings.Contains(errOut, "/etc/project: a symbolic link, not a regular file") || strings.Contains(errOut, "root:") {
		t.Errorf("projects in the zone with /etc/project → /etc/shadow: exit %d: %s", code, errOut)
	}
	guardedOK(l, "zoneadm", "-z", z, "halt")
	if err := os.Remove(project); err != nil {
		t.Fatal(err)
	}

	// clone renames the zone in /etc/hostname: a FIFO there is left alone.
	hostname := filepath.Join(zroot, "etc/hostname")
	if err := os.Remove(hostname); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(hostname, 0o644); err != nil {
		t.Fatal(err)
	}
	c := l.newZone("busybox")
	guardedOK(l, "zoneadm", "-z", c, "clone", z)
	if st, err := os.Lstat(filepath.Join(l.zonepath(c), "root/etc/hostname")); err != nil || st.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("the clone's /etc/hostname: %v %v", st.Mode(), err)
	}
}

// waitConsole waits (boundedly) for the zone's console log to say want.
func waitConsole(l *lab, zone, want string) {
	l.t.Helper()
	file := filepath.Join(l.root, "var/log/zonetop", zone+".console")
	for i := 0; i < 400; i++ {
		if b, _ := os.ReadFile(file); strings.Contains(string(b), want) {
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	b, _ := os.ReadFile(file)
	l.t.Errorf("the console of %s never said %q:\n%s", zone, want, b)
}

// uninstall -F of a zone whose root holds symlinks out of it, some there
// before and one swapped in and out for a directory while the removal
// runs: the links go as links, and nothing behind them is touched.
func TestXCUninstallSymlinksInRoot(t *testing.T) {
	l := newXCLab(t)
	victim := filepath.Join(filepath.Dir(l.root), "victim")
	intact := xcVictim(t, victim)
	z := l.newZone("")
	l.ok("zoneadm", "-z", z, "install")
	zroot := filepath.Join(l.zonepath(z), "root")
	for name, target := range map[string]string{
		"escape-dir":       victim,
		"tmp/escape-file":  filepath.Join(victim, "marker"),
		"var/escape-rel":   "../../../../../victim",
		"root/escape-deep": filepath.Join(victim, "."),
	} {
		if err := os.Symlink(target, filepath.Join(zroot, name)); err != nil {
			t.Fatal(err)
		}
	}
	// Enough entries that the removal takes a while, and a directory
	// that becomes a symlink to the victim and back while it runs.
	bulk := filepath.Join(zroot, "var", "bulk")
	for i := 0; i < 50; i++ {
		d := filepath.Join(bulk, fmt.Sprintf("d%02d", i))
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		for j := 0; j < 40; j++ {
			if err := os.WriteFile(filepath.Join(d, fmt.Sprintf("f%02d", j)), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	swap := filepath.Join(zroot, "var", "swap")
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			// Mkdir, not MkdirAll: once the removal took var, nothing
			// here may make the zonepath again.
			_ = os.Mkdir(swap, 0o755)
			_ = os.Mkdir(filepath.Join(swap, "sub"), 0o755)
			_ = os.Rename(swap, swap+".dir")
			_ = os.Symlink(victim, swap)
			_ = os.Remove(swap)
			_ = os.Rename(swap+".dir", swap)
		}
	}()
	_, errOut, code := l.run("zoneadm", "-z", z, "uninstall", "-F")
	close(stop)
	<-done
	intact()
	if code != 0 {
		// The race may make the removal stop (a directory became a
		// link under it); a second run finishes what is left.
		t.Logf("uninstall -F during the swaps: exit %d: %s", code, errOut)
		l.ok("zoneadm", "-z", z, "uninstall", "-F")
	}
	intact()
	if _, err := os.Lstat(l.zonepath(z)); err == nil {
		t.Errorf("zonepath %s still there", l.zonepath(z))
	}
}
