// Package fanout runs one call per zone on a bounded number of goroutines,
// for the front ends' listings and samples that ask every zone's zoneadmd
// (engine.List, zonestat, the console's usage refresh). It touches nothing
// itself: each call writes only its own slot of the caller's results.
package fanout

import (
	"context"
	"sync"
)

// Workers is how many zones are asked at once. A question to a zoneadmd
// costs the asker a socket or two and a parked goroutine, and the
// zoneadmd a wake-up: the wait is the zoneadmd's scheduling, not this
// side's CPU, so more than the host's cores are worth having in flight.
// 16 keeps a listing of 1,000 zones under 40 descriptors and 16
// zoneadmds woken at once on a 2-core host, where 1,000 at once would
// spend the descriptors of a process whose soft limit may be 1,024, and
// stampede the run queue for no earlier answer; it also lets a handful
// of hung zoneadmds hold only a part of the pool.
const Workers = 16

// Each calls fn(i) for every i in [0, n) on at most workers goroutines
// (at least one) and returns once every call has returned. Calls not yet
// begun when ctx is done are skipped, and ctx's error is returned; a call
// already running is not interrupted, so fn bounds its own waits. The
// order the calls run in is not the order of i: callers keep theirs by
// writing result i to slot i.
func Each(ctx context.Context, n, workers int, fn func(i int)) error {
	workers = max(1, min(workers, n))
	if workers == 1 {
		// One at a time (a caller whose connection serves one request
		// at a time): no goroutine at all.
		for i := range n {
			if err := ctx.Err(); err != nil {
				return err
			}
			fn(i)
		}
		return nil
	}
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range next {
				fn(i)
			}
		})
	}
	var err error
feed:
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			err = ctx.Err()
			break feed
		}
	}
	close(next)
	wg.Wait()
	return err
}
