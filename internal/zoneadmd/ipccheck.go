package zoneadmd

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
	"zonetop/internal/pathrs"
	"zonetop/internal/platform"
	"zonetop/limits"
	"zonetop/limits/cgroups"
	"zonetop/rctl"

	"golang.org/x/sys/unix"
)

// ipcChecker is zoneadmd's check-limits module for System V IPC: it
// answers the zone's shmget/semget/msgget notifications from the
// accounting tree (zone node → project nodes) and keeps the running totals
// equal to what the zone's IPC namespace holds.
//
// The check: a call that would create an object (IPC_PRIVATE, or IPC_CREAT
// of a key the namespace does not have) asks the tree for one id of its
// kind and, for shm, its size in bytes, at the caller's project. Granted:
// the call continues in the kernel. Refused: it fails with ENOSPC, the
// errno shmget(2), semget(2) and msgget(2) give when the kernel's own
// limits (SHMALL/SHMMNI, SEMMNI, MSGMNI) would be exceeded. Lookups of an
// existing key and calls without IPC_CREAT continue unchecked: they
// allocate nothing, and the kernel gives their answers (EEXIST, ENOENT,
// EINVAL, EACCES).
//
// The partial action: where the limit that binds a shmget carries it, the
// caller gets a segment of what is available instead of a refusal. A
// notification cannot change the caller's arguments, so zoneadmd makes
// that smaller segment itself, on a thread kept in the zone's IPC
// namespace (shmCreator), with the caller's key, flags and mode, hands
// ownership to the caller's effective uid and gid, and answers the call
// with the new id. The caller learns the size it got with IPC_STAT, as
// with any segment; one that trusts the size it asked for and writes past
// the end faults, which is what the administrator who chose "partial" over
// "deny" accepted. Without the namespace thread (a checker not serving a
// zone) a partial limit refuses whole.
//
// Accounting: a grant is charged at once (pending) so that concurrent
// calls can never overshoot. "Continue" does not tell the id the kernel
// made, so the tree is reconciled with the zone's /proc/sysvipc tables
// (before every check, and every second): a new entry takes over a pending
// grant (shm: same creating process and size; sem, msg: same key, else the
// oldest grant of its kind), an entry that went away releases its charge,
// and a pending grant that no entry claimed within pendingTTL (the kernel
// refused the call, or it found an existing key) is released. Entries
// nobody asked for (made while no zoneadmd was there) are charged to their
// creator's project (shm: cpid's cgroup; sem, msg: the project recorded in
// ipc.json by the zoneadmd before, else default).
type ipcChecker struct {
	zone     *limits.Node
	tables   [platform.IpcKinds]*os.File // /proc/sysvipc/{shm,sem,msg} opened inside the zone's ipc namespace
	known    [platform.IpcKinds]map[ipcID]*ipcObject
	pending  []*ipcPending
	projects func() (limits.Projects, time.Time) // the zone's /etc/project and its mtime
	projOf   func(pid int) string                // the caller's project
	projSeen time.Time
	saved    map[ipcID]string // attribution recorded by an earlier zoneadmd
	state    string           // ipc.json path, "" for none
	dirty    bool
	now      func() time.Time
	logf     func(format string, args ...any)
	buf      []byte
	shm      *shmCreator // makes partly granted segments; nil: refuse whole

	// callLog is for what each call may say (a refusal): the zone
	// decides how many calls it makes.
	callLog *logLimiter
	// pace bounds the calls checked a second: each costs zoneadmd a
	// read of the zone's IPC table, and a zone capped at a tenth of a
	// CPU could otherwise make zoneadmd spend half of one. Past it the
	// zone's callers wait, as on a busy system; nothing is refused.
	pace *tokenBucket

	// A reconcile asked for by another goroutine (a usage query): a
	// request on tickReq, a byte on wakeW to wake run's poll, and run
	// closes the request's channel once the tables are read. Without
	// them run reconciles every second whether or not anyone looks.
	wakeR, wakeW *os.File
	tickReq      chan chan struct{}
}

// ipcID names one IPC object across reconciles. Ids are not reused until
// the kernel's sequence wraps; the creator and size (shm) or key and set
// size (sem, msg) tell a reused id from the old object.
type ipcID struct {
	Kind platform.IpcKind `json:"kind"`
	ID   int64            `json:"id"`
	Key  int64            `json:"key"`  // sem, msg (a removed shm segment's key becomes 0, so shm leaves it out)
	Cpid int              `json:"cpid"` // shm only: /proc/sysvipc/sem and msg have no creator pid
	Size uint64           `json:"size"` // shm bytes, sem nsems
}

