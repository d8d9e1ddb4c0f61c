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
		`not json`:                                          zones.StateShuttingDown,
	} {
		write([]byte(text))
		if got, up := RuntimeState(root, "z1"); !up || got != want {
			t.Errorf("%q read as %q (up %v), want %q", text, got, up, want)
		}
	}
	if _, up := RuntimeState(root, "../z1"); up {
		t.Error("a bad zone name is up")
	}
}
