package engine

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"zonetop/limits"
	"zonetop/zones"
)

// PlatformSpec is everything the runtime needs to build a zone's virtual
// platform. It is plain data: zoneadmd keeps it as spec.json in the zone's
// run directory so that a restarted zoneadmd can adopt a running zone.
type PlatformSpec struct {
	Name, Zonepath string // the zone root is Zonepath/root
	RootPrefix     string // zonetop's --root; run/ and var/log/ live under it
	Brand          string // sparse, busybox or tarball
	Hostname       string
	IPType         string      // shared or exclusive
	Mounts         []MountSpec // inherit-pkg-dirs and fs resources, mounted in order
	Devices        []string    // shell patterns on host /dev paths, from device resources
	Nets           []NetSpec
	Caps           []string          // capability bounding set, names without "cap_"
	Sysctls        map[string]string // IPC sysctls written in the zone's ipc namespace
	CgroupParent   string            // relative cgroup path under which zonetop/NAME is made; empty = zoneadmd's own
	Init           []string          // init command; empty = zonetop's inittab-reading init
	BootArgs       []string

	// IPCRctls are the zone's System V IPC caps (zone.max-shm-memory,
	// zone.max-shm-ids, zone.max-sem-ids, zone.max-msg-ids) as rctl values,
	// "(privileged,20000,deny)": the zone node of zoneadmd's IPC check,
	// which also applies the projects' limits from the zone's /etc/project.
	IPCRctls map[string]string `json:",omitempty"`
	// Rctls are the zone.* caps (rctl name -> privileged value) zoneadmd
	// applies to the zone cgroup through the limits backend.
	Rctls map[string]uint64 `json:",omitempty"`
	// CPUs is the cpuset of a dedicated-cpu zone; empty: all CPUs.
	CPUs string `json:",omitempty"`
	// NestedUserns lets the zone's processes make user namespaces
	// (limitpriv zonetop_userns); never ipc namespaces.
	NestedUserns bool `json:",omitempty"`
	// UserNS is the zone's host id range when its root is not host root
	// (zonecfg user-namespace=auto); nil: the zone runs as host root.
	UserNS *IDRange `json:",omitempty"`
	// SupervisorCgroup is the cgroup v2 leaf of the zone's systemd scope
	// that its zoneadmd moved into (settleSupervisor), relative to the
	// unified hierarchy's root; an adopting zoneadmd goes there too.
	// zoneadmd sets it; empty where zonetop makes no scopes.
	SupervisorCgroup string `json:",omitempty"`
}

// MountSpec is one mount of the zone. Target is a path inside the zone
// root; it is resolved there without ever leaving the root.
type MountSpec struct {
	Source, Target, Type string
	Options              []string
}

// ZoneStatus is what zoneadmd knows about its zone.
type ZoneStatus struct {
	State     string // ready, running, shutting_down, down, or installed when no platform exists
	ZoneID    int
	Since     time.Time
	Reason    string // why the zone is down
	InitPid   int    // host pid of the zone's init, 0 before boot
	ZschedPid int    // host pid of zsched
	// Warnings are what the zone runs without: bad /etc/project lines
	// (file:line: why), caps the kernel could not take.
	Warnings []string `json:",omitempty"`
}

// ExecRequest describes a command to run inside a zone.
type ExecRequest struct {
	Argv, Env  []string
	User       string // login name in the zone's /etc/passwd; empty = root
	Dir        string // working directory inside the zone; empty = the user's home
	TTY        bool   // run on a new pty of the zone's devpts instead of pipes
	Rows, Cols uint16
	// Project is the project (of the zone's /etc/project) the command
	// joins before it runs; empty: the user's project (user.NAME) if the
	// zone has one, else default.
	Project string
	// NewTask starts the command as a new task of its project (newtask):
	// a task cgroup of its own, capped by the project's task.* rctls.
	NewTask bool
	// Login starts the user's login shell (from the zone's passwd, argv[0]
	// "-sh" style) instead of Argv; Safe starts a plain /bin/sh with no
	// login files and a minimal environment (zlogin -S). Either may come
	// with an empty Argv.
	Login, Safe bool
}

