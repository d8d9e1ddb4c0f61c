package ui

import (
	"context"
	"fmt"
	"sync"
	"time"

	"zonetop/engine"
)

// fakeBackend is a Backend with a fixed host and whatever zones a test
// puts in it; block makes List wait until released, to test dropped ticks.
type fakeBackend struct {
	mu    sync.Mutex
	zones []engine.ZoneInfo
	err   error
	calls int
	block chan struct{}
}

func (f *fakeBackend) List(ctx context.Context, _ engine.Principal, _ engine.ListOptions) ([]engine.ZoneInfo, error) {
	f.mu.Lock()
	f.calls++
	block := f.block
	f.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	return append([]engine.ZoneInfo(nil), f.zones...), nil
}

func (f *fakeBackend) Host() engine.HostInfo {
	return engine.HostInfo{Hostname: "testhost", Kernel: "6.12.0-test-amd64", CgroupMode: "v2"}
}

var fixedNow = time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)

func fixedClock() time.Time { return fixedNow }

// fixtureZones is one zone in every state, including a down zone with the
// reason its halt could not finish.
func fixtureZones() []engine.ZoneInfo {
	z := func(id int, name, state, brand, ip string) engine.ZoneInfo {
		return engine.ZoneInfo{ID: id, Name: name, State: state, Path: "/zones/" + name,
			UUID: fmt.Sprintf("00000000-0000-0000-0000-%012d", len(name)), Brand: brand, IPType: ip}
	}
	down := z(-1, "legacy", "down", "sparse", "shared")
	down.Reason = "umount /zones/legacy/root/proc: device or resource busy"
	return []engine.ZoneInfo{
		z(1, "web01", "running", "sparse", "exclusive"),
		z(2, "db01", "running", "tarball", "exclusive"),
		z(3, "batch", "ready", "busybox", "shared"),
		z(-1, "build", "installed", "sparse", "shared"),
		z(-1, "scratch", "configured", "sparse", "shared"),
		z(-1, "half", "incomplete", "tarball", "exclusive"),
		down,
	}
}

func manyZones(n int) []engine.ZoneInfo {
	states := []string{"running", "installed", "configured", "ready", "down"}
	zs := make([]engine.ZoneInfo, n)
	for i := range zs {
		name := fmt.Sprintf("zone%04d", i)
		zs[i] = engine.ZoneInfo{ID: i + 1, Name: name, State: states[i%len(states)],
			Path: "/zones/" + name, Brand: "sparse", IPType: "shared"}
		if zs[i].State == "down" {
			zs[i].Reason = "halt timed out"
		}
	}
	return zs
}

var globalAdmin = engine.Principal{UID: 0, GID: 0, Zone: "global"}
