package console

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ErrSlowAttacher is why an attacher was disconnected when it fell so far
// behind that its output queue filled up.
var ErrSlowAttacher = errors.New("console attacher too slow: output queue full")

// DefaultAttachBuffer is how much output may wait for one attacher before it
// is cut off. It is larger than the ring so a replay always fits.
const DefaultAttachBuffer = 4 << 20

// DefaultSlowGrace is how long the console waits for an attacher whose
// queue is full before it cuts that attacher off.
const DefaultSlowGrace = time.Second

// HubOptions configure a Hub. The zero value works.
type HubOptions struct {
	// Ring keeps recent output for replay; nil means a new DefaultRingSize ring.
	Ring *Ring
	// Log, if set, receives every byte of output (normally a *Log).
	Log io.Writer
	// AttachBuffer bounds the output queued per attacher, in bytes; 0 means
	// DefaultAttachBuffer. It is raised to twice the ring size if smaller.
	// An empty queue still takes one read of the console (at most 64 KiB)
	// or one notice whole.
	AttachBuffer int
	// OnReadError, if set, is called (from the hub's reader goroutine) when
	// reading the current master fails, typically EIO because every slave
	// fd was closed: the zone's platform is gone. It is not called for a
	// master the hub itself closed.
	OnReadError func(error)
	// OnLogError, if set, is called when writing the log fails. Output keeps
	// flowing to the ring and attachers either way.
	OnLogError func(error)
	// SlowGrace is how long reading the console waits for a full
	// attacher queue to drain before that attacher is cut off; 0 means
	// DefaultSlowGrace, negative none.
	SlowGrace time.Duration
}

// Hub multiplexes a zone console: it reads the console's pty master and
// copies the output into the ring, the log and every attacher; it writes
// what any attacher types into the master. Attachers come and go at any
// time, and the master can be replaced (a reboot allocates a new console
// pty) without disturbing them.
//
// The hub reads whatever the zone has written by the time it looks, up to
// 64 KiB, and fans that out as one chunk: the log, the ring and every
// attacher's queue take it at once, so a busy console costs a write per
// batch rather than per 2-4 KiB pty read, and a quiet one's bytes go out
// as soon as they are read.
//
// Slow attachers: each attacher has its own output queue and writer
// goroutine. An attacher whose queue is full (AttachBuffer) gets a grace
// (SlowGrace): the hub stops reading the console until the queue has room,
// so the zone's writes wait as they would on a slow serial terminal, and
// a client that is merely busy for a moment (a loaded host, a big paste)
// keeps every byte. One still full after the grace is disconnected with
// ErrSlowAttacher rather than having bytes silently dropped: a console
// stream with holes leaves the user's terminal in an unknown state (half an
// escape sequence, a wrong charset), which is worse than reattaching with
// replay. A stalled client thus costs the zone one grace, never more.
//
// The hub owns the masters handed to it and closes them. Keep a slave fd
// open for as long as the console should live: once the last slave fd
// closes, reads on the master fail with EIO and the hub stops reading it.
type Hub struct {
	opts  HubOptions
	ring  *Ring
	limit int

	mu        sync.Mutex
	end       consoleEnd // the current master's, or nil
	gen       uint64     // bumped whenever the master changes; stale readers stop
	attachers map[*Attacher]struct{}
	closed    bool

	inMu sync.Mutex // keeps one attacher's input chunk whole on the master
}

// NewHub returns a hub with no master yet; output starts with SetMaster.
func NewHub(opts HubOptions) *Hub {
	h := &Hub{opts: opts, ring: opts.Ring, limit: opts.AttachBuffer, attachers: map[*Attacher]struct{}{}}
	if h.ring == nil {
		h.ring = NewRing(DefaultRingSize)
	}
	if h.limit <= 0 {
		h.limit = DefaultAttachBuffer
	}
	h.limit = max(h.limit, 2*h.ring.Cap())
	return h
}

// Ring returns the hub's output ring.
func (h *Hub) Ring() *Ring { return h.ring }

// SetMaster makes m the console's pty master, releasing the previous one,
// and starts reading it. m == nil leaves the hub without a pty (zone
// halted): attachers stay attached and their input is discarded. The hub
// owns m from here on.
func (h *Hub) SetMaster(m *os.File) {
	var end consoleEnd
	if m != nil {
		end = newConsoleEnd(m)
	}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		if end != nil {
			end.release()
		}
		return
	}
	old := h.end
	h.end = end
	h.gen++
	gen := h.gen
	h.mu.Unlock()
	if old != nil {
		// The old reader wakes, sees its generation is stale and
		// leaves quietly, releasing the old master.
		old.stop()
	}
	if end != nil {
		go h.read(end, gen)
	}
}

