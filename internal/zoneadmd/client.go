package zoneadmd

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"
	"zonetop/api"
	"zonetop/internal/configs"
	"zonetop/internal/pidfd"
	"zonetop/internal/wire"
	"zonetop/limits/cgroups"
	"zonetop/zones"
)

// ZoneadmdRunning reports whether the zone's zoneadmd answers on its socket.
func ZoneadmdRunning(rootPrefix, name string) bool {
	if configs.CheckZoneName(name) != nil {
		return false
	}
	return wire.Ping(configs.ZoneadmdSock(rootPrefix, name))
}

// RuntimePresent reports whether the zone has runtime state on this host
// (a platform that is up, or a halt that did not finish), whether or not
// its zoneadmd is alive. A front end that finds it true and no zoneadmd
// calls Status, which starts a zoneadmd that adopts the zone.
func RuntimePresent(rootPrefix, name string) bool {
	if configs.CheckZoneName(name) != nil {
		return false
	}
	_, err := os.Stat(filepath.Join(configs.RunDir(rootPrefix, name), "state.json"))
	return err == nil
}

// runtimeState is the state zoneadmd last recorded for the zone's
// platform (its state.json), without asking it: false when the zone has
// no platform. zoneadmd rewrites the file at every change of state, and a
// zoneadmd that died leaves the last one, which its successor takes up.
func RuntimeState(rootPrefix, name string) (zones.State, bool) {
	if configs.CheckZoneName(name) != nil {
		return "", false
	}
	b, err := os.ReadFile(filepath.Join(configs.RunDir(rootPrefix, name), "state.json"))
	if err != nil {
		return "", false
	}
	// Read by the decoder, whatever order or spacing the writer chose.
	var st struct {
		State string `json:"state"`
	}
	if err := json.Unmarshal(b, &st); err != nil && !ZoneadmdRunning(rootPrefix, name) {
		// Left unreadable by a crash of the machine (the file is written
		// unsynced, see writeRunFile): no platform; the next zoneadmd
		// drops it.
		return "", false
	}
	if st.State == "" {
		// Being written for the first time (ready under way): up, in
		// no settled state yet.
		return zones.StateShuttingDown, true
	}
	return zones.State(st.State), true
}

// startMu keeps one process from starting two zoneadmds for a zone at
// once; across processes the zoneadmd lock file decides.
var startMu sync.Mutex

// StartZoneadmd starts the zone's zoneadmd, detached from the caller, and
// waits until its socket answers. It is a no-op when one already runs.
func StartZoneadmd(rootPrefix, name string) error {
	if err := configs.CheckZoneName(name); err != nil {
		return err
	}
	startMu.Lock()
	defer startMu.Unlock()
	if ZoneadmdRunning(rootPrefix, name) {
		return nil
	}
	// zoneadmd makes the zone's run directory itself, under the zone's
	// lock: a predecessor still retiring may be removing it now.
	if err := os.MkdirAll(configs.RunBase(rootPrefix), 0o755); err != nil {
		return fmt.Errorf("start zoneadmd %s: %w", name, err)
	}
	if err := os.MkdirAll(configs.LogDir(rootPrefix), 0o755); err != nil {
		return fmt.Errorf("start zoneadmd %s: %w", name, err)
	}
	logPath := filepath.Join(configs.LogDir(rootPrefix), name+".zoneadmd.log")
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
	bin, err := Binary()
	if err != nil {
		return fmt.Errorf("start zoneadmd %s: %w", name, err)
	}
	pid, err := syscall.ForkExec(bin, []string{"zoneadmd", "zoneadmd", root, name, configs.NotifyFDArg}, &syscall.ProcAttr{
		Dir:   "/",
		Env:   configs.ZoneadmdEnv(),
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
		go func() { _, _ = pidfd.WaitPid(pid) }()
		return nil
	}
	exited := make(chan error, 1)
	go func() { _, err := pidfd.WaitPid(pid); exited <- err }()
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
	return fmt.Errorf("start zoneadmd %s: no answer on %s (see %s)", name, configs.ZoneadmdSock(rootPrefix, name), logPath)
}

// call sends one request to the zone's zoneadmd, starting it first when
// start is set and it is not running.
func Call(rootPrefix, name string, req wire.Request, start bool) (api.ZoneStatus, error) {
	return callWithin(rootPrefix, name, 0, req, start)
}

// callWithin is Call whose wait for each answer is bounded as
// wire.RoundTripWithin bounds it; starting a zoneadmd is not.
func callWithin(rootPrefix, name string, wait time.Duration, req wire.Request, start bool) (api.ZoneStatus, error) {
	if err := configs.CheckZoneName(name); err != nil {
		return api.ZoneStatus{}, err
	}
	sock := configs.ZoneadmdSock(rootPrefix, name)
	st, err := wire.StatusCallWithin(sock, name, wait, req)
	if start && isDialError(err) {
		// Nobody serves the zone yet. Asking first and starting only on
		// a refused connection spares every command a ping round trip.
		if err := StartZoneadmd(rootPrefix, name); err != nil {
			return api.ZoneStatus{}, err
		}
		st, err = wire.StatusCallWithin(sock, name, wait, req)
	}
	return st, err
}

// isDialError tells a connection nobody accepted (no socket, or no
// zoneadmd behind it) from a failure of a zoneadmd that got the request.
func isDialError(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe) && oe.Op == "dial"
}

