package cgroups

import (
	"fmt"
	"runtime"
	"strings"
	"syscall"
	"unsafe"
	"zonetop/internal/configs"

	"golang.org/x/sys/unix"
)

// cgroup v2 has no devices controller: the kernel asks a
// BPF_PROG_TYPE_CGROUP_DEVICE program attached to the cgroup instead, as
// runc and systemd use. Without one a zone on a pure v2 host, whose root
// keeps mknod by default, could make and open a node for any host disk.
// attachDeviceFilter gives the zone cgroup a program that allows exactly
// what limitDevices allows on v1.

// devRule allows every access to one device, or to every minor of a major
// (minor < 0); noMknod keeps read and write but refuses mknod.
type devRule struct {
	block        bool
	major, minor int64
	noMknod      bool
}

// zoneDevRules are the devices a zone may use: its /dev nodes (null,
// zero, full, random, urandom, tty, ptmx), the ptys of its own devpts (its
// console is one of them) and the device resources of its configuration.
// The host's console (5:1) is not among them: the zone's /dev/console is
// a bind of one of its own ptys. Pty slaves are never made with mknod:
// devpts makes them, and a node made elsewhere does not reach a pty (the
// pty driver looks the slave up through the devpts instance the node lives
// in, and fails with EIO outside one), so mknod of one is refused as
// having no use.
func zoneDevRules(extra []configs.DevNode) []devRule {
	rules := []devRule{{false, 1, 3, false}, {false, 1, 5, false}, {false, 1, 7, false}, {false, 1, 8, false},
		{false, 1, 9, false}, {false, 5, 0, false}, {false, 5, 2, false}, {false, ptySlaveMajor, -1, true}}
	for _, n := range extra {
		rules = append(rules, devRule{block: n.Mode&syscall.S_IFMT == syscall.S_IFBLK,
			major: int64(unix.Major(n.Rdev)), minor: int64(unix.Minor(n.Rdev))})
	}
	return rules
}

// ptySlaveMajor is the Unix98 pty slaves' major (the kernel's
// UNIX98_PTY_SLAVE_MAJOR): every pty index is a minor of it.
const ptySlaveMajor = 136

// v1 is the rule in the devices.allow syntax.
func (r devRule) v1() string {
	t, minor, access := "c", "*", "rwm"
	if r.block {
		t = "b"
	}
	if r.minor >= 0 {
		minor = fmt.Sprint(r.minor)
	}
	if r.noMknod {
		access = "rw"
	}
	return fmt.Sprintf("%s %d:%s %s", t, r.major, minor, access)
}

// bpfInsn is struct bpf_insn: opcode, dst (low nibble) and src registers,
// offset, immediate.
type bpfInsn struct {
	Code uint8
	Regs uint8
	Off  int16
	Imm  int32
}

const (
	bpfLdxMemW = 0x61 // dst = *(u32 *)(src + off)
	bpfAndK    = 0x57 // dst &= imm
	bpfRshK    = 0x77 // dst >>= imm
	bpfMovK    = 0xb7 // dst = imm
	bpfMovX    = 0xbf // dst = src
	bpfJneK    = 0x55 // if dst != imm: skip off
	bpfJsetK   = 0x45 // if dst & imm: skip off
	bpfExit    = 0x95
)

// deviceProgram is the filter for rules: with r1 the struct
// bpf_cgroup_dev_ctx (access_type: access << 16 | type; major; minor), it
// returns 1 (allow) for an access some rule allows and 0 for every other.
func deviceProgram(rules []devRule) []bpfInsn {
	p := []bpfInsn{
		{bpfLdxMemW, 1<<4 | 2, 0, 0}, // r2 = access_type
		{bpfMovX, 2<<4 | 5, 0, 0},    // r5 = access_type
		{bpfRshK, 5, 0, 16},          // r5 = access (BPF_DEVCG_ACC_*)
		{bpfAndK, 2, 0, 0xffff},      // r2 = device type
		{bpfLdxMemW, 1<<4 | 3, 4, 0}, // r3 = major
		{bpfLdxMemW, 1<<4 | 4, 8, 0}, // r4 = minor
	}
	for _, r := range rules {
		typ := int32(unix.BPF_DEVCG_DEV_CHAR)
		if r.block {
			typ = unix.BPF_DEVCG_DEV_BLOCK
		}
		checks := []bpfInsn{{bpfJneK, 2, 0, typ}, {bpfJneK, 3, 0, int32(r.major)}}
		if r.minor >= 0 {
			checks = append(checks, bpfInsn{bpfJneK, 4, 0, int32(r.minor)})
		}
		if r.noMknod {
			checks = append(checks, bpfInsn{bpfJsetK, 5, 0, unix.BPF_DEVCG_ACC_MKNOD})
		}
		// A failed check skips the rest of the rule: the other checks
		// and the two instructions that allow.
		for i := range checks {
			checks[i].Off = int16(len(checks) - i - 1 + 2)
		}
		p = append(p, checks...)
		p = append(p, bpfInsn{bpfMovK, 0, 0, 1}, bpfInsn{Code: bpfExit})
	}
	return append(p, bpfInsn{bpfMovK, 0, 0, 0}, bpfInsn{Code: bpfExit})
}

