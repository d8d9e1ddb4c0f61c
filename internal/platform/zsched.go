package platform

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"zonetop/api"
	"zonetop/internal/configs"
	"zonetop/internal/pathrs"
	"zonetop/internal/seal"
	"zonetop/internal/wire"

	"golang.org/x/sys/unix"
)

// zsched is the zone's PID 1. zoneadmd starts it (from the sealed copy of
// the binary) in new mount, pid, uts, ipc and cgroup namespaces, already
// inside the zone's cgroups. It builds the virtual platform, pivots into
// the zone root and then only waits: for zoneadmd's requests on its
// control socket (boot, spawn, shutdown, console) and for children to
// reap. It does not depend on zoneadmd staying alive.

type zsched struct {
	dir  string
	spec configs.PlatformSpec
	lis  *net.UnixListener

	console      *os.File // master side of /dev/console
	consoleSlave *os.File // held open so the console never hangs up
	exe          *os.File // the sealed copy zsched runs from, for stubs and zinit's newtask
	zinit        *os.File // the sealed zinit (takeZinit)

	// spareMaster and spareSlv are a pty pair opened at ready and never
	// used before they are handed out, to a zlogin -t that finds the
	// zone's ptys all taken: the administrator can still log in to see
	// why.
	spareMu               sync.Mutex
	spareMaster, spareSlv *os.File

	spawnCh chan spawnJob
	ipc     *zschedIPC // the System V IPC filter's listener (seccomp.go)

	mu       sync.Mutex
	waiters  map[int]chan int
	initPid  int
	initDone chan struct{}
	// downAsked is the zone's reboot or halt request (askDown), "" when
	// it made none.
	downAsked string
}

type spawnJob struct {
	path string
	argv []string
	attr *syscall.ProcAttr
	init bool // the zone's init: its exit is tracked for shutdown
	// blockTerm starts the child with the signals zinit acts on blocked
	// (see initSignals).
	blockTerm bool
	// into and back are cgroup v1 tasks files: the forking thread moves
	// itself into the first set, so the child is born in its project's
	// cgroups, and back to zsched's own after the fork.
	into, back []*os.File
	reply      chan spawnResult
}

type spawnResult struct {
	pid  int
	exit chan int
	err  error
}

func ZschedMain(args []string) int {
	if len(args) < 3 {
		fmt.Fprintln(os.Stderr, "zsched: usage: zsched RUNDIR")
		return 2
	}
	userns := os.Getenv(UsernsEnv) != ""
	if userns {
		_ = os.Unsetenv(UsernsEnv)
	}
	// 3 status, 4 the user namespace's socket (or closed), 5 the
	// sealed zinit (ZinitSealFd), which setup moves out of the way.
	CloseInheritedFDs(ZinitSealFd)
	// Nothing in the zone may ptrace zsched or open its /proc entries;
	// children inherit this until they execute their own program.
	_ = unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0)
	unix.Umask(0o022)
	status := os.NewFile(3, "status")
	z := &zsched{dir: args[2], waiters: map[int]chan int{}, spawnCh: make(chan spawnJob)}
	setup := z.setup
	if userns {
		setup = z.setupUserns
	}
	if err := setup(); err != nil {
		fmt.Fprintf(status, "error: %v\n", err)
		status.Close()
		return 1
	}
	fmt.Fprintln(status, "ok")
	status.Close()
	// As PID 1 zsched gets only the signals it handles; the Go runtime
	// handles these by exiting, so keep them away from it. They are caught
	// and dropped, not ignored: an ignored disposition survives fork and
	// exec, and every process of the zone (init, zlogin shells) would
	// start deaf to ctrl-C and hangups. Caught once the platform stands:
	// no process of the zone exists before, and the signal loop's thread
	// start (~0.2 ms) is then off ready's path.
	drop := make(chan os.Signal, 16)
	signal.Notify(drop, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1,
		syscall.SIGUSR2, syscall.SIGPIPE, syscall.SIGTSTP, syscall.SIGTTIN, syscall.SIGTTOU)
	go func() {
		for sig := range drop {
			// busybox's reboot, halt and poweroff signal PID 1, as
			// zonetop's do inside a zone: the zone's init shuts down,
			// and zoneadmd, seeing it end, carries the request out.
			switch sig {
			case syscall.SIGTERM:
				z.askDown(DownReboot)
			case syscall.SIGUSR1, syscall.SIGUSR2:
				z.askDown(DownHalt)
			}
		}
	}()
	z.serve()
	return 0
}

