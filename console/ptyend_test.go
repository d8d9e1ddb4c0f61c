package console

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// socketAttacher is an attacher's connection as zoneadmd makes it: a unix
// socketpair whose hub end is non-blocking; the other end is returned for
// the test to read (or not).
func socketAttacher(t *testing.T) (hubEnd, client *os.File) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.SetNonblock(fds[0], true); err != nil {
		t.Fatal(err)
	}
	hubEnd, client = os.NewFile(uintptr(fds[0]), "attacher"), os.NewFile(uintptr(fds[1]), "client")
	t.Cleanup(func() { client.Close() })
	return hubEnd, client
}

// zoneOutput is what a test zone prints: every byte value, escape
// sequences and "~." at line starts included, as a terminal attacher
// must get them unchanged.
func zoneOutput(n int) []byte {
	r := rand.New(rand.NewPCG(19, 80))
	out := make([]byte, 0, n)
	for len(out) < n {
		switch r.IntN(4) {
		case 0:
			out = append(out, "\r\n~.\x1b[2J\x1b]0;title\x07~~."...)
		default:
			for range r.IntN(300) {
				out = append(out, byte(r.Uint32()))
			}
		}
	}
	return out[:n]
}

// writeInPieces writes p to the slave in pieces of random size, as a
// zone's programs do.
func writeInPieces(t *testing.T, s *os.File, p []byte) {
	r := rand.New(rand.NewPCG(1, 2))
	for len(p) > 0 {
		k := min(len(p), 1+r.IntN(9000))
		if _, err := s.Write(p[:k]); err != nil {
			t.Errorf("zone write: %v", err)
			return
		}
		p = p[k:]
	}
}

// TestHubBurstKeepsEveryByte: a zone writing megabytes in pieces that the
// hub gathers into batches; the attacher gets exactly the zone's bytes,
// escapes included, the ring its newest, and the log a suffix of them in
// files that never pass the rotation bound.
func TestHubBurstKeepsEveryByte(t *testing.T) {
	const total = 4 << 20
	const logMax, logKeep = 256 << 10, 3
	logPath := filepath.Join(t.TempDir(), "z.console")
	lg, err := OpenLog(logPath, logMax, logKeep)
	if err != nil {
		t.Fatal(err)
	}
	h := newHub(t, HubOptions{Ring: NewRing(64 << 10), Log: lg})
	m, s := rawPair(t)
	h.SetMaster(m)
	ours, client := socketAttacher(t)
	h.Attach(ours, AttachOptions{})
	// One written at once when it keeps up, one always through its queue.
	queued, far := newClient(t)
	h.Attach(far, AttachOptions{})

	want := zoneOutput(total)
	go writeInPieces(t, s, want)
	got := make([]byte, total)
	client.SetReadDeadline(time.Now().Add(60 * time.Second))
	if _, err := io.ReadFull(client, got); err != nil {
		t.Fatalf("attacher: %v", err)
	}
	if i := firstDiff(got, want); i >= 0 {
		t.Fatalf("attacher's stream differs from the zone's at byte %d", i)
	}
	deadline := time.After(60 * time.Second)
	for queued.size() < total {
		select {
		case <-queued.more:
		case <-queued.eof:
			t.Fatalf("the queued attacher ended after %d bytes", queued.size())
		case <-deadline:
			t.Fatalf("the queued attacher got %d bytes of %d", queued.size(), total)
		}
	}
	if i := firstDiff([]byte(queued.text()), want); i >= 0 {
		t.Fatalf("the queued attacher's stream differs from the zone's at byte %d", i)
	}
	if !bytes.Equal(h.Ring().Bytes(), want[total-64<<10:]) {
		t.Error("ring does not hold the newest output")
	}
	lg.Close()
	if _, err := os.Stat(lg.rotated(logKeep)); err == nil {
		t.Errorf("more than %d old logs kept", logKeep)
	}
	var logged []byte
	for _, p := range []string{lg.rotated(2), lg.rotated(1), lg.rotated(0), logPath} {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > logMax {
			t.Errorf("%s has %d bytes, over the bound %d", p, len(b), logMax)
		}
		logged = append(logged, b...)
	}
	if len(logged) < logMax || !bytes.HasSuffix(want, logged) {
		t.Errorf("the logs' %d bytes are not the newest output", len(logged))
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	if len(a) != len(b) {
		return min(len(a), len(b))
	}
	return -1
}

// TestHubStalledAttacherBounded: one attacher's client never reads while
// the zone writes far more than its queue holds. The zone is held for a
// grace, not for ever; the stalled attacher is cut off; its queue never
// grows past the bound (plus one read of the console); another attacher
// gets every byte.
func TestHubStalledAttacherBounded(t *testing.T) {
	const total = 8 << 20
	const limit = 256 << 10
	h := newHub(t, HubOptions{Ring: NewRing(64 << 10), AttachBuffer: limit, SlowGrace: 100 * time.Millisecond})
	m, s := rawPair(t)
	h.SetMaster(m)
	stuckOurs, _ := socketAttacher(t) // nobody reads it
	stuck := h.Attach(stuckOurs, AttachOptions{})
	ours, client := socketAttacher(t)
	h.Attach(ours, AttachOptions{})

	var peak int
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			stuck.mu.Lock()
			peak = max(peak, stuck.queued)
			stuck.mu.Unlock()
			select {
			case <-stuck.Done():
				return
			case <-time.After(100 * time.Microsecond):
			}
		}
	}()
	want := zoneOutput(total)
	wrote := make(chan struct{})
	go func() {
		writeInPieces(t, s, want)
		close(wrote)
	}()
	got := make([]byte, total)
	client.SetReadDeadline(time.Now().Add(60 * time.Second))
	if _, err := io.ReadFull(client, got); err != nil {
		t.Fatalf("the reading attacher: %v", err)
	}
	<-wrote
	if i := firstDiff(got, want); i >= 0 {
		t.Fatalf("the reading attacher's stream differs at byte %d", i)
	}
	waitDone(t, stuck)
	<-sampled
	if !errors.Is(stuck.Err(), ErrSlowAttacher) {
		t.Errorf("stalled attacher: Err = %v, want ErrSlowAttacher", stuck.Err())
	}
	if peak > max(limit, readBatchSize) {
		t.Errorf("stalled attacher's queue reached %d bytes, bound %d", peak, max(limit, readBatchSize))
	}
}

