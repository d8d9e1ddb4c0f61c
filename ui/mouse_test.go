package ui

import (
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
)

// lineOf is the screen line showing text, found on the screen as drawn,
// so a test clicks where an operator would see it.
func lineOf(t *testing.T, m *Model, text string) int {
	t.Helper()
	for i, l := range strings.Split(plain(m), "\n") {
		if strings.Contains(l, text) {
			return i
		}
	}
	t.Fatalf("%q is not on screen:\n%s", text, plain(m))
	return -1
}

func click(x, y int) tea.Msg { return tea.MouseClickMsg{X: x, Y: y, Button: tea.MouseLeft} }

func wheel(down bool) tea.Msg {
	if down {
		return tea.MouseWheelMsg{X: 10, Y: headerLines + 4, Button: tea.MouseWheelDown}
	}
	return tea.MouseWheelMsg{X: 10, Y: headerLines + 4, Button: tea.MouseWheelUp}
}

// In the process view, per zone and in a zone's detail, a click selects
// the row under it, a click on a title sorts by that column, and the
// wheel moves the selection; the zone table underneath stays where it
// was.
func TestMouseProcessView(t *testing.T) {
	for _, detail := range []bool{false, true} {
		h := newHarness(t, &fakeBackend{zones: fixtureZones()}, globalAdmin, 120, 30)
		h.send("web01")
		tableSel, _ := h.m.table.Selected()
		var v *procView
		if detail {
			h.send("", keys("/")...)
			h.send("", cat(typed("web01"), keys("enter"))...)
			h.send("sh -c load", keys("enter", "4")...)
			v = h.m.detail.pv
		} else {
			h.send("sh -c load", colon("procs web01")...)
			v = h.m.procs
		}
		h.update(click(5, lineOf(t, h.m, "sleep 60")))
		if r, _ := v.selected(); r.PID != 4251 {
			t.Fatalf("detail %t: click on sleep 60 selected pid %d", detail, r.PID)
		}
		h.update(wheel(false))
		if r, _ := v.selected(); r.PID == 4251 {
			t.Fatalf("detail %t: the wheel did not move the selection", detail)
		}
		// The titles: PID is the first column; clicked twice, the order flips.
		titles := lineOf(t, h.m, "COMMAND")
		h.update(click(2, titles))
		if v.sortCol != pcPID || v.desc || v.rows[0].PID != 4242 {
			t.Fatalf("detail %t: click on PID: sorted by %d desc %t, first %d", detail, v.sortCol, v.desc, v.rows[0].PID)
		}
		h.update(click(2, titles))
		if !v.desc || v.rows[0].PID != 4251 {
			t.Fatalf("detail %t: second click on PID did not reverse", detail)
		}
		if z, _ := h.m.table.Selected(); z.Name != tableSel.Name && !detail {
			t.Fatalf("the wheel over the view moved the table to %s", z.Name)
		}
	}
}

// In the projects grid a click selects a row and the wheel moves it;
// enter then opens the row clicked.
func TestMouseProjectsGrid(t *testing.T) {
	h := newHarness(t, newEditFake(), globalAdmin, 120, 30)
	h.send("web01")
	h.send("usage/limit per zone", colon("projects")...)
	h.update(click(30, lineOf(t, h.m, "frontend")))
	zone, row, _ := h.m.overviewSelected()
	if rows := gridRows(h.m.table.usage[zone]); rows[row].project != "frontend" {
		t.Fatalf("click on frontend selected %s/%s", zone, rows[row].project)
	}
	h.update(wheel(false))
	if _, r2, _ := h.m.overviewSelected(); r2 != row-1 {
		t.Fatalf("wheel up: row %d, want %d", r2, row-1)
	}
	// A click on the titles selects nothing.
	before := h.m.projects.sel
	h.update(click(30, lineOf(t, h.m, "PROJECT")))
	if h.m.projects.sel != before {
		t.Fatal("a click on the titles moved the selection")
	}
}

// The wheel scrolls the log (pausing the follow, as scrolling up with
// the keys does) and a command's output, three lines a notch.
func TestMouseScrollsText(t *testing.T) {
	h := newHarness(t, &fakeBackend{zones: fixtureZones()}, globalAdmin, 100, 20)
	h.send("web01")
	h.send("following", colon("logs web01")...)
	bottom := h.m.logs.scroll
	h.update(wheel(false))
	plain(h.m)
	if h.m.logs.follow || h.m.logs.scroll != bottom-textLines {
		t.Fatalf("wheel up: follow %t, scroll %d, want %d", h.m.logs.follow, h.m.logs.scroll, bottom-textLines)
	}
	h.send("paused", wheel(true))

	out := strings.Repeat("line\n", 40)
	h.update(commandMsg{line: "zoneadm list -cv", out: out})
	h.wait(":zoneadm list -cv")
	h.update(wheel(true))
	h.update(wheel(true))
	if h.m.output.scroll != 2*textLines {
		t.Fatalf("output after two notches: scroll %d", h.m.output.scroll)
	}
	h.update(wheel(false))
	if h.m.output.scroll != textLines {
		t.Fatalf("output after a notch back: scroll %d", h.m.output.scroll)
	}
}
