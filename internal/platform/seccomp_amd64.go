package platform

import "golang.org/x/sys/unix"

// System call numbers the filter looks at. x86-64 has no ipc(2); its
// 32-bit compatibility mode (int 0x80, the i386 ABI) has both ipc(2) and,
// since Linux 5.1, direct calls; x32 uses the x86-64 numbers with bit 30
// set. A filter that checked only the native numbers could be bypassed
// through either, so every ABI is decided; any other architecture value
// is killed, since this kernel can only produce these three.
const (
	X32SyscallBit = 0x40000000

	I386Ipc    = 117
	I386Semget = 393
	i386Shmget = 395
	i386Msgget = 399

	// ipc(2) call numbers (linux/ipc.h).
	ipcCallSemget = 2
	IpcCallMsgget = 13
	IpcCallShmget = 23
)

// abiCalls are one ABI's numbers of the calls the zone filter looks at.
type abiCalls struct {
	ipc                                    []uint32 // shmget, semget, msgget: to zoneadmd
	clone, unshare, setns, clone3, persona uint32
	refused                                []uint32 // always EPERM
	mountAPI                               []uint32 // EPERM unless zoneFilterPolicy.mountAPI
}

// The x86-64 numbers serve x32 too (the filter clears the x32 bit
// first); kexec_load is the one refused call with an x32 number of its
// own (528), which no x86-64 call has.
var amd64Calls = abiCalls{
	ipc:   []uint32{unix.SYS_SHMGET, unix.SYS_SEMGET, unix.SYS_MSGGET},
	clone: unix.SYS_CLONE, unshare: unix.SYS_UNSHARE, setns: unix.SYS_SETNS, clone3: unix.SYS_CLONE3,
	persona: unix.SYS_PERSONALITY,
	refused: []uint32{unix.SYS_KEYCTL, unix.SYS_ADD_KEY, unix.SYS_REQUEST_KEY,
		unix.SYS_IO_URING_SETUP, unix.SYS_IO_URING_ENTER, unix.SYS_IO_URING_REGISTER,
		unix.SYS_USERFAULTFD, unix.SYS_PERF_EVENT_OPEN, unix.SYS_BPF,
		unix.SYS_KEXEC_LOAD, unix.SYS_KEXEC_FILE_LOAD, x32KexecLoad},
	mountAPI: []uint32{unix.SYS_OPEN_TREE, unix.SYS_MOVE_MOUNT, unix.SYS_FSOPEN, unix.SYS_FSCONFIG,
		unix.SYS_FSMOUNT, unix.SYS_FSPICK, unix.SYS_MOUNT_SETATTR, sysOpenTreeAttr, unix.SYS_PIVOT_ROOT},
}

// The i386 ABI (int 0x80) has numbers of its own; its ipc(2)
// multiplexer is decoded apart. It has no kexec_file_load.
var i386Calls = abiCalls{
	ipc:   []uint32{i386Shmget, I386Semget, i386Msgget},
	clone: 120, unshare: 310, setns: 346, clone3: 435, persona: 136,
	refused: []uint32{288 /* keyctl */, 286 /* add_key */, 287, /* request_key */
		425, 426, 427 /* io_uring_setup, _enter, _register */, 374 /* userfaultfd */, 336, /* perf_event_open */
		357 /* bpf */, 283 /* kexec_load */},
	mountAPI: []uint32{428, 429, 430, 431, 432, 433 /* open_tree .. fspick */, 442, /* mount_setattr */
		467 /* open_tree_attr */, 217 /* pivot_root */},
}

const (
	x32KexecLoad    = 528
	sysOpenTreeAttr = 467 // the same number on every architecture since 6.15
)

// personalityAllowed are the personality(2) values a zone may set or ask:
// Linux, its 32-bit variant, 2.6-style uname, and the query. The others
// switch off address randomisation or make data executable (the flags
// the mature runtimes' profiles refuse).
var personalityAllowed = []uint32{0x0, 0x8, 0x20000, 0x20008, 0xffffffff}

func zoneFilterProgram(pol ZoneFilterPolicy) []unix.SockFilter {
	const (
		ld   = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
		ret  = unix.BPF_RET | unix.BPF_K
		andK = unix.BPF_ALU | unix.BPF_AND | unix.BPF_K
	)
	var p bpfProg
	p.stmt(ld, seccompDataArch)
	p.jeq(unix.AUDIT_ARCH_X86_64, "", "i386")
	p.stmt(ld, seccompDataNr)
	for _, nr := range amd64Calls.ipc {
		p.jeq(nr, "64.notify", "")
		p.jeq(X32SyscallBit|nr, "64.notify", "")
	}
	p.stmt(andK, ^uint32(X32SyscallBit))
	zoneFilterCalls(&p, "64", amd64Calls, pol)

	p.label("i386")
	p.jeq(unix.AUDIT_ARCH_I386, "", "kill")
	p.stmt(ld, seccompDataNr)
	for _, nr := range i386Calls.ipc {
		p.jeq(nr, "32.notify", "")
	}
	p.jeq(I386Ipc, "", "32.calls")
	p.stmt(ld, seccompDataArg0Low)
	p.stmt(andK, 0xffff) // the high half carries the ipc "version"
	for _, call := range []uint32{IpcCallShmget, ipcCallSemget, IpcCallMsgget} {
		p.jeq(call, "32.notify", "")
	}
	p.stmt(ret, unix.SECCOMP_RET_ALLOW)
	p.label("32.calls")
	zoneFilterCalls(&p, "32", i386Calls, pol)

	p.label("kill")
	p.stmt(ret, unix.SECCOMP_RET_KILL_PROCESS)
	return p.assemble()
}