// Ready brings the zone's platform up: zone ID, namespaces, zsched,
// mounts, devices, network and cgroups, with no user process running.
func Ready(rootPrefix string, spec configs.PlatformSpec) (api.ZoneStatus, error) {
	if spec.RootPrefix == "" {
		spec.RootPrefix = rootPrefix
	}
	return Call(rootPrefix, spec.Name, wire.Request{Op: "ready", Spec: &spec}, true)
}

// Boot starts the zone's init in a ready zone.
func Boot(rootPrefix, name string, args []string) (api.ZoneStatus, error) {
	return Call(rootPrefix, name, wire.Request{Op: "boot", Args: args}, RuntimePresent(rootPrefix, name))
}

// Halt kills every process of the zone and removes its platform. On
// success zoneadmd exits and the zone is installed again; when something
// cannot be removed the zone is down with the reason and a later Halt
// finishes the job.
func Halt(rootPrefix, name string) (api.ZoneStatus, error) {
	if !RuntimePresent(rootPrefix, name) && !ZoneadmdRunning(rootPrefix, name) {
		return api.ZoneStatus{State: configs.StateInstalled}, nil
	}
	return Call(rootPrefix, name, wire.Request{Op: "halt"}, true)
}

// Shutdown asks the zone's init to run its shutdown entries, waits up to
// timeout for it to finish, then halts the zone.
func Shutdown(rootPrefix, name string, timeout time.Duration) (api.ZoneStatus, error) {
	if !RuntimePresent(rootPrefix, name) && !ZoneadmdRunning(rootPrefix, name) {
		return api.ZoneStatus{State: configs.StateInstalled}, nil
	}
	return Call(rootPrefix, name, wire.Request{Op: "shutdown", Timeout: timeout}, true)
}

// Status reports the zone's runtime state. With no platform on the host it
// is "installed" and no zoneadmd is started; with a platform but no
// zoneadmd (it was killed), a new zoneadmd is started and adopts the zone.
func Status(rootPrefix, name string) (api.ZoneStatus, error) {
	return StatusWithin(rootPrefix, name, 0)
}

// StatusWithin is Status for a caller that would rather show the state
// zoneadmd last recorded (RecordedStatus) than wait on a zoneadmd that
// is alive but slow: its answer is awaited for wait at most (0: no
// limit), past which the error matches os.ErrDeadlineExceeded.
func StatusWithin(rootPrefix, name string, wait time.Duration) (api.ZoneStatus, error) {
	if err := configs.CheckZoneName(name); err != nil {
		return api.ZoneStatus{}, err
	}
	if !RuntimePresent(rootPrefix, name) && !ZoneadmdRunning(rootPrefix, name) {
		return api.ZoneStatus{State: configs.StateInstalled}, nil
	}
	return callWithin(rootPrefix, name, wait, wire.Request{Op: "status"}, true)
}