// What the zone asked for by signalling its PID 1, as zsched's ping
// answers it (Event) once init has ended.
const (
	DownReboot = "reboot"
	DownHalt   = "halt"
)

// askDown records the zone's request and asks init to shut down, as
// zoneadm shutdown does. A zone with no init (ready) has nothing to stop.
func (z *zsched) askDown(what string) {
	z.mu.Lock()
	pid := z.initPid
	if pid != 0 {
		z.downAsked = what
	}
	z.mu.Unlock()
	if pid == 0 {
		return
	}
	sig := syscall.SIGTERM
	if len(z.spec.Init) == 0 {
		sig = syscall.SIGUSR2 // zinit's (initSignals)
	}
	_ = syscall.Kill(pid, sig)
}

func (z *zsched) setup() error {
	b, err := os.ReadFile(filepath.Join(z.dir, "spec.json"))
	if err != nil {
		return fmt.Errorf("spec: %w", err)
	}
	if err := json.Unmarshal(b, &z.spec); err != nil {
		return fmt.Errorf("spec: %w", err)
	}
	if err := configs.CheckZoneName(z.spec.Name); err != nil {
		return err
	}
	if !seal.IsSealedExe() {
		return errors.New("zsched must run from the sealed copy of zonetop")
	}
	// init is started from this descriptor of the sealed copy; the
	// /proc/self/exe magic link does not resolve to a memfd inside the
	// zone's root.
	z.exe, err = os.Open("/proc/self/exe")
	if err != nil {
		return fmt.Errorf("own executable: %w", err)
	}
	if z.zinit, err = takeZinit(); err != nil {
		return err
	}
	sock := filepath.Join(z.dir, "zsched.sock")
	_ = os.Remove(sock)
	z.lis, err = net.ListenUnix("unixpacket", &net.UnixAddr{Name: sock, Net: "unixpacket"})
	if err != nil {
		return fmt.Errorf("control socket: %w", err)
	}
	z.lis.SetUnlinkOnClose(false)
	if err := os.Chmod(sock, 0o600); err != nil {
		return fmt.Errorf("control socket: %w", err)
	}
	devs, err := MatchDevices(z.spec.Devices)
	if err != nil {
		return err
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make mounts private: %w", err)
	}
	root := filepath.Join(z.spec.Zonepath, "root")
	if st, err := os.Lstat(root); err != nil || !st.IsDir() {
		return fmt.Errorf("zone root %s: not a directory (%v)", root, err)
	}
	if err := unix.Mount(root, root, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind zone root: %w", err)
	}
	rootfd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("zone root: %w", err)
	}
	for _, m := range z.spec.Mounts {
		if err := mountInRoot(rootfd, m); err != nil {
			unix.Close(rootfd)
			return err
		}
	}
	err = pivotInto(rootfd)
	unix.Close(rootfd)
	if err != nil {
		return err
	}
	if err := ensureDir("/proc", 0o555); err != nil {
		return err
	}
	if err := unix.Mount("proc", "/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("/proc: %w", err)
	}
	if err := writeSysctls(z.spec.Sysctls); err != nil {
		return err
	}
	host := z.spec.Hostname
	if host == "" {
		host = z.spec.Name
	}
	if err := unix.Sethostname([]byte(host)); err != nil {
		return fmt.Errorf("hostname: %w", err)
	}
	if err := ensureDir("/sys", 0o555); err != nil {
		return err
	}
	if err := unix.Mount("sysfs", "/sys", "sysfs", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("/sys: %w", err)
	}
	return z.finish(devs, nil, nil)
}

// finish builds the rest of the platform once zsched is in the zone root
// with /proc and /sys mounted: /dev, the masks, the cgroup file systems,
// and starts the spawner. devTrees and cgTrees are what zoneadmd passed
// a user-namespaced zsched (nil otherwise).
func (z *zsched) finish(devs []configs.DevNode, devTrees map[string]*os.File, cgTrees map[string]*os.File) error {
	var err error
	z.console, z.consoleSlave, err = setupDev(devs, devTrees)
	if err != nil {
		return err
	}
	z.refillSparePty()
	if err := applyMasks(); err != nil {
		return err
	}
	if cgTrees != nil {
		err = attachCgroupfs(cgTrees)
	} else {
		err = mountCgroupfs()
	}
	if err != nil {
		return err
	}
	// From here on zsched holds nothing of the host but its control
	// socket: stdio goes to the zone's own /dev/null.
	null, err := os.OpenFile("/dev/null", os.O_RDWR, 0)
	if err != nil {
		return err
	}
	for fd := 0; fd <= 2; fd++ {
		if err := unix.Dup3(int(null.Fd()), fd, 0); err != nil {
			return fmt.Errorf("stdio: %w", err)
		}
	}
	null.Close()
	capErr := make(chan error, 1)
	go z.spawner(capErr)
	return <-capErr
}

