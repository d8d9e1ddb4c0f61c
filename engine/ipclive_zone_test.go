package engine

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"zonetop/api"
	"zonetop/internal/ztest"
)

// Live changes reach the IPC check at once: a zone cap raised with prctl
// (the engine's SetRctl, as the console does too), a project limit set
// live, and a hand edit of the zone's /etc/project (what projmod writes
// as well), each for the very next call. A cap lowered below what is held
// is refused with the cap and the usage named.
func TestIPCLiveChanges(t *testing.T) {
	z := newLimIPCZone(t, stdProjects+
		"P1:100::::project.max-msg-ids=(privileged,1,deny);project.max-sem-ids=(privileged,1,deny)\n",
		map[string]string{"zone.max-shm-ids": "(privileged,2,deny)", "zone.max-shm-memory": "(privileged,20000,deny)"})
	e, err := New(z.root, "")
	ztest.Must(t, err)
	root := api.Principal{UID: 0, Zone: "global"}
	set := func(ch api.RctlChange) error {
		return e.SetRctl(context.Background(), root, z.spec.Name, ch, false)
	}

	// zone.max-shm-ids 2 -> 10: the third segment is granted.
	got := z.ipc("default", "shm:100", "shm:100", "shm:100")
	wantLines(t, "two of 2", got, "ok", "ok", "err ENOSPC")
	ztest.Must(t, set(api.RctlChange{Name: "zone.max-shm-ids", Values: "(privileged,10,deny)"}))
	wantLines(t, "third after prctl -v 10", z.ipc("default", "shm:100"), "ok")

	// zone.max-shm-memory 20000 -> 30000: 25000 bytes fit.
	wantLines(t, "25000 under 20000", z.ipc("default", "shm:25000"), "err ENOSPC")
	ztest.Must(t, set(api.RctlChange{Name: "zone.max-shm-memory", Values: "(privileged,30000,deny)"}))
	big := z.ipc("default", "shm:25000")
	wantLines(t, "25000 under 30000", big, "ok")

	// Lowered below what the zone holds (4 segments, 25300 bytes):
	// refused, naming the cap and the usage; the cap in force stays.
	err = set(api.RctlChange{Name: "zone.max-shm-ids", Values: "(privileged,2,deny)"})
	if err == nil || !strings.Contains(err.Error(), "zone.max-shm-ids") || !strings.Contains(err.Error(), "4") {
		t.Errorf("zone.max-shm-ids 2 with 4 held: %v, want a refusal naming the cap and 4", err)
	}
	err = set(api.RctlChange{Name: "zone.max-shm-memory", Values: "(privileged,1000,deny)"})
	if err == nil || !strings.Contains(err.Error(), "25300") {
		t.Errorf("zone.max-shm-memory 1000 with 25300 held: %v, want a refusal naming 25300", err)
	}
	wantLines(t, "cap 10 still in force", z.ipc("default", "shm:100", "rmshm:$0"), "ok", "ok")
	wantLines(t, "free the big one", z.ipc("default", "rmshm:"+strings.Fields(big[0])[1]), "ok")

	// A project limit set live (prctl -i project).
	wantLines(t, "P1 at 1 queue", z.ipc("P1", "msg", "msg"), "ok", "err ENOSPC")
	ztest.Must(t, set(api.RctlChange{Name: "project.max-msg-ids", Project: "P1", Values: "(privileged,3,deny)"}))
	wantLines(t, "P1 raised live to 3", z.ipc("P1", "msg", "msg", "msg"), "ok", "ok", "err ENOSPC")
	err = set(api.RctlChange{Name: "project.max-msg-ids", Project: "P1", Values: "(privileged,1,deny)"})
	if err == nil || !strings.Contains(err.Error(), "project.max-msg-ids") || !strings.Contains(err.Error(), "project P1") {
		t.Errorf("project.max-msg-ids 1 with 3 held: %v, want a refusal naming the limit and the project", err)
	}

	// A hand edit of /etc/project, twice within the same second: each
	// is in force for the next call, without waiting for the watch.
	edit := func(semIDs string) {
		p := filepath.Join(z.zroot(), "etc/project")
		ztest.Must(t, os.WriteFile(p+".new", []byte(stdProjects+
			"P1:100::::project.max-msg-ids=(privileged,3,deny);project.max-sem-ids=(privileged,"+semIDs+",deny)\n"), 0o644))
		ztest.Must(t, os.Rename(p+".new", p))
	}
	wantLines(t, "P1 at 1 set", z.ipc("P1", "sem:1", "sem:1"), "ok", "err ENOSPC")
	edit("2")
	wantLines(t, "edit to 2", z.ipc("P1", "sem:1", "sem:1"), "ok", "err ENOSPC")
	edit("4")
	wantLines(t, "edit to 4", z.ipc("P1", "sem:1", "sem:1", "sem:1"), "ok", "ok", "err ENOSPC")
	// Lowered below usage by an edit (which cannot be refused): what
	// is held stays, new sets are refused.
	edit("1")
	wantLines(t, "edit to 1 with 4 held", z.ipc("P1", "sem:1"), "err ENOSPC")
	if u := ipcUsed(t, z, "P1", "max-sem-ids"); u != 4 {
		t.Errorf("P1 sem ids after lowering to 1: %d, want the 4 still held", u)
	}
}