// RecordedStatus is the zone's state, zone ID, since and reason as its
// zoneadmd last recorded them (state.json), without asking it: what
// illumos' zoneadm reads from the kernel, for when zoneadmd does not
// answer. False when the zone has no platform on the host.
func RecordedStatus(rootPrefix, name string) (api.ZoneStatus, bool) {
	if configs.CheckZoneName(name) != nil {
		return api.ZoneStatus{}, false
	}
	b, err := os.ReadFile(filepath.Join(configs.RunDir(rootPrefix, name), "state.json"))
	if err != nil {
		return api.ZoneStatus{}, false
	}
	var st RunState
	if err := json.Unmarshal(b, &st); err != nil {
		// Left unreadable by a crash of the machine (see RuntimeState).
		return api.ZoneStatus{}, false
	}
	if st.State == "" {
		// Being written for the first time (ready under way).
		st.State = configs.StateShuttingDown
	}
	return api.ZoneStatus{State: st.State, ZoneID: st.ZoneID, Since: st.Since, Reason: st.Reason,
		InitPid: st.InitPid, ZschedPid: st.ZschedPid, Warnings: st.Warnings}, true
}

// Exec runs a command inside a ready or running zone and returns its exit
// status (128+signal when it was killed). Its stdio crosses into the zone
// through pipes made here (or a pty of the zone's own devpts when
// req.TTY), never the caller's own descriptors.
func Exec(rootPrefix, name string, req api.ExecRequest, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	if err := configs.CheckZoneName(name); err != nil {
		return 1, err
	}
	if len(req.Argv) == 0 {
		return 1, fmt.Errorf("zlogin %s: no command", name)
	}
	c, err := wire.Dial(configs.ZoneadmdSock(rootPrefix, name), 2*time.Second)
	if err != nil && RuntimePresent(rootPrefix, name) {
		if err := StartZoneadmd(rootPrefix, name); err != nil {
			return 1, err
		}
		c, err = wire.Dial(configs.ZoneadmdSock(rootPrefix, name), 2*time.Second)
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
			wire.CloseAll([]*os.File{inR, inW})
			return 1, fmt.Errorf("zlogin %s: %w", name, err)
		}
		errR, errW, err := os.Pipe()
		if err != nil {
			wire.CloseAll([]*os.File{inR, inW, outR, outW})
			return 1, fmt.Errorf("zlogin %s: %w", name, err)
		}
		zoneSide = []*os.File{inR, outW, errW}
		copiers.Add(2)
		go copyClose(&copiers, stdout, outR)
		go copyClose(&copiers, stderr, errR)
	}
	err = c.Send(wire.Request{Op: "exec", Exec: &req}, zoneSide...)
	wire.CloseAll(zoneSide)
	if err != nil {
		return 1, fmt.Errorf("zlogin %s: %w", name, err)
	}
	var started wire.Response
	files, err := c.Recv(&started)
	if err != nil || !started.OK {
		wire.CloseAll(files)
		if inW != nil {
			inW.Close()
		}
		copiers.Wait()
		if err == nil {
			err = api.FromWire(started.Error, started.Code)
		}
		return 1, fmt.Errorf("zlogin %s: %w", name, err)
	}
	if req.TTY {
		if len(files) != 1 {
			wire.CloseAll(files)
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
		wire.CloseAll(files)
		go func() {
			if stdin != nil {
				io.Copy(inW, stdin)
			}
			inW.Close()
		}()
	}
	var done wire.Response
	files, err = c.Recv(&done)
	wire.CloseAll(files)
	if err != nil {
		return 1, fmt.Errorf("zlogin %s: lost the zone while waiting for the command: %w", name, err)
	}
	copiers.Wait()
	if stderr != nil {
		for _, w := range done.Warnings {
			fmt.Fprintf(stderr, "zlogin %s: %s\n", name, w)
		}
	}
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
type RunState struct {
	State       string          `json:"state"`
	ZoneID      int             `json:"zoneid"`
	Since       time.Time       `json:"since"`
	Reason      string          `json:"reason,omitempty"`
	InitPid     int             `json:"init_pid,omitempty"`
	ZschedPid   int             `json:"zsched_pid,omitempty"`
	ZschedStart uint64          `json:"zsched_start,omitempty"` // /proc/PID/stat starttime, so a reused pid is never adopted
	Cgroups     []string        `json:"cgroups,omitempty"`
	CgParent    *cgroups.Parent `json:"cg_parent,omitempty"` // the cgroup backend's parent, for adoption
	Warnings    []string        `json:"warnings,omitempty"`  // bad /etc/project lines and other things the zone runs without
	Net         json.RawMessage `json:"net,omitempty"`
	MntNS       *mntNS          `json:"mnt_ns,omitempty"` // the zone's mount namespace, for halt's check that it ended
}