// ConsoleOptions choose how a console attacher joins (zlogin -C).
type ConsoleOptions struct {
	Replay bool // send the buffered output first (-r)
}

// Zone states as the runtime reports them.
const (
	stateInstalled    = "installed"
	stateReady        = "ready"
	stateRunning      = "running"
	stateShuttingDown = "shutting_down"
	stateDown         = "down"
)

// zoneNameSyntax tells whether name is 1 to 64 of [A-Za-z0-9_.-] starting
// with a letter or digit. Written out rather than a regexp: the compiled
// repetition cost every start of the binary ~0.2 ms of package init.
func zoneNameSyntax(name string) bool {
	if len(name) == 0 || len(name) > 64 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || c != '_' && c != '.' && c != '-') {
			return false
		}
	}
	return true
}

func checkZoneName(name string) error {
	if !zoneNameSyntax(name) || name == "global" {
		return fmt.Errorf("invalid zone name %q", name)
	}
	return nil
}

// runBase is ROOT/run/zonetop; runDir the zone's own directory in it.
func runBase(rootPrefix string) string { return filepath.Join(rootPrefix, "run", "zonetop") }
func runDir(rootPrefix, name string) string {
	return filepath.Join(runBase(rootPrefix), name)
}
func logDir(rootPrefix string) string { return filepath.Join(rootPrefix, "var", "log", "zonetop") }

func zoneadmdSock(rootPrefix, name string) string {
	return filepath.Join(runDir(rootPrefix, name), "zoneadmd.sock")
}

// ZoneadmdRunning reports whether the zone's zoneadmd answers on its socket.
func ZoneadmdRunning(rootPrefix, name string) bool {
	if checkZoneName(name) != nil {
		return false
	}
	resp, err := roundTrip(zoneadmdSock(rootPrefix, name), request{Op: "ping"})
	return err == nil && resp.OK
}

// RuntimePresent reports whether the zone has runtime state on this host
// (a platform that is up, or a halt that did not finish), whether or not
// its zoneadmd is alive. A front end that finds it true and no zoneadmd
// calls Status, which starts a zoneadmd that adopts the zone.
func RuntimePresent(rootPrefix, name string) bool {
	if checkZoneName(name) != nil {
		return false
	}
	_, err := os.Stat(filepath.Join(runDir(rootPrefix, name), "state.json"))
	return err == nil
}

// runtimeState is the state zoneadmd last recorded for the zone's
// platform (its state.json), without asking it: false when the zone has
// no platform. zoneadmd rewrites the file at every change of state, and a
// zoneadmd that died leaves the last one, which its successor takes up.
func runtimeState(rootPrefix, name string) (zones.State, bool) {
	if checkZoneName(name) != nil {
		return "", false
	}
	b, err := os.ReadFile(filepath.Join(runDir(rootPrefix, name), "state.json"))
	if err != nil {
		return "", false
	}
	// zoneadmd writes the file (saveLocked) with "state" first: read it
	// there, sparing each command encoding/json's first-use cost (~0.1
	// ms); anything else goes through the decoder.
	var st struct {
		State string `json:"state"`
	}
	if rest, ok := bytes.CutPrefix(b, []byte("{\n  \"state\": \"")); ok {
		if i := bytes.IndexByte(rest, '"'); i > 0 && bytes.IndexByte(rest[:i], '\\') < 0 {
			return zones.State(rest[:i]), true
		}
	}
	if json.Unmarshal(b, &st) != nil || st.State == "" {
		// Being written for the first time (ready under way): up, in
		// no settled state yet.
		return zones.StateShuttingDown, true
	}
	return zones.State(st.State), true
}

// notifyFDArg tells zoneadmd that fd 3 is the pipe on which it announces
// that it serves.
const notifyFDArg = "--notify-fd=3"

// startMu keeps one process from starting two zoneadmds for a zone at
// once; across processes the zoneadmd lock file decides.
var startMu sync.Mutex

