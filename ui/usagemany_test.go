package ui

import (
	"context"
	"strings"
	"sync"
	"testing"
	"zonetop/api"
)

// manyFake samples usage for a whole refresh in one UsageMany call;
// drop makes it answer for fewer zones than asked, as a broken backend
// might.
type manyFake struct {
	usageFake
	mu      sync.Mutex
	batches [][]string
	single  int
	drop    int
}

func (f *manyFake) Usage(ctx context.Context, p api.Principal, zone string) (ZoneUsage, error) {
	f.mu.Lock()
	f.single++
	f.mu.Unlock()
	return f.usageFake.Usage(ctx, p, zone)
}

func (f *manyFake) UsageMany(ctx context.Context, p api.Principal, zones []string) ([]ZoneUsage, []error) {
	f.mu.Lock()
	f.batches = append(f.batches, append([]string(nil), zones...))
	f.mu.Unlock()
	us, errs := make([]ZoneUsage, len(zones)), make([]error, len(zones))
	for i, z := range zones {
		us[i], errs[i] = f.usageFake.Usage(ctx, p, z)
	}
	n := max(0, len(zones)-f.drop)
	return us[:n], errs[:n]
}

// The refresh asks a backend that samples zones together once for every
// ready or running zone, and files each answer under its zone as the
// zone-by-zone path does; a backend that answers short leaves the
// missing zones with an error, never a panic or another zone's numbers.
func TestRefreshUsageMany(t *testing.T) {
	for _, drop := range []int{0, 1} {
		fb := &manyFake{usageFake: usageFake{&fakeBackend{zones: fixtureZones()}}, drop: drop}
		m := newModel(fb, Options{Principal: globalAdmin, Now: fixedClock})
		msg, ok := m.startRefresh()().(zonesMsg)
		if !ok {
			t.Fatal("the refresh returned no zone list")
		}
		serial := usageFake{&fakeBackend{zones: fixtureZones()}}
		var live []string
		for _, z := range fixtureZones() {
			if z.Name != globalZone && (z.State == "running" || z.State == "ready") {
				live = append(live, z.Name)
			}
		}
		if len(fb.batches) != 1 || strings.Join(fb.batches[0], " ") != strings.Join(live, " ") || fb.single != 0 {
			t.Fatalf("drop %d: batches %v, %d zone-by-zone calls; want one batch of %v", drop, fb.batches, fb.single, live)
		}
		for i, z := range live {
			want, _ := serial.Usage(context.Background(), globalAdmin, z)
			if i >= len(live)-drop {
				if msg.usErrs[z] == nil {
					t.Errorf("drop %d: %s got no answer and no error", drop, z)
				}
				continue
			}
			if got := msg.usage[z]; got.CPU != want.CPU || got.LWPs != want.LWPs {
				t.Errorf("drop %d: %s filed as %+v, want %+v", drop, z, got, want)
			}
		}
	}
}
