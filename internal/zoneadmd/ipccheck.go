package zoneadmd

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
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
// zoneadmd makes the object (below). Refused: it fails with ENOSPC, the
// errno shmget(2), semget(2) and msgget(2) give when the kernel's own
// limits (SHMALL/SHMMNI, SEMMNI, MSGMNI) would be exceeded. Lookups of an
// existing key and calls without IPC_CREAT continue unchecked: they
// allocate nothing, and the kernel gives their answers (EEXIST, ENOENT,
// EINVAL, EACCES).
//
// Making the objects: a granted call is not let go on in the kernel.
// zoneadmd makes the object itself, on a thread kept in the zone's IPC
// namespace (ipcMaker) that takes the caller's effective uid, gid and
// groups for the call, and answers the call with the new id. The grant is
// settled there and then: the object exists (its id is known, and it is
// charged to the project of the request) or the call failed (the charge
// is given back). Nothing is inferred later from the caller's process, so
// a caller that exits, forks, or calls from many threads at once cannot
// move a charge to another project, and no grant waits on a guess. (A
// call let go on could not be told apart from another of its kind once
// it returned: IPC_PRIVATE sem and msg entries carry no creator, and a
// thread seen "running" may not have made its object yet.)
//
// The partial action: where the limit that binds a shmget carries it, the
// caller gets a segment of what is available instead of a refusal: the
// maker makes it smaller. The caller learns the size it got with
// IPC_STAT, as with any segment; one that trusts the size it asked for and
// writes past the end faults, which is what the administrator who chose
// "partial" over "deny" accepted.
//
// A keyed call with IPC_CREAT is made with IPC_EXCL added: if the key
// appeared meanwhile, the call is a lookup after all, done by the maker
// with the caller's credentials and without IPC_CREAT, so a key removed
// again in between can never slip a creation past the check.
//
// Accounting is reconciled with the zone's /proc/sysvipc tables (before
// every check that does not fit the totals as they stand, and within a
// second of any grant): an entry the maker made takes its grant's
// charge, an entry that went away gives its charge back. Between reads
// the totals can only be too high (a removal not yet seen; every
// creation comes through here), so a call that fits them is granted
// without a read, and a refusal or partial grant is decided only on a
// fresh read. Entries nobody asked for (made while no zoneadmd was
// there) are charged to their creator's project (shm: cpid's cgroup;
// sem, msg: the project recorded by the zoneadmd before, else default).
// Attribution is appended to ipc.journal at every creation, before the
// caller learns the id, and folded into ipc.json at the next reconcile.
type ipcChecker struct {
	zone     *limits.Node
	tables   [platform.IpcKinds]*os.File // /proc/sysvipc/{shm,sem,msg} opened inside the zone's ipc namespace
	known    [platform.IpcKinds]map[ipcID]*ipcObject
	made     [platform.IpcKinds]map[int64]*ipcObject // made by the maker, not yet seen in the table
	projects func() (limits.Projects, uint64)        // the zone's /etc/project and its version
	projOf   func(pid int) string                    // the caller's project
	projSeen uint64
	saved    map[ipcID]string // attribution recorded by an earlier zoneadmd
	state    string           // ipc.json path, "" for none
	journal  *os.File         // ipc.journal, appended at every creation; nil for none
	dirty    bool             // ipc.json is behind the journal
	// stale: objects were granted without a look at the table since the
	// last full reconcile, so removals may not be counted yet (the
	// totals are high, never low); run reconciles within a second.
	stale  bool
	self   int // zoneadmd's pid: the creator pid the table shows for the maker's segments
	now    func() time.Time
	logf   func(format string, args ...any)
	notice func(msg string) // the zone's console, for what its administrator must know; nil for none
	buf    []byte
	maker  *ipcMaker  // makes the granted objects; nil: every creation is refused
	procs  *procFiles // the callers' /proc files, kept open
	// inline: run's own thread is in the zone's IPC namespace and makes
	// the objects itself (own: its groups), sparing each call two
	// thread hand-overs.
	inline bool
	own    []int

	// Live changes (set-rctl) wait here for the checker's goroutine,
	// which applies them before its next check or reconcile.
	liveMu    sync.Mutex
	liveZone  map[string][]rctl.Value            // zone.* IPC caps to apply
	liveProj  map[string]map[string][]rctl.Value // project -> project.* IPC limits over /etc/project
	liveDirty bool

	// callLog is for what each call may say (a refusal): the zone
	// decides how many calls it makes.
	callLog *logLimiter
	// pace bounds the calls checked a second: each costs zoneadmd
	// CPU the zone's own cap does not count, and a zone capped at a
	// tenth of a CPU could otherwise make zoneadmd spend most of one.
	// Past it the zone's callers wait, as on a busy system; nothing is
	// refused.
	pace *tokenBucket
	// paceEvery is the pace the zone's cpu-cap asks for, set by any
	// goroutine (a live prctl) and taken up by run, which alone uses
	// pace.
	paceEvery atomic.Int64

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
	rec     ipcID  // made by the maker: the entry as recorded in the journal
}

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
		projOf: func(int) string { return "default" }, self: os.Getpid(),
		procs: newProcFiles(procFilesMax)}
	c.callLog = newLogLimiter(20, time.Second, func(f string, a ...any) { c.logf(f, a...) })
	c.pace = newBucket(ipcPaceBurst, ipcPaceEvery(0))
	for k := range c.known {
		c.known[k] = map[ipcID]*ipcObject{}
		c.made[k] = map[int64]*ipcObject{}
	}
	if r, w, err := os.Pipe(); err == nil {
		c.wakeR, c.wakeW, c.tickReq = r, w, make(chan chan struct{}, 16)
	}
	return c
}