// StartZoneadmd starts the zone's zoneadmd, detached from the caller, and
// waits until its socket answers. It is a no-op when one already runs.
func StartZoneadmd(rootPrefix, name string) error {
	if err := checkZoneName(name); err != nil {
		return err
	}
	startMu.Lock()
	defer startMu.Unlock()
	if ZoneadmdRunning(rootPrefix, name) {
		return nil
	}
	// zoneadmd makes the zone's run directory itself, under the zone's
	// lock: a predecessor still retiring may be removing it now.
	if err := os.MkdirAll(runBase(rootPrefix), 0o755); err != nil {
		return fmt.Errorf("start zoneadmd %s: %w", name, err)
	}
	if err := os.MkdirAll(logDir(rootPrefix), 0o755); err != nil {
		return fmt.Errorf("start zoneadmd %s: %w", name, err)
	}
	logPath := filepath.Join(logDir(rootPrefix), name+".zoneadmd.log")
	logf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("start zoneadmd %s: %w", name, err)
	}
	defer logf.Close()
	null, err := os.Open(os.DevNull)
	if err != nil {
		return fmt.Errorf("start zoneadmd %s: %w", name, err)
	}
	defer null.Close()
	root, err := filepath.Abs(rootPrefix)
	if err != nil {
		return fmt.Errorf("start zoneadmd %s: %w", name, err)
	}
	// zoneadmd says "ok" on fd 3 once its socket listens, so the common
	// case costs no polling; the polling below is for a zoneadmd that lost
	// the zone's lock to one started by another process.
	readyR, readyW, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("start zoneadmd %s: %w", name, err)
	}
	defer readyR.Close()
	// syscall, not os.StartProcess: see pidProc for the 0.35 ms the os
	// package would spend probing pidfd support first. Nothing here
	// signals zoneadmd, so its pid alone is enough to reap it.
	pid, err := syscall.ForkExec("/proc/self/exe", []string{"zoneadmd", "zoneadmd", root, name, notifyFDArg}, &syscall.ProcAttr{
		Dir:   "/",
		Env:   zoneadmdEnv(),
		Files: []uintptr{null.Fd(), null.Fd(), logf.Fd(), readyW.Fd()},
		Sys:   &syscall.SysProcAttr{Setsid: true},
	})
	readyW.Close()
	if err != nil {
		return fmt.Errorf("start zoneadmd %s: %w", name, err)
	}
	_ = readyR.SetReadDeadline(time.Now().Add(15 * time.Second))
	word := make([]byte, 3)
	if n, _ := io.ReadFull(readyR, word); n == 3 && string(word) == "ok\n" {
		go func() { _, _ = waitPid(pid) }()
		return nil
	}
	exited := make(chan error, 1)
	go func() { _, err := waitPid(pid); exited <- err }()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if ZoneadmdRunning(rootPrefix, name) {
			return nil
		}
		select {
		case <-exited:
			// It may have lost the lock to a zoneadmd started by another
			// process; that one answers soon.
			exited = nil
		case <-time.After(2 * time.Millisecond):
		}
		if exited == nil && ZoneadmdRunning(rootPrefix, name) {
			return nil
		}
	}
	return fmt.Errorf("start zoneadmd %s: no answer on %s (see %s)", name, zoneadmdSock(rootPrefix, name), logPath)
}

// call sends one request to the zone's zoneadmd, starting it first when
// start is set and it is not running.
func call(rootPrefix, name string, req request, start bool) (ZoneStatus, error) {
	if err := checkZoneName(name); err != nil {
		return ZoneStatus{}, err
	}
	sock := zoneadmdSock(rootPrefix, name)
	resp, err := roundTrip(sock, req)
	if start && isDialError(err) {
		// Nobody serves the zone yet. Asking first and starting only on
		// a refused connection spares every command a ping round trip.
		if err := StartZoneadmd(rootPrefix, name); err != nil {
			return ZoneStatus{}, err
		}
		resp, err = roundTrip(sock, req)
	}
	if err != nil {
		return ZoneStatus{}, fmt.Errorf("zoneadmd %s: %w", name, err)
	}
	var st ZoneStatus
	if resp.Status != nil {
		st = *resp.Status
	}
	if !resp.OK {
		return st, errors.New(resp.Error)
	}
	return st, nil
}

