package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
	"zonetop/api"
	"zonetop/internal/ztest"

	"golang.org/x/sys/unix"
)

// cloneSource builds a zone root with one of each thing a copy can get
// wrong, and returns its root.
func cloneSource(t *testing.T, dir string) string {
	t.Helper()
	root := filepath.Join(dir, "src", "root")
	ztest.Must(t, os.MkdirAll(filepath.Join(root, "etc"), 0o755))
	ztest.Must(t, os.MkdirAll(filepath.Join(root, "home/user/deep/er"), 0o755))
	ztest.Must(t, os.WriteFile(filepath.Join(root, "etc/hostname"), []byte("src\n"), 0o644))
	ztest.Must(t, os.WriteFile(filepath.Join(root, "etc/hosts"), []byte("# zone src\n127.0.0.1\tlocalhost\n127.0.1.1\tsrc src.example srcx\n"), 0o640))
	ztest.Must(t, os.WriteFile(filepath.Join(root, "home/user/deep/er/data"), []byte(strings.Repeat("zone data ", 10000)), 0o600))
	ztest.Must(t, os.Chown(filepath.Join(root, "home/user"), 1000, 1000))
	ztest.Must(t, os.Chown(filepath.Join(root, "home/user/deep/er/data"), 1000, 1001))
	ztest.Must(t, os.Chmod(filepath.Join(root, "home/user"), 0o750))
	// setuid root, and a file capability, both cleared by a careless chown.
	ztest.Must(t, os.WriteFile(filepath.Join(root, "suid"), []byte("#!/bin/sh\n"), 0o755))
	ztest.Must(t, os.Chmod(filepath.Join(root, "suid"), 0o4755))
	ztest.Must(t, os.WriteFile(filepath.Join(root, "capped"), []byte("x"), 0o755))
	// VFS_CAP_REVISION_2 with cap_net_raw (13) permitted and effective.
	capv := []byte{0x01, 0x00, 0x00, 0x02, 0x00, 0x20, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	ztest.Must(t, unix.Setxattr(filepath.Join(root, "capped"), "security.capability", capv, 0))
	ztest.Must(t, unix.Setxattr(filepath.Join(root, "capped"), "user.note", []byte("kept"), 0))
	ztest.Must(t, os.Link(filepath.Join(root, "suid"), filepath.Join(root, "home/suid-link")))
	// Symlinks that point out of the root must be copied, never followed.
	ztest.Must(t, os.Symlink("/etc/passwd", filepath.Join(root, "abs-link")))
	ztest.Must(t, os.Symlink("../../../../..", filepath.Join(root, "home/up-link")))
	ztest.Must(t, unix.Mkfifo(filepath.Join(root, "fifo"), 0o620))
	ztest.Must(t, unix.Mknod(filepath.Join(root, "null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))))
	ztest.Must(t, os.Mkdir(filepath.Join(root, "tmp"), 0o755))
	ztest.Must(t, os.Chmod(filepath.Join(root, "tmp"), 0o1777))
	old := time.Date(2001, 2, 3, 4, 5, 6, 700, time.UTC)
	for _, p := range []string{"home/user/deep/er/data", "home/user/deep/er", "etc", "tmp"} {
		ztest.Must(t, os.Chtimes(filepath.Join(root, p), old, old))
	}
	ztest.Must(t, unix.Lutimes(filepath.Join(root, "abs-link"), []unix.Timeval{unix.NsecToTimeval(old.UnixNano()), unix.NsecToTimeval(old.UnixNano())}))
	return root
}

// treeOf describes every entry under root: type, mode, owner, size, mtime,
// link target, device, extended attributes and content, with hard links
// named by their first path.
func treeOf(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	inodes := map[uint64]string{}
	err := filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "." {
			return nil
		}
		st := info.Sys().(*syscall.Stat_t)
		d := fmt.Sprintf("mode=%o uid=%d gid=%d size=%d mtime=%d rdev=%d", st.Mode, st.Uid, st.Gid, st.Size, st.Mtim.Nano(), st.Rdev)
		if st.Mode&unix.S_IFMT != unix.S_IFDIR && st.Nlink > 1 {
			if first, ok := inodes[st.Ino]; ok {
				d += " link-of=" + first
			} else {
				inodes[st.Ino] = rel
			}
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFLNK:
			target, _ := os.Readlink(p)
			d += " -> " + target
		case unix.S_IFREG:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			d += fmt.Sprintf(" content=%x", b[:min(len(b), 32)])
			sz, _ := unix.Llistxattr(p, nil)
			if sz > 0 {
				buf := make([]byte, sz)
				sz, _ = unix.Llistxattr(p, buf)
				names := strings.Split(strings.TrimRight(string(buf[:sz]), "\x00"), "\x00")
				sort.Strings(names)
				for _, n := range names {
					v := make([]byte, 256)
					vn, _ := unix.Lgetxattr(p, n, v)
					d += fmt.Sprintf(" %s=%x", n, v[:max(vn, 0)])
				}
			}
		}
		out[rel] = d
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestCloneCopiesEverything(t *testing.T) {
	installNeedRoot(t)
	dir := t.TempDir()
	src := cloneSource(t, dir)
	before := treeOf(t, src)
	zp := filepath.Join(dir, "new")
	var reports []api.Progress
	err := cloneRoot(context.Background(), cloneParams{Zonepath: zp, SourceRoot: src, ZoneName: "dst", SourceName: "src",
		Progress: func(p api.Progress) { reports = append(reports, p) }})
	if err != nil {
		t.Fatal(err)
	}
	wantMode(t, zp, unix.S_IFDIR, 0o700)
	wantMode(t, filepath.Join(zp, "root"), unix.S_IFDIR, 0o755)
	got := treeOf(t, filepath.Join(zp, "root"))
	if after := treeOf(t, src); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("the source changed:\nbefore %v\nafter  %v", before, after)
	}
	for rel, want := range before {
		if rel == "etc/hostname" || rel == "etc/hosts" || rel == "etc" {
			continue // renamed below; etc's mtime moves with them
		}
		if got[rel] != want {
			t.Errorf("%s:\n got %s\nwant %s", rel, got[rel], want)
		}
	}
	if len(got) != len(before) {
		t.Errorf("%d entries copied, want %d", len(got), len(before))
	}
	if s := readString(t, filepath.Join(zp, "root/etc/hostname")); s != "dst\n" {
		t.Errorf("hostname %q", s)
	}
	if s := readString(t, filepath.Join(zp, "root/etc/hosts")); s != "# zone dst\n127.0.0.1\tlocalhost\n127.0.1.1\tdst src.example srcx\n" {
		t.Errorf("hosts %q", s)
	}
	if st := statOf(t, filepath.Join(zp, "root/etc/hosts")); st.Mode&0o7777 != 0o640 {
		t.Errorf("hosts mode %o, want the source's 640", st.Mode&0o7777)
	}
	if len(reports) < 2 || reports[len(reports)-1].Done != reports[len(reports)-1].Total || reports[0].Total < 100000 {
		t.Errorf("progress reports %v", reports)
	}
}

// A clone that fails, or is cancelled, leaves nothing behind; a file
// system mounted in the source is refused rather than copied.
func TestCloneFailsClean(t *testing.T) {
	installNeedRoot(t)
	dir := t.TempDir()
	src := cloneSource(t, dir)
	mnt := filepath.Join(src, "home/user/deep")
	ztest.Must(t, unix.Mount("tmpfs", mnt, "tmpfs", 0, "size=1m"))
	t.Cleanup(func() { _ = unix.Unmount(mnt, unix.MNT_DETACH) })
	zp := filepath.Join(dir, "new")
	err := cloneRoot(context.Background(), cloneParams{Zonepath: zp, SourceRoot: src, ZoneName: "dst", SourceName: "src"})
	if err == nil || !strings.Contains(err.Error(), "a file system is mounted there") || !strings.Contains(err.Error(), mnt) {
		t.Fatalf("clone over a mount: %v", err)
	}
	if _, err := os.Lstat(zp); !os.IsNotExist(err) {
		t.Errorf("after a failed clone the zonepath is there: %v", err)
	}
	ztest.Must(t, unix.Unmount(mnt, 0))

	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	err = cloneRoot(ctx, cloneParams{Zonepath: zp, SourceRoot: src, ZoneName: "dst", SourceName: "src",
		Progress: func(api.Progress) {
			if n++; n == 2 {
				cancel()
			}
		}})
	if err == nil {
		t.Fatal("a cancelled clone succeeded")
	}
	if _, err := os.Lstat(zp); !os.IsNotExist(err) {
		t.Errorf("after a cancelled clone the zonepath is there: %v", err)
	}
}

func TestRenameWord(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"web01\n", "web02\n"},
		{"127.0.1.1\tweb01 web01.lan xweb01\n# web01\n", "127.0.1.1\tweb02 web01.lan xweb01\n# web02\n"},
		{"web01", "web02"},
		{"", ""},
		{"  \t\n", "  \t\n"},
	} {
		if got := renameWord(tc.in, "web01", "web02"); got != tc.want {
			t.Errorf("renameWord(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
