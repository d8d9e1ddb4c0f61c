package wire

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"time"
	"zonetop/api"
	"zonetop/internal/configs"
	"zonetop/limits"
	"zonetop/rctl"
)

// The control protocol between front ends, zoneadmd and zsched. Each
// message is one JSON object in one SOCK_SEQPACKET datagram, so message
// boundaries and the file descriptors that travel with a message
// (SCM_RIGHTS) can never be split or merged. Messages are bounded by
// maxMessage; a bigger or malformed one is answered with an error and the
// connection is dropped.

const (
	MaxMessage = 64 << 10
	maxFDs     = 4
	// zschedFDs: stdio and two tasks files per hierarchy.
	ZschedFDs = 3 + 2*8
)

// request is what a client asks zoneadmd, and what zoneadmd asks zsched.
type Request struct {
	Op      string                `json:"op"`
	Spec    *configs.PlatformSpec `json:"spec,omitempty"`
	Args    []string              `json:"args,omitempty"`
	Timeout time.Duration         `json:"timeout,omitempty"`
	Exec    *api.ExecRequest      `json:"exec,omitempty"`
	// Hold asks zsched to start the command stopped in a stub until
	// zoneadmd has put it into its project's cgroup and sends "release".
	Hold bool `json:"hold,omitempty"`
	// Place is how many of the message's last descriptors are cgroup v1
	// tasks files: the first half where the command is to be born, the
	// second where zsched's forking thread returns (see placeFiles).
	Place   int                    `json:"place,omitempty"`
	Rlimits []limits.RlimitSetting `json:"rlimits,omitempty"`
	Error   string                 `json:"error,omitempty"`
	Rctl    *api.RctlChange        `json:"rctl,omitempty"`
	// RctlValues are Rctl's values as the front end parsed them, once;
	// Rctl.Values is their text, for the audit and the log. A set-rctl
	// with text and no values is refused rather than parsed again.
	RctlValues []rctl.Value        `json:"rctlValues,omitempty"`
	Console    *api.ConsoleOptions `json:"console,omitempty"`
	// Data is a piece of a delegated zonecfg's standard input; EOF ends
	// it. Prompt asks the session to prompt (the user is at a terminal).
	Data   []byte `json:"data,omitempty"`
	EOF    bool   `json:"eof,omitempty"`
	Prompt bool   `json:"prompt,omitempty"`
}

// warmJSON builds encoding/json's tables for the protocol's messages on
// another goroutine. The first encode or decode of a type walks all its
// fields by reflection (request and response reach most of the engine's
// types): 0.1 to 0.3 ms that would otherwise fall on a process's first
// request. zoneadmd calls it first thing: it has its lock, pid file and
// socket to make, then waits for the front end's request meanwhile. (A
// front end gains nothing measurable from it: it has too little to do
// before it speaks.)
func WarmJSON() {
	go func() {
		_, _ = json.Marshal(Request{Spec: &configs.PlatformSpec{}, Exec: &api.ExecRequest{}, Rctl: &api.RctlChange{}, Console: &api.ConsoleOptions{}})
		_, _ = json.Marshal(Response{Status: &api.ZoneStatus{}, Usage: &api.ZoneUsage{}, Zones: []api.ZoneInfo{{}}, IPC: []api.IPCUsage{{}}})
	}()
}

// response answers a request. An exec gets two: first Pid once the
// command runs, then Exit when it has ended.
type Response struct {
	OK     bool            `json:"ok"`
	Error  string          `json:"error,omitempty"`
	Code   api.Code        `json:"code,omitempty"` // the kind of Error (api.FromWire)
	Status *api.ZoneStatus `json:"status,omitempty"`
	Pid    int             `json:"pid,omitempty"`
	Exit   *int            `json:"exit,omitempty"`
	Zones  []api.ZoneInfo  `json:"zones,omitempty"` // the zonetop service's list (serve.go)
	IPC    []api.IPCUsage  `json:"ipc,omitempty"`
	// Held: the command's stub waits for release (Pid is its pid in the
	// zone).
	Held     bool           `json:"held,omitempty"`
	Warnings []string       `json:"warnings,omitempty"`
	Usage    *api.ZoneUsage `json:"usage,omitempty"`
	// Event is news zoneadmd sends on its own, on a connection that
	// stays open (an attached console): "halted", "booting", "ready".
	Event string `json:"event,omitempty"`
	// Data is output of a delegated zonecfg, for Stream 1 (stdout) or 2
	// (stderr); its Exit ends the session.
	Data   []byte `json:"data,omitempty"`
	Stream int    `json:"stream,omitempty"`
	// Log is the end of the zone's console log (console-log), as much
	// as one message holds, from a whole line.
	Log string `json:"log,omitempty"`
	// hostPid is Pid as the host sees it, when a pidfd came with the
	// answer; it never travels.
	HostPid int `json:"-"`
}