// sessionPty is a new pty for a zlogin session, the spare when the
// zone's devpts has none left; a spare handed out is replaced as soon as
// a pty is free again.
func (z *zsched) sessionPty() (*os.File, *os.File, error) {
	m, s, err := openPty()
	if err == nil {
		z.refillSparePty()
		return m, s, nil
	}
	z.spareMu.Lock()
	defer z.spareMu.Unlock()
	if !errors.Is(err, errPtyLimit) || z.spareMaster == nil {
		return nil, nil, err
	}
	m, s = z.spareMaster, z.spareSlv
	z.spareMaster, z.spareSlv = nil, nil
	return m, s, nil
}

func (z *zsched) refillSparePty() {
	z.spareMu.Lock()
	defer z.spareMu.Unlock()
	if z.spareMaster != nil {
		return
	}
	if m, s, err := openPty(); err == nil {
		z.spareMaster, z.spareSlv = m, s
	}
}

// mountCgroupfs gives the zone a read-only view of its own cgroups (its
// cgroup namespace is rooted at the zone cgroup).
func mountCgroupfs() error {
	if err := os.MkdirAll("/sys/fs/cgroup", 0o755); err != nil && !errors.Is(err, unix.EROFS) {
		return nil
	}
	if _, err := os.Stat("/sys/fs/cgroup"); err != nil {
		return nil
	}
	flags := uintptr(unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC)
	hs, err := cgroupHierarchiesOf("/proc/1/cgroup")
	if err != nil || len(hs) == 0 {
		return nil
	}
	if len(hs) == 1 && hs[0] == "" {
		return unix.Mount("cgroup2", "/sys/fs/cgroup", "cgroup2", flags|unix.MS_RDONLY, "")
	}
	if err := unix.Mount("cgroup", "/sys/fs/cgroup", "tmpfs", flags, "mode=755,size=64k"); err != nil {
		return fmt.Errorf("/sys/fs/cgroup: %w", err)
	}
	for _, h := range hs {
		if h == "" || strings.HasPrefix(h, "name=") {
			continue
		}
		d := "/sys/fs/cgroup/" + h
		if err := os.Mkdir(d, 0o555); err != nil {
			return fmt.Errorf("%s: %w", d, err)
		}
		if err := unix.Mount("cgroup", d, "cgroup", flags|unix.MS_RDONLY, h); err != nil {
			return fmt.Errorf("%s: %w", d, err)
		}
	}
	return unix.Mount("", "/sys/fs/cgroup", "", unix.MS_REMOUNT|unix.MS_RDONLY|flags, "")
}

// cgroupHierarchiesOf lists the controller sets of the v1 hierarchies the
// process is in ("" for the unified one, alone on a pure v2 host).
func cgroupHierarchiesOf(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []string
	v1 := false
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[1] != "" {
			v1 = true
		}
		out = append(out, parts[1])
	}
	if v1 {
		return out, nil
	}
	return []string{""}, nil
}