// setPace paces the zone's calls for its zone.cpu-cap (percent; 0:
// none), from any goroutine.
func (c *ipcChecker) setPace(cpuCapPct uint64) {
	c.paceEvery.Store(int64(ipcPaceEvery(cpuCapPct)))
}

func (c *ipcChecker) close() {
	if c.maker != nil {
		c.maker.close()
		c.maker = nil
	}
	if c.wakeW != nil {
		c.wakeW.Close()
		c.wakeR.Close()
	}
	if c.journal != nil {
		c.journal.Close()
		c.journal = nil
	}
	c.procs.close()
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
	c.liveMu.Lock()
	live := c.liveProj[n.Name()]
	c.liveMu.Unlock()
	for _, r := range ipcRctls {
		name := "project." + r
		vs, ok := rc[name]
		if lv, set := live[name]; set {
			vs, ok = lv, len(lv) > 0
		}
		if !ok {
			if d, ok := defaults[name]; ok {
				vs = []rctl.Value{d}
			}
		}
		if err := n.SetRctl(name, vs); err != nil {
			c.logf("ipc: project %s: %v", n.Name(), err)
		}
		c.warnOverLimit(n, rctl.Resource(r), name)
	}
}

// warnOverLimit says when a limit now in force is below what the project
// or zone already holds: nothing held is taken away, and every new object
// of the kind is refused until enough are removed.
func (c *ipcChecker) warnOverLimit(n *limits.Node, res rctl.Resource, name string) {
	u := n.Usage(res)
	if !u.Limited || u.Used <= u.Limit {
		return
	}
	msg := fmt.Sprintf("ipc: %s of %s is %d, below the %d in use: what is held stays, new objects are refused until it is under the limit",
		name, n, u.Limit, u.Used)
	c.logf("%s", msg)
	if c.notice != nil {
		c.notice("zoneadmd: " + msg)
	}
}

// refreshProjects re-applies /etc/project when it changed, and the live
// changes made since the last call.
func (c *ipcChecker) refreshProjects() {
	c.liveMu.Lock()
	live, zone := c.liveDirty, c.liveZone
	c.liveDirty, c.liveZone = false, nil
	c.liveMu.Unlock()
	for name, vs := range zone {
		if err := c.zone.SetRctl(name, vs); err != nil {
			c.logf("ipc: %s: %v", name, err)
		}
		c.warnOverLimit(c.zone, rctl.Resource(strings.TrimPrefix(name, "zone.")), name)
	}
	var ps limits.Projects
	changed := live
	if c.projects != nil {
		var gen uint64
		ps, gen = c.projects()
		if gen != c.projSeen {
			c.projSeen = gen
			changed = true
			// A new /etc/project replaces what was set live, as it
			// replaces zoneadmd's projects.
			c.liveMu.Lock()
			c.liveProj = nil
			c.liveMu.Unlock()
		}
	}
	if !changed {
		return
	}
	for _, n := range c.zone.Children() {
		c.applyProject(n, ps)
	}
}

// setLive hands the checker a live change of a zone cap (project "") or
// of a project's limit; it is in force for the next call checked.
func (c *ipcChecker) setLive(project, name string, vs []rctl.Value) {
	c.liveMu.Lock()
	defer c.liveMu.Unlock()
	if project == "" {
		if c.liveZone == nil {
			c.liveZone = map[string][]rctl.Value{}
		}
		c.liveZone[name] = vs
	} else {
		if c.liveProj == nil {
			c.liveProj = map[string]map[string][]rctl.Value{}
		}
		if c.liveProj[project] == nil {
			c.liveProj[project] = map[string][]rctl.Value{}
		}
		c.liveProj[project][name] = vs
	}
	c.liveDirty = true
}

// ipcEntry is one row of a /proc/sysvipc table.
type ipcEntry struct {
	id   ipcID
	key  int32
	cpid int
}