// TestHubInputStoppedWithMaster: the zone does not read its console input
// and an attacher pastes more than the pty takes, so the hub's write of it
// waits. A reboot's new master (and then Close) must end that wait: the
// new console gets the attacher's typing, and nothing hangs.
func TestHubInputStoppedWithMaster(t *testing.T) {
	h := NewHub(HubOptions{})
	m1, s1 := rawPair(t)
	h.SetMaster(m1)
	ours, client := socketAttacher(t)
	a := h.Attach(ours, AttachOptions{})
	var pasting sync.WaitGroup
	pasting.Go(func() {
		// Far more than a pty's input buffers (4 KiB + 64 KiB); it
		// ends when the hub lets go of the attacher.
		_, _ = client.Write(bytes.Repeat([]byte("p"), 1<<20))
	})
	// Wait until the hub's write to the zone has to wait: the zone's
	// input is full, a write is under way, and the hub has stopped taking
	// the paste from the attacher's socket.
	h.mu.Lock()
	e := h.end.(*ptyEnd)
	h.mu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for still, last := 0, -1; still < 5; {
		inq := queued(t, s1, unix.TIOCINQ)
		unread := queued(t, ours, unix.SIOCINQ)
		e.mu.Lock()
		writing := e.writing
		e.mu.Unlock()
		if inq >= 4095 && writing > 0 && unread > 0 && unread == last {
			still++
		} else {
			still = 0
		}
		last = unread
		if time.Now().After(deadline) {
			t.Fatal("the hub's write of the paste never had to wait")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Waiting must not spin: a loop of poll and write would call await
	// thousands of times here.
	before := e.awaits.Load()
	time.Sleep(300 * time.Millisecond)
	if n := e.awaits.Load() - before; n > 100 {
		t.Errorf("the blocked write waited %d times in 300 ms: it spins", n)
	}

	m2, s2 := rawPair(t)
	h.SetMaster(m2)
	s2.Write([]byte("rebooted\n"))
	// The paste's rest now goes to the new console: read it to the end
	// and find the attacher's later typing after it.
	go func() {
		buf := make([]byte, 64<<10)
		for {
			if _, err := client.Read(buf); err != nil {
				return
			}
		}
	}()
	arrived := make(chan error, 1)
	go func() {
		got := 0
		buf := make([]byte, 64<<10)
		for got < 64<<10 {
			n, err := s2.Read(buf)
			if err != nil {
				arrived <- fmt.Errorf("after %d bytes: %w", got, err)
				return
			}
			got += bytes.Count(buf[:n], []byte("p"))
		}
		arrived <- nil
	}()
	select {
	case err := <-arrived:
		if err != nil {
			t.Fatalf("new console input: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the paste never reached the new console: the old master's write still holds the input")
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	waitDone(t, a)
	pasting.Wait()
}

// TestHubDeliversOutputBeforeHangup: the zone's last words, written just
// before its last slave descriptor closes, reach the attacher before the
// hub reports the hangup (EIO, which zoneadmd takes for a halted zone).
func TestHubDeliversOutputBeforeHangup(t *testing.T) {
	readErr := make(chan error, 1)
	h := newHub(t, HubOptions{OnReadError: func(err error) { readErr <- err }})
	m, s := rawPair(t)
	h.SetMaster(m)
	c, far := newClient(t)
	h.Attach(far, AttachOptions{})
	last := bytes.Repeat([]byte("last words "), 2000)
	if _, err := s.Write(last); err != nil {
		t.Fatal(err)
	}
	s.Close()
	select {
	case err := <-readErr:
		if !errors.Is(err, unix.EIO) {
			t.Errorf("read error %v, want EIO", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the hangup was never reported")
	}
	c.waitFor(t, string(last))
}

func (c *client) size() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.Len()
}

// queued asks f how many bytes wait in it (TIOCINQ, SIOCINQ), without Fd,
// which would make a descriptor the hub holds blocking.
func queued(t *testing.T, f *os.File, req uint) int {
	var n int
	if err := control(f, "queued", func(fd int) error {
		var err error
		n, err = unix.IoctlGetInt(fd, req)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return n
}
