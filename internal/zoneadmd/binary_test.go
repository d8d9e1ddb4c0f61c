package zoneadmd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// An operator who copied zonetop alone (to /usr/local/bin, say) gets an
// error that names the missing per-zone binary and where it belongs, and
// no zoneadmd runs from anything else.
func TestStartWithoutPerZoneBinary(t *testing.T) {
	if hidden.Load() || binaryOverride.Load() != nil {
		t.Skip("this process has a per-zone binary set")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Skip(err)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(exe), BinaryName)); err == nil {
		t.Skip("a zoneadmd sits beside the test binary")
	}
	_, err = Binary()
	if err == nil || !strings.Contains(err.Error(), "per-zone binary") || !strings.Contains(err.Error(), filepath.Join(filepath.Dir(exe), BinaryName)) {
		t.Fatalf("Binary() = %v, want an error naming %s", err, filepath.Join(filepath.Dir(exe), BinaryName))
	}
	root := t.TempDir()
	err = StartZoneadmd(root, "zlmissing")
	if err == nil || !strings.Contains(err.Error(), "per-zone binary") {
		t.Fatalf("StartZoneadmd = %v, want the missing per-zone binary", err)
	}
	if ZoneadmdRunning(root, "zlmissing") {
		t.Fatal("a zoneadmd answers without the per-zone binary")
	}
}

// A file by that name that cannot be executed (a half-finished copy, a
// directory a packager made) is refused as clearly as a missing one.
func TestPerZoneBinaryNotExecutable(t *testing.T) {
	if hidden.Load() || binaryOverride.Load() != nil {
		t.Skip("this process has a per-zone binary set")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Skip(err)
	}
	p := filepath.Join(filepath.Dir(exe), BinaryName)
	if _, err := os.Stat(p); err == nil {
		t.Skip("a zoneadmd sits beside the test binary")
	}
	// The test binary's directory is go test's own scratch directory.
	if err := os.WriteFile(p, []byte("not yet"), 0o644); err != nil {
		t.Skip(err)
	}
	defer os.Remove(p)
	if _, err := Binary(); err == nil || !strings.Contains(err.Error(), "not an executable") {
		t.Fatalf("Binary() with a 0644 file = %v", err)
	}
	os.Remove(p)
	if err := os.Mkdir(p, 0o755); err != nil {
		t.Skip(err)
	}
	defer os.Remove(p)
	if _, err := Binary(); err == nil || !strings.Contains(err.Error(), "not an executable") {
		t.Fatalf("Binary() with a directory = %v", err)
	}
}

// A per-zone process starts its own kind from the file it runs from, even
// with an override set for a front end in the same process (tests).
func TestHiddenStartsFromSelf(t *testing.T) {
	if hidden.Load() {
		t.Skip("already hidden")
	}
	hidden.Store(true)
	defer hidden.Store(false)
	if p, err := Binary(); err != nil || p != "/proc/self/exe" {
		t.Fatalf("Binary() in a per-zone process = %q, %v", p, err)
	}
}

// zoneadmd without zinit beside it (a package that left it out, a copy of
// the two Go binaries alone) names the file it looked for, missing or
// not executable, rather than booting a zone with no init.
func TestZinitBesideZoneadmd(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(filepath.Dir(exe), ZinitName)
	if _, err := os.Stat(p); err == nil {
		t.Skip("a zinit sits beside the test binary")
	}
	if _, err := zinitBinary(); err == nil || !strings.Contains(err.Error(), p+" is missing") {
		t.Fatalf("zinitBinary() = %v, want an error naming %s", err, p)
	}
	// The test binary's directory is go test's own scratch directory.
	if err := os.WriteFile(p, []byte("not yet"), 0o644); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(p)
	if _, err := zinitBinary(); err == nil || !strings.Contains(err.Error(), p+" is not an executable") {
		t.Fatalf("zinitBinary() with a 0644 file = %v", err)
	}
	if err := os.Chmod(p, 0o755); err != nil {
		t.Fatal(err)
	}
	if got, err := zinitBinary(); err != nil || got != p {
		t.Fatalf("zinitBinary() = %q, %v, want %s", got, err, p)
	}
}
