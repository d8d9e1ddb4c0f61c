package main

import (
	"errors"
	"os"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// A zone's project limit may refuse a call half way through a batch (a
// project whose max-shm-ids is below the batch): every object made before
// must still be removed, or the bench leaves ids behind that count
// against the zone until it halts.
func TestRunRemovesWhatItMadeWhenRefused(t *testing.T) {
	live := map[int]bool{}
	next := 0
	create := func() (int, error) {
		if len(live) == 7 {
			return 0, unix.ENOSPC
		}
		next++
		live[next] = true
		return next, nil
	}
	remove := func(id int) {
		if !live[id] {
			t.Errorf("removed %d, which is not live (twice, or never made)", id)
		}
		delete(live, id)
	}
	_, err := run(create, remove, 100, 10)
	if !errors.Is(err, unix.ENOSPC) || !strings.Contains(err.Error(), "call 8") {
		t.Fatalf("run: %v, want ENOSPC naming call 8", err)
	}
	if len(live) != 0 {
		t.Errorf("%d objects left after a refused call", len(live))
	}
}

// Batches that do not divide the count: the last, partial batch is
// removed too, and exactly n calls are timed.
func TestRunTimesNCallsAndRemovesAll(t *testing.T) {
	live := 0
	most := 0
	ds, err := run(func() (int, error) {
		live++
		if live > most {
			most = live
		}
		return live, nil
	}, func(int) { live-- }, 25, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 25 {
		t.Errorf("%d calls timed, want 25", len(ds))
	}
	if live != 0 {
		t.Errorf("%d objects left", live)
	}
	if most > 10 {
		t.Errorf("%d objects live at once, want at most the batch (10)", most)
	}
}

// The real calls, in an IPC namespace of the test's own (so that other
// users' objects on a shared host do not count): each kind's remove
// really removes, and the kernel's tables are the witness.
func TestRealCallsLeaveNoObjects(t *testing.T) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		// The thread keeps the namespace; it is not unlocked, so it
		// ends with the goroutine and nothing else runs in it.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWIPC); err != nil {
			if os.Getenv("CI") == "true" {
				t.Errorf("unshare(CLONE_NEWIPC): %v", err)
			} else {
				t.Logf("unshare(CLONE_NEWIPC): %v; skipped", err)
			}
			return
		}
		for _, k := range kinds() {
			ds, err := run(k.create, k.remove, 7, 3)
			if err != nil {
				t.Errorf("%s: %v", k.name, err)
				continue
			}
			if len(ds) != 7 {
				t.Errorf("%s: %d calls timed, want 7", k.name, len(ds))
			}
			table := map[string]string{"shmget": "shm", "semget": "sem", "msgget": "msg"}[k.name]
			b, err := os.ReadFile("/proc/sysvipc/" + table)
			if err != nil {
				t.Error(err)
				continue
			}
			if lines := strings.Count(strings.TrimSpace(string(b)), "\n"); lines != 0 {
				t.Errorf("%s: %d objects left in the namespace:\n%s", k.name, lines, b)
			}
		}
	}()
	<-done
}
