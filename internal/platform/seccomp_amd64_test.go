package platform

import (
	"encoding/binary"
	"testing"

	"golang.org/x/sys/unix"
)

// runSeccompFilter interprets the classic BPF instructions the zone
// filter uses on a struct seccomp_data.
func runSeccompFilter(t *testing.T, prog []unix.SockFilter, d SeccompData) uint32 {
	t.Helper()
	buf := make([]byte, 64)
	binary.LittleEndian.PutUint32(buf[0:], uint32(d.Nr))
	binary.LittleEndian.PutUint32(buf[4:], d.Arch)
	binary.LittleEndian.PutUint64(buf[8:], d.IP)
	for i, a := range d.Args {
		binary.LittleEndian.PutUint64(buf[16+8*i:], a)
	}
	var acc uint32
	for pc := 0; pc < len(prog); pc++ {
		in := prog[pc]
		switch in.Code {
		case unix.BPF_LD | unix.BPF_W | unix.BPF_ABS:
			if in.K%4 != 0 || in.K >= 64 {
				t.Fatalf("load at %d from %d", pc, in.K)
			}
			acc = binary.LittleEndian.Uint32(buf[in.K:])
		case unix.BPF_ALU | unix.BPF_AND | unix.BPF_K:
			acc &= in.K
		case unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K:
			if acc == in.K {
				pc += int(in.Jt)
			} else {
				pc += int(in.Jf)
			}
		case unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K:
			if acc&in.K != 0 {
				pc += int(in.Jt)
			} else {
				pc += int(in.Jf)
			}
		case unix.BPF_RET | unix.BPF_K:
			return in.K
		default:
			t.Fatalf("instruction %#x at %d", in.Code, pc)
		}
	}
	t.Fatal("filter runs off its end")
	return 0
}

func TestZoneFilterDecisions(t *testing.T) {
	const (
		x64, i386 = unix.AUDIT_ARCH_X86_64, unix.AUDIT_ARCH_I386
		x32       = X32SyscallBit
		allow     = unix.SECCOMP_RET_ALLOW
		notify    = unix.SECCOMP_RET_USER_NOTIF
		eperm     = unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)
		enosys    = unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)
		kill      = unix.SECCOMP_RET_KILL_PROCESS
		newUser   = unix.CLONE_NEWUSER
		newIPC    = unix.CLONE_NEWIPC
		newNS     = unix.CLONE_NEWNS
	)
	type call struct {
		arch uint32
		nr   int32
		args [6]uint64
	}
	def, userns, mounts := ZoneFilterPolicy{}, ZoneFilterPolicy{NestedUserns: true, MountAPI: true}, ZoneFilterPolicy{MountAPI: true}
	for _, c := range []struct {
		pol  ZoneFilterPolicy
		call call
		want uint32
	}{
		{def, call{x64, unix.SYS_GETPID, [6]uint64{}}, allow},
		{def, call{x64, unix.SYS_SHMGET, [6]uint64{}}, notify},
		{def, call{x64, x32 | unix.SYS_MSGGET, [6]uint64{}}, notify},
		{def, call{i386, I386Semget, [6]uint64{}}, notify},
		{def, call{i386, I386Ipc, [6]uint64{1<<16 | IpcCallShmget}}, notify},
		{def, call{i386, I386Ipc, [6]uint64{21 /* shmat */}}, allow},
		{def, call{unix.AUDIT_ARCH_AARCH64, unix.SYS_GETPID, [6]uint64{}}, kill},

		{def, call{x64, unix.SYS_KEYCTL, [6]uint64{}}, eperm},
		{def, call{x64, x32 | unix.SYS_ADD_KEY, [6]uint64{}}, eperm},
		{def, call{i386, 287 /* request_key */, [6]uint64{}}, eperm},
		{userns, call{x64, unix.SYS_IO_URING_SETUP, [6]uint64{}}, eperm},
		{userns, call{i386, 425, [6]uint64{}}, eperm},
		{def, call{x64, unix.SYS_USERFAULTFD, [6]uint64{}}, eperm},
		{def, call{x64, unix.SYS_PERF_EVENT_OPEN, [6]uint64{}}, eperm},
		{def, call{x64, unix.SYS_BPF, [6]uint64{}}, eperm},
		{def, call{x64, x32 | x32KexecLoad, [6]uint64{}}, eperm},
		{def, call{i386, 283, [6]uint64{}}, eperm},

		{def, call{x64, unix.SYS_FSOPEN, [6]uint64{}}, eperm},
		{def, call{i386, 217 /* pivot_root */, [6]uint64{}}, eperm},
		{mounts, call{x64, unix.SYS_FSOPEN, [6]uint64{}}, allow},
		{mounts, call{x64, unix.SYS_PIVOT_ROOT, [6]uint64{}}, allow},

		{def, call{x64, unix.SYS_CLONE3, [6]uint64{}}, enosys},
		{userns, call{i386, 435, [6]uint64{}}, enosys},
		{def, call{x64, unix.SYS_CLONE, [6]uint64{uint64(unix.SIGCHLD) | unix.CLONE_VFORK | unix.CLONE_VM | unix.CLONE_PIDFD}}, allow},
		{def, call{x64, unix.SYS_CLONE, [6]uint64{uint64(unix.SIGCHLD) | newUser}}, eperm},
		{def, call{x64, x32 | unix.SYS_CLONE, [6]uint64{newUser}}, eperm},
		{def, call{i386, 120, [6]uint64{newUser}}, eperm},
		{def, call{x64, unix.SYS_UNSHARE, [6]uint64{newUser}}, eperm},
		{def, call{i386, 310, [6]uint64{newUser | newNS}}, eperm},
		{def, call{x64, unix.SYS_UNSHARE, [6]uint64{newNS}}, allow},
		{userns, call{x64, unix.SYS_UNSHARE, [6]uint64{newUser | newNS}}, allow},
		{userns, call{x64, unix.SYS_CLONE, [6]uint64{newUser}}, allow},
		{userns, call{x64, unix.SYS_UNSHARE, [6]uint64{newUser | newIPC}}, eperm},
		{userns, call{x64, unix.SYS_CLONE, [6]uint64{newIPC}}, eperm},
		{userns, call{i386, 120, [6]uint64{newIPC}}, eperm},
		{def, call{x64, unix.SYS_SETNS, [6]uint64{3, newIPC}}, eperm},
		{userns, call{i386, 346, [6]uint64{3, newIPC}}, eperm},
		{def, call{x64, unix.SYS_SETNS, [6]uint64{3, unix.CLONE_NEWNET}}, allow},

		{def, call{x64, unix.SYS_PERSONALITY, [6]uint64{0xffffffff}}, allow},
		{def, call{x64, unix.SYS_PERSONALITY, [6]uint64{0x8}}, allow},
		{def, call{x64, unix.SYS_PERSONALITY, [6]uint64{0x0040000}}, eperm},
		{def, call{i386, 136, [6]uint64{0x0400000 /* READ_IMPLIES_EXEC */}}, eperm},
	} {
		prog := zoneFilterProgram(c.pol)
		if got := runSeccompFilter(t, prog, SeccompData{Nr: c.call.nr, Arch: c.call.arch, Args: c.call.args}); got != c.want {
			t.Errorf("%+v: arch %#x nr %#x args %#x: %#x, want %#x", c.pol, c.call.arch, c.call.nr, c.call.args[:2], got, c.want)
		}
	}
	for _, pol := range []ZoneFilterPolicy{def, userns, mounts} {
		if n := len(zoneFilterProgram(pol)); n > 255 {
			t.Errorf("%+v: filter of %d instructions", pol, n)
		}
	}
}
