package platform

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"unsafe"
	"zonetop/internal/configs"
	"zonetop/internal/wire"

	"golang.org/x/sys/unix"
)

// The zone filter: every zone process runs under one seccomp program that
//   - sends the System V IPC creation calls (shmget, semget, msgget) to
//     zoneadmd through seccomp user notification: Linux counts IPC
//     objects per namespace only, and zoneadmd is the check-limits module
//     for the per-project limits (ipccheck.go);
//   - refuses with EPERM the kernel interfaces a zone has no business
//     with and that reach past its caps or into state shared with the
//     host (zoneFilterPolicy lists them);
//   - refuses new ipc namespaces (clone, unshare, setns with
//     CLONE_NEWIPC), whose objects the IPC check would never see, and,
//     unless the zone opted in, new user namespaces, in which a zone
//     process would hold every capability over new namespaces;
//   - answers clone3 with ENOSYS: its flags lie in memory a filter cannot
//     read, and the C libraries and Go fall back to clone, whose flags it
//     can (Go uses clone3 only for CLONE_INTO_CGROUP or CLONE_NEWTIME,
//     which nothing in a zone asks for).
// Refusals use EPERM, the answer the kernel gives a caller without the
// privilege, so programs take their usual "not permitted" path.
//
// zsched installs the filter on its spawner thread while it still holds
// CAP_SYS_ADMIN (no no_new_privs is needed then), before the bounding set
// is cut, so every process it forks, and everything they fork and execute,
// inherits it; a zone process can add filters of its own but never remove
// this one (the kernel takes the strictest answer of all of them), and
// cannot install a second listener (the kernel refuses a new listener on
// a chain that has one, EBUSY).
//
// Who answers the IPC notifications: zsched keeps the listener and hands a copy to zoneadmd on a
// connection it holds open (op "seccomp"); zoneadmd answers every
// notification. While no zoneadmd holds it (one died and the keeper,
// keeper.go, is starting the next), nobody answers: the calls wait in the
// kernel, interruptibly, and the new zoneadmd, which recounts every object
// from the zone's /proc/sysvipc tables, answers them in order. A zone's
// IPC limits therefore hold whether or not its supervisor is up; they
// used to lapse to the kernel's per-namespace limits meanwhile. zsched
// keeps its copy because a filter's listener cannot be replaced: had the
// last copy closed, the kernel would fail every later call with ENOSYS
// for the rest of the zone's life. One call can be caught in the switch:
// a notification the dead zoneadmd had received but not answered stays
// blocked until the caller takes a signal (the call is then restarted
// and reaches the new zoneadmd).

// zoneFilterPolicy is what a zone's filter lets through beyond the
// default. Always refused: keyctl, add_key, request_key (the kernel's
// keyrings are per uid, and a zone's root is the host's uid 0),
// io_uring_setup/enter/register (a second way into most calls, past
// this filter), userfaultfd (stalls kernel copies at will, an exploit
// staple), perf_event_open, bpf, kexec_load, kexec_file_load, and
// personality other than Linux's own values.
type ZoneFilterPolicy struct {
	// nestedUserns lets clone and unshare make user namespaces
	// (limitpriv zonetop_userns).
	NestedUserns bool
	// mountAPI lets through the new mount API (open_tree, move_mount,
	// fsopen, fsconfig, fsmount, fspick, mount_setattr, open_tree_attr)
	// and pivot_root: calls for a zone that may mount (sys_admin in its
	// limitpriv) or makes user namespaces, whose mount namespaces it
	// owns. Otherwise the kernel would refuse them anyway; the filter
	// keeps the refusal when a capability check has a hole.
	MountAPI bool
}

// zoneFilterPolicyFor is the policy of a zone's spec.
func ZoneFilterPolicyFor(s *configs.PlatformSpec) ZoneFilterPolicy {
	return ZoneFilterPolicy{NestedUserns: s.NestedUserns, MountAPI: s.NestedUserns || slices.Contains(s.Caps, "sys_admin")}
}

// seccompNotif is struct seccomp_notif (linux/seccomp.h).
type SeccompNotif struct {
	ID    uint64
	Pid   uint32
	Flags uint32
	Data  SeccompData
}

// seccompData is struct seccomp_data.
type SeccompData struct {
	Nr   int32
	Arch uint32
	IP   uint64
	Args [6]uint64
}

// seccompNotifResp is struct seccomp_notif_resp.
type SeccompNotifResp struct {
	ID    uint64
	Val   int64
	Error int32
	Flags uint32
}

// errIPCFilterUnsupported is returned on architectures whose filter has
// not been written; zones still run, without the per-project IPC check
// and the refusals.
var ErrIPCFilterUnsupported = errors.New("zone seccomp filter: architecture " + runtime.GOARCH + " not supported")

// installZoneFilter installs the zone filter on the calling thread (which
// must be locked to its goroutine) and returns the IPC listener. The
// caller needs CAP_SYS_ADMIN, or must have set no_new_privs.
func InstallZoneFilter(pol ZoneFilterPolicy) (*os.File, error) {
	prog := zoneFilterProgram(pol)
	if prog == nil {
		return nil, ErrIPCFilterUnsupported
	}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	fd, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER,
		unix.SECCOMP_FILTER_FLAG_NEW_LISTENER, uintptr(unsafe.Pointer(&fprog)))
	runtime.KeepAlive(prog)
	if errno != 0 {
		return nil, fmt.Errorf("install the zone seccomp filter: %w", errno)
	}
	// The kernel makes the listener close-on-exec: no zone process gets it.
	return os.NewFile(fd, "seccomp-listener"), nil
}

