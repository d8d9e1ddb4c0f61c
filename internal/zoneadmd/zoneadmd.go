package zoneadmd

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"zonetop/api"
	"zonetop/console"
	"zonetop/internal/audit"
	"zonetop/internal/configs"
	"zonetop/internal/pathrs"
	"zonetop/internal/pidfd"
	"zonetop/internal/platform"
	"zonetop/internal/seal"
	"zonetop/internal/testhook"
	"zonetop/internal/wire"
	"zonetop/internal/zonenet"
	"zonetop/limits"
	"zonetop/limits/cgroups"
	"zonetop/rctl"

	"golang.org/x/sys/unix"
)

// zoneadmd supervises one zone. It is started detached (setsid) by the
// first front end that needs it, serialises the zone's life-cycle
// operations, holds the console, and records the zone's runtime state in
// its run directory so that a successor can adopt the zone if it dies.

type zoneadmd struct {
	// holdMu makes a held command's cap check and its move into its
	// cgroup one step: the kernel never refuses a move, so two checks
	// before either move would let both in past the cap. moved are the
	// stubs moved in that may not have become their command yet.
	holdMu          sync.Mutex
	moved           []movedStub
	root, name, dir string

	opMu   sync.Mutex // one life-cycle operation at a time
	projMu sync.Mutex // one /etc/project edit at a time

	mu          sync.Mutex    // guards the fields below
	keepStop    chan struct{} // ends keepAlive; nil while the zone has no platform
	st          RunState
	spec        *configs.PlatformSpec
	cg          *cgroups.ZoneCgroups
	lim         *zoneLimits
	halting     bool
	lastRequest time.Time

	sealed     *seal.SealedSelf
	sealedInit *seal.SealedSelf // zinit, for zsched (platform.ZinitSealFd)
	ipc        *ipcSupervisor   // the System V IPC check (ipccheck_zoneadmd.go)
	zschedDone chan struct{}
	// zsched is a handle (a pidfd) on the zsched zschedDone waits for, so
	// that halt can kill it without racing a reused pid.
	zsched *pidfd.PidProc
	lis    *net.UnixListener
	zsock  *ZoneSockServer // the zone-administration socket, from ready on
	// watchRoot is the zone root whose /etc/project the keeper follows
	// for this zoneadmd ("" while none), keeperConn the connection to
	// the keeper while there is one.
	watchRoot  string
	keeperConn *wire.Conn
	// projApplied is the /etc/project last applied, so the watch knows
	// zoneadmd's own writes from an edit.
	projApplied []byte
	quit        chan struct{}
	// idleWake tells idleExit that the zone may have gone down (wakeIdle).
	idleWake chan struct{}
	quitOnce sync.Once
	inflight sync.WaitGroup // delegated requests still to be answered

	// The console outlives the platform: attachers stay through halts and
	// reboots, and watchers get the zone's events on their control
	// connection (zlogin -C -d leaves on "halted").
	hub      *console.Hub
	conslog  *lazyLog
	watchMu  sync.Mutex
	watchers map[*wire.Conn]struct{}

	trimMu    sync.Mutex
	trimTimer *time.Timer

	// auditLim bounds the audit records the zone's users can cause.
	auditLim *auditLimiter
	// reported is the set of bad /etc/project lines last reported (under
	// mu), so a set is reported once per change of the file.
	reported [32]byte

	// readySpec and bootArgs are what the zone was last readied and
	// booted with (under mu), for the reboot that follows its init's
	// death; initGen counts boots, so a watch on an earlier init stays
	// quiet, and initDeaths counts the reboots of an init that keeps
	// dying soon after its start (watchInit).
	readySpec  *configs.PlatformSpec
	bootArgs   []string
	initGen    uint64
	initDeaths int
	// askedReboots are when the zone's root asked for its recent
	// reboots: each costs the host a halt and a ready, so a zone that
	// asks for more than zoneRebootBurst within zoneRebootWindow is
	// halted instead (under mu).
	askedReboots []time.Time
}

// trimDelay is how long zoneadmd must have had no request before it hands
// its free heap back to the kernel.
const trimDelay = 300 * time.Millisecond

// trimWhenIdle returns the heap a burst of work left behind (spec and
// state JSON, cgroup and /proc reads) to the kernel once requests stop:
// the Go runtime would otherwise keep it resident for minutes, and one
// zoneadmd idles beside every zone. Off the request path, so no
// operation waits for the collection.
func (d *zoneadmd) trimWhenIdle() {
	d.trimMu.Lock()
	defer d.trimMu.Unlock()
	if d.trimTimer == nil {
		d.trimTimer = time.AfterFunc(trimDelay, debug.FreeOSMemory)
		return
	}
	d.trimTimer.Reset(trimDelay)
}

func zoneadmdMain(args []string) int {
	if len(args) < 4 {
		fmt.Fprintln(os.Stderr, "zoneadmd: usage: zoneadmd ROOT ZONE ["+configs.NotifyFDArg+"]")
		return 2
	}
	var notify *os.File
	if len(args) > 4 && args[4] == configs.NotifyFDArg {
		platform.CloseInheritedFDs(3)
		notify = os.NewFile(3, "notify")
	} else {
		platform.CloseInheritedFDs(2)
	}
	defer func() {
		// Whatever happens, the starter learns of it: "ok" below, or EOF.
		if notify != nil {
			notify.Close()
		}
	}()
	wire.WarmJSON()
	root, name := args[2], args[3]
	if err := configs.CheckZoneName(name); err != nil {
		fmt.Fprintln(os.Stderr, "zoneadmd:", err)
		return 2
	}
	log.SetPrefix("zoneadmd " + name + ": ")
	log.SetFlags(log.LstdFlags | log.Lmicroseconds)
	// stderr is the same file, opened by the starter for what comes
	// before this (and a panic); the log itself rotates, since a zone
	// can make zoneadmd say things (bad lines, refused calls).
	if lw, err := console.OpenLog(filepath.Join(configs.LogDir(root), name+".zoneadmd.log"), ZoneadmdLogSize, zoneadmdLogKeep); err == nil {
		log.SetOutput(&logWriter{w: lw})
		defer lw.Close()
	} else {
		log.SetOutput(&logWriter{w: os.Stderr})
	}
	d := &zoneadmd{root: root, name: name, dir: configs.RunDir(root, name), quit: make(chan struct{}), lastRequest: time.Now(),
		idleWake: make(chan struct{}, 1),
		watchers: map[*wire.Conn]struct{}{}}
	d.conslog = &lazyLog{path: filepath.Join(configs.LogDir(root), name+".console")}
	d.auditLim = newAuditLimiter(name, func(r audit.AuditRecord) {
		if err := audit.AppendAudit(root, r); err != nil {
			log.Printf("audit: %v", err)
		}
	})
	defer d.auditLim.close()
	d.hub = console.NewHub(console.HubOptions{
		Ring: console.NewRing(console.DefaultRingSize),
		Log:  d.conslog,
		// EIO once zsched and every zone process closed the console: the
		// platform is gone, which halt or watchZsched report.
		OnReadError: func(err error) {
			if !errors.Is(err, syscall.EIO) {
				log.Printf("console: %v", err)
			}
		},
		OnLogError: d.conslog.reportOnce,
	})
	if err := os.MkdirAll(configs.RunBase(root), 0o755); err != nil {
		log.Print(err)
		return 1
	}
	// The zone's lock lives beside its run directory, never in it: a
	// zoneadmd that retires removes the directory, and a successor (a
	// reboot's) must not find a new lock file there while the predecessor
	// still holds the old one, nor have its new files removed by it. The
	// lock is held until this process ends, so the directory is made and
	// removed only under it.
	lock, err := os.OpenFile(ZoneadmdLockPath(root, name), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		log.Print(err)
		return 1
	}
	defer lock.Close()
	if !takeZoneLock(lock, root, name) {
		// Another zoneadmd owns the zone.
		return 0
	}
	if err := os.MkdirAll(d.dir, 0o700); err != nil {
		log.Print(err)
		return 1
	}
	// 711: host users may reach zoneadmd.sock (authorized per request)
	// but list nothing; every other file in it is 600.
	if err := os.Chmod(d.dir, 0o711); err != nil {
		log.Print(err)
		return 1
	}
	if err := writeRunFile(filepath.Join(d.dir, "zoneadmd.pid"), []byte(strconv.Itoa(os.Getpid())+"\n")); err != nil {
		log.Print(err)
		return 1
	}
	if err := d.adopt(); err != nil {
		log.Printf("adopt: %v", err)
	}
	sock := configs.ZoneadmdSock(root, name)
	_ = os.Remove(sock)
	d.lis, err = net.ListenUnix("unixpacket", &net.UnixAddr{Name: sock, Net: "unixpacket"})
	if err != nil {
		log.Print(err)
		return 1
	}
	d.lis.SetUnlinkOnClose(false)
	// Any host user may connect: each request is authorized from the
	// peer's credentials (authz_peer.go).
	_ = os.Chmod(sock, 0o666)
	log.Printf("serving (pid %d)", os.Getpid())
	if notify != nil {
		_, _ = notify.Write([]byte("ok\n"))
		notify.Close()
		notify = nil
	}
	go d.idleExit()
	go func() {
		for {
			c, err := d.lis.AcceptUnix()
			if err != nil {
				return
			}
			go d.handle(&wire.Conn{C: c})
		}
	}()
	<-d.quit
	testhook.TestHold(root, "zoneadmd-exit")
	waitInflight(&d.inflight, 30*time.Second)
	d.hub.Close()
	d.conslog.Close()
	d.mu.Lock()
	// Unlink before closing the listener: whoever finds no zoneadmd
	// answering must not find its files either.
	gone := d.st.State == "" || d.st.State == configs.StateInstalled
	if gone {
		// Nothing of the zone is left: take the run directory with us.
		removeRunDir(d.dir)
	} else {
		_ = os.Remove(sock)
		_ = os.Remove(filepath.Join(d.dir, "zoneadmd.pid"))
	}
	d.lis.Close()
	d.mu.Unlock()
	log.Print("exiting")
	return 0
}

