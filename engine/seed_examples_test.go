package engine

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"zonetop/internal/ztest"
)

// The worked examples of the seed (../shared/seeds/
// multi-level-resource-limits.txt), each on a real zone with the
// document's own numbers, in the document's order. The resource of FIG. 4
// and ¶0043 is left open there ("a particular resource"); here it is the
// zone's message queue ids, counted one by one by the check (limits'
// tree), so every unit is exact. FIG. 6, FIG. 7 and ¶0051 are shared
// memory bytes, as in the document. Each step is a real msgget or shmget
// made by a process in its project, refused with the errno Linux gives
// (ENOSPC); the running totals (¶0046) are read back from zoneadmd.
func TestSeedWorkedExamples(t *testing.T) {
	// ¶0042, FIG. 4: zone 401 has a limit of 100, project 402 a limit
	// of 10. The project gets what is left of its own allocation or the
	// zone's, whichever is less: 10.
	//
	// ¶0043: zone 403 has a limit of 100, project 404 a limit of 1000
	// set by the zone's administrator. The zone's limit overrides it:
	// the total for all projects can only be 100.
	fig4 := newSeedZone(t, stdProjects+
		"p402:402::::project.max-msg-ids=(privileged,10,deny)\n"+
		"p404:404::::project.max-msg-ids=(privileged,1000,deny)\n",
		map[string]string{"zone.max-msg-ids": "(privileged,100,deny)"})
	t.Run("FIG.4", func(t *testing.T) {
		got := fig4.ipc("p402", repeat("msg", 11)...)
		wantLines(t, "project 402, 11 queues", got, append(repeat("ok", 10), "err ENOSPC")...)
		if u := ipcUsed(t, fig4, "p402", "max-msg-ids"); u != 10 {
			t.Errorf("project 402 holds %d, want 10", u)
		}
		// Give them back, so that ¶0043 starts from an empty zone.
		var rm []string
		for _, l := range got[:10] {
			rm = append(rm, "rmmsg:"+strings.Fields(l)[1])
		}
		wantLines(t, "project 402 removes its queues", fig4.ipc("p402", rm...), repeat("ok", 10)...)
	})
	t.Run("¶0043", func(t *testing.T) {
		got := fig4.ipc("p404", repeat("msg", 101)...)
		wantLines(t, "project 404 (1000) in zone 403 (100), 101 queues", got, append(repeat("ok", 100), "err ENOSPC")...)
		if u := ipcUsed(t, fig4, "", "max-msg-ids"); u != 100 {
			t.Errorf("zone total %d, want 100", u)
		}
		// Every project of the zone meets the zone's limit now.
		wantLines(t, "project 402 in the full zone", fig4.ipc("p402", "msg"), "err ENOSPC")
	})

	// ¶0047, FIG. 6: zone A's shared memory limit is 20000 bytes,
	// project P1's 10000; P1 already has 10000 and asks for one byte
	// more: denied, P1 is at its limit.
	zoneA := newSeedZone(t, stdProjects+
		"P1:100::::project.max-shm-memory=(privileged,10000,deny)\n",
		map[string]string{"zone.max-shm-memory": "(privileged,20000,deny)"})
	t.Run("FIG.6", func(t *testing.T) {
		wantLines(t, "P1 takes 10000, then 1 byte", zoneA.ipc("P1", "shm:10000", "shm:1"), "ok", "err ENOSPC")
		if u := ipcUsed(t, zoneA, "P1", "max-shm-memory"); u != 10000 {
			t.Errorf("P1 holds %d bytes, want 10000", u)
		}
	})

	// ¶0048-0050, FIG. 7: zone B's limit is 20000 bytes, projects P2
	// and P3 have 10000 each, 5000 allocated to each. P2 asks for one
	// byte: P2 has 5000 left, the zone 10000; the lower is 5000, and
	// the byte is granted.
	zoneB := newSeedZone(t, stdProjects+
		"P2:101::::project.max-shm-memory=(privileged,10000,deny)\n"+
		"P3:102::::project.max-shm-memory=(privileged,10000,deny)\n",
		map[string]string{"zone.max-shm-memory": "(privileged,20000,deny)"})
	t.Run("FIG.7", func(t *testing.T) {
		wantLines(t, "P2 5000", zoneB.ipc("P2", "shm:5000"), "ok")
		wantLines(t, "P3 5000", zoneB.ipc("P3", "shm:5000"), "ok")
		if u := ipcUsed(t, zoneB, "", "max-shm-memory"); u != 10000 {
			t.Errorf("zone B holds %d bytes, want 10000", u)
		}
		got := zoneB.ipc("P2", "shm:1", "rmshm:$0")
		wantLines(t, "P2's byte", got, "ok", "ok")
	})

	// ¶0051: suppose P3's limit is 15000, not 10000, and 15000 bytes are
	// allocated to it: zone B holds 20000, its limit. P2's byte is denied
	// although P2 is under its own limit, because the zone is full. The
	// zone administrator raises P3's limit in the zone's /etc/project,
	// which the check reads at its next call.
	t.Run("¶0051", func(t *testing.T) {
		p := filepath.Join(zoneB.zroot(), "etc/project")
		b, err := os.ReadFile(p)
		ztest.Must(t, err)
		raised := strings.Replace(string(b), "P3:102::::project.max-shm-memory=(privileged,10000,deny)", "P3:102::::project.max-shm-memory=(privileged,15000,deny)", 1)
		ztest.Must(t, os.WriteFile(p, []byte(raised), 0o644))
		wantLines(t, "P3 to 15000", zoneB.ipc("P3", "shm:10000"), "ok")
		if u := ipcUsed(t, zoneB, "P3", "max-shm-memory"); u != 15000 {
			t.Errorf("P3 holds %d bytes, want 15000", u)
		}
		if u := ipcUsed(t, zoneB, "", "max-shm-memory"); u != 20000 {
			t.Errorf("zone B holds %d bytes, want 20000", u)
		}
		wantLines(t, "P2's byte in the full zone", zoneB.ipc("P2", "shm:1"), "err ENOSPC")
		if u := ipcUsed(t, zoneB, "P2", "max-shm-memory"); u != 5000 {
			t.Errorf("P2 holds %d bytes, want 5000 of its 10000", u)
		}
	})
}

// newSeedZone is newIPCZone under a zq name.
func newSeedZone(t *testing.T, project string, rctls map[string]string) *testZone {
	t.Helper()
	ztest.NeedSeccompRoot(t)
	return readyIPCZone(t, newZqZone(t), project, rctls)
}

// repeat is n copies of s.
func repeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}