// spawner runs every fork of zsched on one OS thread whose capability
// bounding set has been cut to the zone's: the bounding set belongs to a
// thread, and a child inherits the one of the thread that forked it.
func (z *zsched) spawner(ready chan<- error) {
	runtime.LockOSThread() // never unlocked: the thread dies with zsched
	// A session keyring of the zone's own, on this thread (the kernel
	// keeps it in the thread's credentials) and so in every zone process:
	// zoneadmd carried the one of whoever started it, an administrator's
	// shell perhaps, with the keys in it. The filter below refuses the
	// keyring calls in the zone; this keeps the host's keys out of its
	// processes' credentials as well. A NULL name makes an anonymous
	// keyring; any name, "" too, would join a keyring of that name if
	// one exists, another zone's.
	if _, _, errno := unix.Syscall(unix.SYS_KEYCTL, unix.KEYCTL_JOIN_SESSION_KEYRING, 0, 0); errno != 0 {
		ready <- fmt.Errorf("zone session keyring: %w", errno)
		return
	}
	// The zone filter goes on this thread, which forks every zone
	// process, while zsched still has CAP_SYS_ADMIN.
	if l, err := InstallZoneFilter(ZoneFilterPolicyFor(&z.spec)); err == nil {
		z.ipc = newZschedIPC(l)
	} else if err != ErrIPCFilterUnsupported {
		ready <- err
		return
	}
	if err := dropBoundingSet(z.spec.Caps); err != nil {
		ready <- err
		return
	}
	ready <- nil
	for job := range z.spawnCh {
		z.mu.Lock()
		var pid int
		err := moveThreadFiles(job.into)
		if err == nil {
			pid, err = forkExecBlocking(job)
		}
		if err == nil {
			placeOOM(pid, job.init)
		}
		if len(job.into) > 0 {
			if berr := moveThreadFiles(job.back); berr != nil && err == nil {
				// The command runs in its project; only zsched's own
				// thread is misplaced, which the answer reports.
				err = berr
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		var ch chan int
		if err == nil {
			ch = make(chan int, 1)
			z.waiters[pid] = ch
			if job.init {
				z.initPid, z.initDone = pid, make(chan struct{})
			}
		}
		z.mu.Unlock()
		job.reply <- spawnResult{pid: pid, exit: ch, err: err}
	}
}

// initSignals are the signals zinit shuts down on that can wait. Between
// its exec and signal.Notify in its main, a Go program dies of SIGTERM
// (the runtime unblocks it at start, whatever the mask it inherits), so a
// shutdown moments after boot killed init before its shutdown entries
// ran. SIGUSR1 and SIGUSR2 stay blocked through the runtime's start when
// the process is born with them blocked, and signal.Notify lets a pending
// one through: zinit is born so, and zsched asks it to shut down with
// SIGUSR2 (busybox init's poweroff). zinit is a C program now, which takes
// them over at its first instruction, but a held zinit starts as the Go
// zhold stub, and a signal sent meanwhile must wait for zinit.
var initSignals = []syscall.Signal{syscall.SIGUSR1, syscall.SIGUSR2}

// initSignalSet is initSignals as a signal mask.
func initSignalSet() unix.Sigset_t {
	var set unix.Sigset_t
	for _, sig := range initSignals {
		set.Val[(sig-1)/64] |= 1 << ((uint(sig) - 1) % 64)
	}
	return set
}

// forkExecBlocking starts job, with initSignals blocked in the child
// when job.blockTerm. A child gets the forking thread's signal mask: the
// spawner thread (locked, zsched's alone) blocks them around the fork.
func forkExecBlocking(job spawnJob) (int, error) {
	if !job.blockTerm {
		return syscall.ForkExec(job.path, job.argv, job.attr)
	}
	set, old := initSignalSet(), unix.Sigset_t{}
	if err := unix.PthreadSigmask(unix.SIG_BLOCK, &set, &old); err != nil {
		return 0, fmt.Errorf("block init's signals: %w", err)
	}
	pid, err := syscall.ForkExec(job.path, job.argv, job.attr)
	// The thread that forks every zone process must not keep them
	// blocked; rt_sigprocmask fails only on a bad argument.
	if rerr := unix.PthreadSigmask(unix.SIG_SETMASK, &old, nil); rerr != nil && err == nil {
		err = fmt.Errorf("restore the spawner's signal mask: %w", rerr)
	}
	return pid, err
}

// moveThreadFiles moves the calling thread alone (0 written to a v1 tasks
// file) into the cgroup of each file; a thread moving itself takes none of
// the kernel's process-wide migration lock.
func moveThreadFiles(files []*os.File) error {
	for _, f := range files {
		if _, err := unix.Write(int(f.Fd()), []byte("0")); err != nil {
			return fmt.Errorf("cgroup placement: %s: %w", f.Name(), err)
		}
	}
	return nil
}

func (z *zsched) spawnJob(job spawnJob) (int, chan int, error) {
	job.reply = make(chan spawnResult, 1)
	z.spawnCh <- job
	r := <-job.reply
	return r.pid, r.exit, r.err
}

// reap collects every child, ours or orphans of the zone (zsched is their
// init), and reports the ones somebody waits for. ch is notified of
// SIGCHLD before any child can exist; no timer backs it up: a signal
// dropped on a full channel leaves a pass already due, and each pass takes
// every child that has ended, so an idle zone's PID 1 never wakes.
func (z *zsched) reap(ch <-chan os.Signal) {
	for range ch {
		reapChildren(func(pid, code int) {
			z.mu.Lock()
			if w := z.waiters[pid]; w != nil {
				w <- code
				delete(z.waiters, pid)
			}
			if pid == z.initPid {
				z.initPid = 0
				close(z.initDone)
			}
			z.mu.Unlock()
		})
	}
}

// reapChildren collects every child that has ended, without blocking,
// and tells each to done with its exit code (128+N for a signal N, as a
// shell reports it).
func reapChildren(done func(pid, code int)) {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if err == syscall.EINTR {
			continue
		}
		if pid <= 0 || err != nil {
			return
		}
		code := ws.ExitStatus()
		if ws.Signaled() {
			code = 128 + int(ws.Signal())
		}
		done(pid, code)
	}
}

func (z *zsched) serve() {
	chld := make(chan os.Signal, 16)
	signal.Notify(chld, syscall.SIGCHLD)
	go z.reap(chld)
	for {
		c, err := z.lis.AcceptUnix()
		if err != nil {
			// Keep the zone up whatever happens to the socket.
			time.Sleep(100 * time.Millisecond)
			continue
		}
		go z.handle(&wire.Conn{C: c, Fds: wire.ZschedFDs})
	}
}

func (z *zsched) handle(c *wire.Conn) {
	defer c.Close()
	check := wire.PeerIsRoot
	if z.spec.UserNS != nil {
		check = wire.PeerOutsideUserns
	}
	if err := check(c.C); err != nil {
		_ = c.Send(wire.Response{Error: err.Error(), Code: api.CodeOf(err)})
		return
	}
	var req wire.Request
	files, err := c.Recv(&req)
	if err != nil {
		wire.CloseAll(files)
		_ = c.Send(wire.Response{Error: err.Error(), Code: api.CodeOf(err)})
		return
	}
	// Each op takes exactly its descriptors: a spawn its stdio (none
	// for a terminal session, whose pty zsched makes) and placement
	// files, a boot its placement files, the rest none.
	want := 0
	switch req.Op {
	case "spawn":
		want = req.Place
		if req.Exec != nil && !req.Exec.TTY {
			want += 3
		}
	case "boot":
		want = req.Place
	}
	if err := wire.WantFDs(req.Op, files, want); err != nil {
		_ = c.Send(wire.Response{Error: err.Error(), Code: api.CodeOf(err)})
		return
	}
	switch req.Op {
	case "ping":
		wire.CloseAll(files)
		z.mu.Lock()
		pid, asked := z.initPid, z.downAsked
		z.mu.Unlock()
		_ = c.Send(wire.Response{OK: true, Pid: pid, Event: asked})
	case "console":
		wire.CloseAll(files)
		_ = c.Send(wire.Response{OK: true}, z.console)
	case "boot":
		files, place := splitPlace(files, req.Place)
		wire.CloseAll(files)
		defer wire.CloseAll(place)
		pid, warn, err := z.boot(c, req.Hold, req.Args, place)
		if err != nil {
			_ = c.Send(wire.Response{Error: err.Error(), Code: api.CodeOf(err)})
			return
		}
		// A pidfd names init for zoneadmd in the host's pid namespace
		// (its fdinfo shows the pid as the reader sees it), which spares
		// zoneadmd a search through zsched's children.
		if fd, perr := unix.PidfdOpen(pid, 0); perr == nil {
			f := os.NewFile(uintptr(fd), "init-pidfd")
			_ = c.Send(wire.Response{OK: true, Pid: pid, Warnings: warn}, f)
			f.Close()
			return
		}
		_ = c.Send(wire.Response{OK: true, Pid: pid, Warnings: warn})
	case "shutdown":
		wire.CloseAll(files)
		_ = c.Send(z.shutdown(req.Timeout))
	case "spawn":
		files, place := splitPlace(files, req.Place)
		defer wire.CloseAll(place)
		z.handleSpawn(c, req.Hold, req.Exec, files, place)
	case "seccomp":
		wire.CloseAll(files)
		z.ipc.hold(c)
	default:
		wire.CloseAll(files)
		_ = c.Send(wire.Response{Error: fmt.Sprintf("unknown request %q", req.Op), Code: api.CodeInvalid})
	}
}

// splitPlace takes the n placement files from the end of files; an odd or
// too large n gets none (the command then waits to be moved instead).
func splitPlace(files []*os.File, n int) (rest, place []*os.File) {
	if n <= 0 || n%2 != 0 || n > len(files) {
		return files, nil
	}
	return files[:len(files)-n], files[len(files)-n:]
}

// boot starts the zone's init on the console.
func (z *zsched) boot(c *wire.Conn, hold bool, args []string, place []*os.File) (int, []string, error) {
	z.mu.Lock()
	running := z.initPid != 0
	z.mu.Unlock()
	if running {
		return 0, nil, errors.New("init is already running")
	}
	cons, err := os.OpenFile("/dev/console", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return 0, nil, fmt.Errorf("console: %w", err)
	}
	defer cons.Close()
	zinit := len(z.spec.Init) == 0
	path, argv := fdPath(int(z.zinit.Fd())), append([]string{"zinit", "zinit"}, args...)
	if !zinit {
		path = z.spec.Init[0]
		argv = append(append([]string(nil), z.spec.Init...), args...)
	}
	attr := &syscall.ProcAttr{
		Dir:   "/",
		Env:   []string{"PATH=" + api.ZonePath, "HOME=/", "TERM=vt100", "container=zone"},
		Files: []uintptr{cons.Fd(), cons.Fd(), cons.Fd()},
		Sys:   &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0},
	}
	if zinit {
		// zinit, like busybox init, keeps no controlling terminal: the
		// console's login shell takes it (taking it from another
		// session needs CAP_SYS_ADMIN, which the zone lacks).
		attr.Sys.Setctty = false
		switch {
		case hold:
			// The stub executes the sealed zinit once it is in its
			// project; spawnHeld gives it both descriptors.
			path = holdZinit
		default:
			attr.Files = append(attr.Files, z.exe.Fd()) // ZinitExeFd, for newtask
		}
	}
	pid, _, warn, err := z.spawnHeld(c, hold, placed(spawnJob{path: path, argv: argv, attr: attr, init: true,
		blockTerm: zinit}, place))
	if err != nil {
		return 0, nil, fmt.Errorf("start init %s: %w", path, err)
	}
	return pid, warn, nil
}