type ipcObject struct {
	project string
	bytes   uint64 // charged max-shm-memory
}

type ipcPending struct {
	kind    platform.IpcKind
	project string
	tid     int   // the calling thread
	nr      int32 // its system call
	done    bool  // the call has returned: unclaimed, it made nothing
	tgid    int   // its process, looked up only when needed (0: not yet)
	key     int32
	size    uint64
	bytes   uint64
	at      time.Time
}

// pendingTTL bounds how long a grant nobody claimed stays charged when
// its caller's state cannot be read.
const pendingTTL = 5 * time.Second

// Tree resources, by kind.
var (
	resShmMemory = rctl.Resource("max-shm-memory")
	resIDs       = [platform.IpcKinds]rctl.Resource{"max-shm-ids", "max-sem-ids", "max-msg-ids"}
	ipcRctls     = []string{"max-shm-memory", "max-shm-ids", "max-sem-ids", "max-msg-ids"}
)

// ipcTableFiles opens the zone's /proc/sysvipc tables from inside its IPC
// namespace (ipcNS, e.g. /proc/ZSCHED/ns/ipc). The files list the IPC
// namespace the opener was in when it opened them and report pids in the
// opener's pid namespace (the host's: notifications carry host pids too),
// whatever /proc they come from; seq_file lets them be read again from
// offset 0 for ever.
func ipcTableFiles(ipcNS string) ([platform.IpcKinds]*os.File, error) {
	var files [platform.IpcKinds]*os.File
	ns, err := os.Open(ipcNS)
	if err != nil {
		return files, fmt.Errorf("zone ipc namespace: %w", err)
	}
	defer ns.Close()
	type result struct {
		files [platform.IpcKinds]*os.File
		err   error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		var r result
		defer func() { ch <- r }()
		self, err := os.Open("/proc/thread-self/ns/ipc")
		if err != nil {
			r.err = err
			runtime.UnlockOSThread()
			return
		}
		defer self.Close()
		if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWIPC); err != nil {
			r.err = fmt.Errorf("enter the zone's ipc namespace: %w", err)
			runtime.UnlockOSThread()
			return
		}
		for k, name := range []string{"shm", "sem", "msg"} {
			f, err := os.Open("/proc/sysvipc/" + name)
			if err != nil {
				r.err = err
				break
			}
			r.files[k] = f
		}
		if err := unix.Setns(int(self.Fd()), unix.CLONE_NEWIPC); err != nil {
			// The thread stays in the zone's namespace: leave it
			// locked so the runtime throws it away with the goroutine.
			return
		}
		runtime.UnlockOSThread()
	}()
	r := <-ch
	if r.err != nil {
		for _, f := range r.files {
			if f != nil {
				f.Close()
			}
		}
		return files, r.err
	}
	return r.files, nil
}

func newIPCChecker(zone *limits.Node, tables [platform.IpcKinds]*os.File) *ipcChecker {
	c := &ipcChecker{zone: zone, tables: tables, now: time.Now, logf: log.Printf,
		projOf: func(int) string { return "default" }}
	c.callLog = newLogLimiter(20, time.Second, func(f string, a ...any) { c.logf(f, a...) })
	c.pace = newBucket(ipcPaceBurst, time.Second/ipcPaceRate)
	for k := range c.known {
		c.known[k] = map[ipcID]*ipcObject{}
	}
	if r, w, err := os.Pipe(); err == nil {
		c.wakeR, c.wakeW, c.tickReq = r, w, make(chan chan struct{}, 16)
	}
	return c
}

func (c *ipcChecker) close() {
	if c.shm != nil {
		c.shm.close()
		c.shm = nil
	}
	if c.wakeW != nil {
		c.wakeW.Close()
		c.wakeR.Close()
	}
	for _, f := range c.tables {
		if f != nil {
			f.Close()
		}
	}
}

// setZoneLimits applies the zone's IPC rctls ("zone.max-shm-memory" →
// "(privileged,20000,deny)").
func (c *ipcChecker) setZoneLimits(rc map[string]string) error {
	for name, v := range rc {
		vs, err := rctl.ParseValues(v)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if err := c.zone.SetRctl(name, vs); err != nil {
			return err
		}
	}
	return nil
}