// takeZoneLock takes the zone's lock. A busy lock whose owner does not
// answer on the socket is a zoneadmd that was killed and is still exiting
// (its lock goes with its last thread): wait for it a little, rather than
// leave the starter polling a socket nobody will ever serve.
// removeRunDir takes the zone's run directory away at once: renamed out
// of the way, then removed. Whoever no longer reaches zoneadmd's socket
// finds no directory either, never one half removed. The caller holds the
// zone's lock, so nobody makes the directory anew meanwhile.
func removeRunDir(dir string) {
	gone := filepath.Join(filepath.Dir(dir), "."+filepath.Base(dir)+".gone")
	_ = os.RemoveAll(gone) // left by a zoneadmd killed half-way
	if err := os.Rename(dir, gone); err == nil {
		dir = gone
	}
	_ = os.RemoveAll(dir)
}

// zoneadmdLockPath is the zone's zoneadmd lock, in the run base beside
// the zone's run directory.
func ZoneadmdLockPath(root, name string) string {
	return filepath.Join(configs.RunBase(root), "."+name+".zoneadmd.lock")
}

func takeZoneLock(lock *os.File, root, name string) bool {
	deadline := time.Now().Add(10 * time.Second)
	for {
		if unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB) == nil {
			return true
		}
		if time.Now().After(deadline) || ZoneadmdRunning(root, name) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// idleExit ends a zoneadmd that has had no zone and no request for a few
// seconds (a front end started it and went away, or it found only a dead
// zone to clean up when it started).
func (d *zoneadmd) idleExit() {
	for {
		d.mu.Lock()
		up := d.st.State != "" && d.st.State != configs.StateInstalled
		d.mu.Unlock()
		if up {
			// A zone that is up keeps its zoneadmd: nothing to look at
			// until it goes down (wakeIdle), rather than a wake-up a
			// second in every idle zone's zoneadmd. The minute is a
			// backstop only.
			select {
			case <-d.idleWake:
			case <-time.After(time.Minute):
			}
			continue
		}
		time.Sleep(time.Second)
		if !d.opMu.TryLock() {
			continue
		}
		d.mu.Lock()
		idle := (d.st.State == "" || d.st.State == configs.StateInstalled) && time.Since(d.lastRequest) > 3*time.Second &&
			d.hub.Attachers() == 0
		d.mu.Unlock()
		d.opMu.Unlock()
		if idle {
			d.stop()
			return
		}
	}
}

func (d *zoneadmd) stop() { d.quitOnce.Do(func() { close(d.quit) }) }

// wakeIdle has idleExit look again: called wherever the zone's state
// changes, so a zone taken down is seen at once.
func (d *zoneadmd) wakeIdle() {
	select {
	case d.idleWake <- struct{}{}:
	default: // a look is due already
	}
}

// keep registers with the keeper (keeper.go) once the zone has a
// platform; unkeep ends that once it has none.
func (d *zoneadmd) keep() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.keepStop == nil {
		d.keepStop = make(chan struct{})
		go d.keepAlive(d.keepStop)
	}
}

func (d *zoneadmd) unkeep() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.keepStop != nil {
		close(d.keepStop)
		d.keepStop = nil
	}
}

func (d *zoneadmd) status() api.ZoneStatus {
	d.mu.Lock()
	defer d.mu.Unlock()
	st := d.st.State
	if st == "" {
		st = configs.StateInstalled
	}
	return api.ZoneStatus{State: st, ZoneID: d.st.ZoneID, Since: d.st.Since, Reason: d.st.Reason,
		InitPid: d.st.InitPid, ZschedPid: d.st.ZschedPid, Warnings: append([]string(nil), d.st.Warnings...)}
}

// save records the runtime state; callers hold d.mu.
func (d *zoneadmd) saveLocked() error {
	b, err := json.MarshalIndent(d.st, "", "  ")
	if err != nil {
		return err
	}
	return writeRunFile(filepath.Join(d.dir, "state.json"), b)
}

// writeRunFile replaces a file of the zone's run directory by rename,
// without fsync. Everything there (state.json, spec.json, zoneid, the
// pid) describes processes, namespaces and cgroups of the running kernel:
// a zoneadmd that dies leaves the old content or the new, which is all its
// successor needs, and after a crash of the machine nothing it describes
// exists any more (adopt drops a file the crash left unreadable). Ready,
// boot and halt rewrite these files ten times; fsynced, that was twenty
// disk flushes (0.6 ms a write here, more on a busy disk) on their path.
func writeRunFile(path string, data []byte) error {
	return pathrs.WriteFileAtomicVolatile(path, data, 0o600)
}

func (d *zoneadmd) setState(state, reason string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.st.State, d.st.Reason = state, reason
	d.wakeIdle()
	if state == configs.StateReady || state == configs.StateRunning {
		d.st.Since = time.Now()
	}
	if err := d.saveLocked(); err != nil {
		log.Printf("record state: %v", err)
	}
}

func (d *zoneadmd) handle(c *wire.Conn) {
	defer c.Close()
	defer d.trimWhenIdle()
	p, err := HostPeer(c.C)
	if err != nil {
		_ = c.Send(wire.Response{Error: "zoneadmd: " + err.Error(), Code: api.CodeOf(err)})
		return
	}
	// Every answer on this connection, console events included, goes
	// to this peer.
	c.HidePids = !p.GlobalAdmin()
	var req wire.Request
	files, err := c.Recv(&req)
	if req.Op != "ping" {
		// Liveness probes do not keep an idle zoneadmd alive.
		d.mu.Lock()
		d.lastRequest = time.Now()
		d.mu.Unlock()
	}
	if err != nil {
		wire.CloseAll(files)
		_ = c.Send(wire.Response{Error: "zoneadmd: " + err.Error(), Code: api.CodeOf(err)})
		return
	}
	// Only a command's stdio comes with a request; a terminal session
	// takes none (zsched makes its pty in the zone).
	want := 0
	if req.Op == "exec" && req.Exec != nil && !req.Exec.TTY {
		want = 3
	}
	if err := wire.WantFDs(req.Op, files, want); err != nil {
		if req.Op == "exec" && req.Exec != nil && req.Exec.TTY {
			err = fmt.Errorf("exec -t: %w: its terminal is made in the zone", err)
		}
		_ = c.Send(wire.Response{Error: "zoneadmd: " + err.Error(), Code: api.CodeOf(err)})
		return
	}
	if !p.GlobalAdmin() && d.delegated(c, p, req) {
		wire.CloseAll(files)
		return
	}
	if req.Op == "attach-console" {
		d.attach(c, req.Console)
		return
	}
	reply := func(err error) {
		st := d.status()
		if err != nil {
			_ = c.Send(wire.Response{Error: err.Error(), Code: api.CodeOf(err), Status: &st})
			return
		}
		_ = c.Send(wire.Response{OK: true, Status: &st})
	}
	switch req.Op {
	case "status", "ping":
		if req.Op == "status" {
			// A zoneadmd alive but slow to answer (a loaded host).
			testhook.TestHold(d.root, "zoneadmd-status")
		}
		reply(nil)
	case "ready":
		d.opMu.Lock()
		err := d.ready(req.Spec)
		d.opMu.Unlock()
		d.retireIfGone()
		reply(err)
		d.exitIfGone()
	case "boot":
		d.opMu.Lock()
		err := d.boot(req.Args)
		d.opMu.Unlock()
		d.retireIfGone() // a boot that took the zone down with it
		reply(err)
		d.exitIfGone()
	case "halt":
		d.opMu.Lock()
		err := d.halt("")
		d.opMu.Unlock()
		d.retireIfGone()
		reply(err)
		d.exitIfGone()
	case "shutdown":
		d.opMu.Lock()
		err := d.shutdown(req.Timeout)
		d.opMu.Unlock()
		d.retireIfGone()
		reply(err)
		d.exitIfGone()
	case "exec":
		d.exec(c, req.Exec, files)
	case "ipcusage":
		st := d.status()
		_ = c.Send(wire.Response{OK: true, Status: &st, IPC: d.ipcUsage()})
	case "set-rctl":
		reply(d.setRctl(req.Rctl, req.RctlValues))
	case "reload-projects":
		reply(d.reloadProjects())
	case "console-log":
		// Authorized above for a delegated user (the login auth).
		text, err := consoleLogTail(d.root, d.name, wire.MaxMessage)
		if err != nil {
			reply(err)
			return
		}
		st := d.status()
		text = console.TrimToFit(text, func(t string) bool {
			b, err := json.Marshal(wire.Response{OK: true, Status: &st, Log: t})
			return err == nil && len(b) <= wire.MaxMessage
		})
		_ = c.Send(wire.Response{OK: true, Status: &st, Log: text})
	case "usage":
		u, err := d.usage()
		if err != nil {
			reply(err)
			return
		}
		st := d.status()
		_ = c.Send(wire.Response{OK: true, Status: &st, Usage: &u})
	default:
		reply(fmt.Errorf("unknown request %q", req.Op))
	}
}

