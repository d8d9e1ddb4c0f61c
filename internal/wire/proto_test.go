package wire

import (
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// pair is a connected SOCK_SEQPACKET pair, as zoneadmd and zsched use.
func pair(t *testing.T, typ int) (*Conn, *Conn) {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, typ|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	conn := func(fd int) *Conn {
		f := os.NewFile(uintptr(fd), "pair")
		nc, err := net.FileConn(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		c := &Conn{C: nc.(*net.UnixConn)}
		t.Cleanup(func() { c.Close() })
		return c
	}
	return conn(fds[0]), conn(fds[1])
}

// A request of a few hundred bytes must not cost a receive buffer of
// the whole bound: that was most of what an idle zone's processes
// allocated, and a receive that waits held it for the connection's life.
func TestRecvSmallMessageAllocatesLittle(t *testing.T) {
	a, b := pair(t, syscall.SOCK_SEQPACKET)
	req := Request{Op: "ping", Args: []string{strings.Repeat("x", 200)}}
	allocs := testing.Benchmark(func(tb *testing.B) {
		tb.ReportAllocs()
		for i := 0; i < tb.N; i++ {
			if err := a.Send(req); err != nil {
				tb.Fatal(err)
			}
			var got Request
			if _, err := b.Recv(&got); err != nil || got.Op != "ping" {
				tb.Fatalf("recv: %v %+v", err, got)
			}
		}
	})
	t.Logf("%d bytes, %d allocations a message", allocs.AllocedBytesPerOp(), allocs.AllocsPerOp())
	if per := allocs.AllocedBytesPerOp(); per > 8<<10 {
		t.Fatalf("a send and receive of a small message allocated %d bytes", per)
	}
}

// The bound holds as before: a message of MaxMessage bytes arrives, one
// byte more is refused, and a hung-up peer reads as the end.
func TestRecvBoundAndClose(t *testing.T) {
	for _, typ := range []int{syscall.SOCK_SEQPACKET, syscall.SOCK_DGRAM} {
		a, b := pair(t, typ)
		for _, size := range []int{MaxMessage, MaxMessage + 1} {
			// A JSON string of exactly size bytes, quotes included.
			raw := []byte(`"` + strings.Repeat("y", size-2) + `"`)
			if _, _, err := a.C.WriteMsgUnix(raw, nil, nil); err != nil {
				t.Fatal(err)
			}
			var s string
			_, err := b.Recv(&s)
			if size <= MaxMessage && (err != nil || len(s) != size-2) {
				t.Fatalf("type %d: %d bytes: %v (got %d)", typ, size, err, len(s))
			}
			if size > MaxMessage && (err == nil || !strings.Contains(err.Error(), "exceeds")) {
				t.Fatalf("type %d: %d bytes: want refused, got %v", typ, size, err)
			}
		}
		if typ == syscall.SOCK_SEQPACKET {
			a.Close()
			var s string
			if _, err := b.Recv(&s); !errors.Is(err, io.EOF) && err != ErrClosed {
				t.Fatalf("after hang-up: %v, want the end", err)
			}
		}
	}
}

// A server that takes the connection and never answers (a stopped
// zoneadmd: the kernel accepts into the backlog for it) is not running as
// far as Ping can tell, and Ping says so within its bound.
func TestPingOfASilentServer(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "silent.sock")
	lis, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: sock, Net: "unixpacket"})
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	old := PingWait
	PingWait = 200 * time.Millisecond
	defer func() { PingWait = old }()
	done := make(chan bool, 1)
	go func() { done <- Ping(sock) }()
	select {
	case ok := <-done:
		if ok {
			t.Fatal("Ping says a server that never answered is running")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Ping still waits for a server that never answers")
	}
}