// isDialError tells a connection nobody accepted (no socket, or no
// zoneadmd behind it) from a failure of a zoneadmd that got the request.
func isDialError(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe) && oe.Op == "dial"
}

// Ready brings the zone's platform up: zone ID, namespaces, zsched,
// mounts, devices, network and cgroups, with no user process running.
func Ready(rootPrefix string, spec PlatformSpec) (ZoneStatus, error) {
	if spec.RootPrefix == "" {
		spec.RootPrefix = rootPrefix
	}
	return call(rootPrefix, spec.Name, request{Op: "ready", Spec: &spec}, true)
}

// Boot starts the zone's init in a ready zone.
func Boot(rootPrefix, name string, args []string) (ZoneStatus, error) {
	return call(rootPrefix, name, request{Op: "boot", Args: args}, RuntimePresent(rootPrefix, name))
}

// Halt kills every process of the zone and removes its platform. On
// success zoneadmd exits and the zone is installed again; when something
// cannot be removed the zone is down with the reason and a later Halt
// finishes the job.
func Halt(rootPrefix, name string) (ZoneStatus, error) {
	if !RuntimePresent(rootPrefix, name) && !ZoneadmdRunning(rootPrefix, name) {
		return ZoneStatus{State: stateInstalled}, nil
	}
	return call(rootPrefix, name, request{Op: "halt"}, true)
}

// Shutdown asks the zone's init to run its shutdown entries, waits up to
// timeout for it to finish, then halts the zone.
func Shutdown(rootPrefix, name string, timeout time.Duration) (ZoneStatus, error) {
	if !RuntimePresent(rootPrefix, name) && !ZoneadmdRunning(rootPrefix, name) {
		return ZoneStatus{State: stateInstalled}, nil
	}
	return call(rootPrefix, name, request{Op: "shutdown", Timeout: timeout}, true)
}

// Status reports the zone's runtime state. With no platform on the host it
// is "installed" and no zoneadmd is started; with a platform but no
// zoneadmd (it was killed), a new zoneadmd is started and adopts the zone.
func Status(rootPrefix, name string) (ZoneStatus, error) {
	if err := checkZoneName(name); err != nil {
		return ZoneStatus{}, err
	}
	if !RuntimePresent(rootPrefix, name) && !ZoneadmdRunning(rootPrefix, name) {
		return ZoneStatus{State: stateInstalled}, nil
	}
	return call(rootPrefix, name, request{Op: "status"}, true)
}

// Exec runs a command inside a ready or running zone and returns its exit
// status (128+signal when it was killed). Its stdio crosses into the zone
// through pipes made here (or a pty of the zone's own devpts when
// req.TTY), never the caller's own descriptors.
func Exec(rootPrefix, name string, req ExecRequest, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	if err := checkZoneName(name); err != nil {
		return 1, err
	}
	if len(req.Argv) == 0 {
		return 1, fmt.Errorf("zlogin %s: no command", name)
	}
	c, err := dial(zoneadmdSock(rootPrefix, name), 2*time.Second)
	if err != nil && RuntimePresent(rootPrefix, name) {
		if err := StartZoneadmd(rootPrefix, name); err != nil {
			return 1, err
		}
		c, err = dial(zoneadmdSock(rootPrefix, name), 2*time.Second)
	}
	if err != nil {
		return 1, fmt.Errorf("zlogin %s: zone is not ready or running: %w", name, err)
	}
	defer c.Close()

	var copiers sync.WaitGroup
	var inW *os.File
	var zoneSide []*os.File
	if !req.TTY {
		inR, w, err := os.Pipe()
		if err != nil {
			return 1, fmt.Errorf("zlogin %s: %w", name, err)
		}
		inW = w
		outR, outW, err := os.Pipe()
		if err != nil {
			closeAll([]*os.File{inR, inW})
			return 1, fmt.Errorf("zlogin %s: %w", name, err)
		}
		errR, errW, err := os.Pipe()
		if err != nil {
			closeAll([]*os.File{inR, inW, outR, outW})
			return 1, fmt.Errorf("zlogin %s: %w", name, err)
		}
		zoneSide = []*os.File{inR, outW, errW}
		copiers.Add(2)
		go copyClose(&copiers, stdout, outR)
		go copyClose(&copiers, stderr, errR)
	}
	err = c.send(request{Op: "exec", Exec: &req}, zoneSide...)
	closeAll(zoneSide)
	if err != nil {
		return 1, fmt.Errorf("zlogin %s: %w", name, err)
	}
	var started response
	files, err := c.recv(&started)
	if err != nil || !started.OK {
		closeAll(files)
		if inW != nil {
			inW.Close()
		}
		copiers.Wait()
		if err == nil {
			err = errors.New(started.Error)
		}
		return 1, fmt.Errorf("zlogin %s: %w", name, err)
	}
	if req.TTY {
		if len(files) != 1 {
			closeAll(files)
			return 1, fmt.Errorf("zlogin %s: no pty from zone", name)
		}
		master := files[0]
		copiers.Add(1)
		go copyClose(&copiers, stdout, master)
		go func() {
			if stdin != nil {
				io.Copy(master, stdin)
			}
		}()
	} else {
		closeAll(files)
		go func() {
			if stdin != nil {
				io.Copy(inW, stdin)
			}
			inW.Close()
		}()
	}
	var done response
	files, err = c.recv(&done)
	closeAll(files)
	if err != nil {
		return 1, fmt.Errorf("zlogin %s: lost the zone while waiting for the command: %w", name, err)
	}
	copiers.Wait()
	if !done.OK || done.Exit == nil {
		return 1, fmt.Errorf("zlogin %s: %s", name, done.Error)
	}
	return *done.Exit, nil
}

