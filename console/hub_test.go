package console

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// client is the far end of an attacher's connection: it collects all it
// reads so tests can wait for output to arrive.
type client struct {
	conn net.Conn
	mu   sync.Mutex
	buf  bytes.Buffer
	more chan struct{}
	eof  chan struct{}
}

func newClient(t *testing.T) (*client, net.Conn) {
	t.Helper()
	near, far := net.Pipe()
	c := &client{conn: near, more: make(chan struct{}, 1), eof: make(chan struct{})}
	go func() {
		defer close(c.eof)
		b := make([]byte, 32<<10)
		for {
			n, err := near.Read(b)
			c.mu.Lock()
			c.buf.Write(b[:n])
			c.mu.Unlock()
			select {
			case c.more <- struct{}{}:
			default:
			}
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { near.Close() })
	return c, far
}

func (c *client) text() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String()
}

func (c *client) waitFor(t *testing.T, want string) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for !strings.Contains(c.text(), want) {
		select {
		case <-c.more:
		case <-c.eof:
			if !strings.Contains(c.text(), want) {
				t.Fatalf("connection ended before %q; got %q", want, c.text())
			}
		case <-deadline:
			t.Fatalf("no %q; got %q", want, c.text())
		}
	}
}

func waitDone(t *testing.T, a *Attacher) {
	t.Helper()
	select {
	case <-a.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("attacher never left")
	}
}

// rawPair is a pty whose slave neither echoes nor translates, so tests see
// exactly the bytes they sent.
func rawPair(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, s, err := OpenPair()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := MakeRaw(s); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return m, s
}

func newHub(t *testing.T, opts HubOptions) *Hub {
	h := NewHub(opts)
	t.Cleanup(func() { h.Close() })
	return h
}

