package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
	"zonetop/api"
	"zonetop/engine"
	"zonetop/internal/configs"
	"zonetop/internal/wire"
	"zonetop/internal/wire/wiretest"
	"zonetop/rctl"
)

// What slowUsageZoneadmd's delay may also be: a usage request held for
// good, or every request, the liveness check too (a stopped zoneadmd).
const (
	heldUsage = -1
	stopped   = -2
)

// slowUsageZoneadmd serves a zone's socket under root as a zoneadmd that
// answers its liveness check at once and a usage request after delay,
// as a zoneadmd on a loaded host does.
func slowUsageZoneadmd(t *testing.T, root, zone string, procs int, delay time.Duration) {
	t.Helper()
	if err := os.MkdirAll(configs.RunDir(root, zone), 0o700); err != nil {
		t.Fatal(err)
	}
	wiretest.StandIn(t, configs.ZoneadmdSock(root, zone), func(req wire.Request, done <-chan struct{}) *wire.Response {
		if req.Op != "ping" || delay == stopped {
			if delay < 0 {
				<-done
				return nil
			}
			select {
			case <-time.After(delay):
			case <-done:
				return nil
			}
		}
		return &wire.Response{OK: true, Usage: &api.ZoneUsage{Zone: zone, State: "running", Procs: procs,
			Rctls: []api.RctlUsage{{Name: rctl.ZoneMaxLwps, Usage: uint64(procs)}}}}
	})
}

// zonestat of many zones samples them together: each zoneadmd here takes
// delay to answer, and 24 of them cost about two delays, not 24. The
// rows keep zonestat's order (by name) and a zone that cannot be sampled
// is named on stderr in that order, whichever answered first.
func TestZonestatSamplesZonesTogether(t *testing.T) {
	root := t.TempDir()
	const delay = 500 * time.Millisecond
	var want, asked []string
	for i := 23; i >= 0; i-- {
		z := fmt.Sprintf("zs%02d", i)
		asked = append(asked, z)
		if i == 5 || i == 17 {
			continue // no zoneadmd: not ready or running
		}
		slowUsageZoneadmd(t, root, z, i, delay)
	}
	for i := range 24 {
		if i != 5 && i != 17 {
			want = append(want, fmt.Sprintf("zs%02d", i))
		}
	}
	var out, errb bytes.Buffer
	begin := time.Now()
	code := runZonestat(&globals{root: root}, []string{"-z", strings.Join(asked, ","), "-o", "json"}, nil, &out, &errb)
	took := time.Since(begin)
	if code != 1 {
		t.Errorf("exit %d, want 1 (two zones not running); stderr:\n%s", code, errb.String())
	}
	if took > 8*delay {
		t.Errorf("zonestat of %d zones whose zoneadmds each take %v took %v: more than 8 x %v", len(want), delay, took, delay)
	}
	var us []api.ZoneUsage
	if err := json.Unmarshal(out.Bytes(), &us); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	var got []string
	for i, u := range us {
		got = append(got, u.Zone)
		if want := fmt.Sprintf("zs%02d", u.Procs); i < len(us) && u.Zone != want {
			t.Errorf("row %d: zone %s carries %s's sample", i, u.Zone, want)
		}
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("rows:\n got %v\nwant %v", got, want)
	}
	lines := strings.Split(strings.TrimSpace(errb.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "zs05") || !strings.Contains(lines[1], "zs17") {
		t.Errorf("stderr, want zs05 then zs17:\n%s", errb.String())
	}
}

// A zoneadmd that takes zonestat's request and never answers (stopped,
// wedged) costs zonestat the bound of one sample, not its output for
// good: the zone is named on stderr with what happened, the others are
// printed, and the exit status is 1.
func TestZonestatHeldZoneadmd(t *testing.T) {
	root := t.TempDir()
	old := usageWait
	usageWait = 500 * time.Millisecond
	t.Cleanup(func() { usageWait = old })
	slowUsageZoneadmd(t, root, "zh00", 0, heldUsage)
	slowUsageZoneadmd(t, root, "zh01", 1, 0)
	var out, errb bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- runZonestat(&globals{root: root}, []string{"-z", "zh00,zh01", "-o", "json"}, nil, &out, &errb)
	}()
	select {
	case code := <-done:
		if code != 1 {
			t.Errorf("exit %d, want 1", code)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("zonestat still waits for a zoneadmd that never answers")
	}
	if !strings.Contains(errb.String(), "zh00") || !strings.Contains(errb.String(), "did not answer within") {
		t.Errorf("stderr %q, want zh00 named as not answering", errb.String())
	}
	if !strings.Contains(out.String(), `"zh01"`) || strings.Contains(out.String(), `"zh00"`) {
		t.Errorf("output %q, want zh01's row only", out.String())
	}
}

// The console's refresh samples every running zone through UsageMany: a
// held zoneadmd costs the refresh its deadline, not more, the others
// answer, and each answer lands in its own zone's slot.
func TestConsoleUsageManyHeldZoneadmd(t *testing.T) {
	root := t.TempDir()
	e, err := engine.New(root, "")
	if err != nil {
		t.Fatal(err)
	}
	const delay = 200 * time.Millisecond
	var names []string
	for i := range 40 {
		z := fmt.Sprintf("cu%02d", i)
		names = append(names, z)
		d := delay
		switch i % 10 {
		case 0:
			d = heldUsage
		case 5:
			d = stopped
		}
		slowUsageZoneadmd(t, root, z, i, d)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*delay)
	defer cancel()
	begin := time.Now()
	us, errs := newHostConsole(e).UsageMany(ctx, api.Principal{Zone: "global"}, names)
	took := time.Since(begin)
	if took > 20*delay {
		t.Errorf("a refresh with a 10 x %v deadline took %v", delay, took)
	}
	if len(us) != len(names) || len(errs) != len(names) {
		t.Fatalf("%d samples and %d errors for %d zones", len(us), len(errs), len(names))
	}
	for i, z := range names {
		if i%5 == 0 {
			if errs[i] == nil {
				t.Errorf("held %s: no error", z)
			}
			continue
		}
		if errs[i] != nil {
			t.Errorf("%s: %v", z, errs[i])
		} else if us[i].LWPs != uint64(i) {
			// Each fake zone's LWPs are its number.
			t.Errorf("%s's slot holds the sample of a zone with %d LWPs", z, us[i].LWPs)
		}
	}
}
