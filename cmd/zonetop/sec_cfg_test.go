package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"zonetop/engine"
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
	bin := filepath.Join(dir, "zonetop")
	b, err := os.ReadFile(ztBin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
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
	sock := engine.ServeSock(l.root)
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
		"set bootargs=-c touch /tmp/owned",
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