// retireIfGone stops serving and removes the run directory once the zone
// has no platform left, before the caller is answered: whoever gets the
// answer finds nothing of the zone on the host.
func (d *zoneadmd) retireIfGone() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.st.State != "" && d.st.State != configs.StateInstalled {
		return
	}
	if d.hub.Attachers() > 0 {
		// Someone watches the console (zlogin -C): stay, so the next
		// boot reaches them. The idle check retires us once they leave.
		d.lastRequest = time.Now()
		return
	}
	if d.lis != nil {
		d.lis.Close()
	}
	removeRunDir(d.dir)
}

func (d *zoneadmd) exitIfGone() {
	d.mu.Lock()
	gone := d.st.State == "" || d.st.State == configs.StateInstalled
	d.mu.Unlock()
	if gone && d.hub.Attachers() == 0 {
		d.stop()
	}
}

func (d *zoneadmd) zschedSock() string { return filepath.Join(d.dir, "zsched.sock") }

// ready builds the platform. Every step registers its undo, so a failed
// ready leaves nothing behind.
func (d *zoneadmd) ready(spec *configs.PlatformSpec) (err error) {
	if cur := d.status().State; cur != configs.StateInstalled {
		return fmt.Errorf("ready %s: zone is %s", d.name, cur)
	}
	if spec == nil {
		return fmt.Errorf("ready %s: no platform spec", d.name)
	}
	if spec.Name != d.name {
		return fmt.Errorf("ready %s: spec is for zone %q", d.name, spec.Name)
	}
	if !filepath.IsAbs(spec.Zonepath) {
		return fmt.Errorf("ready %s: zonepath %q is not absolute", d.name, spec.Zonepath)
	}
	if err := checkZonepath(spec.Zonepath); err != nil {
		return fmt.Errorf("ready %s: %w", d.name, err)
	}
	if _, err := platform.CapNumbers(spec.Caps); err != nil {
		return fmt.Errorf("ready %s: %w", d.name, err)
	}
	for k := range spec.Sysctls {
		if !platform.SysctlAllowed(k) {
			return fmt.Errorf("ready %s: sysctl %s: not an IPC namespace sysctl", d.name, k)
		}
	}
	ph := newPhases()
	// Before anything is made or recorded: where the zoneadmd settles
	// decides where the zone's cgroup goes.
	scopeErr := d.settleSupervisor(spec)
	if scopeErr != nil {
		log.Printf("ready: no systemd scope of its own: %v", scopeErr)
	}
	var undo []func()
	defer func() {
		if err != nil && scopeErr != nil {
			err = fmt.Errorf("%w (zonetop got no cgroup of its own from systemd: %v)", err, scopeErr)
		}
		if err != nil {
			// Whatever step failed, a zsched the memory cap killed is
			// the cause (read before the cgroups go with the undo).
			if oom := d.oomReason(); oom != "" && !strings.Contains(err.Error(), "out-of-memory") {
				err = fmt.Errorf("%s (%w)", oom, err)
			}
			for i := len(undo) - 1; i >= 0; i-- {
				undo[i]()
			}
			d.mu.Lock()
			d.st = RunState{}
			d.spec, d.cg, d.lim = nil, nil, nil
			d.wakeIdle()
			d.mu.Unlock()
			_ = os.Remove(filepath.Join(d.dir, "state.json"))
			_ = os.Remove(filepath.Join(d.dir, "spec.json"))
			err = fmt.Errorf("ready %s: %w", d.name, err)
		}
	}()
	orig := *spec
	orig.Mounts = append([]configs.MountSpec(nil), spec.Mounts...)
	zsm, err := zoneSockMounts(d.root, d.name)
	if err != nil {
		return fmt.Errorf("zone socket: %w", err)
	}
	undo = append(undo, func() { _ = os.RemoveAll(ZoneSockDir(d.root, d.name)) })
	spec.Mounts = append(spec.Mounts, zsm...)
	b, err := json.MarshalIndent(spec, "", "  ")
	if err != nil {
		return err
	}
	if err := writeRunFile(filepath.Join(d.dir, "spec.json"), b); err != nil {
		return err
	}
	ph.mark("spec")
	id, err := allocZoneID(d.root, d.name)
	if err != nil {
		return err
	}
	undo = append(undo, func() { _ = os.Remove(filepath.Join(d.dir, "zoneid")) })
	d.mu.Lock()
	d.spec = spec
	d.readySpec = &orig
	d.st = RunState{State: configs.StateShuttingDown, ZoneID: id, Reason: "ready under way"}
	d.mu.Unlock()

	ph.mark("id")
	devs, err := platform.MatchDevices(spec.Devices)
	if err != nil {
		return err
	}
	cg, err := cgroups.CreateZoneCgroups(d.name, spec.CgroupParent, devs)
	if err != nil {
		return err
	}
	undo = append(undo, func() {
		_ = cg.KillAll(5*time.Second, nil)
		_ = cg.Remove()
	})
	d.mu.Lock()
	d.cg = cg
	d.st.Cgroups = cg.Dirs
	_ = d.saveLocked()
	d.mu.Unlock()

	ph.mark("cgroups")
	if d.sealed == nil {
		if d.sealed, err = seal.NewSealedSelf(d.dir); err != nil {
			return err
		}
	}
	if d.sealedInit == nil {
		p, err := zinitBinary()
		if err != nil {
			return err
		}
		if d.sealedInit, err = seal.NewSealedFile(p, d.dir); err != nil {
			return err
		}
	}
	ph.mark("seal")
	lim, cgParent, err := d.openLimits(spec)
	if err != nil {
		return err
	}
	d.mu.Lock()
	d.lim = lim
	d.st.CgParent = cgParent
	d.mu.Unlock()
	// The memory caps go on before zsched is born, the rest while it
	// starts (applyLimits): zsched's own memory counts against the zone,
	// and a cap written after it is charged fails (EBUSY) where one
	// written before makes a zone too small for zsched say so, the same
	// way every time (the out-of-memory killer, reported below).
	if zr := lim.zoneResources(); zr.Memory != nil || zr.MemorySwap != nil {
		if err := lim.zone.Apply(&cgroups.Resources{Memory: zr.Memory, MemorySwap: zr.MemorySwap}); err != nil {
			return fmt.Errorf("zone caps: %w", err)
		}
	}
	ph.mark("system")
	// zsched is the zone's machinery, outside the zone's pids count: on
	// cgroup v1 in the system project for the other controllers and in
	// zonetop's own pids cgroup (cgroups.ZschedHomes), born there; on v2 born in
	// the zone cgroup and moved out beside it (cgroups.PlaceZschedV2).
	system := ""
	if lim.groups["system"] != nil {
		system = "system"
	}
	homes := cg.ZschedHomes(system)
	p, built, err := d.startZsched(spec, cg, homes)
	if err != nil {
		return err
	}
	lim.mu.Lock()
	lim.zsched = p.Pid
	lim.mu.Unlock()
	if homes == nil {
		// cgroup v2: zsched was born in the zone cgroup; it moves out
		// before the zone's caps and projects are written.
		if err := lim.placeZschedV2(cg, p.Pid); err != nil {
			return err
		}
	}
	// The zone's caps and projects are written while zsched starts and
	// builds the platform: nothing of the zone's own runs before ready
	// answers, and zsched is no user process.
	lerr := d.applyLimits(lim)
	if lerr == nil {
		lim.makeFirstProjects()
	}
	ph.mark("limits")
	if err := built(); err != nil {
		return err
	}
	if lerr != nil {
		return lerr
	}
	ph.mark("zsched")
	start, _ := configs.ProcStartTime(p.Pid)
	// Refused without CAP_SYS_RESOURCE; the zone's processes still start
	// above zsched (oom.go).
	_ = platform.SetOOMScoreAdj(strconv.Itoa(p.Pid), platform.MachineryOOMScoreAdj)
	mns, merr := zoneMntNS(p.Pid)
	if merr != nil {
		log.Printf("ready: %v; halt will not know whether a host process holds the zone's mounts", merr)
	}
	d.mu.Lock()
	d.st.ZschedPid, d.st.ZschedStart, d.st.MntNS = p.Pid, start, mns
	_ = d.saveLocked()
	d.mu.Unlock()
	ph.mark("place")
	// The console, the zone socket and the IPC check are independent
	// (each its own connection to zsched or its own listener): set up
	// side by side.
	var consErr, sockErr, ipcErr error
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); consErr = d.attachConsole() }()
	go func() { defer wg.Done(); ipcErr = d.startIPCCheck() }()
	sockErr = d.startZoneSock()
	wg.Wait()
	if sockErr == nil {
		undo = append(undo, d.stopZoneSock)
	}
	if ipcErr == nil {
		undo = append(undo, func() { d.stopIPCCheck(true) })
	}
	if err := errors.Join(consErr, sockErr, ipcErr); err != nil {
		return err
	}
	ph.mark("console+sock+ipc")
	// Shared-IP zones' addresses are out of the host's sight, in their
	// namespaces: whether one is free is read from the other zones'
	// records, and this zone's is recorded before the lock goes.
	unlockNet := func() {}
	if spec.IPType != zonenet.NetIPExclusive && len(spec.Nets) > 0 {
		if unlockNet, err = zonenet.NetLockClaims(d.root); err != nil {
			return fmt.Errorf("zone %s: %w", d.name, err)
		}
	}
	err = zonenet.NetCheckClaims(d.root, d.name, spec)
	var ns zonenet.NetState
	if err == nil {
		ns, err = zonenet.SetupNet(*spec, p.Pid, id)
	}
	if err != nil {
		unlockNet()
		return err
	}
	testhook.TestPause(d.root, "zoneadmd-ready-net")
	nb, _ := ns.Marshal()
	undo = append(undo, func() { _ = zonenet.TeardownNet(ns) })
	d.mu.Lock()
	d.st.Net = nb
	if err := d.saveLocked(); err != nil {
		log.Printf("record network: %v", err)
	}
	d.mu.Unlock()
	unlockNet()
	d.setState(configs.StateReady, "")
	d.keep()
	ph.mark("net")
	log.Printf("ready: zone ID %d, zsched pid %d; net: %s; %s", id, p.Pid, ns.Describe(), ph)
	d.hub.Notice("Zone readied")
	d.event("ready")
	return nil
}

