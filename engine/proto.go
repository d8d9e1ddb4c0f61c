package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"time"

	"zonetop/limits"
)

// The control protocol between front ends, zoneadmd and zsched. Each
// message is one JSON object in one SOCK_SEQPACKET datagram, so message
// boundaries and the file descriptors that travel with a message
// (SCM_RIGHTS) can never be split or merged. Messages are bounded by
// maxMessage; a bigger or malformed one is answered with an error and the
// connection is dropped.

const (
	maxMessage = 64 << 10
	maxFDs     = 4
	// zschedFDs: stdio and two tasks files per hierarchy.
	zschedFDs = 3 + 2*8
)

// request is what a client asks zoneadmd, and what zoneadmd asks zsched.
type request struct {
	Op      string        `json:"op"`
	Spec    *PlatformSpec `json:"spec,omitempty"`
	Args    []string      `json:"args,omitempty"`
	Timeout time.Duration `json:"timeout,omitempty"`
	Exec    *ExecRequest  `json:"exec,omitempty"`
	// Hold asks zsched to start the command stopped in a stub until
	// zoneadmd has put it into its project's cgroup and sends "release".
	Hold bool `json:"hold,omitempty"`
	// Place is how many of the message's last descriptors are cgroup v1
	// tasks files: the first half where the command is to be born, the
	// second where zsched's forking thread returns (see placeFiles).
	Place   int                    `json:"place,omitempty"`
	Rlimits []limits.RlimitSetting `json:"rlimits,omitempty"`
	Error   string                 `json:"error,omitempty"`
	Rctl    *RctlChange            `json:"rctl,omitempty"`
	Console *ConsoleOptions        `json:"console,omitempty"`
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
func warmJSON() {
	go func() {
		_, _ = json.Marshal(request{Spec: &PlatformSpec{}, Exec: &ExecRequest{}, Rctl: &RctlChange{}, Console: &ConsoleOptions{}})
		_, _ = json.Marshal(response{Status: &ZoneStatus{}, Usage: &ZoneUsage{}, Zones: []ZoneInfo{{}}, IPC: []IPCUsage{{}}})
	}()
}

// response answers a request. An exec gets two: first Pid once the
// command runs, then Exit when it has ended.
type response struct {
	OK     bool        `json:"ok"`
	Error  string      `json:"error,omitempty"`
	Status *ZoneStatus `json:"status,omitempty"`
	Pid    int         `json:"pid,omitempty"`
	Exit   *int        `json:"exit,omitempty"`
	Zones  []ZoneInfo  `json:"zones,omitempty"` // the zonetop service's list (serve.go)
	IPC    []IPCUsage  `json:"ipc,omitempty"`
	// Held: the command's stub waits for release (Pid is its pid in the
	// zone).
	Held     bool       `json:"held,omitempty"`
	Warnings []string   `json:"warnings,omitempty"`
	Usage    *ZoneUsage `json:"usage,omitempty"`
	// Event is news zoneadmd sends on its own, on a connection that
	// stays open (an attached console): "halted", "booting", "ready".
	Event string `json:"event,omitempty"`
	// Data is output of a delegated zonecfg, for Stream 1 (stdout) or 2
	// (stderr); its Exit ends the session.
	Data   []byte `json:"data,omitempty"`
	Stream int    `json:"stream,omitempty"`
	// hostPid is Pid as the host sees it, when a pidfd came with the
	// answer; it never travels.
	hostPid int
}

// conn is one end of a control connection.
type conn struct {
	c *net.UnixConn
	// fds is how many descriptors a message may bring, maxFDs unless
	// set: zsched takes a command's stdio and its placement files. It
	// bounds the read only; each op takes exactly its own (wantFDs).
	fds int
	// hidePids: the peer is not host root. The host pids of a zone's
	// zsched and init are root's business, whatever the peer may
	// otherwise know of the zone.
	hidePids bool
}

// wantFDs refuses a message that brought other than the want descriptors
// its op takes, closing every one of them: a descriptor that arrives
// where none is expected is somebody's attempt to plant it.
func wantFDs(op string, files []*os.File, want int) error {
	if len(files) == want {
		return nil
	}
	closeAll(files)
	if want == 0 {
		return fmt.Errorf("%s takes no file descriptors; the request brought %d", op, len(files))
	}
	return fmt.Errorf("%s takes %d file descriptors; the request brought %d", op, want, len(files))
}

func dial(path string, timeout time.Duration) (*conn, error) {
	d := net.Dialer{Timeout: timeout}
	c, err := d.Dial("unixpacket", path)
	if err != nil {
		return nil, err
	}
	return &conn{c: c.(*net.UnixConn)}, nil
}

func (c *conn) Close() error { return c.c.Close() }

// errClosed is what recv says when the other end has hung up.
var errClosed = errors.New("connection closed")

// fileConn makes a conn of a connected unix socket handed over as a file
// (one end of a socket pair); f is closed, the conn works on a duplicate.
func fileConn(f *os.File) (*conn, error) {
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
	return &conn{c: uc}, nil
}

// send writes v as one message with files attached. The files stay open;
// the caller closes its copies.
func (c *conn) send(v any, files ...*os.File) error {
	if r, ok := v.(response); ok && c.hidePids && r.Status != nil {
		st := *r.Status
		st.InitPid, st.ZschedPid = 0, 0
		r.Status = &st
		v = r
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode message: %w", err)
	}
	if len(b) > maxMessage {
		return fmt.Errorf("message of %d bytes exceeds %d", len(b), maxMessage)
	}
	var oob []byte
	if len(files) > 0 {
		fds := make([]int, len(files))
		for i, f := range files {
			fds[i] = int(f.Fd())
		}
		oob = syscall.UnixRights(fds...)
	}
	if _, _, err := c.c.WriteMsgUnix(b, oob, nil); err != nil {
		return fmt.Errorf("send: %w", err)
	}
	return nil
}

// recv reads one message into v and returns the files that came with it.
// Files are returned even when decoding fails so they can be closed.
func (c *conn) recv(v any) ([]*os.File, error) {
	buf := make([]byte, maxMessage+1)
	limit := c.fds
	if limit == 0 {
		limit = maxFDs
	}
	oob := make([]byte, syscall.CmsgSpace(limit*4))
	n, oobn, flags, _, err := c.c.ReadMsgUnix(buf, oob)
	if err != nil {
		return nil, err
	}
	files, ferr := parseRights(oob[:oobn])
	if flags&syscall.MSG_CTRUNC != 0 {
		closeAll(files)
		return nil, errors.New("too many file descriptors in message")
	}
	if ferr != nil {
		closeAll(files)
		return nil, ferr
	}
	if n == 0 {
		closeAll(files)
		return nil, errClosed
	}
	if n > maxMessage || flags&syscall.MSG_TRUNC != 0 {
		closeAll(files)
		return nil, fmt.Errorf("message exceeds %d bytes", maxMessage)
	}
	if err := json.Unmarshal(buf[:n], v); err != nil {
		return files, fmt.Errorf("malformed message: %w", err)
	}
	return files, nil
}

func parseRights(oob []byte) ([]*os.File, error) {
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

func closeAll(files []*os.File) {
	for _, f := range files {
		if f != nil {
			f.Close()
		}
	}
}

// peerIsRoot checks the peer's credentials on a freshly accepted
// connection: only host root talks to zoneadmd and zsched.
func peerIsRoot(c *net.UnixConn) error {
	cred, err := peerCred(c)
	if err != nil {
		return err
	}
	if cred.Uid != 0 {
		return fmt.Errorf("peer uid %d is not root", cred.Uid)
	}
	return nil
}

// overflowUID is the uid an unmapped id shows as (kernel.overflowuid).
func overflowUID() uint32 {
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
func peerOutsideUserns(c *net.UnixConn) error {
	cred, err := peerCred(c)
	if err != nil {
		return err
	}
	// A peer outside the zone's pid namespace has no pid in it (0);
	// every process of the zone has one. Host root is unmapped here.
	if cred.Pid != 0 || cred.Uid != overflowUID() {
		return fmt.Errorf("peer uid %d (pid %d) is not host root", cred.Uid, cred.Pid)
	}
	return nil
}

// roundTrip sends one request and reads one response.
func roundTrip(path string, req request, files ...*os.File) (response, error) {
	c, err := dial(path, 2*time.Second)
	if err != nil {
		return response{}, err
	}
	defer c.Close()
	if err := c.send(req, files...); err != nil {
		// A server that refused the connection said why before it
		// closed it: that, not the broken pipe, is the answer.
		_ = c.c.SetReadDeadline(time.Now().Add(time.Second))
		var resp response
		if got, rerr := c.recv(&resp); rerr == nil && resp.Error != "" {
			closeAll(got)
			return resp, nil
		}
		return response{}, err
	}
	var resp response
	got, err := c.recv(&resp)
	closeAll(got)
	if err != nil {
		return response{}, fmt.Errorf("%s: %w", req.Op, err)
	}
	return resp, nil
}
