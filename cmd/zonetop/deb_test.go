package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"zonetop/internal/ztest"
)

// The Debian package built from the tree installs beside Debian's own
// prctl package (which owns /usr/bin/prctl and prctl(1)), gives root the
// zones prctl first on its PATH, runs, and is removed without a trace.
func TestDebianPackage(t *testing.T) {
	ztest.RequireRoot(t, "installing a package into a scratch dpkg root")
	// As TestMakeInstall: the v2 ring's guest runs prebuilt tests and
	// has no build tools; packaging is proven on the build host.
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("no make: packaging is tested where zonetop is built")
	}
	for _, tool := range []string{"dpkg-deb", "dpkg"} {
		if _, err := exec.LookPath(tool); err != nil {
			ztest.Unavailable(t, tool+" missing")
		}
	}
	out := t.TempDir()
	// Binaries of its own: the tree's bin/ may be in use.
	bins := t.TempDir()
	mk := exec.Command("./scripts/deb.sh", out)
	mk.Dir = "../.."
	mk.Env = append(os.Environ(), "CGO_ENABLED=0", "BIN="+filepath.Join(bins, "zonetop"), "ZBIN="+filepath.Join(bins, "zoneadmd"))
	b, err := mk.CombinedOutput()
	if err != nil {
		t.Fatalf("scripts/deb.sh: %v\n%s", err, b)
	}
	debs, _ := filepath.Glob(filepath.Join(out, "zonetop_*.deb"))
	if len(debs) != 1 {
		t.Fatalf("scripts/deb.sh made %v; said %s", debs, b)
	}
	deb := debs[0]
	list, err := exec.Command("dpkg-deb", "-c", deb).CombinedOutput()
	if err != nil {
		t.Fatalf("dpkg-deb -c: %v\n%s", err, list)
	}
	for _, want := range []string{"./usr/bin/zonetop", "./usr/bin/zoneadmd", "./usr/sbin/prctl -> ../bin/zonetop", "./usr/bin/zoneadm -> zonetop",
		"./usr/share/man/man8/prctl.8.gz", "./usr/share/man/man8/zoneadm.8.gz", "./usr/lib/systemd/system/zonetop-autoboot.service"} {
		if !strings.Contains(string(list), want) {
			t.Errorf("the package lacks %s:\n%s", want, list)
		}
	}
	for _, clash := range []string{"./usr/bin/prctl", "man1/prctl.1"} {
		if strings.Contains(string(list), clash) {
			t.Errorf("the package ships %s, which Debian's prctl package owns", clash)
		}
	}

	// A stand-in for Debian's prctl package, with the files it owns.
	fake := t.TempDir()
	for p, body := range map[string]string{
		"DEBIAN/control":                "Package: prctl\nVersion: 1.6-1\nArchitecture: all\nMaintainer: test <test@localhost>\nDescription: stand-in\n stand-in for the test\n",
		"usr/bin/prctl":                 "#!/bin/sh\necho debian-prctl\n",
		"usr/share/man/man1/prctl.1.gz": "stand-in",
	} {
		ztest.Must(t, os.MkdirAll(filepath.Dir(filepath.Join(fake, p)), 0o755))
		ztest.Must(t, os.WriteFile(filepath.Join(fake, p), []byte(body), 0o755))
	}
	fakeDeb := filepath.Join(out, "prctl.deb")
	if b, err := exec.Command("dpkg-deb", "--root-owner-group", "--build", fake, fakeDeb).CombinedOutput(); err != nil {
		t.Fatalf("stand-in package: %v\n%s", err, b)
	}
	root := t.TempDir()
	for _, d := range []string{"var/lib/dpkg/info", "var/lib/dpkg/updates"} {
		ztest.Must(t, os.MkdirAll(filepath.Join(root, d), 0o755))
	}
	ztest.Must(t, os.WriteFile(filepath.Join(root, "var/lib/dpkg/status"), nil, 0o644))
	dpkg := func(args ...string) {
		t.Helper()
		if b, err := exec.Command("dpkg", append([]string{"--root=" + root}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("dpkg %v: %v\n%s", args, err, b)
		}
	}
	dpkg("-i", fakeDeb, deb)
	// Root's PATH order: /usr/sbin before /usr/bin.
	v, err := exec.Command(filepath.Join(root, "usr/sbin/prctl"), "--version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(v), "zonetop ") {
		t.Errorf("/usr/sbin/prctl --version: %v %q", err, v)
	}
	dpkg("-r", "zonetop")
	var left []string
	_ = filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() && !strings.Contains(p, "/var/lib/dpkg/") {
			left = append(left, strings.TrimPrefix(p, root))
		}
		return nil
	})
	// Walk goes in lexical order.
	if strings.Join(left, " ") != "/usr/bin/prctl /usr/share/man/man1/prctl.1.gz" {
		t.Errorf("after removing zonetop, want only the stand-in prctl's files; found %v", left)
	}
}