// project returns the project's node, creating it with the illumos
// defaults overridden by the zone's /etc/project.
func (c *ipcChecker) project(name string) *limits.Node {
	if n, ok := c.zone.Lookup(name); ok {
		return n
	}
	n, err := c.zone.Child(name)
	if err != nil {
		// The zone node is gone (halted): charge nothing anywhere.
		n = limits.NewTree().Zone("removed")
	}
	var ps limits.Projects
	if c.projects != nil {
		ps, _ = c.projects()
	}
	c.applyProject(n, ps)
	return n
}

func (c *ipcChecker) applyProject(n *limits.Node, ps limits.Projects) {
	defaults := rctl.Defaults(rctl.LevelProject)
	var rc map[string][]rctl.Value
	if p, ok := ps.Lookup(n.Name()); ok {
		var err error
		if rc, err = p.Rctls(); err != nil {
			c.logf("ipc: /etc/project: %v", err)
		}
	}
	for _, r := range ipcRctls {
		name := "project." + r
		vs, ok := rc[name]
		if !ok {
			if d, ok := defaults[name]; ok {
				vs = []rctl.Value{d}
			}
		}
		if err := n.SetRctl(name, vs); err != nil {
			c.logf("ipc: project %s: %v", n.Name(), err)
		}
	}
}

// refreshProjects re-applies /etc/project when it changed.
func (c *ipcChecker) refreshProjects() {
	if c.projects == nil {
		return
	}
	ps, mt := c.projects()
	if mt.Equal(c.projSeen) {
		return
	}
	c.projSeen = mt
	for _, n := range c.zone.Children() {
		c.applyProject(n, ps)
	}
}

// ipcEntry is one row of a /proc/sysvipc table.
type ipcEntry struct {
	id   ipcID
	key  int32
	cpid int
}

// readTable reads the zone's current objects of one kind.
func (c *ipcChecker) readTable(kind platform.IpcKind) ([]ipcEntry, error) {
	f := c.tables[kind]
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	c.buf = c.buf[:0]
	for {
		if len(c.buf) == cap(c.buf) {
			c.buf = append(c.buf, 0)[:len(c.buf)]
		}
		n, err := f.Read(c.buf[len(c.buf):cap(c.buf)])
		c.buf = c.buf[:len(c.buf)+n]
		if err == io.EOF || (err == nil && n == 0) {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	return parseSysvipc(kind, c.buf)
}

// parseSysvipc parses a /proc/sysvipc table by its header, so a kernel
// that adds columns does not break it.
func parseSysvipc(kind platform.IpcKind, b []byte) ([]ipcEntry, error) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	if !sc.Scan() {
		return nil, nil
	}
	col := map[string]int{}
	for i, h := range strings.Fields(sc.Text()) {
		col[h] = i
	}
	idCol := map[platform.IpcKind]string{platform.IpcShm: "shmid", platform.IpcSem: "semid", platform.IpcMsg: "msqid"}[kind]
	need := []string{"key", idCol}
	switch kind {
	case platform.IpcShm:
		need = append(need, "size", "cpid")
	case platform.IpcSem:
		need = append(need, "nsems")
	}
	for _, h := range need {
		if _, ok := col[h]; !ok {
			return nil, fmt.Errorf("/proc/sysvipc/%s: no %s column", kind, h)
		}
	}
	var out []ipcEntry
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < len(col) {
			continue
		}
		num := func(h string) int64 {
			v, _ := strconv.ParseInt(f[col[h]], 10, 64)
			return v
		}
		e := ipcEntry{key: int32(num("key")), id: ipcID{Kind: kind, ID: num(idCol)}}
		switch kind {
		case platform.IpcShm:
			sz, _ := strconv.ParseUint(f[col["size"]], 10, 64)
			e.cpid = int(num("cpid"))
			e.id.Cpid, e.id.Size = e.cpid, sz
		case platform.IpcSem:
			e.id.Key, e.id.Size = int64(e.key), uint64(num("nsems"))
		case platform.IpcMsg:
			e.id.Key = int64(e.key)
		}
		out = append(out, e)
	}
	return out, sc.Err()
}

