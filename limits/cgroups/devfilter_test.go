package cgroups

import (
	"strings"
	"syscall"
	"testing"
	"zonetop/internal/configs"

	"golang.org/x/sys/unix"
)

// The v1 devices.allow lines and the v2 filter come from one rule list:
// the standard nodes, the zone's ptys (not made by mknod) and the device
// resources; never the host's console (5:1).
func TestZoneDevRules(t *testing.T) {
	var got []string
	rules := zoneDevRules([]configs.DevNode{{Mode: syscall.S_IFBLK, Rdev: unix.Mkdev(8, 16)}})
	for _, r := range rules {
		got = append(got, r.v1())
	}
	want := "c 1:3 rwm,c 1:5 rwm,c 1:7 rwm,c 1:8 rwm,c 1:9 rwm,c 5:0 rwm,c 5:2 rwm,c 136:* rw,b 8:16 rwm"
	if strings.Join(got, ",") != want {
		t.Errorf("rules %q, want %q", strings.Join(got, ","), want)
	}
	p := deviceProgram(rules)
	const (
		chr, blk   = unix.BPF_DEVCG_DEV_CHAR, unix.BPF_DEVCG_DEV_BLOCK
		m, r, w    = unix.BPF_DEVCG_ACC_MKNOD, unix.BPF_DEVCG_ACC_READ, unix.BPF_DEVCG_ACC_WRITE
		rw, rwm    = r | w, r | w | m
		allow, den = true, false
	)
	for _, c := range []struct {
		typ, access  uint32
		major, minor uint32
		want         bool
	}{
		{chr, rw, 1, 3, allow}, {chr, m, 1, 3, allow}, {chr, r, 1, 9, allow}, {chr, rwm, 5, 0, allow},
		{chr, rw, 5, 2, allow}, {chr, rw, 136, 0, allow}, {chr, rw, 136, 4095, allow}, {blk, rwm, 8, 16, allow},
		{chr, m, 136, 7, den}, {chr, rw, 5, 1, den}, {chr, m, 5, 1, den}, {chr, rw, 4, 1, den},
		{blk, rw, 1, 3, den}, {chr, rw, 8, 16, den}, {blk, rw, 8, 17, den}, {chr, rw, 1, 1, den},
	} {
		if got := runDeviceProgram(t, p, c.access<<16|c.typ, c.major, c.minor); got != c.want {
			t.Errorf("type %d access %#x %d:%d: allowed %v, want %v", c.typ, c.access, c.major, c.minor, got, c.want)
		}
	}
}

// runDeviceProgram interprets the few eBPF instructions deviceProgram
// emits, on a struct bpf_cgroup_dev_ctx.
func runDeviceProgram(t *testing.T, p []bpfInsn, accessType, major, minor uint32) bool {
	t.Helper()
	ctx := []uint32{accessType, major, minor}
	var reg [11]uint64
	for pc := 0; pc < len(p); pc++ {
		in := p[pc]
		dst, src := in.Regs&0xf, in.Regs>>4
		switch in.Code {
		case bpfLdxMemW:
			if src != 1 || in.Off%4 != 0 || int(in.Off/4) >= len(ctx) {
				t.Fatalf("load at %d from r%d%+d", pc, src, in.Off)
			}
			reg[dst] = uint64(ctx[in.Off/4])
		case bpfMovX:
			reg[dst] = reg[src]
		case bpfMovK:
			reg[dst] = uint64(int64(in.Imm))
		case bpfAndK:
			reg[dst] &= uint64(int64(in.Imm))
		case bpfRshK:
			reg[dst] >>= uint(in.Imm)
		case bpfJneK:
			if reg[dst] != uint64(int64(in.Imm)) {
				pc += int(in.Off)
			}
		case bpfJsetK:
			if reg[dst]&uint64(int64(in.Imm)) != 0 {
				pc += int(in.Off)
			}
		case bpfExit:
			return reg[0] == 1
		default:
			t.Fatalf("instruction %#x at %d", in.Code, pc)
		}
	}
	t.Fatal("program runs off its end")
	return false
}