// conn is one end of a control connection.
type Conn struct {
	C *net.UnixConn
	// fds is how many descriptors a message may bring, maxFDs unless
	// set: zsched takes a command's stdio and its placement files. It
	// bounds the read only; each op takes exactly its own (wantFDs).
	Fds int
	// hidePids: the peer is not host root. The host pids of a zone's
	// zsched and init are root's business, whatever the peer may
	// otherwise know of the zone.
	HidePids bool
}

// wantFDs refuses a message that brought other than the want descriptors
// its op takes, closing every one of them: a descriptor that arrives
// where none is expected is somebody's attempt to plant it.
func WantFDs(op string, files []*os.File, want int) error {
	if len(files) == want {
		return nil
	}
	CloseAll(files)
	if want == 0 {
		return fmt.Errorf("%s takes no file descriptors; the request brought %d", op, len(files))
	}
	return fmt.Errorf("%s takes %d file descriptors; the request brought %d", op, want, len(files))
}

func Dial(path string, timeout time.Duration) (*Conn, error) {
	d := net.Dialer{Timeout: timeout}
	c, err := d.Dial("unixpacket", path)
	if err != nil {
		return nil, err
	}
	return &Conn{C: c.(*net.UnixConn)}, nil
}

func (c *Conn) Close() error { return c.C.Close() }

// errClosed is what recv says when the other end has hung up.
var ErrClosed = errors.New("connection closed")

// fileConn makes a conn of a connected unix socket handed over as a file
// (one end of a socket pair); f is closed, the conn works on a duplicate.
func FileConn(f *os.File) (*Conn, error) {
	defer f.Close()
	nc, err := net.FileConn(f)
	if err != nil {
		return nil, err
	}
	uc, ok := nc.(*net.UnixConn)
	if !ok {
		nc.Close()
		return nil, errors.New("not a unix socket")
	}
	return &Conn{C: uc}, nil
}

// send writes v as one message with files attached. The files stay open;
// the caller closes its copies.
func (c *Conn) Send(v any, files ...*os.File) error {
	if r, ok := v.(Response); ok && c.HidePids && r.Status != nil {
		st := *r.Status
		st.InitPid, st.ZschedPid = 0, 0
		r.Status = &st
		v = r
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode message: %w", err)
	}
	if len(b) > MaxMessage {
		return fmt.Errorf("message of %d bytes exceeds %d", len(b), MaxMessage)
	}
	var oob []byte
	if len(files) > 0 {
		fds := make([]int, len(files))
		for i, f := range files {
			fds[i] = int(f.Fd())
		}
		oob = syscall.UnixRights(fds...)
	}
	if _, _, err := c.C.WriteMsgUnix(b, oob, nil); err != nil {
		return fmt.Errorf("send: %w", err)
	}
	return nil
}

// recv reads one message into v and returns the files that came with it.
// Files are returned even when decoding fails so they can be closed.
func (c *Conn) Recv(v any) ([]*os.File, error) {
	buf := make([]byte, c.nextSize())
	limit := c.Fds
	if limit == 0 {
		limit = maxFDs
	}
	oob := make([]byte, syscall.CmsgSpace(limit*4))
	n, oobn, flags, _, err := c.C.ReadMsgUnix(buf, oob)
	if err != nil {
		return nil, err
	}
	files, ferr := ParseRights(oob[:oobn])
	if flags&syscall.MSG_CTRUNC != 0 {
		CloseAll(files)
		return nil, errors.New("too many file descriptors in message")
	}
	if ferr != nil {
		CloseAll(files)
		return nil, ferr
	}
	if n == 0 {
		CloseAll(files)
		return nil, ErrClosed
	}
	if n > MaxMessage || flags&syscall.MSG_TRUNC != 0 {
		CloseAll(files)
		return nil, fmt.Errorf("message exceeds %d bytes", MaxMessage)
	}
	if err := json.Unmarshal(buf[:n], v); err != nil {
		return files, fmt.Errorf("malformed message: %w", err)
	}
	return files, nil
}

// nextSize is the buffer the next datagram needs: its length, peeked
// (MSG_TRUNC reports a datagram's whole length), and one byte more, so
// that a message over the bound still shows as one. A request is a few
// hundred bytes; a buffer of the bound itself for each was most of what
// an idle zoneadmd or zsched ever allocated, and one waiting receive held
// 72 KiB for the life of its connection. Anything but a plain length (a
// closed peer, a deadline, an error) gets the whole bound, and the read
// that follows answers as it did.
func (c *Conn) nextSize() int {
	rc, err := c.C.SyscallConn()
	if err != nil {
		return MaxMessage + 1
	}
	// Only a datagram's length can be peeked. Asked at every call, not
	// kept in the Conn: a receive must not write to it.
	kind := 0
	_ = rc.Control(func(fd uintptr) {
		kind, _ = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_TYPE)
	})
	if kind != syscall.SOCK_SEQPACKET {
		return MaxMessage + 1
	}
	var n uintptr
	var errno syscall.Errno
	err = rc.Read(func(fd uintptr) bool {
		// recvfrom(2) with no buffer and no address: nothing is taken.
		n, _, errno = syscall.Syscall6(syscall.SYS_RECVFROM, fd, 0, 0,
			syscall.MSG_PEEK|syscall.MSG_TRUNC|syscall.MSG_DONTWAIT, 0, 0)
		return errno != syscall.EAGAIN
	})
	if err != nil || errno != 0 || n == 0 || n > MaxMessage {
		return MaxMessage + 1
	}
	return int(n) + 1
}