// reconcile brings the totals of one kind in line with the zone's table
// and returns the table.
func (c *ipcChecker) reconcile(kind platform.IpcKind) ([]ipcEntry, error) {
	// First learn which granted calls have returned, then read the table:
	// an object such a call made is in it (or was already removed).
	for _, p := range c.pending {
		if p.kind == kind && !p.done {
			p.done = syscallReturned(p.tid, p.nr)
		}
	}
	ents, err := c.readTable(kind)
	if err != nil {
		return nil, fmt.Errorf("ipc: read /proc/sysvipc/%s: %w", kind, err)
	}
	now := c.now()
	seen := make(map[ipcID]bool, len(ents))
	for _, e := range ents {
		seen[e.id] = true
		if c.known[kind][e.id] != nil {
			continue
		}
		c.known[kind][e.id] = c.adoptEntry(e)
		c.dirty = true
	}
	for id, o := range c.known[kind] {
		if seen[id] {
			continue
		}
		c.release(kind, o)
		delete(c.known[kind], id)
		c.dirty = true
	}
	// Grants nobody claimed once their call returned: the kernel refused
	// the call, it only looked up a key made meanwhile, or the object is
	// already gone again.
	keep := c.pending[:0]
	for _, p := range c.pending {
		if p.kind == kind && (p.done || now.Sub(p.at) > pendingTTL) {
			c.release(kind, &ipcObject{project: p.project, bytes: p.bytes})
			continue
		}
		keep = append(keep, p)
	}
	c.pending = keep
	return ents, nil
}

// adoptEntry attributes a new table entry: to the pending grant that made
// it, or else charges it, unchecked, to the project it belongs to.
func (c *ipcChecker) adoptEntry(e ipcEntry) *ipcObject {
	kind := e.id.Kind
	best := -1
	for i, p := range c.pending {
		if p.kind != kind {
			continue
		}
		if kind == platform.IpcShm && p.size == e.id.Size && p.madeBy(e.cpid) ||
			kind != platform.IpcShm && p.key == e.key {
			best = i
			break
		}
	}
	if best >= 0 {
		p := c.pending[best]
		c.pending = append(c.pending[:best], c.pending[best+1:]...)
		return &ipcObject{project: p.project, bytes: p.bytes}
	}
	project, ok := c.saved[e.id]
	if !ok {
		project = "default"
		if kind == platform.IpcShm && e.cpid > 0 {
			project = c.projOf(e.cpid)
		}
	}
	o := &ipcObject{project: project}
	n := c.project(project)
	n.Charge(resIDs[kind], 1)
	if kind == platform.IpcShm {
		o.bytes = e.id.Size
		n.Charge(resShmMemory, o.bytes)
	}
	return o
}

func (c *ipcChecker) release(kind platform.IpcKind, o *ipcObject) {
	n := c.project(o.project)
	if err := n.Release(resIDs[kind], 1); err != nil {
		c.logf("ipc: %v", err)
	}
	if o.bytes > 0 {
		if err := n.Release(resShmMemory, o.bytes); err != nil {
			c.logf("ipc: %v", err)
		}
	}
}

// ipcVerdict is the answer to one call.
type ipcVerdict struct {
	allow   bool
	errno   unix.Errno
	pending *ipcPending // charged; to be dropped if the answer cannot be sent
	partial uint64      // shm: the bytes granted of more asked for; zoneadmd makes the segment
}

// check decides one creation call of thread tid (a host id) in project.
func (c *ipcChecker) check(call platform.IpcCall, project string, tid int, nr int32) ipcVerdict {
	n := c.project(project)
	idRes := resIDs[call.Kind]
	g, err := n.Request(idRes, 1)
	if err != nil || !g.OK() {
		if g.Granted > 0 {
			_ = n.Release(idRes, g.Granted)
		}
		c.callLog.printf("ipc: %sget in project %s refused: %s limit of %v reached", call.Kind, project, idRes, g.By)
		return ipcVerdict{errno: unix.ENOSPC}
	}
	p := &ipcPending{kind: call.Kind, project: project, tid: tid, nr: nr, key: call.Key, size: call.Size, at: c.now()}
	if call.Kind == platform.IpcShm {
		g, err := n.Request(resShmMemory, call.Size)
		if err == nil && g.Partial() && c.shm != nil {
			c.callLog.printf("ipc: shmget of %d bytes in project %s partly granted: %d bytes, the partial action of %v",
				call.Size, project, g.Granted, g.By)
			// The segment will be zoneadmd's making: its table entry
			// shows zoneadmd as the creator and the granted size.
			p.tid, p.tgid, p.size, p.bytes = os.Getpid(), os.Getpid(), g.Granted, g.Granted
			c.pending = append(c.pending, p)
			return ipcVerdict{allow: true, pending: p, partial: g.Granted}
		}
		if err != nil || !g.OK() {
			if g.Granted > 0 {
				_ = n.Release(resShmMemory, g.Granted)
			}
			_ = n.Release(idRes, 1)
			how := "deny"
			if g.Partial() {
				how = "partial (no thread in the zone's IPC namespace to make a smaller segment: refused whole)"
			}
			c.callLog.printf("ipc: shmget of %d bytes in project %s refused: %d bytes available under %v, action %s",
				call.Size, project, g.Available, g.By, how)
			return ipcVerdict{errno: unix.ENOSPC}
		}
		p.bytes = call.Size
	}
	c.pending = append(c.pending, p)
	return ipcVerdict{allow: true, pending: p}
}

