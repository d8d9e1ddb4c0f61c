package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
	"zonetop/api"
	"zonetop/internal/configs"
	"zonetop/internal/wire"
	"zonetop/internal/wire/wiretest"
	"zonetop/zones"
)

// fakeZoneadmd serves sock as a zoneadmd that answers its liveness check,
// and a status or usage request with what answer gives; a nil answer
// keeps the request unanswered until the test ends, as a zoneadmd held
// by a loaded host or a stuck lock does.
func fakeZoneadmd(t *testing.T, sock string, answer func(op string) *wire.Response) {
	t.Helper()
	wiretest.StandIn(t, sock, func(req wire.Request, done <-chan struct{}) *wire.Response {
		if req.Op == "ping" {
			return &wire.Response{OK: true}
		}
		if resp := answer(req.Op); resp != nil {
			return resp
		}
		<-done
		return nil
	})
}

// recordRunning gives zone z of e a platform as its zoneadmd records it:
// running with zone ID id.
func recordRunning(t *testing.T, e *Engine, z string, id int) {
	t.Helper()
	if err := os.MkdirAll(configs.RunDir(e.Root, z), 0o700); err != nil {
		t.Fatal(err)
	}
	st := fmt.Sprintf(`{"state":"running","zoneid":%d,"since":"2026-01-02T03:04:05Z"}`, id)
	if err := os.WriteFile(filepath.Join(configs.RunDir(e.Root, z), "state.json"), []byte(st), 0o600); err != nil {
		t.Fatal(err)
	}
}

// A listing of many zones, a good part of whose zoneadmds hold their
// status answers (more of them than the listing asks at once), returns
// every zone, the held ones as last recorded and marked stale, in about
// one statusWait: it once asked zone after zone, and 24 held zoneadmds
// cost 24 statusWaits. The held zones sort first, so that every worker
// is taken by one before a zoneadmd that answers is asked: those must
// still be asked, and answer fresh.
func TestListManyZonesSomeHung(t *testing.T) {
	root := t.TempDir()
	e, err := New(root, "")
	if err != nil {
		t.Fatal(err)
	}
	old := statusWait
	statusWait = 2 * time.Second
	t.Cleanup(func() { statusWait = old })
	ctx := context.Background()
	gz := api.Principal{Zone: "global"}
	const hung, answering, installed = 24, 16, 8
	var names []string
	add := func(z string) {
		if err := e.CreateZone(ctx, gz, &zones.Config{Name: z, Zonepath: "/zones/" + z}); err != nil {
			t.Fatal(err)
		}
		if err := e.store.SetState(z, []zones.State{zones.StateConfigured}, zones.StateInstalled, ""); err != nil {
			t.Fatal(err)
		}
		names = append(names, z)
	}
	since := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	for i := range hung {
		z := fmt.Sprintf("a-held%02d", i)
		add(z)
		recordRunning(t, e, z, i+1)
		fakeZoneadmd(t, configs.ZoneadmdSock(root, z), func(string) *wire.Response { return nil })
	}
	for i := range answering {
		z := fmt.Sprintf("b-up%02d", i)
		add(z)
		// Recorded as something else than it answers: the answer wins.
		recordRunning(t, e, z, 900+i)
		st := &api.ZoneStatus{State: "running", ZoneID: 100 + i, Since: since}
		fakeZoneadmd(t, configs.ZoneadmdSock(root, z), func(op string) *wire.Response {
			return &wire.Response{OK: true, Status: st}
		})
	}
	for i := range installed {
		add(fmt.Sprintf("c-inst%02d", i))
	}

	listed := make(chan []api.ZoneInfo, 1)
	begin := time.Now()
	go func() {
		l, err := e.List(ctx, gz, api.ListOptions{Installed: true})
		if err != nil {
			t.Error(err)
		}
		listed <- l
	}()
	var list []api.ZoneInfo
	select {
	case list = <-listed:
	case <-time.After(time.Duration(hung+5) * statusWait):
		t.Fatal("the listing waited for good")
	}
	took := time.Since(begin)
	if took > 4*statusWait {
		t.Errorf("listing %d zones, %d of whose zoneadmds hold their answer, took %v: more than 4 x statusWait (%v); one held zoneadmd at a time costs %v",
			len(names), hung, took, statusWait, time.Duration(hung)*statusWait)
	}
	if len(list) != len(names)+1 || list[0].Name != "global" {
		t.Fatalf("listed %d zones, want global and %d", len(list), len(names))
	}
	byName := map[string]api.ZoneInfo{}
	for _, zi := range list[1:] {
		byName[zi.Name] = zi
	}
	for _, z := range names {
		zi, ok := byName[z]
		switch {
		case !ok:
			t.Errorf("zone %s not listed", z)
		case strings.HasPrefix(z, "a-held"):
			var i int
			fmt.Sscanf(z, "a-held%d", &i)
			if zi.State != "running" || zi.ID != i+1 || !zi.Stale || !strings.Contains(zi.Reason, "as zoneadmd last recorded it") {
				t.Errorf("held %s: %s ID %d stale %v reason %q; want running as recorded, ID %d, stale", z, zi.State, zi.ID, zi.Stale, zi.Reason, i+1)
			}
		case strings.HasPrefix(z, "b-up"):
			var i int
			fmt.Sscanf(z, "b-up%d", &i)
			if zi.State != "running" || zi.ID != 100+i || zi.Stale || !zi.Since.Equal(since) {
				t.Errorf("answering %s: %s ID %d stale %v since %v reason %q; want running, ID %d, fresh", z, zi.State, zi.ID, zi.Stale, zi.Since, zi.Reason, 100+i)
			}
		default:
			if zi.State != "installed" || zi.ID != -1 || zi.Stale {
				t.Errorf("installed %s: %s ID %d stale %v", z, zi.State, zi.ID, zi.Stale)
			}
		}
	}
	// zoneadm's order: global, zones with an ID by ID, then the others by
	// name, whatever order the answers came in.
	got := make([]string, len(list))
	for i, zi := range list {
		got[i] = zi.Name
	}
	want := append([]string(nil), got...)
	sort.SliceStable(want[1:], func(i, j int) bool {
		a, b := byName[want[1+i]], byName[want[1+j]]
		if (a.ID >= 0) != (b.ID >= 0) {
			return a.ID >= 0
		}
		if a.ID != b.ID {
			return a.ID < b.ID
		}
		return a.Name < b.Name
	})
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("order:\n got %v\nwant %v", got, want)
	}
	if got[1] != "a-held00" || got[len(got)-1] != fmt.Sprintf("c-inst%02d", installed-1) {
		t.Errorf("order: %v", got)
	}
}