// bpfProgLoadAttr is the BPF_PROG_LOAD part of union bpf_attr, up to
// expected_attach_type.
type bpfProgLoadAttr struct {
	progType           uint32
	insnCnt            uint32
	insns              uint64
	license            uint64
	logLevel           uint32
	logSize            uint32
	logBuf             uint64
	kernVersion        uint32
	progFlags          uint32
	progName           [16]byte
	progIfindex        uint32
	expectedAttachType uint32
}

// bpfProgAttachAttr is the BPF_PROG_ATTACH part of union bpf_attr.
type bpfProgAttachAttr struct {
	targetFD     uint32
	attachBPFFD  uint32
	attachType   uint32
	attachFlags  uint32
	replaceBPFFD uint32
}

// attachDeviceFilter attaches the zone's device filter to its v2 cgroup.
// BPF_F_ALLOW_MULTI: the host's own device programs above the zone (a
// systemd unit's DevicePolicy) still run, and a device must pass them all;
// nothing in the zone can attach another (it has neither CAP_SYS_ADMIN nor
// CAP_BPF). The attachment lives as long as the cgroup.
func attachDeviceFilter(dir string, extra []configs.DevNode) error {
	prog := deviceProgram(zoneDevRules(extra))
	license := []byte("GPL\x00")
	logBuf := make([]byte, 16<<10)
	attr := bpfProgLoadAttr{
		progType:           unix.BPF_PROG_TYPE_CGROUP_DEVICE,
		insnCnt:            uint32(len(prog)),
		insns:              uint64(uintptr(unsafe.Pointer(&prog[0]))),
		license:            uint64(uintptr(unsafe.Pointer(&license[0]))),
		logLevel:           1,
		logSize:            uint32(len(logBuf)),
		logBuf:             uint64(uintptr(unsafe.Pointer(&logBuf[0]))),
		expectedAttachType: unix.BPF_CGROUP_DEVICE,
	}
	copy(attr.progName[:], "zonetop_devices")
	// The verifier gives up with EAGAIN when a signal is pending, and the
	// Go runtime signals its threads (preemption): try again, as the BPF
	// loaders do.
	var fd uintptr
	var errno syscall.Errno
	for try := 0; try < 5; try++ {
		fd, _, errno = unix.Syscall(unix.SYS_BPF, unix.BPF_PROG_LOAD, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr))
		if errno != unix.EAGAIN {
			break
		}
	}
	runtime.KeepAlive(prog)
	runtime.KeepAlive(license)
	if errno != 0 {
		msg := strings.TrimRight(string(logBuf), "\x00")
		return fmt.Errorf("cgroup %s: device filter: load: %w%s", dir, errno, verifierLog(msg))
	}
	defer unix.Close(int(fd))
	cg, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("cgroup %s: device filter: %w", dir, err)
	}
	defer unix.Close(cg)
	at := bpfProgAttachAttr{targetFD: uint32(cg), attachBPFFD: uint32(fd), attachType: unix.BPF_CGROUP_DEVICE, attachFlags: unix.BPF_F_ALLOW_MULTI}
	if _, _, errno := unix.Syscall(unix.SYS_BPF, unix.BPF_PROG_ATTACH, uintptr(unsafe.Pointer(&at)), unsafe.Sizeof(at)); errno != 0 {
		return fmt.Errorf("cgroup %s: device filter: attach: %w", dir, errno)
	}
	return nil
}

// verifierLog is the kernel verifier's complaint, for an error message.
func verifierLog(s string) string {
	if s = strings.TrimSpace(s); s == "" {
		return ""
	}
	return " (verifier: " + strings.ReplaceAll(s, "\n", "; ") + ")"
}