// zoneFilterCalls decides the calls of one ABI, the call number in A. Its
// labels start with abi.
func zoneFilterCalls(p *bpfProg, abi string, c abiCalls, pol ZoneFilterPolicy) {
	const (
		ld  = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
		ret = unix.BPF_RET | unix.BPF_K
	)
	l := func(s string) string { return abi + "." + s }
	refused := c.refused
	if !pol.MountAPI {
		refused = append(append([]uint32(nil), refused...), c.mountAPI...)
	}
	for _, nr := range refused {
		p.jeq(nr, l("eperm"), "")
	}
	p.jeq(c.clone3, l("enosys"), "")
	p.jeq(c.clone, l("flags0"), "")
	p.jeq(c.unshare, l("flags0"), "")
	p.jeq(c.setns, l("flags1"), "")
	p.jeq(c.persona, l("persona"), "")
	p.stmt(ret, unix.SECCOMP_RET_ALLOW)

	// The namespace flags are in the low word of clone's and unshare's
	// first argument (the kernel ignores clone's high word and refuses
	// unshare's), of setns's second.
	newNS := uint32(unix.CLONE_NEWIPC)
	if !pol.NestedUserns {
		newNS |= unix.CLONE_NEWUSER
	}
	p.label(l("flags0"))
	p.stmt(ld, seccompDataArg0Low)
	p.jset(newNS, l("eperm"), l("allow"))
	p.label(l("flags1"))
	p.stmt(ld, seccompDataArg0Low+8)
	p.jset(unix.CLONE_NEWIPC, l("eperm"), l("allow"))
	p.label(l("persona"))
	p.stmt(ld, seccompDataArg0Low)
	for _, v := range personalityAllowed {
		p.jeq(v, l("allow"), "")
	}
	p.label(l("eperm"))
	p.stmt(ret, unix.SECCOMP_RET_ERRNO|uint32(unix.EPERM))
	p.label(l("enosys"))
	p.stmt(ret, unix.SECCOMP_RET_ERRNO|uint32(unix.ENOSYS))
	p.label(l("allow"))
	p.stmt(ret, unix.SECCOMP_RET_ALLOW)
	p.label(l("notify"))
	p.stmt(ret, unix.SECCOMP_RET_USER_NOTIF)
}

// decodeIPCCall turns a notification into the call it stands for, in any
// of the ABIs the filter sends.
func DecodeIPCCall(d *SeccompData) (IpcCall, bool) {
	a := d.Args
	mk := func(kind IpcKind, key, size, flags uint64) (IpcCall, bool) {
		return IpcCall{Kind: kind, Key: int32(uint32(key)), Size: size, Flags: int32(uint32(flags))}, true
	}
	switch d.Arch {
	case unix.AUDIT_ARCH_X86_64:
		switch uint32(d.Nr) &^ X32SyscallBit {
		case unix.SYS_SHMGET:
			return mk(IpcShm, a[0], a[1], a[2])
		case unix.SYS_SEMGET:
			return mk(IpcSem, a[0], a[1], a[2])
		case unix.SYS_MSGGET:
			return mk(IpcMsg, a[0], 0, a[1])
		}
	case unix.AUDIT_ARCH_I386:
		// 32-bit registers: sizes are at most 32 bits wide.
		switch d.Nr {
		case i386Shmget:
			return mk(IpcShm, a[0], uint64(uint32(a[1])), a[2])
		case I386Semget:
			return mk(IpcSem, a[0], uint64(uint32(a[1])), a[2])
		case i386Msgget:
			return mk(IpcMsg, a[0], 0, a[1])
		case I386Ipc:
			switch a[0] & 0xffff {
			case IpcCallShmget:
				return mk(IpcShm, a[1], uint64(uint32(a[2])), a[3])
			case ipcCallSemget:
				return mk(IpcSem, a[1], uint64(uint32(a[2])), a[3])
			case IpcCallMsgget:
				return mk(IpcMsg, a[1], 0, a[2])
			}
		}
	}
	return IpcCall{}, false
}