// checkZonepath enforces the layout install made: a root-owned zonepath of
// mode 700 holding a real root directory.
func checkZonepath(zp string) error {
	st, err := os.Lstat(zp)
	if err != nil {
		return fmt.Errorf("zonepath: %w", err)
	}
	sys, _ := st.Sys().(*syscall.Stat_t)
	if !st.IsDir() || sys == nil || sys.Uid != 0 || st.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("zonepath %s must be a directory owned by root with mode 700", zp)
	}
	rst, err := os.Lstat(filepath.Join(zp, "root"))
	if err != nil || !rst.IsDir() {
		return fmt.Errorf("zonepath %s has no root directory: the zone is not installed", zp)
	}
	return nil
}

// startZsched starts zsched in its new namespaces, its cgroup namespace
// rooted at the zone cgroup, and waits for it to report that the platform
// is built. With homes (cgroup v1) it is born in them; without (cgroup
// v2), in the zone cgroup.
func (d *zoneadmd) startZsched(spec *configs.PlatformSpec, cg *cgroups.ZoneCgroups, homes []string) (*pidfd.PidProc, func() error, error) {
	statusR, statusW, err := os.Pipe()
	if err != nil {
		return nil, nil, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		statusR.Close()
		statusW.Close()
		return nil, nil, err
	}
	go func() {
		defer errR.Close()
		b, _ := io.ReadAll(io.LimitReader(errR, 1<<20))
		if len(b) > 0 {
			log.Printf("zsched: %s", strings.TrimSpace(string(b)))
		}
	}()
	null, err := os.Open(os.DevNull)
	if err != nil {
		statusR.Close()
		statusW.Close()
		errW.Close()
		return nil, nil, err
	}
	// Every zone has its own network namespace: a shared-IP zone in the
	// host's would reach the host's loopback listeners and abstract
	// sockets and bind any of its addresses (see net_shared.go).
	flags := uintptr(syscall.CLONE_NEWNS | syscall.CLONE_NEWPID | syscall.CLONE_NEWUTS | syscall.CLONE_NEWIPC |
		unix.CLONE_NEWCGROUP | syscall.CLONE_NEWNET)
	// A user-namespaced zsched gets what it needs of the host through a
	// socket pair (fd 4): see userns.go.
	var uz *platform.UsernsStart
	if spec.UserNS != nil {
		if uz, err = d.newUsernsStart(); err != nil {
			null.Close()
			statusR.Close()
			statusW.Close()
			errW.Close()
			return nil, nil, err
		}
		defer uz.Close()
	}
	// zsched starts in its run directory and is told "." rather than the
	// path: its command line is the zone's /proc/1/cmdline, which must
	// not show the zone where zonetop keeps its state on the host.
	startIt := func(flags uintptr, cgroupFD int) (*pidfd.PidProc, error) {
		attr := &syscall.ProcAttr{
			Dir:   d.dir,
			Env:   []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", platform.OneProcEnv},
			Files: []uintptr{null.Fd(), null.Fd(), errW.Fd(), statusW.Fd()},
			Sys:   &syscall.SysProcAttr{Cloneflags: flags, Setsid: true, UseCgroupFD: cgroupFD >= 0, CgroupFD: cgroupFD},
		}
		if uz != nil {
			// The run directory is host root's (700); the zone's
			// root cannot enter it.
			attr.Dir = "/"
			attr.Env = append(attr.Env, platform.UsernsEnv+"=1")
			attr.Files = append(attr.Files, uz.Child.Fd())
			platform.UsernsAttr(attr.Sys, spec.UserNS)
			if flags&unix.CLONE_NEWCGROUP == 0 {
				// cgroup v1: this thread is in the zone's cgroup
				// namespace, which host root owns; the zone's
				// cgroup mounts are made here.
				var cerr error
				if uz.CgNames, uz.CgFiles, cerr = platform.CgroupTrees(); cerr != nil {
					return nil, cerr
				}
			}
		}
		// The sealed zinit at platform.ZinitSealFd: after the user
		// namespace's socket (4) when there is one, a closed 4 when not.
		for len(attr.Files) < platform.ZinitSealFd {
			attr.Files = append(attr.Files, ^uintptr(0))
		}
		attr.Files = append(attr.Files, d.sealedInit.F.Fd())
		if int(d.sealed.F.Fd()) < len(attr.Files) {
			return nil, fmt.Errorf("the sealed binary's descriptor %d is one zsched is given", d.sealed.F.Fd())
		}
		return pidfd.StartPidProc(d.sealed.Path(), []string{"zsched", "zsched", "."}, attr)
	}
	var p *pidfd.PidProc
	if homes != nil {
		// The forking thread already holds the new cgroup namespace.
		p, err = cg.StartFromThread(homes, func() (*pidfd.PidProc, error) { return startIt(flags&^unix.CLONE_NEWCGROUP, -1) })
	} else {
		// cgroup v2: clone3 with CLONE_INTO_CGROUP makes zsched in the
		// zone cgroup, and a CLONE_NEWCGROUP namespace made with it is
		// rooted where the child is born (cgroup_post_fork, Linux 5.7
		// on), not where zoneadmd is. zoneadmd never enters the zone's
		// cgroup: v2 would refuse it there once the zone passes
		// controllers to its projects, and it must not leave the subtree
		// it started in.
		var fd int
		if fd, err = unix.Open(cg.UnifiedDir(), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err == nil {
			p, err = startIt(flags, fd)
			unix.Close(fd)
		}
	}
	null.Close()
	statusW.Close()
	errW.Close()
	if err != nil {
		statusR.Close()
		return nil, nil, fmt.Errorf("start zsched: %w", err)
	}
	if uz != nil {
		if err := uz.Hello(p.Pid, spec); err != nil {
			_ = p.Kill()
			_, _ = p.Wait()
			statusR.Close()
			return nil, nil, fmt.Errorf("start zsched: %w", err)
		}
	}
	done := make(chan struct{})
	go func() {
		// Through the poller, not a wait4 that blocks: a thread parked in
		// a syscall for the zone's whole life is one more M, with its
		// stacks, kept by every idle zoneadmd. The wait4 after it finds
		// zsched ended and reaps it (or, if no pidfd could be had, waits).
		_ = waitPidfdExit(p.Pid)
		_, _ = p.Wait()
		close(done)
	}()
	d.mu.Lock()
	d.zschedDone, d.zsched = done, p
	d.mu.Unlock()
	go d.watchZsched(done)
	// built waits for zsched's word that the platform stands; on any
	// other word zsched is killed and reaped.
	built := func() error {
		defer statusR.Close()
		_ = statusR.SetReadDeadline(time.Now().Add(60 * time.Second))
		b, rerr := io.ReadAll(io.LimitReader(statusR, 64<<10))
		msg := strings.TrimSpace(string(b))
		if msg == "ok" {
			return nil
		}
		_ = p.Kill()
		<-done
		if msg == "" && rerr != nil {
			msg = rerr.Error()
		}
		if msg == "" {
			msg = "zsched exited without a word"
			if oom := d.oomReason(); oom != "" {
				msg = oom
			}
		}
		return fmt.Errorf("zsched: %s", strings.TrimPrefix(msg, "error: "))
	}
	return p, built, nil
}

// oomReason explains a zone that died of its memory cap, most often one
// too small for the zone's own machinery (zsched and init need about
// 4 MiB); "" when the out-of-memory killer ended nothing in the zone.
func (d *zoneadmd) oomReason() string {
	d.mu.Lock()
	cg := d.cg
	d.mu.Unlock()
	if cg == nil || cg.OomKills() == 0 {
		return ""
	}
	return "the kernel's out-of-memory killer ended zsched, and with it the zone: its memory cap leaves no room for the zone's own machinery; raise capped-memory physical (zonecfg) and boot again"
}

// watchZsched notices a zsched that died on its own (the zone is gone)
// and cleans up after it.
func (d *zoneadmd) watchZsched(done chan struct{}) {
	<-done
	d.mu.Lock()
	expected := d.halting || d.st.State == "" || d.st.State == configs.StateInstalled || d.st.State == configs.StateShuttingDown && d.st.Reason == "ready under way"
	d.mu.Unlock()
	if expected {
		return
	}
	d.opMu.Lock()
	defer d.opMu.Unlock()
	d.mu.Lock()
	still := !d.halting && d.zschedDone == done && (d.st.State == configs.StateReady || d.st.State == configs.StateRunning)
	d.mu.Unlock()
	if !still {
		return
	}
	why := "zsched exited: the zone is gone"
	if oom := d.oomReason(); oom != "" {
		// Boot answered, then the zone went: say so where the operator
		// looks, the console.
		why = oom
	}
	log.Printf("%s; cleaning up", why)
	d.hub.Notice(why)
	_, _ = d.conslog.Write([]byte("zoneadmd: " + why + "\r\n"))
	if err := d.halt("zsched exited"); err != nil {
		log.Printf("clean up after zsched: %v", err)
	}
	d.exitIfGone()
}

// attachConsole fetches the console master from zsched and keeps its
// output in the console log.
func (d *zoneadmd) attachConsole() error {
	c, err := wire.Dial(d.zschedSock(), 2*time.Second)
	if err != nil {
		return fmt.Errorf("zsched control socket: %w", err)
	}
	defer c.Close()
	if err := c.Send(wire.Request{Op: "console"}); err != nil {
		return err
	}
	var resp wire.Response
	files, err := c.Recv(&resp)
	if err != nil {
		wire.CloseAll(files)
		return fmt.Errorf("console: %w", err)
	}
	if !resp.OK || len(files) != 1 {
		wire.CloseAll(files)
		return fmt.Errorf("console: %s", resp.Error)
	}
	master, err := Pollable(files[0], "console-master")
	if err != nil {
		return fmt.Errorf("console: %w", err)
	}
	d.hub.SetMaster(master)
	return nil
}

// zschedPingWait bounds a ping of zsched: it answers from memory at
// once, so only a zsched that is stopped or wedged takes this long, and
// what waits for it must go on without the answer.
const zschedPingWait = 5 * time.Second

// zschedPing asks zsched for init's pid and what the zone asked for,
// giving up after zschedPingWait.
func (d *zoneadmd) zschedPing() (wire.Response, error) {
	resp, err := wire.RoundTripWithin(d.zschedSock(), zschedPingWait, wire.Request{Op: "ping"})
	if err != nil {
		return resp, fmt.Errorf("zsched: %w", err)
	}
	if !resp.OK {
		return resp, api.FromWire(resp.Error, resp.Code)
	}
	return resp, nil
}

// zschedCall sends one request to zsched.
func (d *zoneadmd) zschedCall(req wire.Request) (wire.Response, error) {
	resp, err := wire.RoundTrip(d.zschedSock(), req)
	if err != nil {
		return resp, fmt.Errorf("zsched: %w", err)
	}
	if !resp.OK {
		return resp, api.FromWire(resp.Error, resp.Code)
	}
	return resp, nil
}

func (d *zoneadmd) boot(args []string) error {
	d.mu.Lock()
	state := d.st.State
	spec := d.spec
	d.mu.Unlock()
	if state != configs.StateReady {
		if state == "" {
			state = configs.StateInstalled
		}
		return fmt.Errorf("boot %s: zone is %s, not ready", d.name, state)
	}
	if len(args) == 0 && spec != nil {
		args = spec.BootArgs
	}
	// Before init starts, so the notice precedes its first line.
	d.hub.Notice("Zone booting up")
	d.event("booting")
	resp, initFd, err := d.bootHeld(args)
	if err != nil {
		why := err.Error()
		if oom := d.oomReason(); oom != "" {
			why = oom + " (" + why + ")"
		}
		d.mu.Lock()
		done, zp, zstart := d.zschedDone, d.st.ZschedPid, d.st.ZschedStart
		d.mu.Unlock()
		if done != nil && !zschedAlive(zp, zstart) {
			// zsched dying is what failed the boot (the memory cap, most
			// often): the zone is gone with it. Take the platform down
			// now, so that the answer and the zone's state agree (ready
			// until watchZsched, which waits for this operation, would
			// have done it).
			select {
			case <-done:
			case <-time.After(time.Second):
				done = nil
			}
			if done != nil {
				if herr := d.halt("zsched exited"); herr != nil {
					why += "; " + herr.Error()
				}
			}
		}
		return fmt.Errorf("boot %s: %s", d.name, why)
	}
	testhook.TestPause(d.root, "zoneadmd-boot")
	d.mu.Lock()
	d.st.InitPid = resp.HostPid
	if initFd == nil {
		initFd, d.st.InitPid = initByPid(d.st.ZschedPid, resp.Pid)
	}
	d.bootArgs = append([]string(nil), args...)
	d.initGen++
	gen, initPid, zdone := d.initGen, d.st.InitPid, d.zschedDone
	d.mu.Unlock()
	d.setState(configs.StateRunning, "")
	go d.watchInit(gen, initPid, initFd, zdone)
	return nil
}

// initByPid is a pidfd on the zone's init, zsched's child whose pid in
// the zone is zonePid, and its host pid; nil and 0 when it is gone. The
// pidfd is taken first and the pid checked after: if it is still
// zsched's child with that zone pid then, the pidfd is on init and not on
// a process that reused the number.
func initByPid(zschedPid, zonePid int) (*os.File, int) {
	if zschedPid <= 0 || zonePid <= 0 {
		return nil, 0
	}
	hp := hostPidOf(zschedPid, zonePid)
	if hp <= 0 {
		return nil, 0
	}
	f, err := openPidfd(hp)
	if err != nil || f == nil {
		return nil, 0
	}
	if hostPidOf(zschedPid, zonePid) != hp {
		f.Close()
		return nil, 0
	}
	return f, hp
}

// fromZsched takes what a zoneadmd holds of zsched's: the console's
// master and the IPC check's seccomp listener.
func (d *zoneadmd) fromZsched(what string) {
	if err := d.attachConsole(); err != nil {
		log.Printf("%s: console: %v", what, err)
	}
	if err := d.startIPCCheck(); err != nil {
		log.Printf("%s: %v", what, err)
	}
}

// finishAdopt waits for an adopted zone's silent zsched to answer, then
// takes the console and the IPC check from it, unless the zone ended
// first (zdone: a halt kills zsched, stopped or not). Meanwhile the
// zone's IPC calls wait in the kernel for a check, as they do while no
// zoneadmd runs.
func (d *zoneadmd) finishAdopt(zdone chan struct{}) {
	for {
		select {
		case <-zdone:
			return
		case <-time.After(time.Second):
		}
		if _, err := d.zschedPing(); err != nil {
			continue
		}
		d.opMu.Lock()
		select {
		case <-zdone:
		default:
			log.Printf("adopt: zsched answers again")
			d.fromZsched("adopt")
		}
		d.opMu.Unlock()
		return
	}
}

// recordedInit is initByPid for a zsched that cannot say which process
// is init: the recorded host pid, if it is still a child of zsched (a
// pidfd taken, then the parentage checked again, so the handle is on
// that child and not on a process that reused the number).
func recordedInit(zschedPid, hostPid int) (*os.File, int) {
	if zschedPid <= 0 || hostPid <= 0 || parentOf(hostPid) != zschedPid {
		return nil, 0
	}
	f, err := openPidfd(hostPid)
	if err != nil || f == nil {
		return nil, 0
	}
	if parentOf(hostPid) != zschedPid {
		f.Close()
		return nil, 0
	}
	return f, hostPid
}

// parentOf is pid's parent from /proc, 0 when it cannot be read.
func parentOf(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "PPid:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	return 0
}

// waitPidfdExit waits until process pid (not our child) has exited, nil
// at once when it is gone already. The pidfd waits in the runtime's
// poller, not on a thread of its own blocked in poll(2): a zoneadmd idles
// beside every zone for as long as it runs.
func waitPidfdExit(pid int) error {
	f, err := openPidfd(pid)
	if err != nil || f == nil {
		return err
	}
	defer f.Close()
	return waitPidfd(f)
}

// waitFdExit waits in the runtime's poller for the pidfd fd (which it
// takes and closes) to turn readable, as it does when its process exits.
func waitFdExit(fd int) error {
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return err
	}
	f := os.NewFile(uintptr(fd), "pidfd")
	defer f.Close()
	return waitPidfd(f)
}