// drop undoes a grant whose answer could not be delivered.
func (c *ipcChecker) drop(p *ipcPending) {
	for i, q := range c.pending {
		if q == p {
			c.pending = append(c.pending[:i], c.pending[i+1:]...)
			c.release(p.kind, &ipcObject{project: p.project, bytes: p.bytes})
			return
		}
	}
}

// handle answers one notification on listener fd.
func (c *ipcChecker) handle(fd uintptr, n *platform.SeccompNotif) {
	cont := platform.SeccompNotifResp{ID: n.ID, Flags: unix.SECCOMP_USER_NOTIF_FLAG_CONTINUE}
	call, ok := platform.DecodeIPCCall(&n.Data)
	if !ok {
		_ = platform.NotifSend(fd, &cont)
		return
	}
	if call.Kind == platform.IpcShm && call.Size == 0 {
		// Below SHMMIN: a creation fails with EINVAL in the kernel.
		_ = platform.NotifSend(fd, &cont)
		return
	}
	// The thread is in a new call, so every earlier one of it returned.
	for _, p := range c.pending {
		if p.tid == int(n.Pid) {
			p.done = true
		}
	}
	// The project limits as /etc/project says now: run no longer reads
	// it every second.
	c.refreshProjects()
	ents, err := c.reconcile(call.Kind)
	if err != nil {
		// Without the table nothing can be counted: refuse rather than
		// let the project run past its limit unseen.
		c.logf("%v", err)
		_ = platform.NotifSend(fd, &platform.SeccompNotifResp{ID: n.ID, Error: -int32(unix.ENOSPC)})
		return
	}
	if call.Key != 0 { // IPC_PRIVATE is 0
		exists := false
		for _, e := range ents {
			if e.key == call.Key {
				exists = true
				break
			}
		}
		if exists || call.Flags&unix.IPC_CREAT == 0 {
			_ = platform.NotifSend(fd, &cont)
			return
		}
	}
	project := c.projOf(int(n.Pid))
	// TOCTOU: what was read from /proc is the caller's only if it is
	// still waiting for this answer (its pid cannot have been reused).
	if !platform.NotifIDValid(fd, n.ID) {
		return
	}
	v := c.check(call, project, int(n.Pid), n.Data.Nr)
	if !v.allow {
		_ = platform.NotifSend(fd, &platform.SeccompNotifResp{ID: n.ID, Error: -int32(v.errno)})
		return
	}
	if v.partial > 0 {
		c.grantPartial(fd, n, call, v)
		return
	}
	if err := platform.NotifSend(fd, &cont); err != nil {
		c.drop(v.pending)
	}
}

// grantPartial makes the smaller segment for the caller and answers its
// shmget with the new id.
func (c *ipcChecker) grantPartial(fd uintptr, n *platform.SeccompNotif, call platform.IpcCall, v ipcVerdict) {
	uid, gid, err := procEffectiveIDs(int(n.Pid))
	if err != nil || !platform.NotifIDValid(fd, n.ID) {
		c.drop(v.pending)
		_ = platform.NotifSend(fd, &platform.SeccompNotifResp{ID: n.ID, Error: -int32(unix.ENOSPC)})
		return
	}
	id, err := c.shm.create(call.Key, v.partial, call.Flags, uid, gid)
	if err != nil {
		c.drop(v.pending)
		errno, ok := err.(unix.Errno)
		if !ok {
			c.logf("ipc: partial shmget: %v", err)
			errno = unix.ENOSPC
		}
		_ = platform.NotifSend(fd, &platform.SeccompNotifResp{ID: n.ID, Error: -int32(errno)})
		return
	}
	// Claim the grant for this segment now, while it is the only one
	// zoneadmd made that nobody has claimed.
	if _, err := c.reconcile(platform.IpcShm); err != nil {
		c.logf("%v", err)
	}
	if err := platform.NotifSend(fd, &platform.SeccompNotifResp{ID: n.ID, Val: int64(id)}); err != nil {
		// The caller is gone: nobody holds the id, so remove it; the
		// next reconcile gives its charge back.
		_ = c.shm.remove(id)
	}
}