func (h *Hub) read(end consoleEnd, gen uint64) {
	defer end.release()
	buf := make([]byte, readBatchSize)
	for {
		n, err := end.Read(buf)
		if n > 0 {
			h.waitRoom(n)
			if !h.output(buf[:n], gen) {
				return
			}
		}
		if err != nil {
			h.mu.Lock()
			current := h.gen == gen && !h.closed
			h.mu.Unlock()
			if current && h.opts.OnReadError != nil {
				h.opts.OnReadError(fmt.Errorf("read console: %w", err))
			}
			return
		}
	}
}

// waitRoom gives attachers whose queue cannot take n more bytes the grace
// to drain it; output cuts off those still full.
func (h *Hub) waitRoom(n int) {
	grace := h.opts.SlowGrace
	if grace == 0 {
		grace = DefaultSlowGrace
	}
	if grace < 0 {
		return
	}
	h.mu.Lock()
	var full []*Attacher
	for a := range h.attachers {
		if !a.hasRoom(n, h.limit) {
			full = append(full, a)
		}
	}
	h.mu.Unlock()
	if len(full) == 0 {
		return
	}
	timer := time.NewTimer(grace)
	defer timer.Stop()
	for _, a := range full {
		for !a.hasRoom(n, h.limit) {
			select {
			case <-a.room:
			case <-a.done:
			case <-timer.C:
				return
			}
		}
	}
}

// output fans p out; false means the reader is stale and must stop.
func (h *Hub) output(p []byte, gen uint64) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.gen != gen || h.closed {
		return false
	}
	h.ring.Write(p)
	if h.opts.Log != nil {
		if _, err := h.opts.Log.Write(p); err != nil && h.opts.OnLogError != nil {
			h.opts.OnLogError(err)
		}
	}
	h.broadcastLocked(p)
	return true
}

// broadcastLocked writes p at once to every attacher that is keeping up,
// and queues what they could not take, one shared copy of p for those that
// took none of it.
func (h *Hub) broadcastLocked(p []byte) {
	var shared []byte
	for a := range h.attachers {
		rest := a.writeNow(p)
		if len(rest) == 0 {
			continue
		}
		var chunk []byte
		if len(rest) == len(p) {
			if shared == nil {
				shared = append([]byte(nil), p...)
			}
			chunk = shared
		} else {
			chunk = append([]byte(nil), rest...)
		}
		if !a.enqueue(chunk, h.limit) {
			delete(h.attachers, a)
			a.kill(ErrSlowAttacher)
		}
	}
}

// Notice tells every attacher something about the zone, on a line of its
// own, as "[NOTICE: msg]". Notices go to attachers only, not to the ring or
// the log: they describe the console, they are not the zone's output.
func (h *Hub) Notice(msg string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.broadcastLocked([]byte("\r\n[NOTICE: " + msg + "]\r\n"))
}

// AttachOptions choose how an attacher joins.
type AttachOptions struct {
	// Replay sends the ring's contents before live output (zlogin -C -r).
	Replay bool
	// ReadOnly discards what the attacher types (a watching pane).
	ReadOnly bool
}

// Attach joins conn to the console: from now on it receives all output, and
// what it sends goes to the zone. conn is closed when the attacher leaves,
// whichever side ends it.
func (h *Hub) Attach(conn io.ReadWriteCloser, opts AttachOptions) *Attacher {
	a := &Attacher{h: h, conn: conn, raw: nonblockingConn(conn), wake: make(chan struct{}, 1), room: make(chan struct{}, 1), done: make(chan struct{})}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		a.kill(errors.New("console closed"))
		return a
	}
	if opts.Replay {
		// Taken under the hub lock, so no output is missed or doubled
		// between the replay and the live stream.
		if b := h.ring.Bytes(); len(b) > 0 {
			a.q = append(a.q, b)
			a.queued = len(b)
			a.wake <- struct{}{}
		}
	}
	h.attachers[a] = struct{}{}
	h.mu.Unlock()
	go a.writeLoop()
	go a.readLoop(opts.ReadOnly)
	return a
}

// Attachers reports how many attachers are connected.
func (h *Hub) Attachers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.attachers)
}

// input writes what an attacher typed to the current master, if any.
func (h *Hub) input(p []byte) {
	h.mu.Lock()
	end := h.end
	h.mu.Unlock()
	if end == nil {
		return
	}
	h.inMu.Lock()
	defer h.inMu.Unlock()
	// An error here means the zone's pty went away mid-write (or the
	// master was replaced); the reader reports that, and the keystrokes
	// have nowhere to go.
	_, _ = end.Write(p)
}

func (h *Hub) remove(a *Attacher, err error) {
	h.mu.Lock()
	delete(h.attachers, a)
	h.mu.Unlock()
	a.kill(err)
}

