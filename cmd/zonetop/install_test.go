package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// make install lays out what a packager ships: the binary, the per-zone
// binary beside it, every command link and the units with their paths under PREFIX; uninstall takes all
// of it away again.
func TestMakeInstall(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("no make")
	}
	dest := t.TempDir()
	// A binary of its own: the tree's bin/zonetop may be in use.
	built := filepath.Join(t.TempDir(), "zonetop")
	run := func(target string) {
		t.Helper()
		cmd := exec.Command("make", "-s", "-C", "../..", target, "DESTDIR="+dest, "PREFIX=/opt/zt", "BIN="+built)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("make %s: %v\n%s", target, err, out)
		}
	}
	run("install")
	bin := filepath.Join(dest, "opt/zt/bin")
	if fi, err := os.Stat(filepath.Join(bin, "zonetop")); err != nil || fi.Mode()&0o111 == 0 {
		t.Fatalf("no executable zonetop: %v", err)
	}
	// zonetop finds the per-zone binary beside itself, and a link would
	// let whoever owns its target change what every zone runs.
	if fi, err := os.Lstat(filepath.Join(bin, "zoneadmd")); err != nil || !fi.Mode().IsRegular() || fi.Mode()&0o111 == 0 {
		t.Fatalf("no executable zoneadmd beside zonetop: %v", err)
	}
	// It is the per-zone binary, not another copy of zonetop: by hand it
	// only says what it is for.
	out, err := exec.Command(filepath.Join(bin, "zoneadmd"), "--help").CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), "zonetop starts this binary") {
		t.Errorf("zoneadmd --help: %v\n%s", err, out)
	}
	for _, l := range []string{"zonecfg", "zoneadm", "zlogin", "prctl", "projects", "projadd", "projmod", "projdel", "newtask", "zonestat"} {
		if target, err := os.Readlink(filepath.Join(bin, l)); err != nil || target != "zonetop" {
			t.Errorf("link %s: %q %v", l, target, err)
		}
	}
	units, _ := filepath.Glob(filepath.Join(dest, "opt/zt/lib/systemd/system/*.service"))
	if len(units) != 2 {
		t.Fatalf("units: %v", units)
	}
	for _, u := range units {
		b, _ := os.ReadFile(u)
		if !strings.Contains(string(b), "ExecStart=/opt/zt/bin/zonetop ") || strings.Contains(string(b), "/usr/local/") {
			t.Errorf("%s does not name the installed binary:\n%s", u, b)
		}
	}
	for _, f := range []string{"share/man/man8/zoneadm.8", "share/man/man1/prctl.1", "share/man/man8/zonetop.8",
		"share/bash-completion/completions/zonetop", "share/bash-completion/completions/zlogin",
		"share/zsh/site-functions/_zonetop", "share/fish/vendor_completions.d/zonecfg.fish"} {
		if b, err := os.ReadFile(filepath.Join(dest, "opt/zt", f)); err != nil || len(b) == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	run("uninstall")
	var left []string
	_ = filepath.Walk(dest, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			left = append(left, p)
		}
		return nil
	})
	if len(left) != 0 {
		t.Errorf("uninstall left %v", left)
	}
}
