package zoneadmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
	"zonetop/api"
	"zonetop/console"
	"zonetop/internal/audit"
	"zonetop/internal/authz"
	"zonetop/internal/configs"
	"zonetop/internal/pathrs"
	"zonetop/internal/platform"
	"zonetop/internal/wire"
	"zonetop/limits"
	"zonetop/rctl"
	"zonetop/zones"

	"golang.org/x/sys/unix"
)

const (
	zoneSockIdle    = 30 * time.Second
	zoneSockMaxConn = 64
	// One uid other than the zone's root holds at most zoneSockPerUID
	// connections, and all of them together leave zoneSockRootReserve
	// for root, so no user of the zone can lock its administrator out.
	zoneSockPerUID      = 8
	zoneSockRootReserve = 8
	// Each connection may send a burst of zoneSockBurst requests, then
	// zoneSockRate a second; beyond that it is told to slow down, so a
	// zone capped at a fraction of a CPU cannot make zoneadmd spend more
	// on its behalf.
	zoneSockBurst = 100
	zoneSockRate  = 50
	// A uid other than root opens a burst of zoneSockConnBurst
	// connections, then zoneSockConnRate a second: each costs zoneadmd
	// the peer's identification (its namespaces, the zone's passwd).
	zoneSockConnBurst = 32
	zoneSockConnRate  = 10
)

// ProjectOps serves the project requests of a zone socket; zoneadmd
// gives every zone's socket its own (zoneProjectOps), tests a fake.
// zoneRoot is the zone's root as the zone sees it.
type ProjectOps interface {
	ProjectOp(ctx context.Context, p api.Principal, zone, zoneRoot string, req api.ProjectRequest) (json.RawMessage, error)
}

// projectAction maps a project op onto the action Authorize decides.
func projectAction(op string) (api.Action, bool) {
	switch op {
	case "list":
		return api.ActInfo, true
	case "add":
		return api.ActCreateProject, true
	case "del":
		return api.ActDeleteProject, true
	case "mod", "set-limit":
		return api.ActSetProjectLimit, true
	}
	return "", false
}

// decodeZoneRequest parses and checks one message body.
func decodeZoneRequest(b []byte) (api.ZoneRequest, error) {
	var req api.ZoneRequest
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return api.ZoneRequest{}, fmt.Errorf("malformed request: %w", err)
	}
	if dec.More() {
		return api.ZoneRequest{}, errors.New("malformed request: trailing data")
	}
	switch req.Op {
	case "info", "usage", "processes", "console-log":
	case "signal":
		if req.Signal == nil {
			return api.ZoneRequest{}, errors.New("signal: no signal request")
		}
	case "newtask":
		// No project: the caller's default one (user.NAME or default).
		if req.Task != "" {
			if err := limits.ValidProjectName(req.Task); err != nil {
				return api.ZoneRequest{}, fmt.Errorf("newtask: %w", err)
			}
		}
	case "set-zone-cap":
		if req.Rctl == "" {
			return api.ZoneRequest{}, errors.New("set-zone-cap: no rctl")
		}
	case "set-task-rctl":
		if r, err := rctl.Lookup(req.Rctl); err != nil || r.Level != rctl.LevelTask {
			return api.ZoneRequest{}, fmt.Errorf("set-task-rctl: %q is not a task control", req.Rctl)
		}
		if req.TaskID <= 0 {
			return api.ZoneRequest{}, errors.New("set-task-rctl: no task id")
		}
	case "project":
		if req.Project == nil {
			return api.ZoneRequest{}, errors.New("project: no project request")
		}
		if _, ok := projectAction(req.Project.Op); !ok {
			return api.ZoneRequest{}, fmt.Errorf("project: unknown op %q", req.Project.Op)
		}
	case "":
		return api.ZoneRequest{}, errors.New("malformed request: no op")
	default:
		return api.ZoneRequest{}, fmt.Errorf("unknown op %q", req.Op)
	}
	return req, nil
}