func ParseRights(oob []byte) ([]*os.File, error) {
	if len(oob) == 0 {
		return nil, nil
	}
	msgs, err := syscall.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, fmt.Errorf("control message: %w", err)
	}
	var files []*os.File
	for _, m := range msgs {
		fds, err := syscall.ParseUnixRights(&m)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			syscall.CloseOnExec(fd)
			files = append(files, os.NewFile(uintptr(fd), "passed"))
		}
	}
	return files, nil
}

func CloseAll(files []*os.File) {
	for _, f := range files {
		if f != nil {
			f.Close()
		}
	}
}

// peerIsRoot checks the peer's credentials on a freshly accepted
// connection: only host root talks to zoneadmd and zsched.
func PeerIsRoot(c *net.UnixConn) error {
	cred, err := PeerCred(c)
	if err != nil {
		return err
	}
	if cred.Uid != 0 {
		return fmt.Errorf("peer uid %d is not root", cred.Uid)
	}
	return nil
}

// overflowUID is the uid an unmapped id shows as (kernel.overflowuid).
func OverflowUID() uint32 {
	b, err := os.ReadFile("/proc/sys/kernel/overflowuid")
	if err != nil {
		return 65534
	}
	var n uint32
	if _, err := fmt.Sscan(string(b), &n); err != nil {
		return 65534
	}
	return n
}

// peerOutsideUserns is peerIsRoot for a zsched in a user namespace, where
// host root is unmapped and shows as the overflow uid. The control socket
// is mode 600 in host root's 700 run directory and outside the zone's
// mount namespace, so only host root reaches it; the check refuses any
// peer inside the zone.
func PeerOutsideUserns(c *net.UnixConn) error {
	cred, err := PeerCred(c)
	if err != nil {
		return err
	}
	// A peer outside the zone's pid namespace has no pid in it (0);
	// every process of the zone has one. Host root is unmapped here.
	if cred.Pid != 0 || cred.Uid != OverflowUID() {
		return fmt.Errorf("peer uid %d (pid %d) is not host root", cred.Uid, cred.Pid)
	}
	return nil
}

// RoundTrip sends one request and reads one response.
func RoundTrip(path string, req Request, files ...*os.File) (Response, error) {
	return RoundTripWithin(path, 0, req, files...)
}

// RoundTripWithin is RoundTrip for a caller that shows what it has
// rather than wait for good: past wait (0: no limit) without the answer it
// fails with an error that os.ErrDeadlineExceeded matches.
func RoundTripWithin(path string, wait time.Duration, req Request, files ...*os.File) (Response, error) {
	c, err := Dial(path, 2*time.Second)
	if err != nil {
		return Response{}, err
	}
	defer c.Close()
	if wait > 0 {
		_ = c.C.SetDeadline(time.Now().Add(wait))
	}
	if err := c.Send(req, files...); err != nil {
		// A server that refused the connection said why before it
		// closed it: that, not the broken pipe, is the answer.
		_ = c.C.SetReadDeadline(time.Now().Add(time.Second))
		var resp Response
		if got, rerr := c.Recv(&resp); rerr == nil && resp.Error != "" {
			CloseAll(got)
			return resp, nil
		}
		return Response{}, err
	}
	var resp Response
	got, err := c.Recv(&resp)
	CloseAll(got)
	if err != nil {
		return Response{}, fmt.Errorf("%s: %w", req.Op, err)
	}
	return resp, nil
}

// PingWait bounds Ping. A zoneadmd answers a ping from memory at once; one
// that is stopped or wedged would otherwise hold its caller (a listing,
// a delegated user's command) for good, and is better called not
// answering, which the caller reports.
var PingWait = 5 * time.Second

// Ping reports whether a zoneadmd answers at sock within PingWait.
func Ping(sock string) bool {
	resp, err := RoundTripWithin(sock, PingWait, Request{Op: "ping"})
	return err == nil && resp.OK
}

// StatusCall sends a request whose answer is a zone's status: a failure
// to reach zoneadmd is named with the zone, a refusal or failure it
// answered keeps its kind.
func StatusCall(sock, zone string, req Request) (api.ZoneStatus, error) {
	return StatusCallWithin(sock, zone, 0, req)
}

// StatusCallWithin is StatusCall bounded as RoundTripWithin is.
func StatusCallWithin(sock, zone string, wait time.Duration, req Request) (api.ZoneStatus, error) {
	resp, err := RoundTripWithin(sock, wait, req)
	if err != nil {
		return api.ZoneStatus{}, fmt.Errorf("zoneadmd %s: %w", zone, err)
	}
	var st api.ZoneStatus
	if resp.Status != nil {
		st = *resp.Status
	}
	if !resp.OK {
		return st, api.FromWire(resp.Error, resp.Code)
	}
	return st, nil
}