// openPidfd is a non-blocking pidfd on pid for waitPidfd, nil when the
// process is gone already.
func openPidfd(pid int) (*os.File, error) {
	fd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK)
	if errors.Is(err, unix.ESRCH) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), "pidfd"), nil
}

// waitPidfd waits until f's process has exited. Each round asks the
// pidfd itself (poll with no timeout) before waiting: the poller's
// readiness is edge-triggered and cleared when the wait begins, so an
// exit that came before (init, /bin/true, ends within a millisecond of
// its start) gives no second edge, and a wait that trusted the poller
// alone missed it for good whenever the runtime had taken the first
// edge already (a busy host makes that likely).
func waitPidfd(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var perr error
	err = rc.Read(func(fd uintptr) bool {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		for {
			n, err := unix.Poll(fds, 0)
			if err == unix.EINTR {
				continue
			}
			if err != nil {
				perr = err
				return true
			}
			return n > 0
		}
	})
	if err != nil {
		return err
	}
	return perr
}

// initQuickDeath is how soon after its start an init's death counts as
// one of a loop; initMaxQuickDeaths such deaths in a row halt the zone
// instead of rebooting it again.
const (
	initQuickDeath     = time.Minute
	initMaxQuickDeaths = 3
	zoneRebootWindow   = time.Minute
	zoneRebootBurst    = 5
)

