package engine

import "golang.org/x/sys/unix"

// System call numbers the filter looks at. x86-64 has no ipc(2); its
// 32-bit compatibility mode (int 0x80, the i386 ABI) has both ipc(2) and,
// since Linux 5.1, direct calls; x32 uses the x86-64 numbers with bit 30
// set. A filter that checked only the native numbers could be bypassed
// through either, so both are decoded; any other architecture value is
// killed, since this kernel can only produce these three.
const (
	x32SyscallBit = 0x40000000

	i386Ipc    = 117
	i386Semget = 393
	i386Shmget = 395
	i386Msgget = 399

	// ipc(2) call numbers (linux/ipc.h).
	ipcCallSemget = 2
	ipcCallMsgget = 13
	ipcCallShmget = 23
)

func ipcFilterProgram() []unix.SockFilter {
	const (
		ld   = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
		ret  = unix.BPF_RET | unix.BPF_K
		andK = unix.BPF_ALU | unix.BPF_AND | unix.BPF_K
	)
	var p bpfProg
	p.stmt(ld, seccompDataArch)
	p.jeq(unix.AUDIT_ARCH_X86_64, "", "not64")
	p.stmt(ld, seccompDataNr)
	for _, nr := range []uint32{unix.SYS_SHMGET, unix.SYS_SEMGET, unix.SYS_MSGGET,
		x32SyscallBit | unix.SYS_SHMGET, x32SyscallBit | unix.SYS_SEMGET, x32SyscallBit | unix.SYS_MSGGET} {
		p.jeq(nr, "notify", "")
	}
	p.stmt(ret, unix.SECCOMP_RET_ALLOW)

	p.label("not64")
	p.jeq(unix.AUDIT_ARCH_I386, "", "kill")
	p.stmt(ld, seccompDataNr)
	for _, nr := range []uint32{i386Shmget, i386Semget, i386Msgget} {
		p.jeq(nr, "notify", "")
	}
	p.jeq(i386Ipc, "", "allow")
	p.stmt(ld, seccompDataArg0Low)
	p.stmt(andK, 0xffff) // the high half carries the ipc "version"
	for _, call := range []uint32{ipcCallShmget, ipcCallSemget, ipcCallMsgget} {
		p.jeq(call, "notify", "")
	}
	p.label("allow")
	p.stmt(ret, unix.SECCOMP_RET_ALLOW)
	p.label("notify")
	p.stmt(ret, unix.SECCOMP_RET_USER_NOTIF)
	p.label("kill")
	p.stmt(ret, unix.SECCOMP_RET_KILL_PROCESS)
	return p.assemble()
}

// decodeIPCCall turns a notification into the call it stands for, in any
// of the ABIs the filter sends.
func decodeIPCCall(d *seccompData) (ipcCall, bool) {
	a := d.Args
	mk := func(kind ipcKind, key, size, flags uint64) (ipcCall, bool) {
		return ipcCall{kind: kind, key: int32(uint32(key)), size: size, flags: int32(uint32(flags))}, true
	}
	switch d.Arch {
	case unix.AUDIT_ARCH_X86_64:
		switch uint32(d.Nr) &^ x32SyscallBit {
		case unix.SYS_SHMGET:
			return mk(ipcShm, a[0], a[1], a[2])
		case unix.SYS_SEMGET:
			return mk(ipcSem, a[0], a[1], a[2])
		case unix.SYS_MSGGET:
			return mk(ipcMsg, a[0], 0, a[1])
		}
	case unix.AUDIT_ARCH_I386:
		// 32-bit registers: sizes are at most 32 bits wide.
		switch d.Nr {
		case i386Shmget:
			return mk(ipcShm, a[0], uint64(uint32(a[1])), a[2])
		case i386Semget:
			return mk(ipcSem, a[0], uint64(uint32(a[1])), a[2])
		case i386Msgget:
			return mk(ipcMsg, a[0], 0, a[1])
		case i386Ipc:
			switch a[0] & 0xffff {
			case ipcCallShmget:
				return mk(ipcShm, a[1], uint64(uint32(a[2])), a[3])
			case ipcCallSemget:
				return mk(ipcSem, a[1], uint64(uint32(a[2])), a[3])
			case ipcCallMsgget:
				return mk(ipcMsg, a[1], 0, a[2])
			}
		}
	}
	return ipcCall{}, false
}