// zoneSockServer serves one zone's socket.
type ZoneSockServer struct {
	Zone     string
	lis      *net.UnixListener
	identify func(*net.UnixConn) (api.Principal, error)
	config   func() (*zones.Config, error)
	Status   func() api.ZoneStatus
	zoneRoot func() string
	projects ProjectOps
	// The zone's usage, its processes (pids as the zone sees them) and
	// newtask (move host pid into a new task of project); nil: not
	// available.
	usage     func() (api.ZoneUsage, error)
	processes func(context.Context) ([]api.Process, error)
	// signal sends a signal to a process by its pid in the zone; nil:
	// not available.
	signal  func(req api.SignalRequest) error
	newTask func(p api.Principal, pid int, project string) (int, error)
	// setTaskRctl changes a running task's control (values in project(5)
	// form, empty removes it); nil: not available.
	setTaskRctl func(task int, rctl, values string) error
	// consoleLog reads the end of the zone's console log; nil: not
	// available.
	consoleLog func() (string, error)
	audit      func(audit.AuditRecord)
	// hostPaths are where the zone lives on the host: zoneRoots are the
	// zone's root as the host reaches it (a path under one is the
	// zone's own path below it), hidden are locations of the host that
	// a zone is not told of (see zoneText). nil: none to hide.
	HostPaths func() (zoneRoots, hidden []string)
	idle      time.Duration

	sem  chan struct{}
	wg   sync.WaitGroup
	mu   sync.Mutex
	open map[*net.UnixConn]bool

	// conns counts connections by peer uid; peerUID reads a
	// connection's uid (SO_PEERCRED).
	conns   *connLimiter
	peerUID func(*net.UnixConn) (uint32, error)
	// connRate paces new connections by uid (the accept loop's own).
	connRate map[uint32]*tokenBucket
}

func (s *ZoneSockServer) serve() {
	if s.idle == 0 {
		s.idle = zoneSockIdle
	}
	s.sem = make(chan struct{}, zoneSockMaxConn)
	s.open = map[*net.UnixConn]bool{}
	s.conns = NewConnLimiter("zone socket", zoneSockMaxConn, zoneSockPerUID, zoneSockRootReserve)
	if s.peerUID == nil {
		s.peerUID = PeerUID
	}
	for {
		c, err := s.lis.AcceptUnix()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		uid, err := s.peerUID(c)
		if err != nil {
			s.refuse(c, "zone socket: peer credentials: "+err.Error())
			continue
		}
		if why := s.paceConn(uid); why != "" {
			s.refuse(c, why)
			continue
		}
		if why := s.conns.Admit(uid); why != "" {
			// Refuse this one rather than queue it behind clients that
			// may never finish, and say why: the client shows it.
			s.refuse(c, why)
			continue
		}
		s.sem <- struct{}{} // admit keeps the count within its size
		s.mu.Lock()
		s.open[c] = true
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() { <-s.sem }()
			s.handle(c)
			s.mu.Lock()
			delete(s.open, c)
			s.mu.Unlock()
			s.conns.Leave(uid)
		}()
	}
}

// paceConn says why a new connection of uid comes too soon, if it does.
func (s *ZoneSockServer) paceConn(uid uint32) string {
	if uid == 0 {
		return ""
	}
	if s.connRate == nil || len(s.connRate) >= 4096 {
		s.connRate = map[uint32]*tokenBucket{}
	}
	b := s.connRate[uid]
	if b == nil {
		b = newBucket(zoneSockConnBurst, time.Second/zoneSockConnRate)
		s.connRate[uid] = b
	}
	if b.take(time.Now()) {
		return ""
	}
	return fmt.Sprintf("zone socket: slow down: more than %d new connections a second from uid %d", zoneSockConnRate, uid)
}