// placed gives job the placement files (into, then back).
func placed(job spawnJob, place []*os.File) spawnJob {
	job.into, job.back = place[:len(place)/2], place[len(place)/2:]
	return job
}

// spawnHeld forks job, or with hold a stub (the sealed zonetop as
// "zhold") that waits on a socket until zoneadmd has moved it into its
// project's cgroup: zsched answers Held with the stub's pid, waits for
// "release" on c, hands the rlimits to the stub and learns from it
// whether the command started. The command keeps the stub's pid.
func (z *zsched) spawnHeld(c *wire.Conn, hold bool, job spawnJob) (int, chan int, []string, error) {
	if !hold {
		pid, exit, err := z.spawnJob(job)
		return pid, exit, nil, err
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("hold socket: %w", err)
	}
	mine, theirs := os.NewFile(uintptr(fds[0]), "hold"), os.NewFile(uintptr(fds[1]), "hold")
	defer mine.Close()
	attr := *job.attr
	if len(attr.Files) != 3 {
		theirs.Close()
		return 0, nil, nil, errors.New("hold: want 3 stdio descriptors")
	}
	attr.Files = append(append([]uintptr(nil), attr.Files...), theirs.Fd())
	if job.path == holdZinit {
		attr.Files = append(attr.Files, z.exe.Fd(), z.zinit.Fd()) // holdExeFd, holdZinitFd
	}
	// The stub runs with an empty environment; the command's comes over
	// the socket with the release (see holdRelease).
	env := attr.Env
	attr.Env = []string{}
	stub := job
	stub.attr = &attr
	stub.path = fdPath(int(z.exe.Fd()))
	stub.argv = append([]string{job.argv[0], "zhold", job.path}, job.argv...)
	pid, exit, err := z.spawnJob(stub)
	theirs.Close()
	if err != nil {
		return 0, nil, nil, err
	}
	fail := func(err error) (int, chan int, []string, error) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		return 0, nil, nil, err
	}
	_ = mine.SetReadDeadline(time.Now().Add(30 * time.Second))
	var ready [1]byte
	if _, err := io.ReadFull(mine, ready[:]); err != nil || ready[0] != holdReady {
		return fail(fmt.Errorf("hold: the command's stub did not start (%v)", err))
	}
	if err := c.Send(wire.Response{OK: true, Held: true, Pid: pid}); err != nil {
		return fail(err)
	}
	var rel wire.Request
	got, err := c.Recv(&rel)
	if err == nil {
		err = wire.WantFDs("release", got, 0)
	}
	wire.CloseAll(got)
	switch {
	case err != nil:
		return fail(fmt.Errorf("hold: %w", err))
	case rel.Op != "release":
		return fail(fmt.Errorf("hold: want release, got %q", rel.Op))
	case rel.Error != "":
		return fail(errors.New(rel.Error))
	}
	b, _ := json.Marshal(holdRelease{Rlimits: rel.Rlimits, Env: env})
	if _, err := mine.Write(append(b, '\n')); err != nil {
		return fail(fmt.Errorf("hold: %w", err))
	}
	_ = unix.Shutdown(int(mine.Fd()), unix.SHUT_WR)
	// The stub writes its notes and closes the socket by executing the
	// command (close-on-exec) or by exiting.
	_ = mine.SetReadDeadline(time.Now().Add(30 * time.Second))
	out, _ := io.ReadAll(io.LimitReader(mine, 64<<10))
	var warn []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		switch {
		case line == "" || line == "ok":
		case strings.HasPrefix(line, "error: "):
			return fail(errors.New(strings.TrimPrefix(line, "error: ")))
		default:
			warn = append(warn, line)
		}
	}
	if !strings.Contains(string(out), "ok") {
		return fail(errors.New("the command's stub ended without a word"))
	}
	return pid, exit, warn, nil
}