// A listing whose caller gives up (the console's refresh timeout) returns
// the caller's error, never a partial list shown as whole.
func TestListCancelled(t *testing.T) {
	root := t.TempDir()
	e, err := New(root, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	gz := api.Principal{Zone: "global"}
	if err := e.CreateZone(ctx, gz, &zones.Config{Name: "cz1", Zonepath: "/zones/cz1"}); err != nil {
		t.Fatal(err)
	}
	cancel()
	if l, err := e.List(ctx, gz, api.ListOptions{Configured: true}); err == nil {
		t.Fatalf("cancelled listing returned %d zones and no error", len(l))
	}
}

// Listings running while zones boot and halt under them, with -race: the
// rows a listing fills at once share the store (its cache, SetState) and
// nothing else. Every listing names every zone once, in a state it may
// have, and the last one finds them all installed.
func TestListRacesBootHalt(t *testing.T) {
	needZones(t)
	base, err := os.MkdirTemp("", "zt-ccrace-")
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(base, "prefix")
	var names []string
	for i := range 3 {
		names = append(names, fmt.Sprintf("cc%d-%d", os.Getpid()%100000, i))
	}
	t.Cleanup(func() {
		for i, z := range names {
			// The base goes with the last zone's scrub, once every zone
			// is halted.
			b := ""
			if i == len(names)-1 {
				b = base
			}
			(&testZone{t: t, root: root, spec: configs.PlatformSpec{Name: z}}).scrub(b)
		}
	})
	if err := os.MkdirAll(filepath.Join(root, "zones"), 0o700); err != nil {
		t.Fatal(err)
	}
	e, err := New(root, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	gz := api.Principal{Zone: "global"}
	for _, z := range names {
		if err := e.CreateZone(ctx, gz, &zones.Config{Name: z, Zonepath: "/zones/" + z, Brand: "busybox", IPType: "shared"}); err != nil {
			t.Fatal(err)
		}
		if err := e.InstallZone(ctx, gz, z, "", nil); err != nil {
			t.Fatal(err)
		}
	}
	legal := map[string]bool{"installed": true, "ready": true, "running": true, "shutting_down": true, "down": true}
	stop := make(chan struct{})
	listersDone := make(chan int)
	for range 3 {
		go func() {
			n := 0
			defer func() { listersDone <- n }()
			for {
				select {
				case <-stop:
					return
				default:
				}
				l, err := e.List(ctx, gz, api.ListOptions{Configured: true, Installed: true})
				if err != nil {
					t.Errorf("list: %v", err)
					return
				}
				n++
				seen := map[string]int{}
				for _, zi := range l {
					seen[zi.Name]++
					if zi.Name != "global" && !legal[zi.State] {
						t.Errorf("zone %s listed %s (%s)", zi.Name, zi.State, zi.Reason)
					}
				}
				for _, z := range names {
					if seen[z] != 1 {
						t.Errorf("zone %s listed %d times: %+v", z, seen[z], l)
					}
				}
			}
		}()
	}
	changed := make(chan struct{})
	for _, z := range names {
		go func() {
			defer func() { changed <- struct{}{} }()
			for range 2 {
				if _, err := e.BootZone(ctx, gz, z, nil); err != nil {
					t.Errorf("boot %s: %v", z, err)
					return
				}
				if _, err := e.HaltZone(ctx, gz, z); err != nil {
					t.Errorf("halt %s: %v", z, err)
					return
				}
			}
		}()
	}
	for range names {
		<-changed
	}
	close(stop)
	lists := 0
	for range 3 {
		lists += <-listersDone
	}
	t.Logf("%d listings while %d zones booted and halted twice", lists, len(names))
	l, err := e.List(ctx, gz, api.ListOptions{Configured: true, Installed: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, zi := range l {
		if zi.Name != "global" && (zi.State != "installed" || zi.Stale || zi.ID != -1) {
			t.Errorf("after the last halt %s is %s (ID %d, stale %v, %s)", zi.Name, zi.State, zi.ID, zi.Stale, zi.Reason)
		}
	}
}