// copyClose copies until EOF (or EIO, which a pty master reports once the
// last slave is closed) and closes the source.
func copyClose(wg *sync.WaitGroup, dst io.Writer, src *os.File) {
	defer wg.Done()
	defer src.Close()
	if dst == nil {
		dst = io.Discard
	}
	_, _ = io.Copy(dst, src)
}

// runState is what zoneadmd records in its run directory (state.json) so
// that a new zoneadmd can adopt the zone or finish its halt.
type runState struct {
	State       string          `json:"state"`
	ZoneID      int             `json:"zoneid"`
	Since       time.Time       `json:"since"`
	Reason      string          `json:"reason,omitempty"`
	InitPid     int             `json:"init_pid,omitempty"`
	ZschedPid   int             `json:"zsched_pid,omitempty"`
	ZschedStart uint64          `json:"zsched_start,omitempty"` // /proc/PID/stat starttime, so a reused pid is never adopted
	Cgroups     []string        `json:"cgroups,omitempty"`
	CgParent    *limits.Parent  `json:"cg_parent,omitempty"` // the limits backend's parent, for adoption
	Warnings    []string        `json:"warnings,omitempty"`  // bad /etc/project lines and other things the zone runs without
	Net         json.RawMessage `json:"net,omitempty"`
	MntNS       *mntNS          `json:"mnt_ns,omitempty"` // the zone's mount namespace, for halt's check that it ended
}

// procStartTime is field 22 of /proc/PID/stat, the process's start time in
// clock ticks since boot: with the pid it names one process for ever.
func procStartTime(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("pid %d: malformed stat", pid)
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); starttime is field 22.
	if len(f) < 20 {
		return 0, fmt.Errorf("pid %d: short stat", pid)
	}
	var v uint64
	if _, err := fmt.Sscan(f[19], &v); err != nil {
		return 0, fmt.Errorf("pid %d: starttime: %w", pid, err)
	}
	return v, nil
}

// writeFileAtomic replaces path with data through a rename, so a reader
// (or a zoneadmd adopting after a crash) never sees half a file.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// zoneadmdEnv is zoneadmd's whole environment: a fixed PATH, and the
// fault-injection point and forced cgroup layout when a test set them.
func zoneadmdEnv() []string {
	env := []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	if v := os.Getenv(TestPauseEnv); v != "" {
		env = append(env, TestPauseEnv+"="+v)
	}
	if v := os.Getenv(limits.TestCgroup2Env); v != "" {
		env = append(env, limits.TestCgroup2Env+"="+v)
	}
	return env
}