// shutdown asks init to run its shutdown entries and waits for it.
func (z *zsched) shutdown(timeout time.Duration) wire.Response {
	z.mu.Lock()
	pid, done := z.initPid, z.initDone
	z.mu.Unlock()
	if pid == 0 {
		return wire.Response{OK: true}
	}
	sig := syscall.SIGTERM // what other inits take for a clean shutdown
	if len(z.spec.Init) == 0 {
		sig = syscall.SIGUSR2 // zinit: one that waits for its handler (initSignals)
	}
	_ = syscall.Kill(pid, sig)
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	select {
	case <-done:
		return wire.Response{OK: true}
	case <-time.After(timeout):
		return wire.Response{Error: fmt.Sprintf("init did not finish its shutdown within %s", timeout)}
	}
}

// handleSpawn runs a command for Exec. The child is forked from zsched,
// which is already inside every namespace and the root; it is not
// dumpable until it executes its program (CVE-2016-9962) and gets no fd
// but its stdio.
func (z *zsched) handleSpawn(c *wire.Conn, hold bool, req *api.ExecRequest, files, place []*os.File) {
	defer wire.CloseAll(files)
	if req == nil || (len(req.Argv) == 0 && !req.Login && !req.Safe) {
		_ = c.Send(wire.Response{Error: "spawn: no command"})
		return
	}
	u, err := lookupUser(req.User)
	if err != nil {
		_ = c.Send(wire.Response{Error: err.Error(), Code: api.CodeOf(err)})
		return
	}
	if req.Safe {
		// Safe mode is for a zone whose login files or shell are broken:
		// the shell is the zone's own /bin/sh whatever passwd says.
		u.shell = "/bin/sh"
	}
	env := []string{"PATH=" + api.ZonePath,
		"HOME=" + u.home, "USER=" + u.name, "LOGNAME=" + u.name, "SHELL=" + u.shell}
	for _, e := range req.Env {
		if !strings.Contains(e, "=") || strings.ContainsRune(e, 0) {
			_ = c.Send(wire.Response{Error: fmt.Sprintf("spawn: bad environment entry %q", e)})
			return
		}
		if req.Safe && !strings.HasPrefix(e, "TERM=") {
			continue // safe mode clears the environment but for the terminal type
		}
		env = append(env, e)
	}
	argv := append([]string(nil), req.Argv...)
	var path string
	switch {
	case req.Safe && len(argv) == 0:
		// Not a login shell: no /etc/profile, no ~/.profile.
		path, argv = u.shell, []string{"sh"}
	case req.Login && len(argv) == 0:
		// A leading '-' in argv[0] is how a shell learns it is a login
		// shell and reads the login files, as login(1) starts it.
		if u.shell == "" {
			u.shell = "/bin/sh"
		}
		path, argv = u.shell, []string{"-" + filepath.Base(u.shell)}
	default:
		if len(argv) == 0 {
			_ = c.Send(wire.Response{Error: "spawn: no command"})
			return
		}
		path, err = lookPath(argv[0], env)
		if err != nil {
			_ = c.Send(wire.Response{Error: err.Error(), Code: api.CodeOf(err)})
			return
		}
	}
	dir := req.Dir
	if dir == "" {
		dir = u.home
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			dir = "/"
		}
	}
	sys := &syscall.SysProcAttr{Setsid: true}
	if u.uid != 0 || u.gid != 0 || len(u.groups) > 0 {
		sys.Credential = &syscall.Credential{Uid: u.uid, Gid: u.gid, Groups: u.groups}
	}
	var stdio []uintptr
	var master, slave *os.File
	if req.TTY {
		master, slave, err = z.sessionPty()
		if err != nil {
			_ = c.Send(wire.Response{Error: fmt.Sprintf("spawn: pty: %v", err)})
			return
		}
		defer master.Close()
		defer slave.Close()
		if req.Rows > 0 && req.Cols > 0 {
			_ = unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: req.Rows, Col: req.Cols})
		}
		sys.Setctty, sys.Ctty = true, 0
		stdio = []uintptr{slave.Fd(), slave.Fd(), slave.Fd()}
	} else {
		if len(files) != 3 {
			_ = c.Send(wire.Response{Error: "spawn: want 3 stdio descriptors"})
			return
		}
		// zoneadmd checked them already; zsched, the last step before a
		// zone process, checks again by what the descriptors are.
		if err := CheckZoneStdio("spawn", files, false); err != nil {
			_ = c.Send(wire.Response{Error: err.Error(), Code: api.CodeOf(err)})
			return
		}
		stdio = []uintptr{files[0].Fd(), files[1].Fd(), files[2].Fd()}
	}
	pid, exit, warn, err := z.spawnHeld(c, hold, placed(spawnJob{path: path, argv: argv,
		attr: &syscall.ProcAttr{Dir: dir, Env: env, Files: stdio, Sys: sys}}, place))
	if err != nil {
		_ = c.Send(wire.Response{Error: fmt.Sprintf("spawn %s: %v", path, err)})
		return
	}
	wire.CloseAll(files)
	files = nil
	if slave != nil {
		slave.Close()
	}
	if master != nil {
		err = c.Send(wire.Response{OK: true, Pid: pid, Warnings: warn}, master)
		// The client holds the only master from now on: when it goes
		// away (zlogin detached or died) the slave hangs up and the
		// session gets SIGHUP, as a dropped terminal line would give it.
		master.Close()
	} else {
		err = c.Send(wire.Response{OK: true, Pid: pid, Warnings: warn})
	}
	if err != nil {
		return // the requester is gone; the reaper still collects the child
	}
	code := <-exit
	_ = c.Send(wire.Response{OK: true, Exit: &code})
}

