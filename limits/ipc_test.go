package limits

import (
	"os"
	"strconv"
	"testing"
	"zonetop/internal/ztest"
	"zonetop/rctl"

	"golang.org/x/sys/unix"
)

func TestIPCSysctls(t *testing.T) {
	page := uint64(os.Getpagesize())
	got, err := IPCSysctls(map[string]uint64{
		"zone.max-shm-memory": 20000,
		"zone.max-shm-ids":    10,
		"zone.max-sem-ids":    20,
		"zone.max-msg-ids":    30,
	}, "250 32000 32 128")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		// 5 pages of bytes plus one page of rounding per possible segment (10).
		"kernel.shmall": strconv.FormatUint((20000+page-1)/page+10, 10),
		"kernel.shmmax": "20000",
		"kernel.shmmni": "10",
		"kernel.sem":    "250 32000 32 20",
		"kernel.msgmni": "30",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("extra keys: %v", got)
	}
	if got, _ := IPCSysctls(map[string]uint64{"zone.max-sem-ids": 7}, ""); got["kernel.sem"] != "32000 1024000000 500 7" {
		t.Errorf("default sem: %v", got)
	}
	if got, _ := IPCSysctls(map[string]uint64{}, ""); len(got) != 0 {
		t.Errorf("unset rctls produced %v", got)
	}
	for _, rc := range []string{"zone.max-shm-ids", "zone.max-sem-ids", "zone.max-msg-ids"} {
		if _, err := IPCSysctls(map[string]uint64{rc: IPCMaxIDs + 1}, ""); err == nil {
			t.Errorf("%s above the kernel maximum accepted", rc)
		}
	}
	if _, err := IPCSysctls(map[string]uint64{"zone.max-sem-ids": 1}, "1 2 3"); err == nil {
		t.Error("malformed kernel.sem accepted")
	}
}

func TestRlimits(t *testing.T) {
	vs := func(s string) []rctl.Value {
		v, err := rctl.ParseValues(s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	got, err := Rlimits(map[string][]rctl.Value{
		"process.max-file-descriptor": vs("(basic,256,deny),(privileged,4096,deny),(privileged,2048,deny)"),
		"process.max-cpu-time":        vs("(privileged,60,signal=XCPU)"),
		"project.max-lwps":            vs("(privileged,10,deny)"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Rctl != "process.max-cpu-time" || got[0].Resource != unix.RLIMIT_CPU ||
		got[0].Soft != nil || *got[0].Hard != 60 {
		t.Fatalf("cpu-time: %+v", got)
	}
	if fd := got[1]; fd.Resource != unix.RLIMIT_NOFILE || *fd.Soft != 256 || *fd.Hard != 2048 {
		t.Errorf("nofile: soft %d hard %d, want 256/2048", *fd.Soft, *fd.Hard)
	}
	if _, err := Rlimits(map[string][]rctl.Value{"process.max-stack-size": vs("(basic,100,deny),(privileged,10,deny)")}); err == nil {
		t.Error("basic above privileged accepted")
	}
	for name := range rlimitOf {
		if _, err := rctl.Lookup(name); err != nil {
			t.Errorf("rlimit mapping for unknown rctl %s", name)
		}
	}
}

// ApplyRlimits on a child process: lowering works; raising the hard limit
// without CAP_SYS_RESOURCE is clamped and reported, not failed.
func TestApplyRlimitsClamp(t *testing.T) {
	pid := ztest.Sleeper(t)
	var cur unix.Rlimit
	if err := unix.Prlimit(pid, unix.RLIMIT_NOFILE, nil, &cur); err != nil {
		t.Fatal(err)
	}
	if cur.Max < 64 {
		t.Skip("hard RLIMIT_NOFILE too low to test")
	}
	lowHard, lowSoft := cur.Max-1, uint64(32)
	cl, err := ApplyRlimits(pid, []RlimitSetting{{Rctl: "process.max-file-descriptor", Resource: unix.RLIMIT_NOFILE, Soft: &lowSoft, Hard: &lowHard}})
	if err != nil || len(cl) != 0 {
		t.Fatalf("lowering: %v %v", cl, err)
	}
	var after unix.Rlimit
	if err := unix.Prlimit(pid, unix.RLIMIT_NOFILE, nil, &after); err != nil {
		t.Fatal(err)
	}
	if after.Max != lowHard || after.Cur != lowSoft {
		t.Fatalf("after lowering %+v, want %d/%d", after, lowSoft, lowHard)
	}
	// Raising back above the (now lower) hard limit.
	up := cur.Max
	cl, err = ApplyRlimits(pid, []RlimitSetting{{Rctl: "process.max-file-descriptor", Resource: unix.RLIMIT_NOFILE, Hard: &up}})
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Prlimit(pid, unix.RLIMIT_NOFILE, nil, &after); err != nil {
		t.Fatal(err)
	}
	if hasCap(unix.CAP_SYS_RESOURCE) {
		if len(cl) != 0 || after.Max != up {
			t.Errorf("with CAP_SYS_RESOURCE: clamped %v, hard %d", cl, after.Max)
		}
	} else if len(cl) != 1 || cl[0].GotHard != lowHard || after.Max != lowHard {
		t.Errorf("without CAP_SYS_RESOURCE: clamped %v, hard %d, want clamp at %d", cl, after.Max, lowHard)
	}
}

func hasCap(c int) bool {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return false
	}
	return data[c/32].Effective&(1<<(uint(c)%32)) != 0
}
