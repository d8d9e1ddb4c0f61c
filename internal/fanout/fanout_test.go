package fanout

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Every index is called exactly once, never more than workers at a time.
func TestEachCallsEveryIndexOnceWithinWorkers(t *testing.T) {
	for _, tc := range []struct{ n, workers int }{{0, 16}, {1, 16}, {5, 1}, {5, 0}, {5, -3}, {100, 16}, {1000, 7}} {
		var running, most atomic.Int32
		seen := make([]atomic.Int32, tc.n)
		err := Each(context.Background(), tc.n, tc.workers, func(i int) {
			r := running.Add(1)
			for {
				m := most.Load()
				if r <= m || most.CompareAndSwap(m, r) {
					break
				}
			}
			time.Sleep(time.Microsecond)
			seen[i].Add(1)
			running.Add(-1)
		})
		if err != nil {
			t.Fatalf("n %d workers %d: %v", tc.n, tc.workers, err)
		}
		for i := range seen {
			if c := seen[i].Load(); c != 1 {
				t.Fatalf("n %d workers %d: index %d called %d times", tc.n, tc.workers, i, c)
			}
		}
		if limit := int32(max(1, tc.workers)); most.Load() > limit {
			t.Fatalf("n %d workers %d: %d calls at once", tc.n, tc.workers, most.Load())
		}
	}
}

// Calls that hang hold only their own worker: the others go on with the
// rest, so k hung calls among n cost one hang, not k, while k < workers.
func TestEachHungCallsDoNotHoldTheRest(t *testing.T) {
	release := make(chan struct{})
	var done atomic.Int32
	finished := make(chan error, 1)
	go func() {
		finished <- Each(context.Background(), 200, 16, func(i int) {
			if i%50 == 0 { // 4 hung calls
				<-release
			}
			done.Add(1)
		})
	}()
	for done.Load() < 196 {
		select {
		case err := <-finished:
			t.Fatalf("Each returned with hung calls outstanding: %v", err)
		case <-time.After(time.Millisecond):
		}
	}
	close(release)
	if err := <-finished; err != nil {
		t.Fatal(err)
	}
	if done.Load() != 200 {
		t.Fatalf("%d calls done, want 200", done.Load())
	}
}

// A cancelled context stops calls not yet begun and says so; calls under
// way finish.
func TestEachStopsOnCancel(t *testing.T) {
	for _, workers := range []int{1, 4} {
		ctx, cancel := context.WithCancel(context.Background())
		var mu sync.Mutex
		calls := 0
		err := Each(ctx, 1000, workers, func(i int) {
			mu.Lock()
			calls++
			if calls == 10 {
				cancel()
			}
			mu.Unlock()
		})
		if err != context.Canceled {
			t.Fatalf("workers %d: err %v, want context.Canceled", workers, err)
		}
		if calls >= 1000 || calls < 10 {
			t.Fatalf("workers %d: %d calls after a cancel at the 10th", workers, calls)
		}
	}
}
