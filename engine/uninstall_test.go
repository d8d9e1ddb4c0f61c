package engine

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"zonetop/internal/pathrs"

	"golang.org/x/sys/unix"
)

func installedSparse(t *testing.T) (base, zp string) {
	t.Helper()
	installNeedRoot(t)
	base = t.TempDir()
	zp = filepath.Join(base, "zp")
	if err := installRoot(context.Background(), installParams{Zonepath: zp, ZoneName: "u1"}); err != nil {
		t.Fatal(err)
	}
	return base, zp
}

// bindMount binds src on dst for the rest of the test.
func bindMount(t *testing.T, src, dst string) {
	t.Helper()
	if err := unix.Mount(src, dst, "", unix.MS_BIND, ""); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("bind mount: %v", err)
		}
		t.Skipf("bind mount: %v", err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dst, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			t.Errorf("unmount %s: %v", dst, err)
		}
	})
}

func TestUninstallRemovesZonepath(t *testing.T) {
	_, zp := installedSparse(t)
	if err := uninstallRoot(context.Background(), zp, false); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(zp); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("zonepath still there: %v", err)
	}
	// Uninstalling what is gone is done already.
	if err := uninstallRoot(context.Background(), zp, false); err != nil {
		t.Errorf("second uninstall: %v", err)
	}
	if err := uninstallRoot(context.Background(), "relative", true); err == nil {
		t.Error("relative zonepath accepted")
	}
	if err := uninstallRoot(context.Background(), "/", true); err == nil {
		t.Error("/ accepted")
	}
}

func TestUninstallRefusesWhileMounted(t *testing.T) {
	base, zp := installedSparse(t)
	outside := filepath.Join(base, "outside")
	if err := os.Mkdir(outside, 0o755); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(outside, "secret")
	if err := os.WriteFile(secret, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(zp, "root/usr")
	bindMount(t, outside, target)
	err := uninstallRoot(context.Background(), zp, true)
	if err == nil || !strings.Contains(err.Error(), "still mounted") || !strings.Contains(err.Error(), target) {
		t.Fatalf("want a refusal naming %s, got %v", target, err)
	}
	if readString(t, secret) != "keep" {
		t.Fatal("mounted file removed")
	}
	if _, err := os.Stat(filepath.Join(zp, "root/etc/passwd")); err != nil {
		t.Errorf("refused uninstall removed files: %v", err)
	}
	// The mount-ID check stands on its own too, should the mount table
	// miss a mount.
	at, err := pathrs.OpenZonepath("/", zp)
	if err != nil {
		t.Fatal(err)
	}
	defer at.Close()
	if err := removeZonepathAt(context.Background(), at.Pfd, at.Base, zp, false); err == nil || !strings.Contains(err.Error(), "mounted there") {
		t.Errorf("removeZonepath crossed a mount: %v", err)
	}
	if readString(t, secret) != "keep" {
		t.Fatal("mounted file removed")
	}
	if err := unix.Unmount(target, unix.MNT_DETACH); err != nil {
		t.Fatal(err)
	}
	if err := uninstallRoot(context.Background(), zp, true); err != nil {
		t.Fatalf("after unmount: %v", err)
	}
}

func TestUninstallNeverFollowsSymlinks(t *testing.T) {
	base, zp := installedSparse(t)
	outside := filepath.Join(base, "outside")
	if err := os.MkdirAll(filepath.Join(outside, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(outside, "sub", "file")
	if err := os.WriteFile(secret, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(zp, "root")
	for name, target := range map[string]string{
		"escape":          outside,
		"tmp/escape-file": secret,
		"var/escape-rel":  "../../../outside",
		"root/escape-sub": filepath.Join(outside, "sub"),
	} {
		if err := os.Symlink(target, filepath.Join(root, name)); err != nil {
			t.Fatal(err)
		}
	}
	before := snapshot(t, outside)
	if err := uninstallRoot(context.Background(), zp, false); err != nil {
		t.Fatal(err)
	}
	if after := snapshot(t, outside); after != before {
		t.Errorf("outside changed:\n%s\n%s", before, after)
	}
	if readString(t, secret) != "keep" {
		t.Error("file behind the symlink changed")
	}
}

func TestUninstallZonepathSymlinkRefused(t *testing.T) {
	installNeedRoot(t)
	base := t.TempDir()
	real := filepath.Join(base, "real")
	if err := os.Mkdir(real, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(real, "root"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(base, "zp")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	if err := uninstallRoot(context.Background(), link, true); err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Fatalf("got %v", err)
	}
	if readString(t, filepath.Join(real, "root")) != "x" {
		t.Error("symlinked zonepath's target emptied")
	}
}

func TestUninstallForeignZonepathNeedsForce(t *testing.T) {
	_, zp := installedSparse(t)
	if err := os.WriteFile(filepath.Join(zp, "notes"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := uninstallRoot(context.Background(), zp, false)
	if err == nil || !strings.Contains(err.Error(), "notes") || !strings.Contains(err.Error(), "-F") {
		t.Fatalf("want a refusal naming notes, got %v", err)
	}
	if _, err := os.Stat(filepath.Join(zp, "root/etc/passwd")); err != nil {
		t.Fatalf("refused uninstall removed files: %v", err)
	}
	if err := uninstallRoot(context.Background(), zp, true); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(zp); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("zonepath still there: %v", err)
	}
}

func TestUninstallCancelled(t *testing.T) {
	_, zp := installedSparse(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := uninstallRoot(ctx, zp, false); !errors.Is(err, context.Canceled) {
		t.Fatalf("want context.Canceled, got %v", err)
	}
	if err := uninstallRoot(context.Background(), zp, false); err != nil {
		t.Fatalf("finishing a cancelled uninstall: %v", err)
	}
}

func BenchmarkInstallSparse(b *testing.B) {
	installNeedRoot(b)
	dir := b.TempDir()
	for i := 0; i < b.N; i++ {
		zp := filepath.Join(dir, "zp")
		if err := installRoot(context.Background(), installParams{Zonepath: zp, ZoneName: "bench"}); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := uninstallRoot(context.Background(), zp, false); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}
