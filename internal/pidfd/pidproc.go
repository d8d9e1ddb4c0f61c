package pidfd

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// pidProc is a process held by a pidfd, so that a signal can never reach
// a process that took over a recycled pid.
//
// zoneadmd starts zsched with it rather than os.StartProcess: the os
// package probes the kernel's pidfd support the first time a process
// starts a child, with a throw-away vfork of its own, about 0.35 ms of
// every zsched start. syscall.ForkExec asked for a pidfd (CLONE_PIDFD)
// makes no probe. (Front ends start zoneadmd with
// syscall.ForkExec for the same reason; they never signal them.)
type PidProc struct {
	Pid int
	Fd  int // the pidfd (close-on-exec, as the kernel makes every pidfd)
}

// startPidProc starts path like syscall.ForkExec and holds the child by a
// pidfd (the kernel gives one with the clone, so there is no window for
// the pid to be reused).
func StartPidProc(path string, argv []string, attr *syscall.ProcAttr) (*PidProc, error) {
	fd := -1
	if attr.Sys == nil {
		attr.Sys = &syscall.SysProcAttr{}
	}
	attr.Sys.PidFD = &fd
	pid, err := syscall.ForkExec(path, argv, attr)
	if err != nil {
		return nil, err
	}
	if fd < 0 {
		// A kernel without CLONE_PIDFD (before 5.2) gives none: fall
		// back to pidfd_open, racy only if the child already died and
		// was reaped, which nobody but us can do.
		if fd, err = unix.PidfdOpen(pid, 0); err != nil {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			_, _ = WaitPid(pid)
			return nil, fmt.Errorf("pidfd of pid %d: %w", pid, err)
		}
	}
	return &PidProc{Pid: pid, Fd: fd}, nil
}

// openPidProc takes hold of a running process that is not (or no longer
// known to be) our child, as an adopting zoneadmd does with zsched.
func OpenPidProc(pid int) (*PidProc, error) {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return nil, fmt.Errorf("pidfd of pid %d: %w", pid, err)
	}
	return &PidProc{Pid: pid, Fd: fd}, nil
}

// Signal sends sig through the pidfd; os.ErrProcessDone once the process
// has exited.
func (p *PidProc) Signal(sig syscall.Signal) error {
	err := unix.PidfdSendSignal(p.Fd, sig, nil, 0)
	if errors.Is(err, unix.ESRCH) {
		return os.ErrProcessDone
	}
	return err
}

// Kill is Signal(SIGKILL).
func (p *PidProc) Kill() error { return p.Signal(syscall.SIGKILL) }

// Wait reaps the process, which must be our child. The pidfd stays open
// for as long as the handle lives (a zoneadmd holds one zsched, and exits
// with it): Signal after Wait reports os.ErrProcessDone instead of
// reaching a stranger.
func (p *PidProc) Wait() (syscall.WaitStatus, error) { return WaitPid(p.Pid) }

// waitPid reaps the child pid, retrying through signals.
func WaitPid(pid int) (syscall.WaitStatus, error) {
	var ws syscall.WaitStatus
	for {
		_, err := syscall.Wait4(pid, &ws, 0, nil)
		if err == syscall.EINTR {
			continue
		}
		return ws, err
	}
}