// watchInit waits for the zone's init (the pidfd initFd, which it
// closes, nil when init is gone already; host pid initPid, for the log;
// started by boot number gen) to end. It waits on the pidfd and never
// on the pid, which names another process once init is reaped and the
// number reused. When init ends on its own, with the zone running and
// no life-cycle operation taking it down, the zone is rebooted: illumos
// reboots a zone whose init exits in its lx brand (a native zone's init
// is restarted in place, which here would leave the dead init's console
// shell and respawned children beside the new init's). A zone whose init
// keeps dying within initQuickDeath of its start is halted after
// initMaxQuickDeaths reboots, with the reason on its console. When the
// zone asked for it (reboot, halt, poweroff or init inside signal its
// PID 1, and zsched tells), the zone is rebooted or halted as asked,
// which is how illumos' zoneadmd carries out a zone root's reboot.
func (d *zoneadmd) watchInit(gen uint64, initPid int, initFd *os.File, zdone chan struct{}) {
	start := time.Now()
	// No pidfd: boot found init gone already when it looked.
	if initFd != nil {
		err := waitPidfd(initFd)
		initFd.Close()
		if err != nil {
			log.Printf("watch init (pid %d): %v", initPid, err)
			return
		}
	}
	// A zsched that died took init with it: the zone is gone, and
	// watchZsched says so.
	select {
	case <-zdone:
		return
	case <-time.After(200 * time.Millisecond):
	}
	// Whether the zone asked for it (reboot, halt, init 6 inside). Asked
	// before the operation lock and within a bound: a zsched that does
	// not answer (stopped, wedged) must not hold up the halt an operator
	// uses on just such a zone. No answer counts as not asked, and the
	// reboot that follows kills that zsched.
	asked := ""
	if resp, err := d.zschedPing(); err == nil {
		asked = resp.Event
	} else {
		log.Printf("init (pid %d) exited; zsched: %v", initPid, err)
	}
	d.opMu.Lock()
	defer d.opMu.Unlock()
	d.mu.Lock()
	still := !d.halting && d.initGen == gen && d.st.State == configs.StateRunning
	var spec configs.PlatformSpec
	if d.readySpec != nil {
		spec = *d.readySpec
		spec.Mounts = append([]configs.MountSpec(nil), d.readySpec.Mounts...)
	}
	args := d.bootArgs
	tooMany := false
	if still && asked == platform.DownReboot {
		now := time.Now()
		kept := d.askedReboots[:0]
		for _, t := range d.askedReboots {
			if now.Sub(t) < zoneRebootWindow {
				kept = append(kept, t)
			}
		}
		d.askedReboots = append(kept, now)
		tooMany = len(d.askedReboots) > zoneRebootBurst
	}
	if still && asked != "" {
		d.initDeaths = 0
	} else if still {
		if time.Since(start) < initQuickDeath {
			d.initDeaths++
		} else {
			d.initDeaths = 1
		}
	}
	deaths := d.initDeaths
	d.mu.Unlock()
	select {
	case <-zdone:
		return
	default:
	}
	if !still {
		return
	}
	say := func(why string) {
		log.Print(why)
		d.hub.Notice(why)
		_, _ = d.conslog.Write([]byte("zoneadmd: " + why + "\r\n"))
	}
	if asked == platform.DownHalt || deaths > initMaxQuickDeaths || tooMany || spec.Name == "" {
		why, reason := fmt.Sprintf("init exited %d times within %s of its start; halting the zone", deaths, initQuickDeath), "init keeps exiting"
		switch {
		case asked == platform.DownHalt:
			why, reason = "halt asked in the zone; halting it", ""
		case tooMany:
			why = fmt.Sprintf("reboot asked in the zone more than %d times within %s; halting it (zoneadm boot brings it back)", zoneRebootBurst, zoneRebootWindow)
			reason = "rebooted too often from inside"
		}
		say(why)
		if err := d.halt(reason); err != nil {
			log.Printf("halt after init's death: %v", err)
		}
		d.mu.Lock()
		d.initDeaths, d.askedReboots = 0, nil
		d.mu.Unlock()
		d.retireIfGone()
		d.exitIfGone()
		return
	}
	if asked == platform.DownReboot {
		say("reboot asked in the zone; rebooting it")
	} else {
		say("init exited; rebooting the zone")
	}
	d.event("rebooting")
	err := d.halt("")
	if err == nil {
		err = d.ready(&spec)
	}
	if err == nil {
		err = d.boot(args)
	}
	if err != nil {
		say(fmt.Sprintf("reboot after init's death: %v", err))
		d.retireIfGone()
		d.exitIfGone()
	}
}

// pidfdPid is the pid a pidfd refers to, in this process's pid
// namespace, from the descriptor's fdinfo; 0 when the kernel does not
// say or the process is gone (the kernel then shows -1).
func pidfdPid(f *os.File) int {
	var buf [512]byte
	b, err := readProcFile("/proc/self/fdinfo/"+strconv.Itoa(int(f.Fd())), buf[:])
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Pid:"); ok {
			if pid, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && pid > 0 {
				return pid
			}
		}
	}
	return 0
}

// hostPidOf maps a pid as zsched sees it (in the zone's pid namespace) to
// the host pid, through NSpid of zsched's children.
func hostPidOf(zschedPid, zonePid int) int {
	// Children hang off the thread that forked them: look at every one.
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", zschedPid))
	var kids []string
	for _, t := range tasks {
		if b, err := os.ReadFile(t); err == nil {
			kids = append(kids, strings.Fields(string(b))...)
		}
	}
	for _, f := range kids {
		hp, _ := strconv.Atoi(f)
		st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", hp))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(st), "\n") {
			if strings.HasPrefix(line, "NSpid:") {
				ids := strings.Fields(line[6:])
				if len(ids) > 1 && ids[len(ids)-1] == strconv.Itoa(zonePid) {
					return hp
				}
			}
		}
	}
	return 0
}

func (d *zoneadmd) shutdown(timeout time.Duration) error {
	d.mu.Lock()
	state := d.st.State
	d.mu.Unlock()
	if state == configs.StateRunning {
		if _, err := d.zschedCall(wire.Request{Op: "shutdown", Timeout: timeout}); err != nil {
			log.Printf("shutdown: %v; halting anyway", err)
		}
	}
	return d.halt("")
}

// halt kills the zone and removes its platform. why is recorded when the
// zone went away on its own.
func (d *zoneadmd) halt(why string) error {
	d.mu.Lock()
	if d.st.State == "" || d.st.State == configs.StateInstalled {
		d.mu.Unlock()
		return nil
	}
	d.halting = true
	d.st.State, d.st.Reason = configs.StateShuttingDown, why
	_ = d.saveLocked()
	cg, st := d.cg, d.st
	done, zsched := d.zschedDone, d.zsched
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		d.halting = false
		d.mu.Unlock()
	}()

	ph := newPhases()
	// The IPC check's supervisor takes a wake-up to notice it is to stop
	// (0.3 to 0.5 ms); it stops while the zone is killed, and is gone
	// before anything of the platform is removed.
	ipcStopped := make(chan struct{})
	go func() { d.stopIPCCheck(false); close(ipcStopped) }()
	var problems []string
	if cg == nil && len(st.Cgroups) > 0 {
		cg = &cgroups.ZoneCgroups{Dirs: st.Cgroups}
	}
	// byInit: killByInit found the zone empty, and subs are its
	// sub-cgroups; otherwise KillAll and Remove go the long way.
	var subs []string
	byInit := false
	if cg != nil {
		deadline := time.Now().Add(5 * time.Second)
		if done != nil && zsched != nil {
			// zsched gets all the time but a second for KillAll to see
			// its own kills through, should zsched not die.
			var err error
			if subs, err = cg.KillByInit(zsched, done, time.Until(deadline)-time.Second); err == nil {
				byInit = true
			} else {
				log.Printf("halt: %v; killing the zone's processes one by one", err)
			}
		}
		if !byInit {
			if err := cg.KillAll(time.Until(deadline), done); err != nil {
				problems = append(problems, err.Error())
			}
		}
	} else if st.ZschedPid > 0 && zschedAlive(st.ZschedPid, st.ZschedStart) {
		_ = syscall.Kill(st.ZschedPid, syscall.SIGKILL)
	}
	if done != nil && len(problems) == 0 {
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			problems = append(problems, fmt.Sprintf("zsched (pid %d) would not die", st.ZschedPid))
		}
	}
	<-ipcStopped
	ph.mark("ipccheck+kill")
	if len(st.Net) > 0 {
		ns, err := zonenet.UnmarshalNetState(st.Net)
		if err == nil {
			err = zonenet.TeardownNet(ns)
		}
		if err != nil {
			problems = append(problems, fmt.Sprintf("network: %v", err))
		} else {
			d.mu.Lock()
			d.st.Net = nil
			d.mu.Unlock()
		}
	} else if d.spec != nil && len(d.spec.Nets) > 0 && st.ZoneID > 0 {
		// zoneadmd died between setting the network up and recording it.
		ns, err := zonenet.RecoverNetState(d.name, d.spec.IPType, d.spec.Nets, st.ZoneID)
		if err == nil {
			err = zonenet.TeardownNet(ns)
		}
		if err != nil {
			problems = append(problems, fmt.Sprintf("network: %v", err))
		}
	}
	ph.mark("net")
	if cg != nil && len(problems) == 0 {
		var err error
		if byInit {
			if err = cg.RemoveAs(subs); err != nil {
				// The hierarchy killByInit read was empty and another is
				// not: something the host put there. Kill it the long way.
				log.Printf("halt: %v; killing what is left one by one", err)
				if err = cg.KillAll(5*time.Second, done); err == nil {
					err = cg.Remove()
				}
			}
		} else {
			err = cg.Remove()
		}
		if err != nil {
			problems = append(problems, err.Error())
		}
	}
	ph.mark("cgroups")
	if len(problems) == 0 {
		if held := st.MntNS.mountHolders(); len(held) > 0 {
			problems = append(problems, "the zone's mounts are kept alive by what holds its mount namespace: "+
				strings.Join(held, "; ")+"; end those and halt again")
		}
	}
	ph.mark("mounts")
	if len(problems) > 0 {
		reason := strings.Join(problems, "; ")
		d.setState(configs.StateDown, reason)
		log.Printf("halt incomplete: %s", reason)
		return fmt.Errorf("halt %s: zone is down, not halted: %s", d.name, reason)
	}
	d.stopZoneSock()
	ph.mark("zsock")
	for _, f := range []string{"zsched.sock", "zoneid", "spec.json", "state.json", "ipc.json", "ipc.journal"} {
		_ = os.Remove(filepath.Join(d.dir, f))
	}
	// Only now, with state.json gone: a keeper that sees the connection
	// end must find nothing to restart.
	d.unkeep()
	ph.mark("files")
	d.mu.Lock()
	d.st = RunState{}
	d.spec, d.cg, d.lim = nil, nil, nil
	d.wakeIdle()
	d.mu.Unlock()
	d.hub.SetMaster(nil)
	d.hub.Notice("Zone halted")
	d.event("halted")
	ph.mark("rest")
	log.Printf("halted; %s", ph)
	return nil
}