type zoneUser struct {
	name, home, shell string
	uid, gid          uint32
	groups            []uint32
}

// lookupUser reads the zone's own /etc/passwd and /etc/group (zsched's
// root is the zone root), as regular files of bounded size: a FIFO there
// must not stop the zone's PID 1. root keeps the defaults when passwd
// cannot be read, so zlogin still reaches the zone to repair it.
func lookupUser(name string) (zoneUser, error) {
	if name == "" {
		name = "root"
	}
	u := zoneUser{name: name, home: "/", shell: "/bin/sh"}
	found := false
	passwd, perr := pathrs.ReadZoneFile("/", "/etc/passwd", pathrs.ZoneDBMax)
	for _, line := range strings.Split(string(passwd), "\n") {
		p := strings.Split(line, ":")
		if len(p) < 7 || p[0] != name {
			continue
		}
		uid, err1 := strconv.ParseUint(p[2], 10, 32)
		gid, err2 := strconv.ParseUint(p[3], 10, 32)
		if err1 != nil || err2 != nil {
			continue
		}
		u.uid, u.gid, u.home, u.shell, found = uint32(uid), uint32(gid), p[5], p[6], true
		break
	}
	if !found {
		switch {
		case name == "root":
			return u, nil
		case perr != nil:
			return u, fmt.Errorf("user %q: %w", name, perr)
		}
		return u, fmt.Errorf("user %q: not in the zone's /etc/passwd", name)
	}
	group, _ := pathrs.ReadZoneFile("/", "/etc/group", pathrs.ZoneDBMax)
	for _, line := range strings.Split(string(group), "\n") {
		p := strings.Split(line, ":")
		if len(p) < 4 {
			continue
		}
		for _, m := range strings.Split(p[3], ",") {
			if m == name {
				if g, err := strconv.ParseUint(p[2], 10, 32); err == nil {
					u.groups = append(u.groups, uint32(g))
				}
			}
		}
	}
	return u, nil
}

// lookPath finds file in the PATH of env, inside the zone.
func lookPath(file string, env []string) (string, error) {
	if strings.Contains(file, "/") {
		return file, nil
	}
	pathEnv := ""
	for _, e := range env {
		if strings.HasPrefix(e, "PATH=") {
			pathEnv = e[5:]
		}
	}
	for _, d := range filepath.SplitList(pathEnv) {
		if d == "" {
			d = "."
		}
		p := filepath.Join(d, file)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: command not found in the zone", file)
}