// procEffectiveIDs reads a thread's effective uid and gid (the second
// field of the Uid and Gid lines of its status).
func procEffectiveIDs(tid int) (uint32, uint32, error) {
	var buf [2048]byte
	b, err := readProcFile("/proc/"+strconv.Itoa(tid)+"/status", buf[:])
	if err != nil {
		return 0, 0, err
	}
	var ids [2]uint32
	for i, k := range []string{"Uid", "Gid"} {
		f := statusFields(string(b), k)
		if len(f) < 2 {
			return 0, 0, fmt.Errorf("/proc/%d/status: no %s line", tid, k)
		}
		n, err := strconv.ParseUint(f[1], 10, 32)
		if err != nil {
			return 0, 0, fmt.Errorf("/proc/%d/status: %s: %w", tid, k, err)
		}
		ids[i] = uint32(n)
	}
	return ids[0], ids[1], nil
}

// statusFields are the fields of the "key:" line of a /proc/PID/status
// text, nil when it has none.
func statusFields(status, key string) []string {
	for _, line := range strings.Split(status, "\n") {
		if v, ok := strings.CutPrefix(line, key+":"); ok {
			return strings.Fields(v)
		}
	}
	return nil
}

// shmCreator makes System V shared memory segments in a zone's IPC
// namespace from one OS thread that entered it and never leaves: the
// thread is thrown away with its goroutine when the creator closes.
type shmCreator struct {
	reqs chan shmReq
}

type shmReq struct {
	remove   bool
	id       int
	key      int32
	size     uint64
	flags    int32
	uid, gid uint32
	reply    chan shmResult
}

type shmResult struct {
	id  int
	err error
}

func newShmCreator(ipcNS *os.File) (*shmCreator, error) {
	sc := &shmCreator{reqs: make(chan shmReq)}
	ready := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread stays in the zone's namespace
		if err := unix.Setns(int(ipcNS.Fd()), unix.CLONE_NEWIPC); err != nil {
			ready <- fmt.Errorf("enter the zone's ipc namespace: %w", err)
			return
		}
		ready <- nil
		for r := range sc.reqs {
			r.reply <- sc.serve(r)
		}
	}()
	if err := <-ready; err != nil {
		return nil, err
	}
	return sc, nil
}

func (sc *shmCreator) serve(r shmReq) shmResult {
	if r.remove {
		_, err := unix.SysvShmCtl(r.id, unix.IPC_RMID, nil)
		return shmResult{err: err}
	}
	id, err := unix.SysvShmGet(int(r.key), int(r.size), int(r.flags))
	if err != nil {
		return shmResult{err: err}
	}
	var ds unix.SysvShmDesc
	if _, err = unix.SysvShmCtl(id, unix.IPC_STAT, &ds); err == nil {
		ds.Perm.Uid, ds.Perm.Gid = r.uid, r.gid
		_, err = unix.SysvShmCtl(id, unix.IPC_SET, &ds)
	}
	if err != nil {
		_, _ = unix.SysvShmCtl(id, unix.IPC_RMID, nil)
		return shmResult{err: err}
	}
	return shmResult{id: id}
}

func (sc *shmCreator) create(key int32, size uint64, flags int32, uid, gid uint32) (int, error) {
	reply := make(chan shmResult, 1)
	sc.reqs <- shmReq{key: key, size: size, flags: flags, uid: uid, gid: gid, reply: reply}
	r := <-reply
	return r.id, r.err
}

func (sc *shmCreator) remove(id int) error {
	reply := make(chan shmResult, 1)
	sc.reqs <- shmReq{remove: true, id: id, reply: reply}
	return (<-reply).err
}

func (sc *shmCreator) close() { close(sc.reqs) }

// tick reconciles every kind and saves the attribution.
func (c *ipcChecker) tick() {
	c.refreshProjects()
	for k := platform.IpcKind(0); k < platform.IpcKinds; k++ {
		if _, err := c.reconcile(k); err != nil {
			c.logf("%v", err)
		}
	}
	if c.dirty && c.state != "" {
		var recs []ipcRecord
		for k := range c.known {
			for id, o := range c.known[k] {
				recs = append(recs, ipcRecord{ipcID: id, Project: o.project})
			}
		}
		b, err := json.Marshal(recs)
		if err == nil {
			err = pathrs.WriteFileAtomic(c.state, b, 0o600)
		}
		if err != nil {
			c.logf("ipc: record attribution: %v", err)
		} else {
			c.dirty = false
		}
	}
}