// zschedAlive tells whether pid is still the zsched that was recorded
// (and not a zombie waiting for whoever inherited it).
func zschedAlive(pid int, start uint64) bool {
	if pid <= 0 {
		return false
	}
	now, err := configs.ProcStartTime(pid)
	return err == nil && now == start && !ProcZombie(pid)
}

func ProcZombie(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	i := strings.LastIndexByte(string(b), ')')
	return i < 0 || i+2 >= len(b) || b[i+2] == 'Z' || b[i+2] == 'X'
}

// adopt takes over a zone whose zoneadmd died, or finishes the halt of one
// whose zsched died too.
func (d *zoneadmd) adopt() error {
	b, err := os.ReadFile(filepath.Join(d.dir, "state.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var st RunState
	if err := json.Unmarshal(b, &st); err != nil {
		// Written by rename, the file is never seen half-written by a
		// live reader: what does not parse is what a crash of the
		// machine left of an unsynced write (writeRunFile), and nothing
		// it described outlived that crash.
		log.Printf("adopt: state.json unreadable (%v): left by a crash of the machine; the zone has no platform", err)
		_ = os.Remove(filepath.Join(d.dir, "state.json"))
		_ = os.Remove(filepath.Join(d.dir, "spec.json"))
		return nil
	}
	var spec configs.PlatformSpec
	if sb, err := os.ReadFile(filepath.Join(d.dir, "spec.json")); err == nil {
		if json.Unmarshal(sb, &spec) == nil {
			d.spec = &spec
		}
	}
	if err := d.rejoinSupervisor(); err != nil {
		log.Printf("adopt: back into the zone's systemd scope: %v", err)
	}
	d.st = st
	if len(st.Cgroups) > 0 {
		d.cg = &cgroups.ZoneCgroups{Dirs: st.Cgroups}
	}
	alive := zschedAlive(st.ZschedPid, st.ZschedStart)
	if alive && (st.State == configs.StateReady || st.State == configs.StateRunning) {
		ping, err := d.zschedPing()
		// A zsched that is there and does not answer (stopped by the
		// host, wedged) is adopted as recorded, not waited for: this
		// zoneadmd serves nothing until adopt returns, and only a
		// zoneadmd can halt the zone. Its init is the recorded one,
		// if that is still zsched's child.
		silent := err != nil && errors.Is(err, os.ErrDeadlineExceeded) && zschedAlive(st.ZschedPid, st.ZschedStart)
		if silent {
			log.Printf("adopt: zsched (pid %d) does not answer within %v; adopting the zone as recorded", st.ZschedPid, zschedPingWait)
			err = nil
		}
		if err == nil {
			if st.State == configs.StateReady && ping.Pid != 0 {
				// The zoneadmd died between zsched starting init and
				// recording it: the zone is running, whatever the
				// record says.
				d.st.State = configs.StateRunning
				d.st.InitPid = hostPidOf(st.ZschedPid, ping.Pid)
				_ = d.saveLocked()
			}
			// Both handles are taken before zschedAlive looks: if it
			// is still the recorded zsched then, they are on it.
			proc, ferr := pidfd.OpenPidProc(st.ZschedPid)
			fd, err := unix.PidfdOpen(st.ZschedPid, 0)
			if err == nil && ferr == nil && zschedAlive(st.ZschedPid, st.ZschedStart) {
				done := make(chan struct{})
				go func() {
					// In the poller rather than poll(2), which would hold a
					// thread for the zone's life (see startZsched).
					if err := waitFdExit(fd); err != nil {
						log.Printf("adopt: waiting for zsched: %v", err)
					}
					close(done)
				}()
				d.zschedDone, d.zsched = done, proc
				d.adoptLimits()
				go d.watchZsched(done)
				if d.st.State == configs.StateRunning && d.st.InitPid > 0 {
					// The spec as ready had it, for a reboot should
					// init die: without the zone socket's mounts,
					// which ready adds again.
					if d.spec != nil {
						rs := *d.spec
						rs.Mounts = nil
						for _, m := range d.spec.Mounts {
							if m.Target != "/run/zonetop" && m.Target != api.ZoneBinaryPath {
								rs.Mounts = append(rs.Mounts, m)
							}
						}
						d.readySpec = &rs
					}
					// The recorded pid may name another process by
					// now: init is whatever zsched says it is.
					initFd, hp := initByPid(st.ZschedPid, ping.Pid)
					if silent {
						initFd, hp = recordedInit(st.ZschedPid, d.st.InitPid)
					}
					if hp != d.st.InitPid {
						d.st.InitPid = hp
						_ = d.saveLocked()
					}
					d.initGen++
					go d.watchInit(d.initGen, d.st.InitPid, initFd, done)
				}
				if silent {
					// The console and the IPC check come from zsched:
					// taken once it answers again, not waited for here.
					go d.finishAdopt(done)
				} else {
					d.fromZsched("adopt")
				}
				if err := d.startZoneSock(); err != nil {
					log.Printf("adopt: zone socket: %v", err)
				}
				d.keep()
				log.Printf("adopted zone ID %d, zsched pid %d", st.ZoneID, st.ZschedPid)
				return nil
			}
			if err == nil {
				unix.Close(fd)
			}
			if ferr == nil {
				unix.Close(proc.Fd)
			}
		}
	}
	// The platform is half there (a ready that died, a zsched that is
	// gone, or a halt that did not finish): finish tearing it down.
	d.st.State = configs.StateDown
	d.st.Reason = "recovering a zone whose zoneadmd died"
	d.zschedDone, d.zsched = nil, nil
	d.opMu.Lock()
	defer d.opMu.Unlock()
	if err := d.halt(""); err != nil {
		return err
	}
	return nil
}

// exec relays a command to zsched: the stdio descriptors the client made
// go on to zsched, and zsched's two answers (started, ended) come back.
func (d *zoneadmd) exec(c *wire.Conn, req *api.ExecRequest, files []*os.File) {
	defer wire.CloseAll(files)
	state := d.status().State
	if state != configs.StateReady && state != configs.StateRunning {
		_ = c.Send(wire.Response{Error: fmt.Sprintf("zone %s is %s: zlogin needs it ready or running", d.name, state), Code: api.CodeConflict})
		return
	}
	if req == nil || (len(req.Argv) == 0 && !req.Login && !req.Safe) {
		_ = c.Send(wire.Response{Error: "exec: no command", Code: api.CodeInvalid})
		return
	}
	if !req.TTY {
		// zoneadmd is the border: whatever the client is, its
		// descriptors are looked at here, before anything of the zone
		// sees them.
		if err := platform.CheckZoneStdio("exec", files, true); err != nil {
			_ = c.Send(wire.Response{Error: err.Error(), Code: api.CodeOf(err)})
			return
		}
	}
	d.mu.Lock()
	lim := d.lim
	d.mu.Unlock()
	var group cgroups.Group
	var rl []limits.RlimitSetting
	task := 0
	var err error
	if lim != nil {
		if group, task, rl, err = lim.placement(req); err != nil {
			_ = c.Send(wire.Response{Error: err.Error(), Code: api.CodeOf(err)})
			return
		}
		if task > 0 {
			defer lim.endTask(task)
		}
	}
	zc, resp, got, placed, err := d.spawnCommand(req, files, group, rl, false)
	if err == nil && placed && !resp.OK && strings.Contains(resp.Error, unix.EAGAIN.Error()) {
		// zsched's forking thread counts as a task of the project while
		// it forks there (cgroup v1), so a placed fork needs two free
		// tasks: with one left, the command starts held instead.
		zc.Close()
		wire.CloseAll(got)
		zc, resp, got, _, err = d.spawnCommand(req, files, group, rl, true)
	}
	if task > 0 {
		lim.taskStarted(task)
	}
	wire.CloseAll(files)
	if err != nil {
		_ = c.Send(wire.Response{Error: err.Error(), Code: api.CodeOf(err)})
		return
	}
	defer zc.Close()
	oom0 := d.oomKills()
	for i := 0; ; i++ {
		// The one descriptor that goes back is a terminal session's pty
		// master, with the answer that it started.
		want := 0
		if i == 0 && req.TTY && resp.OK {
			want = 1
		}
		if err := wire.WantFDs("zsched's answer", got, want); err != nil {
			_ = c.Send(wire.Response{Error: err.Error(), Code: api.CodeOf(err)})
			return
		}
		if i == 0 && !resp.OK {
			if named := lim.namedCapError(group, errors.New(resp.Error)); named.Error() != resp.Error {
				resp.Error, resp.Code = named.Error(), api.CodeOf(named)
			}
		}
		err = c.Send(resp, got...)
		wire.CloseAll(got)
		if err != nil || !resp.OK || resp.Exit != nil || i == 1 {
			return
		}
		resp = wire.Response{}
		if got, err = zc.Recv(&resp); err != nil {
			wire.CloseAll(got)
			_ = c.Send(wire.Response{Error: fmt.Sprintf("zsched: %v", err)})
			return
		}
		if resp.Exit != nil && *resp.Exit == 128+int(unix.SIGKILL) && d.oomKills() > oom0 {
			resp.Warnings = append(resp.Warnings, d.oomKillNote())
		}
	}
}

// oomKills is how many processes the out-of-memory killer ended in the
// zone's memory cgroups so far.
func (d *zoneadmd) oomKills() int {
	d.mu.Lock()
	cg := d.cg
	d.mu.Unlock()
	if cg == nil {
		return 0
	}
	return cg.OomKills()
}

// oomKillNote tells a command's caller that the kernel killed it for the
// zone's memory cap: a bare "Killed" (exit 137) does not say which cap,
// and an operator would look for a bug in the command first.
func (d *zoneadmd) oomKillNote() string {
	d.mu.Lock()
	lim := d.lim
	d.mu.Unlock()
	if lim != nil {
		lim.mu.Lock()
		m, ok := lim.rctls[rctl.ZoneMaxPhysicalMemory]
		lim.mu.Unlock()
		if ok {
			return fmt.Sprintf("the kernel's out-of-memory killer ended the command: zone %s reached its %s (%s)", d.name, rctl.ZoneMaxPhysicalMemory, rctl.FormatQuantity(m, rctl.UnitBytes))
		}
	}
	return fmt.Sprintf("the kernel's out-of-memory killer ended the command: its project reached its %s in zone %s", rctl.ProjectMaxMemory, d.name)
}

// spawnCommand asks zsched to start a command for group and returns
// zsched's first answer (started, or why not) on the connection that
// will bring its end. The command is born in group when it can be
// (placeFor) unless hold, held and moved otherwise. placed tells that it
// was to be born in group. files, the command's stdio, stay the
// caller's.
func (d *zoneadmd) spawnCommand(req *api.ExecRequest, files []*os.File, group cgroups.Group, rl []limits.RlimitSetting, hold bool) (zc *wire.Conn, resp wire.Response, got []*os.File, placed bool, err error) {
	zc, err = wire.Dial(d.zschedSock(), 2*time.Second)
	if err != nil {
		return nil, resp, nil, false, fmt.Errorf("zsched: %w", err)
	}
	var place []*os.File
	if !hold {
		place = d.placeFor(group, rl)
	}
	hold = needsHold(group, place, rl)
	err = zc.Send(wire.Request{Op: "spawn", Exec: req, Hold: hold, Place: len(place)}, append(append([]*os.File(nil), files...), place...)...)
	wire.CloseAll(place)
	if err == nil && hold {
		err = d.release(zc, group, rl, place != nil, true)
	}
	if err == nil {
		got, err = zc.Recv(&resp)
		if err != nil {
			wire.CloseAll(got)
			got, err = nil, fmt.Errorf("zsched: %w", err)
		}
	}
	if err != nil {
		zc.Close()
		return nil, resp, nil, false, err
	}
	return zc, resp, got, place != nil, nil
}

// allocZoneID takes the lowest zone ID no other zone under this root
// holds, under a lock, and records it in the zone's run directory.
func allocZoneID(root, name string) (int, error) {
	base := configs.RunBase(root)
	lf, err := os.OpenFile(filepath.Join(base, ".ids"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return 0, fmt.Errorf("zone ID: %w", err)
	}
	defer lf.Close()
	if err := unix.Flock(int(lf.Fd()), unix.LOCK_EX); err != nil {
		return 0, fmt.Errorf("zone ID: %w", err)
	}
	used := map[int]bool{}
	ents, _ := os.ReadDir(base)
	for _, e := range ents {
		if !e.IsDir() || e.Name() == name {
			continue
		}
		b, err := os.ReadFile(filepath.Join(base, e.Name(), "zoneid"))
		if err != nil {
			continue
		}
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			used[n] = true
		}
	}
	// Next fit, as illumos allocates zone IDs: the one after the last
	// given out, so a rebooted zone comes back with a new ID and an old
	// ID is not reused while logs still name it. An ID whose host-side
	// links exist belongs to a zone of another zonetop root on this host
	// (a test, an alternate root); the links live in the one host network
	// namespace, so that ID is skipped too.
	buf := make([]byte, 32)
	n, _ := lf.ReadAt(buf, 0)
	last, _ := strconv.Atoi(strings.TrimSpace(string(buf[:n])))
	if last < 0 || last >= zonenet.NetMaxZoneID {
		last = 0
	}
	id := 0
	for i, cand := 0, last; i < zonenet.NetMaxZoneID; i++ {
		cand++
		if cand > zonenet.NetMaxZoneID {
			cand = 1
		}
		if used[cand] || hostLinkTaken(cand) {
			continue
		}
		id = cand
		break
	}
	if id == 0 {
		return 0, errors.New("zone ID: every zone ID is in use")
	}
	if err := lf.Truncate(0); err == nil {
		_, _ = lf.WriteAt([]byte(strconv.Itoa(id)+"\n"), 0)
	}
	if err := writeRunFile(filepath.Join(configs.RunDir(root, name), "zoneid"), []byte(strconv.Itoa(id)+"\n")); err != nil {
		return 0, fmt.Errorf("zone ID: %w", err)
	}
	return id, nil
}

// attach serves zlogin -C: the console itself travels as one end of a
// socketpair the hub serves, and the control connection stays open for
// the zone's events until either side hangs up.
func (d *zoneadmd) attach(c *wire.Conn, opts *api.ConsoleOptions) {
	if opts == nil {
		opts = &api.ConsoleOptions{}
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		_ = c.Send(wire.Response{Error: fmt.Sprintf("attach console: %v", err)})
		return
	}
	// Non-blocking, so the hub's Close of a stalled attacher wakes its
	// goroutines through the poller.
	if err := unix.SetNonblock(fds[0], true); err != nil {
		unix.Close(fds[0])
		unix.Close(fds[1])
		_ = c.Send(wire.Response{Error: fmt.Sprintf("attach console: %v", err)})
		return
	}
	ours := os.NewFile(uintptr(fds[0]), "console-attacher")
	theirs := os.NewFile(uintptr(fds[1]), "console-client")
	st := d.status()
	err = c.Send(wire.Response{OK: true, Status: &st}, theirs)
	theirs.Close()
	if err != nil {
		ours.Close()
		return
	}
	a := d.hub.Attach(ours, console.AttachOptions{Replay: opts.Replay})
	d.watchMu.Lock()
	d.watchers[c] = struct{}{}
	d.watchMu.Unlock()
	go func() {
		// The client sends nothing more; a read returns when it hangs up.
		var r wire.Request
		files, _ := c.Recv(&r)
		wire.CloseAll(files)
		a.Close()
	}()
	<-a.Done()
	d.watchMu.Lock()
	delete(d.watchers, c)
	if err := a.Err(); err != nil {
		// Say why the console went quiet (a client too slow to keep up
		// is cut off rather than allowed to stall the zone).
		_ = c.Send(wire.Response{Event: "detached", Error: err.Error(), Code: api.CodeOf(err)})
	}
	d.watchMu.Unlock()
	d.mu.Lock()
	d.lastRequest = time.Now()
	d.mu.Unlock()
}

// event tells every console watcher what happened to the zone.
func (d *zoneadmd) event(what string) {
	d.watchMu.Lock()
	defer d.watchMu.Unlock()
	for c := range d.watchers {
		st := d.status()
		_ = c.Send(wire.Response{OK: true, Event: what, Status: &st})
	}
}

// pollable re-opens a descriptor that came over a socket in non-blocking
// mode, so reads on it can be interrupted by Close and deadlines.
func Pollable(f *os.File, name string) (*os.File, error) {
	defer f.Close()
	sc, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	nfd := -1
	var inner error
	if err := sc.Control(func(fd uintptr) {
		nfd, inner = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0)
		if inner == nil {
			inner = unix.SetNonblock(nfd, true)
		}
	}); err != nil {
		return nil, err
	}
	if inner != nil {
		if nfd >= 0 {
			unix.Close(nfd)
		}
		return nil, inner
	}
	return os.NewFile(uintptr(nfd), name), nil
}

// lazyLog is the console log, opened at the first byte of output so a
// zoneadmd that only answered a status request leaves no file behind.
type lazyLog struct {
	path     string
	mu       sync.Mutex
	l        *console.Log
	reported bool
}

func (w *lazyLog) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.l == nil {
		l, err := console.OpenLog(w.path, 0, -1)
		if err != nil {
			return 0, err
		}
		w.l = l
	}
	return w.l.Write(p)
}

