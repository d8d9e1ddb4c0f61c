package engine

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"zonetop/internal/pathrs"
	"zonetop/internal/zoneadmd"
	"zonetop/internal/ztest"

	"golang.org/x/sys/unix"
)

// within fails the test if f has not returned after d: a FIFO opened for
// reading would block for good.
func within(t *testing.T, d time.Duration, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("%s has not returned after %v", what, d)
	}
}

func TestReadZoneFileOnlyRegularBounded(t *testing.T) {
	root := t.TempDir()
	etc := filepath.Join(root, "etc")
	ztest.Must(t, os.Mkdir(etc, 0o755))
	host := filepath.Join(t.TempDir(), "host-secret")
	ztest.Must(t, os.WriteFile(host, []byte("host secret\n"), 0o600))
	ztest.Must(t, os.WriteFile(filepath.Join(etc, "good"), []byte("ok\n"), 0o644))
	ztest.Must(t, unix.Mkfifo(filepath.Join(etc, "fifo"), 0o644))
	ztest.Must(t, os.Symlink(host, filepath.Join(etc, "abs-link")))
	ztest.Must(t, os.Symlink("../../../../../../.."+host, filepath.Join(etc, "rel-link")))
	ztest.Must(t, os.Mkdir(filepath.Join(etc, "dir"), 0o755))
	big := filepath.Join(etc, "big")
	ztest.Must(t, os.WriteFile(big, nil, 0o644))
	ztest.Must(t, os.Truncate(big, 100<<20))
	if os.Geteuid() == 0 {
		ztest.Must(t, unix.Mknod(filepath.Join(etc, "dev"), unix.S_IFCHR|0o644, int(unix.Mkdev(1, 3))))
	}
	for _, c := range []struct{ path, want string }{
		{"/etc/fifo", "/etc/fifo: a FIFO, not a regular file"},
		{"/etc/abs-link", "/etc/abs-link: a symbolic link, not a regular file"},
		{"/etc/rel-link", "/etc/rel-link: a symbolic link, not a regular file"},
		{"/etc/dir", "/etc/dir: a directory, not a regular file"},
		{"/etc/big", "/etc/big: 104857600 bytes, over the 4194304 zonetop reads"},
		{"/etc/dev", "/etc/dev: a character device, not a regular file"},
		{"/../../etc/fifo", "/etc/fifo: a FIFO"},
	} {
		if c.path == "/etc/dev" && os.Geteuid() != 0 {
			continue
		}
		var b []byte
		var err error
		within(t, 30*time.Second, "ReadZoneFile "+c.path, func() { b, err = pathrs.ReadZoneFile(root, c.path, pathrs.ZoneDBMax) })
		if err == nil || !strings.Contains(err.Error(), c.want) || b != nil {
			t.Errorf("ReadZoneFile(%s) = %q, %v; want an error saying %q", c.path, b, err, c.want)
		}
	}
	if b, err := pathrs.ReadZoneFile(root, "/etc/good", pathrs.ZoneDBMax); err != nil || string(b) != "ok\n" {
		t.Errorf("regular file: %q %v", b, err)
	}
	if _, err := pathrs.ReadZoneFile(root, "/etc/missing", pathrs.ZoneDBMax); !errors.Is(err, fs.ErrNotExist) || !errors.Is(err, unix.ENOENT) {
		t.Errorf("missing file: %v, want ErrNotExist", err)
	}
	if _, err := pathrs.ReadZoneFile(root, "/etc/good", 2); err == nil || !strings.Contains(err.Error(), "over the 2") {
		t.Errorf("over a small limit: %v", err)
	}
}