// bpfProg assembles a classic BPF program with symbolic jump targets.
type bpfProg struct {
	ins    []unix.SockFilter
	labels map[string]int
	fixups []bpfFixup
}

type bpfFixup struct {
	at     int
	jt, jf string
}

func (p *bpfProg) stmt(code uint16, k uint32) {
	p.ins = append(p.ins, unix.SockFilter{Code: code, K: k})
}

// jeq compares A with k and jumps to label jt if equal, jf if not ("" is
// the next instruction).
func (p *bpfProg) jeq(k uint32, jt, jf string) {
	p.jump(unix.BPF_JEQ, k, jt, jf)
}

// jset jumps to jt if A has any bit of k set, to jf if not.
func (p *bpfProg) jset(k uint32, jt, jf string) {
	p.jump(unix.BPF_JSET, k, jt, jf)
}

func (p *bpfProg) jump(op uint16, k uint32, jt, jf string) {
	p.fixups = append(p.fixups, bpfFixup{at: len(p.ins), jt: jt, jf: jf})
	p.ins = append(p.ins, unix.SockFilter{Code: unix.BPF_JMP | op | unix.BPF_K, K: k})
}

func (p *bpfProg) label(name string) {
	if p.labels == nil {
		p.labels = map[string]int{}
	}
	p.labels[name] = len(p.ins)
}

// assemble resolves the labels; it panics only on a program error in this
// file (a label that does not exist or lies behind the jump), which the
// tests exercise on every build.
func (p *bpfProg) assemble() []unix.SockFilter {
	for _, f := range p.fixups {
		off := func(l string) uint8 {
			if l == "" {
				return 0
			}
			to, ok := p.labels[l]
			if !ok || to <= f.at || to-f.at-1 > 255 {
				panic("seccomp filter: bad jump to " + l)
			}
			return uint8(to - f.at - 1)
		}
		p.ins[f.at].Jt, p.ins[f.at].Jf = off(f.jt), off(f.jf)
	}
	return p.ins
}

// Offsets into struct seccomp_data.
const (
	seccompDataNr      = 0
	seccompDataArch    = 4
	seccompDataArg0Low = 16 // little-endian low word of args[0]
)

// The System V IPC object kinds the checker counts.
type IpcKind int

const (
	IpcShm IpcKind = iota
	IpcSem
	IpcMsg
	IpcKinds
)

func (k IpcKind) String() string {
	switch k {
	case IpcShm:
		return "shm"
	case IpcSem:
		return "sem"
	case IpcMsg:
		return "msg"
	}
	return "ipc?"
}

// ipcCall is a decoded creation call: shmget(key, size, flags),
// semget(key, nsems, flags) or msgget(key, flags).
type IpcCall struct {
	Kind  IpcKind
	Key   int32
	Size  uint64 // shm bytes or number of semaphores
	Flags int32
}

// zschedIPC is zsched's side: the listener, kept for each zoneadmd to
// fetch.
type zschedIPC struct {
	listener *os.File
}

func newZschedIPC(l *os.File) *zschedIPC { return &zschedIPC{listener: l} }

// hold hands the listener to zoneadmd on c and returns when c closes.
func (s *zschedIPC) hold(c *wire.Conn) {
	if s == nil || s.listener == nil {
		_ = c.Send(wire.Response{Error: "zsched: no System V IPC filter in this zone"})
		return
	}
	if err := c.Send(wire.Response{OK: true}, s.listener); err != nil {
		return
	}
	// zoneadmd never writes again; a read returns when it goes away.
	var req wire.Request
	for {
		files, err := c.Recv(&req)
		wire.CloseAll(files)
		if err != nil {
			return
		}
	}
}

func NotifRecv(fd uintptr, n *SeccompNotif) error {
	*n = SeccompNotif{} // the kernel refuses a buffer that is not zeroed
	for {
		_, _, errno := unix.Syscall(unix.SYS_IOCTL, fd, unix.SECCOMP_IOCTL_NOTIF_RECV, uintptr(unsafe.Pointer(n)))
		if errno == unix.EINTR {
			continue
		}
		if errno != 0 {
			return errno
		}
		return nil
	}
}

func NotifSend(fd uintptr, r *SeccompNotifResp) error {
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, fd, unix.SECCOMP_IOCTL_NOTIF_SEND, uintptr(unsafe.Pointer(r)))
	if errno != 0 {
		return errno
	}
	return nil
}

// notifIDValid reports whether the notification is still pending: the
// caller has not died (and its pid been reused) since it was received.
func NotifIDValid(fd uintptr, id uint64) bool {
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, fd, unix.SECCOMP_IOCTL_NOTIF_ID_VALID, uintptr(unsafe.Pointer(&id)))
	return errno == 0
}

// NotifSyncWakeUp asks the kernel to switch straight between a notified
// caller and the thread answering on listener fd (it wakes each on the
// CPU the other leaves) instead of through the scheduler's queues: the
// round trip of a notification is most of what the IPC check costs a
// caller. Linux 6.6 and later; older kernels answer EINVAL.
func NotifSyncWakeUp(fd uintptr) error {
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, fd, unix.SECCOMP_IOCTL_NOTIF_SET_FLAGS, unix.SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP)
	if errno != 0 {
		return errno
	}
	return nil
}
