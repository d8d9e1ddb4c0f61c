package console

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// readBatchSize is how much the hub takes from a console in one go. A pty
// master hands out at most its line discipline's 4 KiB per read (often
// 2 KiB: a tty writes in 2 KiB pieces), and every read the hub fans out
// costs a log write, a copy and a wake-up per attacher, and further down
// a wake-up of every attacher's client: taking what the zone has already
// written before fanning it out makes those costs per batch, not per read
// (DECISIONS.md, Console throughput).
const readBatchSize = 64 << 10

// errStopped ends a console end's read or write once the hub let go of it.
var errStopped = errors.New("console master released")

// consoleEnd is the hub's side of one console pty: the reader goroutine
// reads it, attachers' keystrokes are written to it, and stop ends both.
// release is called once, by the reader goroutine when it reads no more.
type consoleEnd interface {
	io.ReadWriter
	stop()
	release()
}

// newConsoleEnd takes m over: a ptyEnd when the process can spare two
// descriptors, else m itself, read a read(2) at a time.
func newConsoleEnd(m *os.File) consoleEnd {
	if e, err := newPtyEnd(m); err == nil {
		m.Close()
		return e
	}
	return fileEnd{m}
}

// fileEnd is a master read and written through its *os.File; closing it
// wakes a reader or writer blocked in Go's poller.
type fileEnd struct{ *os.File }

func (f fileEnd) stop()    { f.Close() }
func (f fileEnd) release() { f.Close() }

// ptyEnd is a console master on a descriptor of its own, outside Go's
// poller. The poller keeps every pollable file in an edge-triggered epoll
// set, and a tty wakes its waiters at every piece of output the kernel
// moves into its line discipline: with the master in that set, each 2-4
// KiB a zone wrote also woke an idle thread of zoneadmd, to find nothing to
// do (about one epoll_wait return per read). A ptyEnd reads what is there
// without waiting, waits in poll(2) for the master or its stop event only
// when there is nothing, and so costs the syscalls of a plain blocking
// read while stop can still end it at any time.
//
// Its descriptor is a dup made non-blocking (the flag belongs to the
// open file description, which only the hub uses). It is closed by
// release once no write is under way, so no read or write can meet a
// number the process has reused.
type ptyEnd struct {
	name string
	fd   int
	ev   int // eventfd, readable once stop was called

	awaits atomic.Int64 // waits for the master, for the tests' spin check

	mu      sync.Mutex
	writing int // Write calls under way
	closed  bool
	idle    sync.Cond // signalled when writing drops to 0
}

func newPtyEnd(m *os.File) (*ptyEnd, error) {
	e := &ptyEnd{name: m.Name(), fd: -1, ev: -1}
	e.idle.L = &e.mu
	err := control(m, "dup console master", func(mfd int) error {
		fd, err := unix.FcntlInt(uintptr(mfd), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			return err
		}
		e.fd = fd
		return unix.SetNonblock(fd, true)
	})
	if err == nil {
		e.ev, err = unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
		if err != nil {
			e.ev = -1
			err = fmt.Errorf("console master eventfd: %w", err)
		}
	}
	if err != nil {
		e.closeFDs()
		return nil, err
	}
	return e, nil
}

// Read fills p with what the console has written, at least one byte,
// gathering what is already there without waiting for more. Bytes read
// before an error are returned without it; the next call meets the error
// again (a pty master's EIO stays).
func (e *ptyEnd) Read(p []byte) (int, error) {
	n, misses := 0, 0
	for n < len(p) {
		k, err := unix.Read(e.fd, p[n:])
		switch {
		case k > 0:
			n += k
		case errors.Is(err, unix.EINTR):
		case errors.Is(err, unix.EAGAIN):
			if n > 0 {
				return n, nil
			}
			if err := e.await(unix.POLLIN, &misses); err != nil {
				return 0, err
			}
		case n > 0:
			return n, nil
		case err != nil:
			return 0, &os.PathError{Op: "read", Path: e.name, Err: err}
		default:
			return 0, io.EOF
		}
	}
	return n, nil
}

// Write writes all of p to the zone's console input, waiting while the
// zone does not read it, until stop.
func (e *ptyEnd) Write(p []byte) (int, error) {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return 0, &os.PathError{Op: "write", Path: e.name, Err: fs.ErrClosed}
	}
	e.writing++
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		e.writing--
		if e.writing == 0 {
			e.idle.Broadcast()
		}
		e.mu.Unlock()
	}()
	n, misses := 0, 0
	for n < len(p) {
		k, err := unix.Write(e.fd, p[n:])
		switch {
		case k > 0:
			n += k
			misses = 0
		case errors.Is(err, unix.EINTR):
		case errors.Is(err, unix.EAGAIN):
			if err := e.await(unix.POLLOUT, &misses); err != nil {
				return n, err
			}
		case err != nil:
			return n, &os.PathError{Op: "write", Path: e.name, Err: err}
		default:
			return n, io.ErrShortWrite
		}
	}
	return n, nil
}

// await waits until the master is ready for events, or stop. poll(2) is
// level-triggered, and the tty layer answers poll and read or write from
// different checks (room in its line discipline, room for one more of its
// flip buffers); should they ever disagree, a loop of poll and a call that
// takes nothing would spin a CPU for as long as the zone leaves its input
// unread. So every other wait after a miss is a pause instead (1 ms,
// doubling to 128 ms); a one-off miss costs one pause. (Not seen on the
// kernels here; Go's edge-triggered poller could not spin this way.)
func (e *ptyEnd) await(events int16, misses *int) error {
	e.awaits.Add(1)
	*misses++
	if *misses%2 == 1 {
		return e.wait(events, -1)
	}
	return e.wait(0, 1<<min(*misses/2-1, 7))
}

// wait polls the master for events (none: only a hangup or error) and the
// stop event, until either or timeout milliseconds (-1: no limit).
func (e *ptyEnd) wait(events int16, timeout int) error {
	fds := []unix.PollFd{{Fd: int32(e.fd), Events: events}, {Fd: int32(e.ev), Events: unix.POLLIN}}
	for {
		_, err := unix.Poll(fds, timeout)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return fmt.Errorf("poll %s: %w", e.name, err)
		}
		break
	}
	if fds[1].Revents != 0 {
		return errStopped
	}
	if fds[0].Revents&unix.POLLNVAL != 0 {
		return &os.PathError{Op: "poll", Path: e.name, Err: unix.EBADF}
	}
	// Ready, timed out, or POLLHUP or POLLERR, which the read or write
	// that follows reports.
	return nil
}

// stop makes waiting and later reads and writes end; safe from any
// goroutine, any number of times, before or after release.
func (e *ptyEnd) stop() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.closed {
		// An eventfd write fails only at a counter near 2^64, which is
		// readable anyway.
		one := [8]byte{1}
		_, _ = unix.Write(e.ev, one[:])
	}
}

// release stops the end and closes its descriptors once no write is
// under way.
func (e *ptyEnd) release() {
	e.stop()
	e.mu.Lock()
	for e.writing > 0 {
		e.idle.Wait()
	}
	e.closeFDsLocked()
	e.mu.Unlock()
}

func (e *ptyEnd) closeFDs() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.closeFDsLocked()
}

func (e *ptyEnd) closeFDsLocked() {
	if e.closed {
		return
	}
	e.closed = true
	if e.fd >= 0 {
		unix.Close(e.fd)
	}
	if e.ev >= 0 {
		unix.Close(e.ev)
	}
}