// refuse answers a connection it will not serve with the reason, as a
// reply frame the client reads instead of a broken pipe.
func (s *ZoneSockServer) refuse(c *net.UnixConn, why string) {
	_ = c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	_ = wire.WriteZoneFrame(c, api.ZoneReply{Error: why})
	c.Close()
}

// close stops accepting and ends every connection.
func (s *ZoneSockServer) close() {
	s.lis.Close()
	s.mu.Lock()
	for c := range s.open {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *ZoneSockServer) handle(c *net.UnixConn) {
	defer c.Close()
	p, err := s.identify(c)
	if err != nil {
		_ = wire.WriteZoneFrame(c, api.ZoneReply{Error: "zone socket: " + err.Error(), Code: api.CodeDenied})
		return
	}
	// The peer's pid as this process sees it, for newtask: the process
	// that connected is the one moved.
	pid := 0
	if cred, err := wire.PeerCred(c); err == nil {
		pid = int(cred.Pid)
	}
	rd := &noFDReader{c: c}
	rate := newBucket(zoneSockBurst, time.Second/zoneSockRate)
	for {
		_ = c.SetReadDeadline(time.Now().Add(s.idle))
		rd.got = false
		b, err := wire.ReadZoneFrame(rd)
		if err != nil {
			if errors.Is(err, wire.ErrFraming) {
				_ = c.SetWriteDeadline(time.Now().Add(time.Second))
				_ = wire.WriteZoneFrame(c, api.ZoneReply{Error: err.Error()})
			}
			return
		}
		var reply api.ZoneReply
		slow := !rate.take(time.Now())
		switch {
		case slow:
			// Not decoded, not authorized, not audited: the cheapest
			// answer there is.
			reply = api.ZoneReply{Error: fmt.Sprintf("zone socket: slow down: more than %d requests a second on one connection", zoneSockRate)}
		case rd.got:
			reply = api.ZoneReply{Error: "the zone socket takes no file descriptors; the request's were closed and it was not served"}
		default:
			reply = s.answer(p, pid, b)
		}
		if text := s.ZoneText(reply.Error); text != reply.Error {
			// The zone gets the error without the host's paths; the
			// zoneadmd log keeps it whole for the global administrator.
			log.Printf("zone socket: %s", reply.Error)
			reply.Error = text
		}
		_ = c.SetWriteDeadline(time.Now().Add(s.idle))
		if err := wire.WriteZoneFrame(c, reply); err != nil {
			return
		}
		if slow {
			// And wait for the rate to allow one more: a client that
			// does not listen costs no more than one that does.
			time.Sleep(rate.every)
		}
	}
}

// noFDReader reads a zone socket connection and closes any descriptor a
// zone user sends along (SCM_RIGHTS), noting that one came: no request
// of the zone socket takes any, and zoneadmd is a host process that must
// hold nothing a zone planted on it.
type noFDReader struct {
	c   *net.UnixConn
	got bool
}

func (r *noFDReader) Read(p []byte) (int, error) {
	// Room for a few; the kernel closes what does not fit and says so.
	var oob [64]byte
	n, oobn, flags, _, err := r.c.ReadMsgUnix(p, oob[:])
	if oobn > 0 || flags&unix.MSG_CTRUNC != 0 {
		files, _ := wire.ParseRights(oob[:oobn])
		wire.CloseAll(files)
		r.got = true
	}
	if errors.Is(err, io.EOF) {
		// ReadMsgUnix wraps the end of the stream; io.ReadFull wants it
		// bare to tell a truncated message.
		err = io.EOF
	}
	return n, err
}

// answer decodes, authorizes and runs one request.
func (s *ZoneSockServer) answer(p api.Principal, pid int, b []byte) api.ZoneReply {
	req, err := decodeZoneRequest(b)
	if err != nil {
		return api.ZoneReply{Error: err.Error()}
	}
	cfg, err := s.config()
	if err != nil {
		// Where the store is and what is wrong with it is the global
		// administrator's to read, in the zoneadmd log.
		log.Printf("zone socket: configuration of %s: %v", s.Zone, err)
		return api.ZoneReply{Error: fmt.Sprintf("zone %s: its configuration cannot be read on the host; the global administrator sees why in the zoneadmd log", s.Zone)}
	}
	fail := func(err error) api.ZoneReply {
		return api.ZoneReply{Error: err.Error(), Code: api.CodeOf(err)}
	}
	switch req.Op {
	case "info":
		if err := authz.Authorize(p, s.Zone, api.ActInfo, cfg); err != nil {
			return fail(err)
		}
		return api.ZoneReply{OK: true, Info: s.SelfInfo(p, cfg)}
	case "usage", "processes":
		if err := authz.Authorize(p, s.Zone, api.ActReadUsage, cfg); err != nil {
			return fail(err)
		}
		if req.Op == "usage" {
			if s.usage == nil {
				return api.ZoneReply{Error: "usage is not available in this zonetop"}
			}
			u, err := s.usage()
			if err != nil {
				return api.ZoneReply{Error: fmt.Sprintf("usage of %s: %v", s.Zone, err)}
			}
			u.Warnings = withoutHostPaths(u.Warnings)
			return api.ZoneReply{OK: true, Usage: &u}
		}
		if s.processes == nil {
			return api.ZoneReply{Error: "processes are not available in this zonetop"}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		ps, err := s.processes(ctx)
		if err != nil {
			return api.ZoneReply{Error: fmt.Sprintf("processes of %s: %v", s.Zone, err)}
		}
		return api.ZoneReply{OK: true, Processes: ps}
	case "console-log":
		// Read only, and only this zone's: the socket is this zone's
		// alone, and Authorize gives it to the zone's administrator.
		if err := authz.Authorize(p, s.Zone, api.ActReadConsoleLog, cfg); err != nil {
			return fail(err)
		}
		if s.consoleLog == nil {
			return api.ZoneReply{Error: "the console log is not available in this zonetop"}
		}
		text, err := s.consoleLog()
		if err != nil {
			log.Printf("zone socket: console log of %s: %v", s.Zone, err)
			return api.ZoneReply{Error: fmt.Sprintf("console log of %s: it cannot be read on the host; the global administrator sees why in the zoneadmd log", s.Zone)}
		}
		// Whatever zoneadmd noted on the console names no host path
		// the zone is not told of.
		text = console.TrimToFit(s.ZoneText(text), func(t string) bool {
			b, err := json.Marshal(api.ZoneReply{OK: true, ConsoleLog: t})
			return err == nil && len(b) <= wire.ZoneSockMax
		})
		return api.ZoneReply{OK: true, ConsoleLog: text}
	case "signal":
		// The zone administrator only; the pid is the zone's own, and
		// zoneadmd finds it in the zone's pid namespace, so no pid of
		// the host or of another zone can be named from here.
		req.Signal.Zone = s.Zone
		err := authz.Authorize(p, s.Zone, api.ActSignal, cfg)
		if err == nil && s.signal == nil {
			err = errors.New("signals are not available in this zonetop")
		}
		if err == nil {
			err = s.signal(*req.Signal)
		}
		s.record(p, fmt.Sprintf("signal %s pid %d", req.Signal.Signal, req.Signal.PID), "", "", err)
		if err != nil {
			return fail(err)
		}
		return api.ZoneReply{OK: true}
	case "newtask":
		// Any user of the zone may start a task; the project's own
		// membership (users, groups) decides which.
		if err := authz.Authorize(p, s.Zone, api.ActInfo, cfg); err != nil {
			return fail(err)
		}
		if s.newTask == nil {
			return api.ZoneReply{Error: "newtask is not available in this zonetop"}
		}
		id, err := s.newTask(p, pid, req.Task)
		if err != nil {
			return fail(fmt.Errorf("newtask -p %s: %w", req.Task, err))
		}
		return api.ZoneReply{OK: true, TaskID: id}
	case "set-zone-cap":
		err := authz.Authorize(p, s.Zone, api.ActSetZoneCap, cfg)
		if err == nil {
			// The global administrator sets caps with zonecfg or
			// prctl in the host, never through a zone's socket.
			err = fmt.Errorf("set-zone-cap %s: %w: zone caps are set by the global administrator", s.Zone, api.ErrPermission)
		}
		s.record(p, "set-zone-cap "+req.Rctl, "", req.Value, err)
		return fail(err)
	case "set-task-rctl":
		// A task's controls are its project's business: the zone's
		// administrator may change them, its other users may not.
		what := fmt.Sprintf("set-task-rctl %s task %d", req.Rctl, req.TaskID)
		if err := authz.Authorize(p, s.Zone, api.ActSetProjectLimit, cfg); err != nil {
			s.record(p, what, "", req.Value, err)
			return fail(err)
		}
		if s.setTaskRctl == nil {
			return api.ZoneReply{Error: "task controls are not available in this zonetop"}
		}
		err := s.setTaskRctl(req.TaskID, req.Rctl, req.Value)
		s.record(p, what, "", req.Value, err)
		if err != nil {
			return fail(err)
		}
		return api.ZoneReply{OK: true}
	case "project":
		act, _ := projectAction(req.Project.Op)
		if err := authz.Authorize(p, s.Zone, act, cfg); err != nil {
			if act != api.ActInfo {
				s.record(p, "project "+req.Project.Op+" "+req.Project.Name, "", "", err)
			}
			return fail(err)
		}
		if s.projects == nil {
			return api.ZoneReply{Error: "projects are not available in this zonetop"}
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		out, err := s.projects.ProjectOp(ctx, p, s.Zone, s.zoneRoot(), *req.Project)
		if act != api.ActInfo {
			after, _ := json.Marshal(req.Project)
			s.record(p, "project "+req.Project.Op+" "+req.Project.Name, "", string(after), err)
		}
		if err != nil {
			return fail(err)
		}
		return api.ZoneReply{OK: true, Project: out}
	}
	return api.ZoneReply{Error: fmt.Sprintf("unknown op %q", req.Op)}
}

// consoleLogTail is the end of zone's console log under a root prefix,
// at most max bytes: what the zone socket and zoneadmd's own socket give
// those who may read it but not open the file, which is root's.
func consoleLogTail(rootPrefix, zone string, max int64) (string, error) {
	return console.ReadTail(filepath.Join(configs.LogDir(rootPrefix), zone+".console"), max)
}

// hiddenPath stands for a host path in what a zone reads.
const HiddenPath = "(a host path; see the zoneadmd log)"

// zoneText is an error text as the zone may read it: a path under the
// zone's root as the host reaches it becomes the zone's own path, and any
// other path of the host zonetop knows (the zonepath, the root prefix and
// zonetop's state under it, cgroup files) is hidden. The zone learns what
// failed, not where the host keeps it.
func (s *ZoneSockServer) ZoneText(msg string) string {
	if msg == "" || s.HostPaths == nil {
		return msg
	}
	zoneRoots, hidden := s.HostPaths()
	for _, r := range zoneRoots {
		msg = replacePaths(msg, r, func(rest string) string {
			if rest == "" {
				return "/"
			}
			return rest
		})
	}
	for _, h := range append(hidden, "/sys/fs/cgroup") {
		msg = replacePaths(msg, h, func(string) string { return HiddenPath })
	}
	return msg
}

// replacePaths replaces each path in msg that is prefix or lies under it
// by what repl makes of the rest of it ("" or "/..."). A path ends where
// blanks, a colon, a quote or a bracket do.
func replacePaths(msg, prefix string, repl func(rest string) string) string {
	prefix = strings.TrimSuffix(prefix, "/")
	if prefix == "" {
		return msg
	}
	isEnd := func(c byte) bool { return strings.IndexByte(" \t\n:;,\"'()[]{}", c) >= 0 }
	var b strings.Builder
	for {
		i := strings.Index(msg, prefix)
		if i < 0 {
			b.WriteString(msg)
			return b.String()
		}
		j := i + len(prefix)
		if (i > 0 && !isEnd(msg[i-1])) || (j < len(msg) && msg[j] != '/' && !isEnd(msg[j])) {
			// Part of a longer word or path: keep it.
			b.WriteString(msg[:j])
			msg = msg[j:]
			continue
		}
		k := j
		for k < len(msg) && !isEnd(msg[k]) {
			k++
		}
		b.WriteString(msg[:i])
		b.WriteString(repl(msg[j:k]))
		msg = msg[k:]
	}
}

// withoutHostPaths cuts host paths (a cgroup that refused a cap) out of
// warnings shown in a zone; the zoneadmd log keeps them whole.
func withoutHostPaths(ws []string) []string {
	out := make([]string, 0, len(ws))
	for _, w := range ws {
		if i := strings.Index(w, "/sys/fs/cgroup"); i >= 0 {
			w = w[:i] + "(host cgroup; see the zoneadmd log)"
		}
		out = append(out, w)
	}
	return out
}

func (s *ZoneSockServer) record(p api.Principal, what, before, after string, err error) {
	if s.audit == nil {
		return
	}
	rec := audit.AuditRecord{Principal: audit.AuditPrincipalOf(p), Zone: s.Zone, What: what, Before: before, After: after, Result: "ok"}
	if err != nil {
		rec.Result = err.Error()
	}
	s.audit(rec)
}

func (s *ZoneSockServer) SelfInfo(p api.Principal, cfg *zones.Config) *api.ZoneSelfInfo {
	st := s.Status()
	in := &api.ZoneSelfInfo{Name: s.Zone, State: st.State, ZoneID: st.ZoneID, Role: "read-only", UID: p.UID}
	if p.UID == 0 {
		in.Role = "zone-admin"
	}
	if cfg != nil {
		in.Brand, in.IPType, in.Autoboot = cfg.Brand, cfg.IPType, cfg.Autoboot
		caps := &zones.Config{Name: cfg.Name, Rctls: cfg.Rctls, CappedMemory: cfg.CappedMemory,
			CappedCPU: cfg.CappedCPU, DedicatedCPU: cfg.DedicatedCPU}
		for _, stmt := range audit.ConfigStatements(caps) {
			if strings.HasPrefix(stmt, "add ") {
				in.Caps = append(in.Caps, stmt)
			}
		}
	}
	return in
}

// peerUID is the uid of who connected.
func PeerUID(c *net.UnixConn) (uint32, error) {
	cred, err := wire.PeerCred(c)
	if err != nil {
		return 0, err
	}
	return cred.Uid, nil
}

// sameNamespace tells whether two processes share the namespace of kind
// (pid, mnt, ...), by the namespace files' device and inode.
func sameNamespace(pid1, pid2 int, kind string) (bool, error) {
	var a, b unix.Stat_t
	if err := unix.Stat(fmt.Sprintf("/proc/%d/ns/%s", pid1, kind), &a); err != nil {
		return false, err
	}
	if err := unix.Stat(fmt.Sprintf("/proc/%d/ns/%s", pid2, kind), &b); err != nil {
		return false, err
	}
	return a.Dev == b.Dev && a.Ino == b.Ino, nil
}

// zonePeer identifies a peer of zone's socket whose PID 1 is zsched (host
// pid): SO_PEERCRED gives the peer's pid as this process sees it (the
// kernel translates it into zoneadmd's pid namespace), so its pid
// namespace can be checked against zsched's.
func zonePeer(zone string, zschedPid func() int) func(*net.UnixConn) (api.Principal, error) {
	return func(c *net.UnixConn) (api.Principal, error) {
		cred, err := wire.PeerCred(c)
		if err != nil {
			return api.Principal{}, fmt.Errorf("peer credentials: %w", err)
		}
		zp := zschedPid()
		if zp <= 0 || cred.Pid <= 0 {
			return api.Principal{}, errors.New("peer is not in this zone")
		}
		same, err := sameNamespace(int(cred.Pid), zp, "pid")
		if err != nil || !same || int(cred.Pid) == zp {
			return api.Principal{}, fmt.Errorf("peer (pid %d) is not in zone %s", cred.Pid, zone)
		}
		// The zone's ids: a user-namespaced zone's root is a host
		// id of its range (see userns.go).
		p := api.Principal{UID: int(platform.ZoneID(zp, "uid_map", cred.Uid)), GID: int(platform.ZoneID(zp, "gid_map", cred.Gid)), Zone: zone}
		p.User = zoneUserName(fmt.Sprintf("/proc/%d/root", zp), p.UID)
		return p, nil
	}
}

// zoneUserName is uid's login name in the zone's own /etc/passwd.
func zoneUserName(zoneRoot string, uid int) string {
	b, err := pathrs.ReadZoneFile(zoneRoot, "/etc/passwd", pathrs.ZoneDBMax)
	if err != nil {
		return ""
	}
	want := strconv.Itoa(uid)
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Split(line, ":")
		if len(f) >= 3 && f[2] == want {
			return f[0]
		}
	}
	return ""
}

// zoneSockDir is the host directory bind-mounted at /run/zonetop in the
// zone: the zone socket and the zonetop binary's mount point.
func ZoneSockDir(rootPrefix, name string) string {
	return filepath.Join(configs.RunDir(rootPrefix, name), "zone")
}

// startZoneSock makes the zone's socket directory and starts serving it;
// called by zoneadmd once zsched is up. log is zoneadmd's.
func (d *zoneadmd) startZoneSock() error {
	dir := ZoneSockDir(d.root, d.name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("zone socket: %w", err)
	}
	sock := filepath.Join(dir, "zone.sock")
	_ = os.Remove(sock)
	lis, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		return fmt.Errorf("zone socket: %w", err)
	}
	lis.SetUnlinkOnClose(false)
	// Every user of the zone may connect; what each may do is decided
	// per request from its credentials.
	if err := os.Chmod(sock, 0o666); err != nil {
		lis.Close()
		return fmt.Errorf("zone socket: %w", err)
	}
	store := zones.NewStore(d.root)
	zsched := func() int {
		d.mu.Lock()
		defer d.mu.Unlock()
		return d.st.ZschedPid
	}
	srv := &ZoneSockServer{
		Zone: d.name, lis: lis,
		identify: zonePeer(d.name, zsched),
		peerUID: func(c *net.UnixConn) (uint32, error) {
			uid, err := PeerUID(c)
			if err == nil && zsched() > 0 {
				uid = platform.ZoneID(zsched(), "uid_map", uid)
			}
			return uid, err
		},
		config: func() (*zones.Config, error) {
			c, _, err := store.Load(d.name)
			return c, err
		},
		Status:    d.status,
		zoneRoot:  func() string { return fmt.Sprintf("/proc/%d/root", zsched()) },
		projects:  zoneProjectOps{d},
		usage:     d.usage,
		processes: d.zoneProcesses,
		signal: func(req api.SignalRequest) error {
			return SignalProcess(d.name, zsched(), req, true)
		},
		newTask: d.newTask,
		consoleLog: func() (string, error) {
			// A socket message holds at most 64 KiB; TrimToFit cuts
			// what escaping made too long.
			return consoleLogTail(d.root, d.name, wire.ZoneSockMax)
		},
		setTaskRctl: func(task int, name, values string) error {
			// The zone's text is parsed here, its one way in.
			var vs []rctl.Value
			if values != "" {
				var err error
				if vs, err = rctl.ParseValues(values); err != nil {
					return fmt.Errorf("%s: %w", name, err)
				}
			}
			return d.setRctl(&api.RctlChange{Level: "task", Task: task, Name: name, Values: values}, vs)
		},
		audit: d.auditLim.record,
		HostPaths: func() (zoneRoots, hidden []string) {
			d.mu.Lock()
			spec, zp := d.spec, d.st.ZschedPid
			d.mu.Unlock()
			if zp > 0 {
				zoneRoots = append(zoneRoots, fmt.Sprintf("/proc/%d/root", zp))
			}
			if spec != nil && spec.Zonepath != "" {
				zoneRoots = append(zoneRoots, filepath.Join(spec.Zonepath, "root"))
				hidden = append(hidden, spec.Zonepath)
			}
			hidden = append(hidden, filepath.Join(d.root, "etc", "zonetop"), configs.RunBase(d.root), configs.LogDir(d.root))
			if filepath.Clean(d.root) != "/" {
				hidden = append(hidden, d.root)
			}
			return zoneRoots, hidden
		},
	}
	d.mu.Lock()
	old := d.zsock
	d.zsock = srv
	d.mu.Unlock()
	if old != nil {
		old.close()
	}
	go srv.serve()
	if err := d.startProjectWatch(); err != nil {
		// The socket still serves; hand edits wait for a reload.
		log.Printf("%v", err)
	}
	return nil
}

// stopZoneSock ends the zone socket (at halt).
func (d *zoneadmd) stopZoneSock() {
	d.stopProjectWatch()
	d.mu.Lock()
	srv := d.zsock
	d.zsock = nil
	d.mu.Unlock()
	if srv != nil {
		srv.close()
	}
	_ = os.RemoveAll(ZoneSockDir(d.root, d.name))
}

// zoneSockMounts are the mounts zsched makes for the zone socket: its
// directory read-only at /run/zonetop, and the zonetop binary (the front
// ends', beside this one: toolsBinary) read-only on an empty file in it,
// so the zone can run zonetop without being able to change it (a
// read-only mount refuses writes even through /proc/PID/exe, whatever the
// zone's root may do).
func zoneSockMounts(rootPrefix, name string) ([]configs.MountSpec, error) {
	dir := ZoneSockDir(rootPrefix, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	ms := []configs.MountSpec{{Source: dir, Target: "/run/zonetop", Type: "bind", Options: []string{"ro", "nodev", "nosuid", "noexec"}}}
	exe := toolsBinary()
	if exe == "" {
		log.Printf("no %s beside this binary: the zone gets no zonetop tools in %s", ToolsName, api.ZoneBinDir)
		return ms, nil
	}
	mp := filepath.Join(dir, "zonetop")
	f, err := os.OpenFile(mp, os.O_WRONLY|os.O_CREATE, 0o755)
	if err != nil {
		return nil, err
	}
	f.Close()
	ms = append(ms, configs.MountSpec{Source: exe, Target: api.ZoneBinaryPath, Type: "bind", Options: []string{"ro", "nodev", "nosuid"}})
	if err := zoneCommandLinks(filepath.Join(dir, filepath.Base(api.ZoneBinDir))); err != nil {
		return nil, err
	}
	return ms, nil
}

// zoneCommandLinks fills the zone's api.ZoneBinDir: one link per command
// to the binary beside it, relative so that it resolves inside the zone.
// The binary answers to the name it is run by. The links live in the
// read-only directory zonetop owns, so the zone's PATH reaches them
// without anything written into the zone's own root, and a halt takes
// them away with the rest.
func zoneCommandLinks(bin string) error {
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return err
	}
	for _, c := range api.ZoneCommands {
		if err := os.Symlink("../"+filepath.Base(api.ZoneBinaryPath), filepath.Join(bin, c)); err != nil && !errors.Is(err, os.ErrExist) {
			return err
		}
	}
	return nil
}
