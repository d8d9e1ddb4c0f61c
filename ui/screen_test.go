package ui

import (
	"bytes"
	"testing"
	"time"
	"zonetop/api"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/charmbracelet/x/exp/teatest/v2"
)

// screen runs the console in a teatest program of w×h over zones, waits
// for want to be drawn, plays keys and returns the final screen without
// colour. The refresh is an hour so no tick lands mid-test; the clock is
// fixed so the header is stable.
func screen(t *testing.T, zones []api.ZoneInfo, w, h int, want string, keys ...tea.Msg) *Model {
	t.Helper()
	fb := &fakeBackend{zones: zones}
	m := newModel(fb, Options{Principal: globalAdmin, Refresh: time.Hour, Now: fixedClock})
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(w, h))
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool { return bytes.Contains(b, []byte(want)) },
		teatest.WithDuration(10*time.Second))
	for _, k := range keys {
		tm.Send(k)
	}
	if err := tm.Quit(); err != nil {
		t.Fatal(err)
	}
	fm, ok := tm.FinalModel(t, teatest.WithFinalTimeout(10*time.Second)).(*Model)
	if !ok {
		t.Fatal("final model is not *ui.Model")
	}
	return fm
}

func press(s string) tea.Msg {
	switch s {
	case "esc":
		return tea.KeyPressMsg{Code: tea.KeyEscape}
	case "enter":
		return tea.KeyPressMsg{Code: tea.KeyEnter}
	case "down":
		return tea.KeyPressMsg{Code: tea.KeyDown}
	}
	r := []rune(s)[0]
	return tea.KeyPressMsg{Code: r, Text: s}
}

func typed(s string) []tea.Msg {
	var out []tea.Msg
	for _, r := range s {
		out = append(out, press(string(r)))
	}
	return out
}

func plain(m *Model) string { return ansi.Strip(m.View().Content) }

func TestGoldenMain80x24(t *testing.T) {
	m := screen(t, fixtureZones(), 80, 24, "web01")
	golden.RequireEqual(t, plain(m))
}

func TestGoldenMain160x48(t *testing.T) {
	m := screen(t, fixtureZones(), 160, 48, "web01")
	golden.RequireEqual(t, plain(m))
}

// The coloured golden keeps the state colours and the selection bar from
// regressing; the plain ones are for reading.
func TestGoldenMainColour(t *testing.T) {
	m := screen(t, fixtureZones(), 80, 24, "web01")
	golden.RequireEqual(t, m.View().Content)
}

// The selected zone in `down` explains itself in the status line, which
// survives even when REASON has no room.
func TestGoldenDownReasonNarrow(t *testing.T) {
	m := screen(t, fixtureZones(), 60, 20, "web01", press("/"), press("l"), press("e"), press("g"), press("enter"))
	golden.RequireEqual(t, plain(m))
}

func TestGoldenTooSmall(t *testing.T) {
	m := screen(t, fixtureZones(), 30, 8, "too small")
	golden.RequireEqual(t, plain(m))
}