// A write replaces what is there (a FIFO, a symlink out) by a new
// regular file; it never writes through it, and never through a
// symlinked directory.
func TestWriteZoneFileReplacesNeverWritesThrough(t *testing.T) {
	root := t.TempDir()
	etc := filepath.Join(root, "etc")
	ztest.Must(t, os.Mkdir(etc, 0o755))
	host := filepath.Join(t.TempDir(), "host")
	ztest.Must(t, os.WriteFile(host, []byte("host\n"), 0o644))
	ztest.Must(t, unix.Mkfifo(filepath.Join(etc, "project"), 0o644))
	ztest.Must(t, os.Symlink(host, filepath.Join(etc, "hosts")))
	for _, f := range []string{"etc/project", "etc/hosts"} {
		within(t, 30*time.Second, "writeZoneFile "+f, func() {
			if err := pathrs.WriteZoneFile(root, f, []byte("new\n"), 0o644); err != nil {
				t.Errorf("write %s: %v", f, err)
			}
		})
		st, err := os.Lstat(filepath.Join(root, f))
		if err != nil || !st.Mode().IsRegular() {
			t.Errorf("%s after the write: %v %v", f, st.Mode(), err)
		}
	}
	if b, _ := os.ReadFile(host); string(b) != "host\n" {
		t.Errorf("host file written through the symlink: %q", b)
	}
	ztest.Must(t, os.Symlink(filepath.Dir(host), filepath.Join(root, "out")))
	if err := pathrs.WriteZoneFile(root, "out/host", []byte("x"), 0o644); err == nil {
		t.Error("write through a symlinked directory accepted")
	}
	if b, _ := os.ReadFile(host); string(b) != "host\n" {
		t.Errorf("host file written through the symlinked directory: %q", b)
	}
}

// clone's rename of the zone's identity leaves a FIFO or a symlink at
// /etc/hostname alone, and does not hang on the FIFO.
func TestRenameIdentityLeavesOddFiles(t *testing.T) {
	root := t.TempDir()
	etc := filepath.Join(root, "etc")
	ztest.Must(t, os.Mkdir(etc, 0o755))
	ztest.Must(t, unix.Mkfifo(filepath.Join(etc, "hostname"), 0o644))
	host := filepath.Join(t.TempDir(), "hosts")
	ztest.Must(t, os.WriteFile(host, []byte("127.0.0.1 src\n"), 0o644))
	ztest.Must(t, os.Symlink(host, filepath.Join(etc, "hosts")))
	rootfd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	ztest.Must(t, err)
	defer unix.Close(rootfd)
	within(t, 30*time.Second, "renameIdentity", func() {
		if err := renameIdentity(rootfd, "src", "dst"); err != nil {
			t.Errorf("renameIdentity: %v", err)
		}
	})
	if st, err := os.Lstat(filepath.Join(etc, "hostname")); err != nil || st.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("the FIFO was not left alone: %v %v", st.Mode(), err)
	}
	if b, _ := os.ReadFile(host); string(b) != "127.0.0.1 src\n" {
		t.Errorf("the file behind the symlink changed: %q", b)
	}
}

// zoneadmd's IPC check reads the zone's /etc/project on the zone's IPC
// calls: a FIFO there must neither stop the call nor the halt.
func TestIPCCheckFIFOProject(t *testing.T) {
	ztest.NeedSeccompRoot(t)
	z := newBusyboxZone(t)
	z.spec.Name = fmt.Sprintf("xc%d-%d", os.Getpid()%100000, zoneSeq)
	self, err := os.ReadFile("/proc/self/exe")
	ztest.Must(t, err)
	ztest.Must(t, os.WriteFile(filepath.Join(z.zroot(), "bin/ipctool"), self, 0o755))
	ztest.Must(t, os.WriteFile(filepath.Join(z.zroot(), "etc/project"), []byte(stdProjects), 0o644))
	z.spec.IPCRctls = map[string]string{"zone.max-shm-memory": "(privileged,20000,deny)"}
	z.ready()
	project := filepath.Join(z.zroot(), "etc/project")
	ztest.Must(t, os.Remove(project))
	ztest.Must(t, unix.Mkfifo(project, 0o644))
	var r ipcToolResult
	within(t, 30*time.Second, "shmget in a zone whose /etc/project is a FIFO", func() {
		r = <-z.startIPC("default", nil, "shm:1000", "rmshm:$0")
	})
	if r.err != nil || r.code != 0 || !strings.HasPrefix(r.out, "ok") {
		t.Errorf("ipctool: exit %d %v: %s", r.code, r.err, r.out)
	}
	var herr error
	within(t, 30*time.Second, "halt", func() { _, herr = zoneadmd.Halt(z.root, z.spec.Name) })
	if herr != nil {
		t.Errorf("halt: %v", herr)
	}
}
