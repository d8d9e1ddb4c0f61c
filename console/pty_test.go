package console

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
	"zonetop/internal/ztest"

	"golang.org/x/sys/unix"
)

func openPair(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, s, err := OpenPair()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(); s.Close() })
	return m, s
}

// readUntil reads from r until want appears; a stuck read fails the test
// through the deadline instead of hanging it.
func readUntil(t *testing.T, f *os.File, want string) string {
	t.Helper()
	f.SetReadDeadline(time.Now().Add(10 * time.Second))
	defer f.SetReadDeadline(time.Time{})
	var got []byte
	buf := make([]byte, 4096)
	for !bytes.Contains(got, []byte(want)) {
		n, err := f.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			t.Fatalf("waiting for %q, got %q: %v", want, got, err)
		}
	}
	return string(got)
}

func TestSizeRoundTrip(t *testing.T) {
	m, s := openPair(t)
	if err := SetSize(m, 33, 111); err != nil {
		t.Fatal(err)
	}
	rows, cols, err := GetSize(s)
	if err != nil || rows != 33 || cols != 111 {
		t.Fatalf("GetSize(slave) = %d, %d, %v; want 33, 111", rows, cols, err)
	}
	m2, _ := openPair(t)
	if err := CopySize(m2, m); err != nil {
		t.Fatal(err)
	}
	if rows, cols, _ := GetSize(m2); rows != 33 || cols != 111 {
		t.Fatalf("CopySize gave %dx%d", cols, rows)
	}
	if err := SetSize(m, -1, 5); err == nil {
		t.Fatal("negative size accepted")
	}
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, _, err := GetSize(f); err == nil {
		t.Fatal("GetSize on /dev/null succeeded")
	}
	if IsTerminal(f) || !IsTerminal(s) {
		t.Fatal("IsTerminal wrong")
	}
}

func TestMakeRawAndRestore(t *testing.T) {
	m, s := openPair(t)
	before, err := unix.IoctlGetTermios(int(s.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	if before.Lflag&unix.ECHO == 0 {
		t.Skip("fresh pty does not echo; nothing to compare")
	}
	st, err := MakeRaw(s)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := unix.IoctlGetTermios(int(s.Fd()), unix.TCGETS)
	if raw.Lflag&(unix.ECHO|unix.ICANON|unix.ISIG) != 0 || raw.Oflag&unix.OPOST != 0 {
		t.Fatalf("not raw: lflag %#x oflag %#x", raw.Lflag, raw.Oflag)
	}
	// In raw mode a byte reaches the slave at once, unechoed, untranslated.
	m.Write([]byte("\x03"))
	buf := make([]byte, 1)
	if _, err := io.ReadFull(s, buf); err != nil || buf[0] != 3 {
		t.Fatalf("raw read = %q, %v", buf, err)
	}
	if err := Restore(s, st); err != nil {
		t.Fatal(err)
	}
	after, _ := unix.IoctlGetTermios(int(s.Fd()), unix.TCGETS)
	if *after != *before {
		t.Fatal("Restore did not bring back the old termios")
	}
	if err := Restore(s, nil); err != nil {
		t.Fatal(err)
	}
}

func TestOpenPtmxAndPeer(t *testing.T) {
	m, n, err := OpenPtmx("/dev/ptmx")
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if idx, err := PtyIndex(m); err != nil || idx != n {
		t.Fatalf("PtyIndex = %d, %v; want %d", idx, err, n)
	}
	if _, err := os.Stat(SlavePath("/dev/ptmx", n)); err != nil {
		t.Fatalf("slave path: %v", err)
	}
	s, err := OpenPeer(m)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Write([]byte("from-slave\n")); err != nil {
		t.Fatal(err)
	}
	readUntil(t, m, "from-slave")
	if _, _, err := OpenPtmx(filepath.Join(t.TempDir(), "ptmx")); err == nil {
		t.Fatal("OpenPtmx on a missing node succeeded")
	}
}

// TestOpenPtmxNewInstance allocates from a private devpts, as the engine does
// for a zone's console: the pty must appear in that instance, not the host's.
func TestOpenPtmxNewInstance(t *testing.T) {
	ztest.RequireRoot(t, "a private devpts mount")
	dir := t.TempDir()
	if err := unix.Mount("devpts", dir, "devpts", 0, "newinstance,ptmxmode=0666,mode=0620"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("mount devpts: %v", err)
		}
		t.Skipf("mount devpts: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
	m, n, err := OpenPtmx(filepath.Join(dir, "ptmx"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if n != 0 {
		t.Errorf("first pty of a new devpts has index %d", n)
	}
	if _, err := os.Stat(SlavePath(filepath.Join(dir, "ptmx"), n)); err != nil {
		t.Fatalf("slave not in the new devpts: %v", err)
	}
	s, err := OpenPeer(m)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	m.Write([]byte("to-zone\r"))
	buf := make([]byte, 64)
	s.SetReadDeadline(time.Now().Add(10 * time.Second))
	k, err := s.Read(buf)
	if err != nil || !bytes.Contains(buf[:k], []byte("to-zone")) {
		t.Fatalf("slave read %q, %v", buf[:k], err)
	}
}

func TestWatchResize(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	calls := make(chan struct{}, 10)
	WatchResize(ctx, func() { calls <- struct{}{} })
	wait := func(what string) {
		select {
		case <-calls:
		case <-time.After(10 * time.Second):
			t.Fatalf("no call %s", what)
		}
	}
	wait("at start")
	if err := unix.Kill(os.Getpid(), unix.SIGWINCH); err != nil {
		t.Fatal(err)
	}
	wait("after SIGWINCH")
}