// ipcRecord is one object's project in ipc.json.
type ipcRecord struct {
	ipcID
	Project string `json:"project"`
}

// loadState reads the attribution an earlier zoneadmd recorded.
func (c *ipcChecker) loadState(path string) {
	c.state = path
	b, err := os.ReadFile(path)
	if err != nil {
		return
	}
	var recs []ipcRecord
	if err := json.Unmarshal(b, &recs); err != nil {
		c.logf("ipc: %s: %v", path, err)
		return
	}
	c.saved = map[ipcID]string{}
	for _, r := range recs {
		if limits.ValidProjectName(r.Project) == nil {
			c.saved[r.ipcID] = r.Project
		}
	}
}

// run serves the listener until stop is closed or the zone is gone. The
// caller ticks once first, so the totals are whole before anyone asks.
//
// It reconciles every second only while that has work to do (grants not
// yet matched to an object, an attribution not yet recorded): the tables
// are read anyway at every check and, through requestTick, at every usage
// query, so a zone at rest does not wake zoneadmd.
func (c *ipcChecker) run(listener *os.File, stop <-chan struct{}, stopFd int) {
	fd := listener.Fd()
	last := c.now()
	for {
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}, {Fd: int32(stopFd), Events: unix.POLLIN}}
		if c.wakeR != nil {
			pfd = append(pfd, unix.PollFd{Fd: int32(c.wakeR.Fd()), Events: unix.POLLIN})
		}
		timeout := 1000
		if c.wakeR != nil && len(c.pending) == 0 && !c.dirty {
			timeout = -1
		}
		_, err := unix.Poll(pfd, timeout)
		select {
		case <-stop:
			return
		default:
		}
		if err != nil && err != unix.EINTR {
			c.logf("ipc: poll: %v", err)
			return
		}
		if pfd[0].Revents&unix.POLLIN != 0 {
			if !c.pace.take(time.Now()) {
				time.Sleep(c.pace.every)
				c.pace.take(time.Now())
			}
			var n platform.SeccompNotif
			if err := platform.NotifRecv(fd, &n); err == nil {
				c.handle(fd, &n)
			}
		} else if pfd[0].Revents&(unix.POLLHUP|unix.POLLNVAL|unix.POLLERR) != 0 {
			return // no process of the zone is left
		}
		if len(pfd) > 2 && pfd[2].Revents&unix.POLLIN != 0 {
			// Answer the requests made so far with a reconcile that
			// follows them; a later one has its own byte in the pipe.
			var asked []chan struct{}
		drain:
			for {
				select {
				case done := <-c.tickReq:
					asked = append(asked, done)
				default:
					break drain
				}
			}
			var b [64]byte
			_, _ = unix.Read(int(c.wakeR.Fd()), b[:])
			last = c.now()
			c.tick()
			for _, done := range asked {
				close(done)
			}
		}
		if c.now().Sub(last) >= time.Second {
			last = c.now()
			c.tick()
		}
	}
}

// requestTick has run reconcile the tables now, and waits for it (at most
// wait): a usage query sees the objects removed since the last check.
func (c *ipcChecker) requestTick(wait time.Duration) {
	if c.wakeW == nil {
		return
	}
	done := make(chan struct{})
	select {
	case c.tickReq <- done:
	default:
		return // sixteen queries already wait for the next reconcile
	}
	if _, err := c.wakeW.Write([]byte{1}); err != nil {
		return
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	}
}

// madeBy tells whether pid (a creator pid of the table) is the process of
// the granted call's thread. Reading the thread's Tgid is the dearest step
// of a check, so it is skipped when the thread leads its process.
func (p *ipcPending) madeBy(pid int) bool {
	if pid == p.tid {
		return true
	}
	if p.tgid == 0 {
		p.tgid = procTgid(p.tid)
	}
	return p.tgid == pid
}

// syscallReturned tells whether thread tid has left system call nr: it is
// gone, running, or in another call. Still in nr means not yet, or in a
// new call of the same kind, which its own notification settles. A thread
// that cannot be read counts as not yet (pendingTTL settles it).
func syscallReturned(tid int, nr int32) bool {
	var buf [256]byte
	b, err := readProcFile("/proc/"+strconv.Itoa(tid)+"/syscall", buf[:])
	if err != nil {
		return err == unix.ENOENT || err == unix.ESRCH
	}
	f, _, _ := strings.Cut(strings.TrimSpace(string(b)), " ")
	n, err := strconv.ParseInt(f, 10, 64)
	return err != nil || n != int64(nr)
}

