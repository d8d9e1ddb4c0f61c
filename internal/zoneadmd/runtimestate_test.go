package zoneadmd

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"zonetop/internal/configs"
	"zonetop/zones"
)

// RuntimeState reads the state zoneadmd's saveLocked writes by the
// decoder, whatever the layout.
func TestRuntimeState(t *testing.T) {
	root := t.TempDir()
	dir := configs.RunDir(root, "z1")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, up := RuntimeState(root, "z1"); up {
		t.Error("up without a state.json")
	}
	write := func(b []byte) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, "state.json"), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, st := range []string{configs.StateReady, configs.StateRunning, configs.StateShuttingDown, configs.StateDown} {
		b, err := json.MarshalIndent(RunState{State: st, ZoneID: 3, Reason: "a \"quoted\" reason"}, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		write(b)
		if got, up := RuntimeState(root, "z1"); !up || string(got) != st {
			t.Errorf("state %s read as %q (up %v)", st, got, up)
		}
	}
	for text, want := range map[string]zones.State{
		`{"zoneid": 3, "state": "down"}`:                    zones.StateDown,
		"{\n  \"state\": \"down\", \"state\": \"running\"}": zones.StateRunning,
		"{\n  \"state\": \"run\\u006eing\"}":                zones.StateRunning,
		`{"state": ""}`:                                     zones.StateShuttingDown,
	} {
		write([]byte(text))
		if got, up := RuntimeState(root, "z1"); !up || got != want {
			t.Errorf("%q read as %q (up %v), want %q", text, got, up, want)
		}
	}
	// What a crash of the machine leaves of an unsynced write, with no
	// zoneadmd serving: no platform, so boot may start one, which drops
	// the file (adopt).
	for _, text := range []string{`not json`, ``, `{"state": "runn`} {
		write([]byte(text))
		if got, up := RuntimeState(root, "z1"); up {
			t.Errorf("%q with no zoneadmd read as up, state %q", text, got)
		}
	}
	if _, up := RuntimeState(root, "../z1"); up {
		t.Error("a bad zone name is up")
	}
}

// adopt takes an unreadable state.json for what a crash of the machine
// left (run files are written unsynced) and drops it with spec.json, so
// the zone reads as having no platform.
func TestAdoptDropsUnreadableState(t *testing.T) {
	dir := t.TempDir()
	for f, b := range map[string]string{"state.json": `{"state": "runn`, "spec.json": `{}`} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte(b), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	d := &zoneadmd{dir: dir}
	if err := d.adopt(); err != nil {
		t.Fatalf("adopt: %v", err)
	}
	for _, f := range []string{"state.json", "spec.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); !os.IsNotExist(err) {
			t.Errorf("%s kept (%v)", f, err)
		}
	}
	if d.st.State != "" {
		t.Errorf("state %q adopted from an unreadable file", d.st.State)
	}
}