func TestHubFanOutAndInput(t *testing.T) {
	logPath := filepath.Join(t.TempDir(), "z.console")
	lg, err := OpenLog(logPath, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer lg.Close()
	h := newHub(t, HubOptions{Log: lg})
	m, s := rawPair(t)
	h.SetMaster(m)

	c1, far1 := newClient(t)
	c2, far2 := newClient(t)
	h.Attach(far1, AttachOptions{})
	h.Attach(far2, AttachOptions{})
	if n := h.Attachers(); n != 2 {
		t.Fatalf("Attachers() = %d", n)
	}

	s.Write([]byte("zone booting\n"))
	c1.waitFor(t, "zone booting")
	c2.waitFor(t, "zone booting")

	// Both attachers may type.
	c1.conn.Write([]byte("one"))
	readUntil(t, s, "one")
	c2.conn.Write([]byte("two"))
	readUntil(t, s, "two")

	if !strings.Contains(string(h.Ring().Bytes()), "zone booting") {
		t.Errorf("ring = %q", h.Ring().Bytes())
	}
	if got := readFile(t, logPath); got != "zone booting\n" {
		t.Errorf("log = %q", got)
	}
}

func TestHubReplayAndNotice(t *testing.T) {
	h := newHub(t, HubOptions{Ring: NewRing(8)})
	m, s := rawPair(t)
	h.SetMaster(m)
	watcher, farW := newClient(t)
	h.Attach(farW, AttachOptions{})
	s.Write([]byte("0123456789"))
	watcher.waitFor(t, "0123456789")

	late, farL := newClient(t)
	h.Attach(farL, AttachOptions{Replay: true})
	noReplay, farN := newClient(t)
	h.Attach(farN, AttachOptions{})
	s.Write([]byte("live"))
	late.waitFor(t, "live")
	noReplay.waitFor(t, "live")
	if got := late.text(); got != "23456789live" {
		t.Errorf("replaying attacher got %q, want the ring then live output", got)
	}
	if got := noReplay.text(); got != "live" {
		t.Errorf("plain attacher got %q", got)
	}

	h.Notice("Zone halted")
	for _, c := range []*client{watcher, late, noReplay} {
		c.waitFor(t, "\r\n[NOTICE: Zone halted]\r\n")
	}
	if strings.Contains(string(h.Ring().Bytes()), "NOTICE") {
		t.Error("notice went into the ring")
	}
}

func TestHubDetach(t *testing.T) {
	h := newHub(t, HubOptions{})
	m, s := rawPair(t)
	h.SetMaster(m)

	c1, far1 := newClient(t)
	a1 := h.Attach(far1, AttachOptions{})
	c2, far2 := newClient(t)
	a2 := h.Attach(far2, AttachOptions{})

	a1.Close() // detach from the server side
	waitDone(t, a1)
	<-c1.eof
	if a1.Err() != nil {
		t.Errorf("detach Err = %v", a1.Err())
	}
	c2.conn.Close() // the client hangs up
	waitDone(t, a2)
	if a2.Err() != nil {
		t.Errorf("hang-up Err = %v", a2.Err())
	}
	if n := h.Attachers(); n != 0 {
		t.Fatalf("Attachers() = %d after both left", n)
	}
	// Output with nobody attached still reaches the ring.
	s.Write([]byte("alone"))
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(string(h.Ring().Bytes()), "alone") {
		if time.Now().After(deadline) {
			t.Fatal("output never reached the ring")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestHubReadOnlyAttacher(t *testing.T) {
	h := newHub(t, HubOptions{})
	m, s := rawPair(t)
	h.SetMaster(m)
	ro, farRO := newClient(t)
	h.Attach(farRO, AttachOptions{ReadOnly: true})
	rw, farRW := newClient(t)
	h.Attach(farRW, AttachOptions{})
	ro.conn.Write([]byte("ignored"))
	rw.conn.Write([]byte("typed"))
	if got := readUntil(t, s, "typed"); strings.Contains(got, "ignored") {
		t.Fatalf("read-only input reached the zone: %q", got)
	}
}

// TestHubSlowAttacher: one client stops reading. The zone keeps writing, the
// other client sees everything, and the stalled one is cut off.
func TestHubSlowAttacher(t *testing.T) {
	h := newHub(t, HubOptions{Ring: NewRing(1024), AttachBuffer: 4096})
	m, s := rawPair(t)
	h.SetMaster(m)

	stuckNear, stuckFar := net.Pipe() // nobody ever reads stuckNear
	t.Cleanup(func() { stuckNear.Close() })
	slow := h.Attach(stuckFar, AttachOptions{})
	fast, farF := newClient(t)
	h.Attach(farF, AttachOptions{})

	// Paced by the fast client, so only the stalled queue can grow.
	line := bytes.Repeat([]byte("x"), 1019)
	for i := range 64 {
		tag := fmt.Sprintf("%04d", i)
		if _, err := s.Write(append([]byte(tag), append(line, '\n')...)); err != nil {
			t.Fatal(err)
		}
		fast.waitFor(t, tag)
	}
	s.Write([]byte("END"))
	fast.waitFor(t, "END")
	if got := len(fast.text()); got != 64*1024+3 {
		t.Errorf("fast attacher got %d bytes, want %d", got, 64*1024+3)
	}
	waitDone(t, slow)
	if !errors.Is(slow.Err(), ErrSlowAttacher) {
		t.Errorf("slow attacher Err = %v", slow.Err())
	}
	if n := h.Attachers(); n != 1 {
		t.Errorf("Attachers() = %d, want only the fast one", n)
	}
}

// TestHubBusyAttacher: a client that stops reading for a moment (well
// under the grace) while the zone writes more than its queue holds is not
// cut off and gets every byte; the zone's writes wait meanwhile.
func TestHubBusyAttacher(t *testing.T) {
	h := newHub(t, HubOptions{Ring: NewRing(1024), AttachBuffer: 4096, SlowGrace: 5 * time.Second})
	m, s := rawPair(t)
	h.SetMaster(m)
	near, far := net.Pipe()
	t.Cleanup(func() { near.Close() })
	busy := h.Attach(far, AttachOptions{})

	const total = 256 << 10
	go func() {
		chunk := bytes.Repeat([]byte("y"), 1024)
		for i := 0; i < total/len(chunk); i++ {
			if _, err := s.Write(chunk); err != nil {
				return
			}
		}
	}()
	time.Sleep(300 * time.Millisecond) // busy: reads nothing yet
	got := 0
	buf := make([]byte, 64<<10)
	near.SetReadDeadline(time.Now().Add(20 * time.Second))
	for got < total {
		n, err := near.Read(buf)
		got += n
		if err != nil {
			t.Fatalf("after %d of %d bytes: %v (attacher: %v)", got, total, err, busy.Err())
		}
	}
	if h.Attachers() != 1 {
		t.Errorf("the busy attacher was cut off: %v", busy.Err())
	}
}

// TestHubRepoint: a reboot hands the hub a new console pty; attachers stay
// and see the new zone's output, and the old master is closed.
func TestHubRepoint(t *testing.T) {
	var mu sync.Mutex
	var readErrs []error
	h := newHub(t, HubOptions{OnReadError: func(err error) {
		mu.Lock()
		readErrs = append(readErrs, err)
		mu.Unlock()
	}})
	m1, s1 := rawPair(t)
	h.SetMaster(m1)
	c, far := newClient(t)
	h.Attach(far, AttachOptions{})
	s1.Write([]byte("first boot\n"))
	c.waitFor(t, "first boot")

	h.Notice("Zone rebooting")
	m2, s2 := rawPair(t)
	h.SetMaster(m2)
	if _, err := m1.Write([]byte("x")); err == nil {
		t.Error("old master still open after SetMaster")
	}
	s2.Write([]byte("second boot\n"))
	c.waitFor(t, "second boot")
	c.conn.Write([]byte("login"))
	readUntil(t, s2, "login")

	mu.Lock()
	if len(readErrs) != 0 {
		t.Errorf("re-pointing reported read errors: %v", readErrs)
	}
	mu.Unlock()

	// The zone halts: its last slave fd closes and the reader reports it.
	s2.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(readErrs)
		mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("closing the slave was never reported")
		}
		time.Sleep(time.Millisecond)
	}
	// With no master, typing is dropped and attachers stay.
	h.SetMaster(nil)
	c.conn.Write([]byte("into the void"))
	h.Notice("Zone halted")
	c.waitFor(t, "[NOTICE: Zone halted]")
	if h.Attachers() != 1 {
		t.Fatalf("attacher lost across halt")
	}
}

func TestHubClose(t *testing.T) {
	h := NewHub(HubOptions{})
	m, _ := rawPair(t)
	h.SetMaster(m)
	c, far := newClient(t)
	a := h.Attach(far, AttachOptions{})
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	waitDone(t, a)
	<-c.eof
	// Attaching to or re-pointing a closed hub cleans up instead of leaking.
	_, far2 := newClient(t)
	a2 := h.Attach(far2, AttachOptions{})
	waitDone(t, a2)
	m2, _ := rawPair(t)
	h.SetMaster(m2)
	if _, err := m2.Write([]byte("x")); err == nil {
		t.Error("closed hub left a new master open")
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
}

func BenchmarkHubFanOut2(b *testing.B) {
	h := NewHub(HubOptions{})
	defer h.Close()
	m, s, err := OpenPair()
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if _, err := MakeRaw(s); err != nil {
		b.Fatal(err)
	}
	h.SetMaster(m)

	chunk := bytes.Repeat([]byte("console output line\r\n"), 1560) // ~32 KiB
	total := int64(b.N) * int64(len(chunk))
	var wg sync.WaitGroup
	for range 2 {
		near, far := net.Pipe()
		defer near.Close()
		h.Attach(far, AttachOptions{})
		wg.Go(func() {
			// Read exactly what the benchmark writes, so timing ends when
			// both attachers have everything.
			io.CopyN(io.Discard, near, total)
		})
	}
	b.SetBytes(int64(len(chunk)))
	b.ResetTimer()
	for range b.N {
		if _, err := s.Write(chunk); err != nil {
			b.Fatal(err)
		}
	}
	wg.Wait()
}