// procTgid is the process a thread belongs to (its creator pid in the
// sysvipc tables).
func procTgid(tid int) int {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(tid) + "/status")
	if err != nil {
		return 0
	}
	if f := statusFields(string(b), "Tgid"); len(f) > 0 {
		n, _ := strconv.Atoi(f[0])
		return n
	}
	return 0
}

// cgroupProject finds the project of pid from /proc/PID/cgroup: the first
// path component below the zone's cgroup (zoneRels, relative to each
// hierarchy's root); "default" in the zone cgroup itself.
func cgroupProject(pid int, zoneRels []string) string {
	var buf [16384]byte
	b, err := readProcFile("/proc/"+strconv.Itoa(pid)+"/cgroup", buf[:])
	if err != nil {
		return "default"
	}
	return projectFromCgroup(string(b), zoneRels)
}

// readProcFile reads a small /proc file into buf with three system calls
// (os.ReadFile adds a stat and a poller registration): it is on the path
// of every checked call.
func readProcFile(path string, buf []byte) ([]byte, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	n := 0
	for n < len(buf) {
		m, err := unix.Read(fd, buf[n:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, err
		}
		if m == 0 {
			break
		}
		n += m
	}
	return buf[:n], nil
}

func projectFromCgroup(text string, zoneRels []string) string {
	for _, line := range strings.Split(text, "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		p := parts[2]
		for _, rel := range zoneRels {
			rest, ok := strings.CutPrefix(p, rel+"/")
			if !ok {
				continue
			}
			name, _, _ := strings.Cut(rest, "/")
			if limits.ValidProjectName(name) == nil {
				return name
			}
		}
	}
	return "default"
}

// zoneCgroupRels turns the zone's cgroup directories into paths relative to
// their hierarchies' roots, as /proc/PID/cgroup shows them to the host.
func zoneCgroupRels(dirs []string) []string {
	hs, _ := cgroups.CgroupHierarchies()
	var out []string
	for _, d := range dirs {
		for _, h := range hs {
			if rel, ok := strings.CutPrefix(d, h.Mount+"/"); ok {
				out = append(out, "/"+rel)
				break
			}
		}
	}
	return out
}

// zoneProjectsReader returns a reader of the zone's /etc/project, read
// as ReadZoneFile reads (inside the zone root, a bounded regular file:
// a FIFO there must not stop the check every IPC call of the zone waits
// on), with its mtime for change detection. A missing or unreadable file
// gives the Solaris defaults.
//
// It is called at every IPC check, so the zone decides how often: a file
// rewritten with the same bytes is not parsed again and keeps its first
// mtime (nothing to re-apply), and its bad lines are logged once per
// change of content, at most maxWarnings of them, escaped.
func zoneProjectsReader(zoneRoot string, logf func(string, ...any)) func() (limits.Projects, time.Time) {
	var (
		mu     sync.Mutex
		key    projFileKey
		sum    [32]byte
		cached limits.Projects
		mtime  time.Time
		valid  bool
	)
	return func() (limits.Projects, time.Time) {
		mu.Lock()
		defer mu.Unlock()
		rfd, err := unix.Open(zoneRoot, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return limits.DefaultProjects(), time.Time{}
		}
		defer unix.Close(rfd)
		b, st, err := pathrs.ReadZoneFileAt(rfd, "/etc/project", pathrs.ZoneDBMax)
		if err != nil {
			// The project watch and ready report why; this check runs
			// on every IPC call and stays quiet.
			return limits.DefaultProjects(), time.Time{}
		}
		k := projFileKey{dev: st.Dev, ino: st.Ino, size: st.Size, mtime: st.Mtim.Nano(), ctim: st.Ctim.Nano()}
		if valid && k == key {
			return cached, mtime
		}
		h := sha256.Sum256(b)
		if valid && h == sum {
			key = k
			return cached, mtime
		}
		ps, errs := limits.ParseProjects(bytes.NewReader(b), "/etc/project")
		msgs := make([]string, len(errs))
		for i, e := range errs {
			msgs[i] = e.Error()
		}
		for _, m := range boundWarnings(msgs) {
			logf("ipc: %s", m)
		}
		key, sum, cached, mtime, valid = k, h, ps, time.Unix(st.Mtim.Unix()), true
		return ps, mtime
	}
}

// projFileKey tells a file's versions apart without reading it.
type projFileKey struct {
	dev, ino    uint64
	size        int64
	mtime, ctim int64
}
