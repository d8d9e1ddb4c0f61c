package platform

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime"
	"syscall"

	"unsafe"

	"golang.org/x/sys/unix"

	"zonetop/limits"
)

// zholdMain is the stub a held command starts as (argv: NAME zhold PATH
// ARGV...). zsched forked it with the command's credentials, stdio and
// session; fd 3 is a socket to zsched. It waits there until zoneadmd has
// moved it into its project's (or task's) cgroup, sets the rlimits it is
// sent (lowering is always allowed; raising a hard limit needs
// CAP_SYS_RESOURCE, so ApplyRlimits clamps and the note goes back), and
// executes the command in place: the command keeps the pid zoneadmd moved.
func ZholdMain(args []string) int {
	_ = unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0)
	sock := os.NewFile(3, "hold")
	unix.CloseOnExec(3)
	fail := func(format string, a ...any) int {
		fmt.Fprintf(sock, "error: "+format+"\n", a...)
		return 126
	}
	if len(args) < 4 {
		return fail("zhold: usage: NAME zhold PATH ARGV...")
	}
	path, argv := args[2], args[3:]
	// The runtime has started every thread it starts by itself: zsched
	// lets zoneadmd move the stub into its project only now (holdReady).
	if _, err := sock.Write([]byte{holdReady}); err != nil {
		return 126
	}
	line, err := readRaw(3, 1<<20)
	if err != nil {
		// zsched killed us or went away: the command must not run
		// outside its project.
		return 126
	}
	var rel holdRelease
	if err := json.Unmarshal(line, &rel); err != nil {
		return fail("release: %v", err)
	}
	clamped, err := limits.ApplyRlimits(0, rel.Rlimits)
	if err != nil {
		return fail("rlimits: %v", err)
	}
	for _, c := range clamped {
		fmt.Fprintf(sock, "%s\n", c)
	}
	if path == holdZinit {
		return execZinit(sock, argv, rel.Env)
	}
	fmt.Fprintln(sock, "ok")
	err = unix.Exec(path, argv, rel.Env)
	return fail("%s: %v", path, err)
}

// holdReady is the byte a held stub writes once its Go runtime has
// started: moved into a project at its lwp cap while still starting, it
// died for want of the threads a runtime makes at its start.
const holdReady = 'w'

// holdRelease is what a held stub is sent once it is in its cgroup. The
// command's environment travels here rather than in the stub's own: the
// stub is zonetop, and variables a zone user chose (GODEBUG, GOTRACEBACK,
// test hooks) must reach only the command, never the Go runtime running
// the stub.
type holdRelease struct {
	Rlimits []limits.RlimitSetting `json:"rlimits"`
	Env     []string               `json:"env"`
}

// readRaw reads fd until EOF (zsched shuts its side down after the
// release), at most max bytes, by raw system calls. zoneadmd moves the
// stub into its project while it waits here, and where that project or
// its zone is at its lwp cap the kernel then refuses every new thread.
// A blocking read through the Go scheduler hands the stub's P to another
// thread, which the runtime may have to create, and dies with "failed to
// create new OS thread"; a raw read keeps the P on this thread, so the
// stub needs no thread beyond those it was born with.
func readRaw(fd int, max int) ([]byte, error) {
	buf := make([]byte, 64<<10)
	var out []byte
	for {
		n, _, errno := syscall.RawSyscall(syscall.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)))
		switch {
		case errno == syscall.EINTR:
			continue
		case errno != 0:
			return nil, errno
		case n == 0:
			if len(out) == 0 {
				return nil, errors.New("no release")
			}
			return out, nil
		}
		out = append(out, buf[:n]...)
		if len(out) > max {
			return nil, errors.New("release too long")
		}
	}
}

// execZinit executes the sealed zinit zsched gave the stub (holdZinitFd),
// with the per-zone binary moved to where zinit looks for it (ZinitExeFd,
// where the socket to zsched was). The socket goes on at a descriptor
// closed by the exec, which is how zsched learns that zinit started.
func execZinit(sock *os.File, argv, env []string) int {
	hi, err := unix.FcntlInt(3, unix.F_DUPFD_CLOEXEC, 10)
	if err != nil {
		fmt.Fprintf(sock, "error: zhold: keep the socket: %v\n", err)
		return 126
	}
	out := os.NewFile(uintptr(hi), "hold")
	// sock's descriptor now names the binary: sock must not be closed,
	// by anyone, before the exec (KeepAlive below).
	if err := unix.Dup3(holdExeFd, ZinitExeFd, 0); err != nil {
		fmt.Fprintf(out, "error: zhold: the per-zone binary for zinit: %v\n", err)
		return 126
	}
	_ = unix.Close(holdExeFd)
	unix.CloseOnExec(holdZinitFd)
	fmt.Fprintln(out, "ok")
	err = unix.Exec(fdPath(holdZinitFd), argv, env)
	fmt.Fprintf(out, "error: start zinit: %v\n", err)
	runtime.KeepAlive(sock)
	return 126
}