// Close disconnects every attacher and releases the master. The ring and the
// log stay usable by their owner.
func (h *Hub) Close() error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	h.gen++
	end := h.end
	h.end = nil
	as := h.attachers
	h.attachers = map[*Attacher]struct{}{}
	h.mu.Unlock()
	for a := range as {
		a.kill(errors.New("console closed"))
	}
	if end != nil {
		// Its reader wakes and releases the master.
		end.stop()
	}
	return nil
}

// Attacher is one client connected to a Hub.
type Attacher struct {
	h    *Hub
	conn io.ReadWriteCloser
	raw  syscall.RawConn // conn's descriptor if non-blocking, for writeNow
	wake chan struct{}
	room chan struct{} // a queue that was full has been written out
	done chan struct{}

	mu      sync.Mutex
	q       [][]byte
	queued  int
	writing bool // writeLoop is writing what it took from q
	dead    bool
	err     error
}

// nonblockingConn returns conn's descriptor when it is non-blocking, so
// that output can be offered to it without waiting (zoneadmd's end of
// the socketpair to zlogin); nil otherwise.
func nonblockingConn(conn io.ReadWriteCloser) syscall.RawConn {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	nonblock := false
	if err := rc.Control(func(fd uintptr) {
		fl, err := unix.FcntlInt(fd, unix.F_GETFL, 0)
		nonblock = err == nil && fl&unix.O_NONBLOCK != 0
	}); err != nil || !nonblock {
		return nil
	}
	return rc
}

// writeNow writes what an attacher that is keeping up (nothing queued,
// nothing being written) takes of p without waiting, and returns the rest
// for its queue. Handing every batch to the writer goroutine instead cost
// a thread wake-up per batch; the goroutine now only drains what a busy
// client left over. A write error leaves p to the queue, whose writer
// meets the error again and removes the attacher.
func (a *Attacher) writeNow(p []byte) []byte {
	if a.raw == nil {
		return p
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.dead || a.writing || a.queued > 0 {
		return p
	}
	n := 0
	// Never waits: f reports done whatever happened.
	_ = a.raw.Write(func(fd uintptr) bool {
		for n < len(p) {
			k, err := unix.Write(int(fd), p[n:])
			if k > 0 {
				n += k
				continue
			}
			if !errors.Is(err, unix.EINTR) {
				break
			}
		}
		return true
	})
	return p[n:]
}

// hasRoom reports whether n more bytes fit the queue (a dead attacher
// takes anything: it drops it).
func (a *Attacher) hasRoom(n, limit int) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.dead || a.queued == 0 || a.queued+n <= limit
}

// enqueue adds chunk to the queue; false means the queue overflowed.
func (a *Attacher) enqueue(chunk []byte, limit int) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.dead {
		return true
	}
	// One read bigger than the limit still goes to an empty queue: the
	// limit bounds a backlog, not a read.
	if a.queued > 0 && a.queued+len(chunk) > limit {
		return false
	}
	a.q = append(a.q, chunk)
	a.queued += len(chunk)
	select {
	case a.wake <- struct{}{}:
	default:
	}
	return true
}

func (a *Attacher) writeLoop() {
	for {
		select {
		case <-a.done:
			return
		case <-a.wake:
		}
		a.mu.Lock()
		q := a.q
		a.q, a.queued = nil, 0
		a.writing = len(q) > 0
		a.mu.Unlock()
		for _, chunk := range q {
			if _, err := a.conn.Write(chunk); err != nil {
				a.h.remove(a, fmt.Errorf("write to console attacher: %w", err))
				return
			}
		}
		a.mu.Lock()
		a.writing = false
		a.mu.Unlock()
		select {
		case a.room <- struct{}{}:
		default:
		}
	}
}

func (a *Attacher) readLoop(readOnly bool) {
	buf := make([]byte, 4096)
	for {
		n, err := a.conn.Read(buf)
		if n > 0 && !readOnly {
			a.h.input(buf[:n])
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = nil
			} else {
				err = fmt.Errorf("read from console attacher: %w", err)
			}
			a.h.remove(a, err)
			return
		}
	}
}

// kill ends the attacher once: later calls keep the first reason.
func (a *Attacher) kill(err error) {
	a.mu.Lock()
	if a.dead {
		a.mu.Unlock()
		return
	}
	a.dead = true
	a.err = err
	a.q, a.queued = nil, 0
	a.mu.Unlock()
	close(a.done)
	// Closing the connection also unblocks a writer stuck on a stalled
	// client and the reader waiting for keystrokes.
	a.conn.Close()
}

// Close detaches: the attacher leaves the hub and its connection is closed.
func (a *Attacher) Close() error {
	a.h.remove(a, nil)
	return nil
}

// Done is closed when the attacher has left the hub.
func (a *Attacher) Done() <-chan struct{} { return a.done }

// Err reports why the attacher left: nil for a detach or the client hanging
// up, ErrSlowAttacher if it fell behind, or the I/O error that ended it.
// It is meaningful after Done is closed.
func (a *Attacher) Err() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.err
}
