package zoneadmd

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"zonetop/api"
	"zonetop/internal/pidfd"
)

// SignalProcess sends req's signal to one process of zone name, whose
// zsched is zschedPid. It decides nothing about who asks (the engine and
// the zone socket authorize first); it makes sure the process is the
// zone's and the one the asker saw:
//   - the pid is taken as the zone sees it when zoneView, else the host's;
//   - the process is held by a pidfd before anything is read about it,
//     and the signal goes through that pidfd, so a pid that is recycled
//     meanwhile is never reached;
//   - it must be in zsched's pid namespace (a host pid or another zone's
//     is refused as not this zone's) and not zsched itself, which holds
//     the zone up (halt the zone instead);
//   - req.Start, when set, must be its start time.
func SignalProcess(name string, zschedPid int, req api.SignalRequest, zoneView bool) error {
	fail := func(kind error, format string, a ...any) error {
		return fmt.Errorf("signal %s to pid %d of %s: %w: %s", req.Signal, req.PID, name, kind, fmt.Sprintf(format, a...))
	}
	sig, err := signalOf(req.Signal)
	if err != nil {
		return fail(api.ErrInvalid, "%v", err)
	}
	if req.PID <= 0 {
		return fail(api.ErrInvalid, "no such pid")
	}
	if zschedPid <= 0 {
		return fail(api.ErrNotFound, "the zone is not ready or running")
	}
	want, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", zschedPid))
	if err != nil {
		return fail(api.ErrNotFound, "the zone is not ready or running")
	}
	host := req.PID
	if zoneView {
		if host = zonePidToHost(want, req.PID); host <= 0 {
			return fail(api.ErrNotFound, "no such process in the zone")
		}
	}
	if host == zschedPid {
		return fail(api.ErrPermission, "that is zsched, which holds the zone up; halt or reboot the zone instead")
	}
	p, err := pidfd.OpenPidProc(host)
	if err != nil {
		return fail(api.ErrNotFound, "no such process")
	}
	defer syscall.Close(p.Fd)
	// From here the pidfd holds the process: while it lives its pid
	// cannot be reused, so what /proc says of the pid is said of it, if
	// it still lives after the reads (checked below with signal 0).
	ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", host))
	if err != nil || ns != want {
		return fail(api.ErrPermission, "not a process of zone %s", name)
	}
	if req.Start != 0 {
		start, ok := startTime(host)
		if !ok || start != req.Start {
			return fail(api.ErrNotFound, "the process listed has exited (its pid now names another)")
		}
	}
	if err := p.Signal(0); err != nil {
		return fail(api.ErrNotFound, "the process has exited")
	}
	if err := p.Signal(sig); err != nil {
		if errors.Is(err, os.ErrProcessDone) {
			return fail(api.ErrNotFound, "the process has exited")
		}
		return fail(api.ErrInvalid, "%v", err)
	}
	return nil
}

// signalOf is the signal of a name in api.Signals, with or without SIG.
func signalOf(name string) (syscall.Signal, error) {
	n := strings.TrimPrefix(strings.ToUpper(strings.TrimSpace(name)), "SIG")
	if !slices.Contains(api.Signals, n) {
		return 0, fmt.Errorf("signal %q is not one the console sends (%s)", name, strings.Join(api.Signals, ", "))
	}
	return consoleSignals[n], nil
}

var consoleSignals = map[string]syscall.Signal{
	"TERM": syscall.SIGTERM, "KILL": syscall.SIGKILL, "HUP": syscall.SIGHUP, "INT": syscall.SIGINT,
	"QUIT": syscall.SIGQUIT, "USR1": syscall.SIGUSR1, "USR2": syscall.SIGUSR2, "STOP": syscall.SIGSTOP,
	"CONT": syscall.SIGCONT,
}

// zonePidToHost finds the host pid of the process whose pid in the namespace
// ns is nsPid, 0 when there is none.
func zonePidToHost(ns string, nsPid int) int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	for _, ent := range ents {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil {
			continue
		}
		if l, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pid)); err != nil || l != ns {
			continue
		}
		status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			continue
		}
		if fs := statusFields(string(status), "NSpid"); len(fs) > 0 {
			if n, _ := strconv.Atoi(fs[len(fs)-1]); n == nsPid {
				return pid
			}
		}
	}
	return 0
}

// startTime is field 22 of /proc/PID/stat.
func startTime(pid int) (uint64, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	s := string(b)
	rp := strings.LastIndexByte(s, ')')
	if rp < 0 {
		return 0, false
	}
	f := strings.Fields(s[rp+1:])
	if len(f) < 20 {
		return 0, false
	}
	v, err := strconv.ParseUint(f[19], 10, 64)
	return v, err == nil
}
