package engine

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"zonetop/internal/pathrs"
)

// victim makes a directory outside every zonepath with a marker file in
// it, and returns a check that it is untouched.
func victim(t *testing.T, dir string) func() {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	marker := filepath.Join(dir, "sub", "marker")
	if err := os.WriteFile(marker, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, dir)
	return func() {
		t.Helper()
		if b, err := os.ReadFile(marker); err != nil || string(b) != "keep" {
			t.Fatalf("victim's marker: %q %v", b, err)
		}
		if after := snapshot(t, dir); after != before {
			t.Fatalf("victim changed:\n%s\n%s", before, after)
		}
	}
}

// A zonepath with ".." or outside the root prefix is refused as written,
// before cleaning could make it look like another path.
func TestUninstallBeneathRefusesEscapes(t *testing.T) {
	installNeedRoot(t)
	base := t.TempDir()
	root := filepath.Join(base, "prefix")
	if err := os.MkdirAll(filepath.Join(root, "zones"), 0o755); err != nil {
		t.Fatal(err)
	}
	intact := victim(t, filepath.Join(base, "victim"))
	for _, zp := range []string{
		root + "/zones/../../victim",
		filepath.Join(base, "victim"),
		root,
	} {
		err := uninstallBeneath(context.Background(), root, zp, true)
		if err == nil || !(strings.Contains(err.Error(), `".."`) || strings.Contains(err.Error(), "root prefix")) {
			t.Errorf("uninstall %s beneath %s: %v", zp, root, err)
		}
		intact()
		if err := pathrs.CheckZonepathOnHost(root, zp); err == nil {
			t.Errorf("CheckZonepathOnHost(%s) accepted it", zp)
		}
	}
}

// A symlink above the zonepath is never followed, by uninstall nor by
// install: both refuse it, naming it.
func TestZonepathParentSymlinkRefused(t *testing.T) {
	installNeedRoot(t)
	base := t.TempDir()
	root := filepath.Join(base, "prefix")
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	outside := filepath.Join(base, "victim")
	intact := victim(t, outside)
	if err := os.Symlink(outside, filepath.Join(root, "zones")); err != nil {
		t.Fatal(err)
	}
	zp := filepath.Join(root, "zones", "sub")
	err := uninstallBeneath(context.Background(), root, zp, true)
	if err == nil || !strings.Contains(err.Error(), filepath.Join(root, "zones")+" is a symbolic link") {
		t.Errorf("uninstall through a symlinked parent: %v", err)
	}
	intact()
	err = installRoot(context.Background(), installParams{Zonepath: filepath.Join(root, "zones", "new"), Root: root, ZoneName: "xcn"})
	if err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("install through a symlinked parent: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(outside, "new")); err == nil {
		t.Error("install made a zonepath through the symlink")
	}
	intact()
	// With the root prefix "/", no component may be a symlink.
	if err := uninstallRoot(context.Background(), zp, true); err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("Uninstall through a symlinked parent: %v", err)
	}
	intact()
}

// A directory of the zone root swapped for a symlink to the victim
// between the stat that saw a directory and its opening: the removal
// stops there and the victim is untouched.
func TestUninstallRaceSymlinkSwap(t *testing.T) {
	base, zp := installedSparse(t)
	intact := victim(t, filepath.Join(base, "victim"))
	target := filepath.Join(zp, "root", "var", "tmp")
	swapped := false
	removeHook = func(p string) {
		if p == target && !swapped {
			swapped = true
			if err := os.Rename(target, target+".moved"); err != nil {
				t.Error(err)
			}
			if err := os.Symlink(filepath.Join(base, "victim"), target); err != nil {
				t.Error(err)
			}
		}
	}
	t.Cleanup(func() { removeHook = nil })
	err := uninstallBeneath(context.Background(), base, zp, true)
	if !swapped {
		t.Fatalf("the hook never ran at %s (err %v)", target, err)
	}
	intact()
	removeHook = nil
	// What the race left is removed as it is: the link as a link.
	if err := uninstallBeneath(context.Background(), base, zp, true); err != nil {
		t.Fatal(err)
	}
	intact()
}