// reportOnce logs the first failure to write the console log: a full disk
// would otherwise fill zoneadmd's own log with one line per chunk.
func (w *lazyLog) reportOnce(err error) {
	w.mu.Lock()
	first := !w.reported
	w.reported = true
	w.mu.Unlock()
	if first {
		log.Printf("console log: %v", err)
	}
}

func (w *lazyLog) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.l == nil {
		return nil
	}
	return w.l.Close()
}

// hostLinkTaken reports whether the host already has the first link a
// zone with this ID would create.
func hostLinkTaken(id int) bool {
	_, err := os.Lstat(filepath.Join("/sys/class/net", zonenet.NetHostLinkName(id, 0)))
	return err == nil
}

// phases times the steps of a long operation for the zoneadmd log, so an
// operator (and the benchmarks) can see where a slow ready spends its time.
type phases struct {
	last  time.Time
	start time.Time
	b     strings.Builder
}

func newPhases() *phases { now := time.Now(); return &phases{last: now, start: now} }

func (p *phases) mark(step string) {
	now := time.Now()
	fmt.Fprintf(&p.b, "%s %.1fms, ", step, float64(now.Sub(p.last).Microseconds())/1000)
	p.last = now
}

func (p *phases) String() string {
	return fmt.Sprintf("%stotal %.1fms", p.b.String(), float64(time.Since(p.start).Microseconds())/1000)
}
