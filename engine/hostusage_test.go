package engine

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"zonetop/api"
)

func TestHostUsageParse(t *testing.T) {
	stat := "cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 50 0 25 400 25 0 0 0 0 0\ncpu1 50 0 25 400 25 0 0 0 0 0\nintr 1\n"
	busy, total, cpus, err := parseProcStat(strings.NewReader(stat))
	if err != nil || busy != 150 || total != 1000 || cpus != 2 {
		t.Fatalf("busy %d total %d cpus %d err %v", busy, total, cpus, err)
	}
	if _, _, _, err := parseProcStat(strings.NewReader("intr 1\n")); err == nil {
		t.Fatal("a stat without a cpu line parses")
	}
	tot, used := parseMeminfo("MemTotal:       1000 kB\nMemFree:  100 kB\nMemAvailable:    400 kB\n")
	if tot != 1000*1024 || used != 600*1024 {
		t.Fatalf("meminfo: total %d used %d", tot, used)
	}
	if n := parseLoadavgThreads("0.10 0.20 0.30 2/345 9999\n"); n != 345 {
		t.Fatalf("loadavg threads %d", n)
	}
}

// Two samples give the rate between them, in percent of one CPU, as a
// zone's CPUPct.
func TestHostUsageRate(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("meminfo", "MemTotal: 2048 kB\nMemAvailable: 1024 kB\n")
	write("loadavg", "0 0 0 1/77 1\n")
	write("stat", "cpu 0 0 0 100 0\ncpu0 0 0 0 50 0\ncpu1 0 0 0 50 0\n")
	var h hostSampler
	if u, err := h.sample(dir, time.Now()); err != nil || u.CPUPct != 0 || u.CPUs != 2 {
		t.Fatalf("first sample %+v %v", u, err)
	}
	// One of two CPUs busy over the interval: 100% of one CPU.
	write("stat", "cpu 100 0 0 200 0\ncpu0 100 0 0 50 0\ncpu1 0 0 0 150 0\n")
	u, err := h.sample(dir, time.Now())
	if err != nil || u.CPUPct != 100 || u.MemTotal != 2<<20 || u.MemUsed != 1<<20 || u.LWPs != 77 {
		t.Fatalf("second sample %+v %v", u, err)
	}
}

// A zone administrator does not see the host.
func TestHostUsageZoneAdminRefused(t *testing.T) {
	e := &Engine{}
	if _, err := e.HostUsage(context.Background(), api.Principal{Zone: "web01"}); !errors.Is(err, api.ErrPermission) {
		t.Fatalf("zone admin got host usage: %v", err)
	}
	if _, err := e.HostUsage(context.Background(), api.Principal{Zone: "global"}); err != nil {
		t.Fatalf("global admin: %v", err)
	}
}
