package engine

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"zonetop/api"
	"zonetop/internal/configs"
	"zonetop/internal/wire"
	"zonetop/internal/wire/wiretest"
	"zonetop/zones"
)

// A running zone whose zoneadmd is alive but does not answer its status
// (a loaded host) is shown as zoneadmd last recorded it, marked stale,
// and never as the index's "installed": operations that check the state
// first refused the running zone as installed.
func TestLiveStateWhenZoneadmdDoesNotAnswer(t *testing.T) {
	for _, tc := range []struct {
		name string
		// status is what the stand-in zoneadmd does with a status
		// request: hang up unanswered, or keep it unanswered.
		hangUp bool
	}{{"hangs up", true}, {"slow", false}} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			e, err := New(root, "")
			if err != nil {
				t.Fatal(err)
			}
			old := statusWait
			statusWait = 500 * time.Millisecond
			t.Cleanup(func() { statusWait = old })
			ctx := context.Background()
			gz := api.Principal{Zone: "global"}
			const z = "lsz1"
			if err := e.CreateZone(ctx, gz, &zones.Config{Name: z, Zonepath: "/zones/" + z}); err != nil {
				t.Fatal(err)
			}
			if err := e.store.SetState(z, []zones.State{zones.StateConfigured}, zones.StateInstalled, ""); err != nil {
				t.Fatal(err)
			}
			// The zone's platform as its zoneadmd recorded it.
			if err := os.MkdirAll(configs.RunDir(root, z), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(configs.RunDir(root, z), "state.json"),
				[]byte(`{"state":"running","zoneid":7,"since":"2026-01-02T03:04:05Z"}`), 0o600); err != nil {
				t.Fatal(err)
			}
			standInZoneadmd(t, configs.ZoneadmdSock(root, z), tc.hangUp)

			listed := make(chan []api.ZoneInfo, 1)
			go func() {
				l, _ := e.List(ctx, gz, api.ListOptions{Installed: true})
				listed <- l
			}()
			var list []api.ZoneInfo
			select {
			case list = <-listed:
			case <-time.After(60 * time.Second):
				t.Fatal("zoneadm list waited for good on a zoneadmd that does not answer")
			}
			var got *api.ZoneInfo
			for i := range list {
				if list[i].Name == z {
					got = &list[i]
				}
			}
			if got == nil {
				t.Fatalf("zone %s not listed: %+v", z, list)
			}
			if got.State != "running" || got.ID != 7 || !got.Stale || !strings.Contains(got.Reason, "as zoneadmd last recorded it") {
				t.Fatalf("listed as %s (ID %d, stale %v, reason %q), want running, ID 7, stale", got.State, got.ID, got.Stale, got.Reason)
			}
			// What an operation checks goes by the same state: boot says
			// the zone runs, never that it is installed.
			_, err = e.BootZone(ctx, gz, z, nil)
			if err == nil || !strings.Contains(err.Error(), "already running") {
				t.Fatalf("boot of the running zone: %v, want already running", err)
			}
		})
	}
}

// standInZoneadmd serves sock as a zoneadmd that answers its liveness
// check and never a status: it hangs up on one when hangUp, or keeps the
// request unanswered until the test ends.
func standInZoneadmd(t *testing.T, sock string, hangUp bool) {
	t.Helper()
	wiretest.StandIn(t, sock, func(req wire.Request, done <-chan struct{}) *wire.Response {
		if req.Op == "ping" {
			return &wire.Response{OK: true}
		}
		if !hangUp {
			<-done
		}
		return nil
	})
}