// readTable reads the zone's current objects of one kind. The kernel
// lists a table through a seq_file, under its lock for one read(2) at a
// time, and one read returns at most a page of rows (33 message queues,
// whatever the buffer): the table is read until end of file, each read
// resuming where the last stopped. A short read is not the end: taking it
// for one made every object past the first page look removed, the totals
// fell (33 of 100 queues counted) and the zone got past its cap.
func (c *ipcChecker) readTable(kind platform.IpcKind) ([]ipcEntry, error) {
	f := c.tables[kind]
	if cap(c.buf) < 64<<10 {
		c.buf = make([]byte, 64<<10)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	c.buf = c.buf[:0]
	for {
		if len(c.buf) == cap(c.buf) {
			if len(c.buf) >= 64<<20 {
				return nil, fmt.Errorf("/proc/sysvipc/%s: larger than %d bytes", kind, len(c.buf))
			}
			c.buf = append(make([]byte, 0, 2*cap(c.buf)), c.buf...)
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
	ents, err := c.readTable(kind)
	if err != nil {
		return nil, fmt.Errorf("ipc: read /proc/sysvipc/%s: %w", kind, err)
	}
	seen := make(map[ipcID]bool, len(ents))
	for _, e := range ents {
		seen[e.id] = true
		if c.known[kind][e.id] != nil {
			continue
		}
		if o := c.made[kind][e.id.ID]; o != nil {
			// The maker's object: the grant's charge is its charge.
			delete(c.made[kind], e.id.ID)
			if o.rec != e.id {
				c.logf("ipc: %s %d recorded as %+v, the table has %+v", kind, e.id.ID, o.rec, e.id)
			}
			c.known[kind][e.id] = o
		} else {
			c.known[kind][e.id] = c.adoptEntry(e)
		}
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
	// Made and already removed again before this read: its charge goes.
	for id, o := range c.made[kind] {
		c.release(kind, o)
		delete(c.made[kind], id)
	}
	return ents, nil
}

// adoptEntry charges, unchecked, a table entry nobody asked zoneadmd for
// to the project it belongs to.
func (c *ipcChecker) adoptEntry(e ipcEntry) *ipcObject {
	kind := e.id.Kind
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
	charged *ipcObject // what the grant charged, to be settled by the making
	size    uint64     // shm: the bytes to make (fewer than asked under partial)
}

// check decides one creation call in project and charges what it grants.
// Unless exact, it grants only what fits whole and says nothing: the
// totals it is asked against may still count removed objects (never
// miss a made one), so a grant stands but a refusal or a partial grant
// must be decided again on the totals the table gives.
func (c *ipcChecker) check(call platform.IpcCall, project string, exact bool) ipcVerdict {
	n := c.project(project)
	idRes := resIDs[call.Kind]
	g, err := n.Request(idRes, 1)
	if err != nil || !g.OK() {
		if g.Granted > 0 {
			_ = n.Release(idRes, g.Granted)
		}
		if !exact {
			return ipcVerdict{}
		}
		c.callLog.printf("ipc: %sget in project %s refused: %s limit of %v reached", call.Kind, project, idRes, g.By)
		return ipcVerdict{errno: unix.ENOSPC}
	}
	o := &ipcObject{project: project}
	size := call.Size
	if call.Kind == platform.IpcShm {
		g, err := n.Request(resShmMemory, call.Size)
		switch {
		case !exact && (err != nil || !g.OK() || g.Partial()):
			if g.Granted > 0 {
				_ = n.Release(resShmMemory, g.Granted)
			}
			_ = n.Release(idRes, 1)
			return ipcVerdict{}
		case err == nil && g.Partial():
			c.callLog.printf("ipc: shmget of %d bytes in project %s partly granted: %d bytes, the partial action of %v",
				call.Size, project, g.Granted, g.By)
			size = g.Granted
		case err != nil || !g.OK():
			if g.Granted > 0 {
				_ = n.Release(resShmMemory, g.Granted)
			}
			_ = n.Release(idRes, 1)
			c.callLog.printf("ipc: shmget of %d bytes in project %s refused: %d bytes available under %v, action deny",
				call.Size, project, g.Available, g.By)
			return ipcVerdict{errno: unix.ENOSPC}
		}
		o.bytes = size
	}
	return ipcVerdict{allow: true, charged: o, size: size}
}

// keyExists tells whether the table holds key.
func keyExists(ents []ipcEntry, key int32) bool {
	for _, e := range ents {
		if e.key == key {
			return true
		}
	}
	return false
}

// handle answers one notification on listener fd.
func (c *ipcChecker) handle(fd uintptr, n *platform.SeccompNotif) {
	cont := platform.SeccompNotifResp{ID: n.ID, Flags: unix.SECCOMP_USER_NOTIF_FLAG_CONTINUE}
	fail := func(errno unix.Errno) {
		_ = platform.NotifSend(fd, &platform.SeccompNotifResp{ID: n.ID, Error: -int32(errno)})
	}
	call, ok := platform.DecodeIPCCall(&n.Data)
	if !ok {
		_ = platform.NotifSend(fd, &cont)
		return
	}
	if call.Kind == platform.IpcShm && call.Size == 0 || call.Key != 0 && call.Flags&unix.IPC_CREAT == 0 {
		// Nothing can be made: a shm segment below SHMMIN fails with
		// EINVAL in the kernel, and a keyed call without IPC_CREAT is a
		// lookup, answered by the kernel with the caller's rights.
		_ = platform.NotifSend(fd, &cont)
		return
	}
	// The limits in force now: live changes and /etc/project edits
	// apply to this very call.
	c.refreshProjects()
	if c.maker == nil {
		c.callLog.printf("ipc: %sget refused: no thread in the zone's IPC namespace to make objects", call.Kind)
		fail(unix.ENOSPC)
		return
	}
	tid := int(n.Pid)
	project := c.projOf(tid)
	cred, err := callerCred(c.procs, tid)
	// TOCTOU: what was read from /proc is the caller's only if it is
	// still waiting for this answer (its pid cannot have been reused).
	if !platform.NotifIDValid(fd, n.ID) {
		return
	}
	if err != nil {
		c.callLog.printf("ipc: %sget: %v", call.Kind, err)
		fail(unix.ENOSPC)
		return
	}
	if c.grantAsTheyStand(fd, n.ID, call, project, cred) {
		return
	}
	ents, err := c.reconcile(call.Kind)
	if err != nil {
		// Without the table nothing can be counted: refuse rather than
		// let the project run past its limit unseen.
		c.logf("%v", err)
		fail(unix.ENOSPC)
		return
	}
	exists := call.Key != 0 && keyExists(ents, call.Key)
	// A key can come and go between the table read and the making: each
	// turn either answers or learns the key's new state. A zone that
	// keeps flipping one key gets ENOSPC after a few turns.
	for turn := 0; turn < 4; turn++ {
		if exists {
			if call.Flags&unix.IPC_EXCL != 0 {
				fail(unix.EEXIST)
				return
			}
			id, err := c.make(ipcMakeReq{kind: call.Kind, key: call.Key, size: call.Size,
				flags: call.Flags &^ (unix.IPC_CREAT | unix.IPC_EXCL), cred: cred, lookup: true})
			if err == unix.ENOENT {
				exists = false // removed meanwhile: a creation after all
				continue
			}
			c.answer(fd, n.ID, id, err)
			return
		}
		v := c.check(call, project, true)
		if !v.allow {
			fail(v.errno)
			return
		}
		id, err := c.make(ipcMakeReq{kind: call.Kind, key: call.Key, size: v.size, flags: createFlags(call), cred: cred})
		if err != nil {
			// The call failed: the grant is settled by giving it back.
			c.release(call.Kind, v.charged)
			if err == unix.EEXIST && call.Key != 0 && call.Flags&unix.IPC_EXCL == 0 {
				exists = true // made meanwhile: a lookup after all
				continue
			}
			c.answer(fd, n.ID, 0, err)
			return
		}
		c.settle(fd, n.ID, call, v, id)
		return
	}
	c.callLog.printf("ipc: %sget of key %#x in project %s refused: the key kept appearing and vanishing", call.Kind, call.Key, project)
	fail(unix.ENOSPC)
}

// grantAsTheyStand answers a creation that fits whole in the totals as
// they stand, without reading the zone's table: every object of the
// zone is made here (the filter sends every get), so between reads the
// totals can only be high (a removal not seen yet), never low, and what
// fits them fits the zone's real holdings. It returns false, having
// charged and answered nothing, when the call needs the table: a refusal
// or partial grant must be decided on exact totals (the zone may have
// removed objects since), and a key that exists already makes the call a
// lookup.
func (c *ipcChecker) grantAsTheyStand(fd uintptr, nid uint64, call platform.IpcCall, project string, cred ipcCred) bool {
	v := c.check(call, project, false)
	if !v.allow {
		return false
	}
	id, err := c.make(ipcMakeReq{kind: call.Kind, key: call.Key, size: v.size, flags: createFlags(call), cred: cred})
	if err != nil {
		c.release(call.Kind, v.charged)
		if err == unix.EEXIST && call.Key != 0 && call.Flags&unix.IPC_EXCL == 0 {
			return false
		}
		c.answer(fd, nid, 0, err)
		return true
	}
	c.settle(fd, nid, call, v, id)
	return true
}

// createFlags are the flags the maker makes a granted object with:
// IPC_EXCL on a key, so a key that appeared since the check makes the
// call a lookup instead of an unchecked creation.
func createFlags(call platform.IpcCall) int32 {
	flags := call.Flags | unix.IPC_CREAT
	if call.Key != 0 {
		flags |= unix.IPC_EXCL
	}
	return flags
}

// settle makes a granted object's charge its own: it is recorded (in the
// journal, before the caller can hand the id on) as the project's, and
// the next reconcile finds it in the table under that charge.
func (c *ipcChecker) settle(fd uintptr, nid uint64, call platform.IpcCall, v ipcVerdict, id int) {
	o := v.charged
	o.rec = ipcID{Kind: call.Kind, ID: int64(id)}
	switch call.Kind {
	case platform.IpcShm:
		o.rec.Cpid, o.rec.Size = c.self, v.size
	case platform.IpcSem:
		// semget's nsems is an int: what the table shows.
		o.rec.Key, o.rec.Size = int64(call.Key), uint64(uint32(v.size))
	case platform.IpcMsg:
		o.rec.Key = int64(call.Key)
	}
	c.made[call.Kind][int64(id)] = o
	c.stale, c.dirty = true, true
	c.record(o)
	if err := platform.NotifSend(fd, &platform.SeccompNotifResp{ID: nid, Val: int64(id)}); err != nil {
		// The caller is gone: nobody holds the id, so remove it; the
		// next reconcile gives its charge back.
		_, _ = c.make(ipcMakeReq{kind: call.Kind, remove: true, id: id})
	}
}

// make has the maker carry out r: on run's own thread when it is in the
// zone's IPC namespace, else through the maker's thread.
func (c *ipcChecker) make(r ipcMakeReq) (int, error) {
	if c.maker == nil {
		return 0, errors.New("ipc maker: gone")
	}
	if !c.inline {
		return c.maker.do(r)
	}
	res, ok := c.maker.serve(r, c.own)
	if !ok {
		// This thread could not take back zoneadmd's ids: from now on
		// every creation is refused (maker nil), and the thread is
		// never handed back to the runtime (run keeps it locked).
		c.logf("ipc: the check's thread lost its credentials; every IPC creation of the zone is refused from now on")
		c.inline = false
		c.maker.close()
		c.maker = nil
	}
	return res.id, res.err
}

// answer sends the outcome of a lookup or failed making.
func (c *ipcChecker) answer(fd uintptr, id uint64, val int, err error) {
	if err == nil {
		_ = platform.NotifSend(fd, &platform.SeccompNotifResp{ID: id, Val: int64(val)})
		return
	}
	errno, ok := err.(unix.Errno)
	if !ok {
		c.logf("ipc: %v", err)
		errno = unix.ENOSPC
	}
	_ = platform.NotifSend(fd, &platform.SeccompNotifResp{ID: id, Error: -int32(errno)})
}

// ipcCred is what of a caller's credentials the kernel looks at when it
// makes or finds an IPC object: effective uid and gid (the new object's
// creator and owner) and the groups (access to an existing one).
type ipcCred struct {
	uid, gid uint32
	groups   []uint32
	ipcOwner bool // CAP_IPC_OWNER in its effective set: access checks pass
}

// isOwn tells whether the credentials are those of a thread of zoneadmd
// (uid and gid 0, groups own).
func (cr ipcCred) isOwn(own []int) bool {
	if cr.uid != 0 || cr.gid != 0 || len(cr.groups) != len(own) {
		return false
	}
	for i, g := range cr.groups {
		if int(g) != own[i] {
			return false
		}
	}
	return true
}

// callerCred reads a thread's credentials from its status (host ids).
func callerCred(procs *procFiles, tid int) (ipcCred, error) {
	var buf [4096]byte
	b, err := procs.read(tid, "status", buf[:])
	if err != nil {
		return ipcCred{}, fmt.Errorf("caller %d: %w", tid, err)
	}
	return parseStatusCred(tid, b)
}

// parseStatusCred takes the effective uid and gid, the groups and
// CAP_IPC_OWNER from a /proc/TID/status text, in one pass over it
// (on the path of every checked call).
func parseStatusCred(tid int, st []byte) (ipcCred, error) {
	var cr ipcCred
	var seen [2]bool
	for len(st) > 0 {
		line := st
		if i := bytes.IndexByte(st, '\n'); i >= 0 {
			line, st = st[:i], st[i+1:]
		} else {
			st = nil
		}
		key, val, ok := bytes.Cut(line, []byte{':'})
		if !ok {
			continue
		}
		switch string(key) {
		case "Uid", "Gid":
			// real, effective, saved, filesystem: the second.
			f := bytes.Fields(val)
			if len(f) < 2 {
				return ipcCred{}, fmt.Errorf("/proc/%d/status: short %s line", tid, key)
			}
			n, err := strconv.ParseUint(string(f[1]), 10, 32)
			if err != nil {
				return ipcCred{}, fmt.Errorf("/proc/%d/status: %s: %w", tid, key, err)
			}
			if key[0] == 'U' {
				cr.uid, seen[0] = uint32(n), true
			} else {
				cr.gid, seen[1] = uint32(n), true
			}
		case "Groups":
			for _, g := range bytes.Fields(val) {
				n, err := strconv.ParseUint(string(g), 10, 32)
				if err != nil {
					return ipcCred{}, fmt.Errorf("/proc/%d/status: Groups: %w", tid, err)
				}
				cr.groups = append(cr.groups, uint32(n))
			}
		case "CapEff":
			caps, err := strconv.ParseUint(string(bytes.TrimSpace(val)), 16, 64)
			if err != nil {
				return ipcCred{}, fmt.Errorf("/proc/%d/status: CapEff: %w", tid, err)
			}
			cr.ipcOwner = caps&(1<<unix.CAP_IPC_OWNER) != 0
		}
	}
	if !seen[0] || !seen[1] {
		return ipcCred{}, fmt.Errorf("/proc/%d/status: no Uid or Gid line", tid)
	}
	return cr, nil
}

// ipcMaker makes and finds System V IPC objects in a zone's IPC namespace
// from one OS thread that entered it and never leaves: the thread is
// thrown away with its goroutine when the maker closes. For each call it
// takes the caller's effective ids and groups (setresuid and friends act
// on the calling thread only), so the kernel records the caller as
// creator and owner and checks access as it would for the caller.
type ipcMaker struct {
	reqs chan ipcMakeReq
	ns   int // the zone's IPC namespace, for a thread that binds to it
}

type ipcMakeReq struct {
	kind   platform.IpcKind
	key    int32
	size   uint64 // shm bytes, sem nsems
	flags  int32
	cred   ipcCred
	lookup bool // find, never make
	remove bool // IPC_RMID id, as zoneadmd
	id     int
	reply  chan ipcMakeResult
}

type ipcMakeResult struct {
	id  int
	err error
}

func newIPCMaker(ipcNS *os.File) (*ipcMaker, error) {
	ns, err := unix.FcntlInt(ipcNS.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("keep the zone's ipc namespace: %w", err)
	}
	m := &ipcMaker{reqs: make(chan ipcMakeReq), ns: ns}
	ready := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread stays in the zone's namespace
		if err := unix.Setns(int(ipcNS.Fd()), unix.CLONE_NEWIPC); err != nil {
			ready <- fmt.Errorf("enter the zone's ipc namespace: %w", err)
			return
		}
		own, err := unix.Getgroups()
		if err != nil {
			ready <- fmt.Errorf("own groups: %w", err)
			return
		}
		ready <- nil
		for r := range m.reqs {
			res, ok := m.serve(r, own)
			r.reply <- res
			if !ok {
				// Still in the caller's credentials: this thread must
				// serve nobody else. Later requests fail.
				for r := range m.reqs {
					r.reply <- ipcMakeResult{err: errors.New("ipc maker: lost its credentials")}
				}
				return
			}
		}
	}()
	if err := <-ready; err != nil {
		unix.Close(ns)
		return nil, err
	}
	return m, nil
}

// bind moves the calling thread, which the caller has locked and never
// unlocks, into the zone's IPC namespace, so serve can run on it: the
// check's own thread makes the objects it grants without handing each
// over to the maker's thread and back (two wake-ups, tens of
// microseconds each on a busy machine). It returns the thread's groups.
func (m *ipcMaker) bind() ([]int, error) {
	own, err := unix.Getgroups()
	if err != nil {
		return nil, fmt.Errorf("own groups: %w", err)
	}
	if err := unix.Setns(m.ns, unix.CLONE_NEWIPC); err != nil {
		return nil, fmt.Errorf("enter the zone's ipc namespace: %w", err)
	}
	return own, nil
}

// setThreadCred changes the calling thread's groups, egid and euid (raw
// system calls: Go's wrappers change every thread of the process).
func setThreadCred(groups []uint32, gid, uid uint32) error {
	var p unsafe.Pointer
	if len(groups) > 0 {
		p = unsafe.Pointer(&groups[0])
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETGROUPS, uintptr(len(groups)), uintptr(p), 0); e != 0 {
		return fmt.Errorf("setgroups: %w", e)
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESGID, ^uintptr(0), uintptr(gid), ^uintptr(0)); e != 0 {
		return fmt.Errorf("setresgid: %w", e)
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, ^uintptr(0), uintptr(uid), ^uintptr(0)); e != 0 {
		return fmt.Errorf("setresuid: %w", e)
	}
	return nil
}

// restoreThreadCred takes back zoneadmd's own ids: the euid first, which
// gives back the capabilities the other two need.
func restoreThreadCred(own []int) error {
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, ^uintptr(0), 0, ^uintptr(0)); e != 0 {
		return fmt.Errorf("setresuid: %w", e)
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESGID, ^uintptr(0), 0, ^uintptr(0)); e != 0 {
		return fmt.Errorf("setresgid: %w", e)
	}
	gs := make([]uint32, len(own))
	for i, g := range own {
		gs[i] = uint32(g)
	}
	var p unsafe.Pointer
	if len(gs) > 0 {
		p = unsafe.Pointer(&gs[0])
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETGROUPS, uintptr(len(gs)), uintptr(p), 0); e != 0 {
		return fmt.Errorf("setgroups: %w", e)
	}
	return nil
}

// serve carries out one request; ok is false when the thread could not
// take back its own credentials.
func (m *ipcMaker) serve(r ipcMakeReq, own []int) (ipcMakeResult, bool) {
	if r.remove {
		var err error
		switch r.kind {
		case platform.IpcShm:
			_, err = unix.SysvShmCtl(r.id, unix.IPC_RMID, nil)
		case platform.IpcSem:
			if _, _, e := unix.Syscall6(unix.SYS_SEMCTL, uintptr(r.id), 0, unix.IPC_RMID, 0, 0, 0); e != 0 {
				err = e
			}
		case platform.IpcMsg:
			if _, _, e := unix.Syscall(unix.SYS_MSGCTL, uintptr(r.id), unix.IPC_RMID, 0); e != 0 {
				err = e
			}
		}
		return ipcMakeResult{err: err}, true
	}
	// A lookup by a caller whose access checks pass anyway is made as
	// zoneadmd: the caller's uid alone would lose CAP_IPC_OWNER. A
	// caller with zoneadmd's own ids (a zone's root) needs no switch:
	// setting euid 0 over euid 0 changes no capability, so the call is
	// the same either way, six system calls fewer.
	switchCred := !(r.lookup && r.cred.ipcOwner) && !r.cred.isOwn(own)
	if switchCred {
		if err := setThreadCred(r.cred.groups, r.cred.gid, r.cred.uid); err != nil {
			if rerr := restoreThreadCred(own); rerr != nil {
				return ipcMakeResult{err: rerr}, false
			}
			return ipcMakeResult{err: fmt.Errorf("take the caller's ids: %w", err)}, true
		}
	}
	var nr uintptr
	a1 := uintptr(r.size)
	a2 := uintptr(uint32(r.flags))
	switch r.kind {
	case platform.IpcShm:
		nr = unix.SYS_SHMGET
	case platform.IpcSem:
		nr = unix.SYS_SEMGET
	case platform.IpcMsg:
		nr, a1, a2 = unix.SYS_MSGGET, uintptr(uint32(r.flags)), 0
	}
	id, _, e := unix.Syscall(nr, uintptr(uint32(r.key)), a1, a2)
	res := ipcMakeResult{id: int(id)}
	if e != 0 {
		res = ipcMakeResult{err: e}
	}
	if switchCred {
		if err := restoreThreadCred(own); err != nil {
			return res, false
		}
	}
	return res, true
}

func (m *ipcMaker) do(r ipcMakeReq) (int, error) {
	r.reply = make(chan ipcMakeResult, 1)
	m.reqs <- r
	res := <-r.reply
	return res.id, res.err
}

func (m *ipcMaker) close() {
	close(m.reqs)
	unix.Close(m.ns)
}

// tick reconciles every kind and saves the attribution.
func (c *ipcChecker) tick() {
	c.refreshProjects()
	c.stale = false
	for k := platform.IpcKind(0); k < platform.IpcKinds; k++ {
		if _, err := c.reconcile(k); err != nil {
			c.stale = true
			c.logf("%v", err)
		}
	}
	c.saveState()
}

// The attribution for the zoneadmd after this one (which recounts from
// the table and must charge each object to the project that was
// granted it) is in ipc.json, the objects as of the last reconcile, and
// ipc.journal, one line per object made since, appended before the
// caller learns the id. A line is one write(2), which outlives the
// process (the kernel has it); rewriting ipc.json at every creation
// cost a file, a rename and two fsyncs per call (a millisecond and more
// on a busy disk). Neither is fsynced: the objects they describe are
// gone after a crash of the machine.

// record appends one made object to the journal.
func (c *ipcChecker) record(o *ipcObject) {
	if c.journal == nil {
		return
	}
	b, err := json.Marshal(ipcRecord{ipcID: o.rec, Project: o.project})
	if err == nil {
		_, err = c.journal.Write(append(b, '\n'))
	}
	if err != nil {
		c.callLog.printf("ipc: record attribution: %v", err)
	}
}

// saveState writes ipc.json from the objects the check knows and empties
// the journal it now contains.
func (c *ipcChecker) saveState() {
	if !c.dirty || c.state == "" {
		return
	}
	var recs []ipcRecord
	for k := range c.known {
		for id, o := range c.known[k] {
			recs = append(recs, ipcRecord{ipcID: id, Project: o.project})
		}
		// Made since the last read of the table (none after a tick):
		// their journal lines go with the truncation below.
		for _, o := range c.made[k] {
			recs = append(recs, ipcRecord{ipcID: o.rec, Project: o.project})
		}
	}
	b, err := json.Marshal(recs)
	if err == nil {
		err = pathrs.WriteFileAtomicVolatile(c.state, b, 0o600)
	}
	if err == nil && c.journal != nil {
		if err = c.journal.Truncate(0); err != nil {
			err = fmt.Errorf("empty %s: %w", c.journal.Name(), err)
		}
	}
	if err != nil {
		c.logf("ipc: record attribution: %v", err)
		return
	}
	c.dirty = false
}

// ipcRecord is one object's project in ipc.json and ipc.journal.
type ipcRecord struct {
	ipcID
	Project string `json:"project"`
}

// journalPath is the journal beside ipc.json.
func journalPath(state string) string {
	return strings.TrimSuffix(state, ".json") + ".journal"
}

// loadState reads the attribution an earlier zoneadmd recorded (ipc.json,
// then the journal's lines over it) and opens the journal to append.
func (c *ipcChecker) loadState(path string) {
	c.state = path
	c.saved = map[ipcID]string{}
	keep := func(r ipcRecord) {
		if limits.ValidProjectName(r.Project) == nil {
			c.saved[r.ipcID] = r.Project
		}
	}
	if b, err := os.ReadFile(path); err == nil {
		var recs []ipcRecord
		if err := json.Unmarshal(b, &recs); err != nil {
			c.logf("ipc: %s: %v", path, err)
		}
		for _, r := range recs {
			keep(r)
		}
	}
	jp := journalPath(path)
	if b, err := os.ReadFile(jp); err == nil {
		for line := range bytes.Lines(b) {
			var r ipcRecord
			// A line cut short (a full disk) is skipped: its object is
			// charged as one nobody recorded.
			if json.Unmarshal(line, &r) == nil {
				keep(r)
			}
		}
	}
	f, err := os.OpenFile(jp, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		c.logf("ipc: attribution journal: %v", err)
		return
	}
	c.journal = f
	// The next tick writes ipc.json with what was read here and empties
	// the journal.
	c.dirty = true
}

// run serves the listener until stop is closed or the zone is gone. The
// caller ticks once first, so the totals are whole before anyone asks.
//
// It reconciles every second only while that has work to do (objects
// granted since the last read of the tables, an attribution not yet in
// ipc.json): the tables are read anyway at every check that cannot be
// granted as the totals stand and, through requestTick, at every usage
// query, so a zone at rest does not wake zoneadmd.
func (c *ipcChecker) run(listener *os.File, stop <-chan struct{}, stopFd int) {
	fd := listener.Fd()
	last := c.now()
	// Best effort (Linux 6.6 and later): the caller and this thread
	// hand the CPU to each other directly instead of each waking the
	// other through the scheduler.
	if err := platform.NotifSyncWakeUp(fd); err != nil && err != unix.EINVAL {
		c.logf("ipc: synchronous wake-ups: %v", err)
	}
	if c.maker != nil {
		// Never unlocked once bound: the thread stays in the zone's
		// namespace and ends with this goroutine.
		runtime.LockOSThread()
		own, err := c.maker.bind()
		if err != nil {
			runtime.UnlockOSThread()
			c.logf("ipc: objects are made on a thread of their own: %v", err)
		} else {
			c.inline, c.own = true, own
		}
	}
	for {
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}, {Fd: int32(stopFd), Events: unix.POLLIN}}
		if c.wakeR != nil {
			pfd = append(pfd, unix.PollFd{Fd: int32(c.wakeR.Fd()), Events: unix.POLLIN})
		}
		timeout := 1000
		if c.wakeR != nil && !c.dirty && !c.stale {
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
			if e := time.Duration(c.paceEvery.Load()); e > 0 {
				c.pace.every = e
			}
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

// cgroupProject finds the project of pid from /proc/PID/cgroup: the first
// path component below the zone's cgroup (zoneRels, relative to each
// hierarchy's root); "default" in the zone cgroup itself.
func cgroupProject(procs *procFiles, pid int, zoneRels []string) string {
	var buf [16384]byte
	b, err := procs.read(pid, "cgroup", buf[:])
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
// as ReadZoneFileAt reads (inside the zone root, a bounded regular file:
// a FIFO there must not stop the check every IPC call of the zone waits
// on), with a version that changes with its content.
//
// It is called at every IPC check, so the zone decides how often. A
// file whose inode, size, mtime and ctime are those of the version in
// hand is that version, provided the file had been still for projQuiet
// when that version was read: any later write moves its ctime (the
// kernel's clock, which the zone cannot set back without sys_time, and
// then only to its own cost) past the old one even on file systems with
// 2-second timestamps. Then a stat beneath the zone root (three system
// calls) answers, where reading the file cost a dozen (37 µs a call
// here). A file changed within projQuiet of its reading is read and its
// content compared at every call until it is still: two edits within a
// timestamp's tick, of the same size, are two versions. A file rewritten
// with the same bytes is not parsed again and keeps its version, and
// its bad lines are logged once per change of content, at most
// maxWarnings of them, escaped.
func zoneProjectsReader(zoneRoot string, logf func(string, ...any)) func() (limits.Projects, uint64) {
	var (
		mu     sync.Mutex
		root   *os.File
		key    projFileKey
		quiet  bool // the file had been still for projQuiet when key was taken
		sum    [32]byte
		cached limits.Projects
		gen    uint64
		valid  bool
	)
	return func() (limits.Projects, uint64) {
		mu.Lock()
		defer mu.Unlock()
		if root == nil {
			// The zone root itself cannot be renamed or replaced from
			// inside; the descriptor is kept (and closed with the
			// reader by the runtime).
			f, err := os.OpenFile(zoneRoot, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
			if err != nil {
				return defaultsAt(&valid, &gen)
			}
			root = f
		}
		rfd := int(root.Fd())
		if valid && quiet {
			if pfd, err := pathrs.OpenInZone(rfd, "etc/project", unix.O_PATH); err == nil {
				var st unix.Stat_t
				err = unix.Fstat(pfd, &st)
				unix.Close(pfd)
				if err == nil && projKeyOf(&st) == key {
					return cached, gen
				}
			}
		}
		b, st, err := pathrs.ReadZoneFileAt(rfd, "/etc/project", pathrs.ZoneDBMax)
		if err != nil {
			// The project watch and ready report why; this check runs
			// on every IPC call and stays quiet.
			return defaultsAt(&valid, &gen)
		}
		k := projKeyOf(&st)
		still := time.Since(time.Unix(0, st.Ctim.Nano())) > projQuiet
		h := sha256.Sum256(b)
		if valid && h == sum {
			key, quiet = k, still
			return cached, gen
		}
		ps, errs := limits.ParseProjects(bytes.NewReader(b), "/etc/project")
		msgs := make([]string, len(errs))
		for i, e := range errs {
			msgs[i] = e.Error()
		}
		for _, m := range boundWarnings(msgs) {
			logf("ipc: %s", m)
		}
		key, quiet, sum, cached, valid = k, still, h, ps, true
		gen++
		return ps, gen
	}
}

// projQuiet is how long /etc/project must have been still before its
// stat stands for its content: more than the coarsest file timestamp
// (2 s, FAT) and the kernel clock's tick.
const projQuiet = 3 * time.Second

func projKeyOf(st *unix.Stat_t) projFileKey {
	return projFileKey{dev: st.Dev, ino: st.Ino, size: st.Size, mtime: st.Mtim.Nano(), ctim: st.Ctim.Nano()}
}

// projFileKey tells a file's versions apart without reading it.
type projFileKey struct {
	dev, ino    uint64
	size        int64
	mtime, ctim int64
}

// defaultsAt is the projects reader's answer when the zone has no
// readable /etc/project: the defaults, as a version of their own.
func defaultsAt(valid *bool, gen *uint64) (limits.Projects, uint64) {
	if *valid {
		// From a file to none: the limits change back to the defaults.
		*valid = false
		*gen++
	}
	return limits.DefaultProjects(), *gen
}
