package ui

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
	"zonetop/api"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/exp/golden"
)

func TestParseLimit(t *testing.T) {
	tests := []struct {
		rctl, value string
		want        uint64
		bad         string // part of the error; "" for none
	}{
		{"zone.max-lwps", "150", 150, ""},
		{"zone.max-lwps", " 1.5K ", 1500, ""},
		{"zone.max-lwps", "15x", 0, "not a number"},
		{"zone.max-lwps", "", 0, "empty"},
		{"zone.max-physical-memory", "64M", 64 << 20, ""},
		{"zone.max-physical-memory", "1.5G", 3 << 29, ""},
		{"zone.max-physical-memory", "1q", 0, "not a number"},
		{"zone.cpu-cap", "0.5", 50, ""},
		{"zone.cpu-cap", "2", 200, ""},
		{"zone.cpu-cap", "50%", 50, ""},
		{"zone.cpu-cap", "0.555", 0, "two decimals"},
		{"zone.cpu-cap", "0", 0, "remove the cap"},
		{"zone.cpu-cap", "-1", 0, "number of CPUs"},
		{"zone.cpu-shares", "70000", 0, "system maximum"},
		{"project.cpu-shares", "10", 10, ""},
		{"project.max-shm-memory", "1G", 1 << 30, ""},
		{"zone.no-such", "1", 0, "unknown resource control"},
	}
	for _, tt := range tests {
		got, err := ParseLimit(tt.rctl, tt.value)
		switch {
		case tt.bad == "" && err != nil:
			t.Errorf("ParseLimit(%s, %q): %v", tt.rctl, tt.value, err)
		case tt.bad != "" && (err == nil || !strings.Contains(err.Error(), tt.bad)):
			t.Errorf("ParseLimit(%s, %q) = %d, %v; want an error about %q", tt.rctl, tt.value, got, err, tt.bad)
		case tt.bad == "" && got != tt.want:
			t.Errorf("ParseLimit(%s, %q) = %d, want %d", tt.rctl, tt.value, got, tt.want)
		}
	}
	for _, tt := range []struct{ rctl, value, want string }{
		{"zone.max-lwps", "150", "(privileged,150,deny)"},
		{"zone.cpu-cap", "0.25", "(privileged,25,deny)"},
		{"project.cpu-shares", "10", "(privileged,10,none)"}, // shares never deny
		{"project.max-memory", "", ""},                       // removes the limit
	} {
		if got, err := RctlValues(tt.rctl, tt.value); err != nil || got != tt.want {
			t.Errorf("RctlValues(%s, %q) = %q, %v; want %q", tt.rctl, tt.value, got, err, tt.want)
		}
	}
	// An edit starts from the current value, typed back the way it parses.
	for _, tt := range []struct {
		unit string
		n    uint64
	}{{"count", 200}, {"bytes", 512 << 20}, {"bytes", 1000}, {"cpu", 150}} {
		rctl := map[string]string{"count": "zone.max-lwps", "bytes": "zone.max-physical-memory", "cpu": "zone.cpu-cap"}[tt.unit]
		if got, err := ParseLimit(rctl, typedLimit(tt.unit, tt.n)); err != nil || got != tt.n {
			t.Errorf("typedLimit(%s, %d) = %q reads back as %d, %v", tt.unit, tt.n, typedLimit(tt.unit, tt.n), got, err)
		}
	}
}

func TestProjectFormValidates(t *testing.T) {
	f := &projectForm{zone: "web01", taken: map[string]bool{"default": true}, takenIDs: map[int]string{100: "frontend"}}
	f.fields = []*formField{newTextField("name", "", ""), newTextField("id", "", ""), newTextField("comment", "", "")}
	for _, r := range projectFormLimits {
		f.fields = append(f.fields, newTextField(r, r, ""))
	}
	set := func(i int, v string) { f.fields[i].input.SetValue(v) }
	for _, tt := range []struct {
		field int
		value string
		bad   string
	}{
		{pfName, "9lives", "must start with a letter"},
		{pfName, "default", "already exists"},
		{pfID, "42", "want 100"},
		{pfID, "100", "used by project frontend"},
		{pfID, "x", "not a whole number"},
		{pfComment, "a:b", "':'"},
		{pfLimits, "12q", "not a number"},
		{pfLimits + 3, "0.333", "two decimals"}, // project.cpu-cap
	} {
		set(pfName, "backend")
		set(pfID, "")
		set(pfComment, "")
		set(pfLimits, "")
		set(pfLimits+3, "")
		set(tt.field, tt.value)
		if f.validate() || !strings.Contains(f.fields[tt.field].err, tt.bad) {
			t.Errorf("field %d = %q: error %q, want one about %q", tt.field, tt.value, f.fields[tt.field].err, tt.bad)
		}
	}
	set(pfName, "backend")
	set(pfID, "")
	set(pfComment, "")
	set(pfLimits, "1.5K")
	set(pfLimits+3, "")
	set(pfLimits+1, "512M")
	if !f.validate() {
		t.Fatalf("a good project is refused: %+v", f.fields)
	}
	s := f.spec()
	if s.Name != "backend" || s.ID != 0 || len(s.Limits) != 2 || s.Limits["project.max-memory"] != "512M" {
		t.Fatalf("spec = %+v", s)
	}
}

func backspaces(n int) []tea.Msg {
	out := make([]tea.Msg, n)
	for i := range out {
		out[i] = tea.KeyPressMsg{Code: tea.KeyBackspace}
	}
	return out
}

func cat(parts ...[]tea.Msg) []tea.Msg { return slices.Concat(parts...) }

// The global administrator edits a cap inline: a bad value is refused as
// it is typed and never reaches the engine; enter applies live; P (or tab
// in the edit) also persists; the result is in the status line and the
// events log.
func TestCapEditLive(t *testing.T) {
	b := newEditFake()
	h := newHarness(t, b, globalAdmin, 100, 30)
	h.send("web01")
	h.send("zone.max-lwps", keys("G", "enter", "2")...)
	h.send("↳ new limit", keys("down", "e")...)
	h.send(`quantity "15x"`, cat(backspaces(3), typed("15x"))...)
	h.update(press("enter"))
	if got := b.calls(); len(got) != 0 {
		t.Fatalf("a bad value reached the engine: %v", got)
	}
	h.send("zone.max-lwps of web01 set to 150 (live only", cat(backspaces(1), typed("0"), keys("enter"))...)
	h.send("[x] persist", keys("down", "P")...)
	h.send("(live and in the configuration)", cat(backspaces(4), typed("1G"), keys("enter"))...)
	h.send("[x] persist", keys("e", "tab")...)
	h.send("[ ] persist", keys("tab")...)
	// esc leaves the edit; nothing is sent.
	h.update(press("esc"))
	h.send("zone.cpu-cap of web01 set to 0.5 (live only", cat(keys("up", "up", "e"), backspaces(4), typed("0.5"), keys("enter"))...)
	want := []string{"cap web01 zone.max-lwps=150 persist=false",
		"cap web01 zone.max-physical-memory=1G persist=true",
		"cap web01 zone.cpu-cap=0.5 persist=false"}
	if got := b.calls(); !slices.Equal(got, want) {
		t.Fatalf("engine calls %v, want %v", got, want)
	}
	h.send("set-cap", keys("7")...)
}

// A zone administrator sees the caps read-only: each marked, no edit keys
// in help, and a typed edit key gets the engine's refusal.
func TestCapEditZoneAdminRefused(t *testing.T) {
	za := api.Principal{UID: 0, Zone: "web01"}
	b := editFake{usageFake{&fakeBackend{zones: fixtureZones()[:1]}}, new([]string)}
	h := newHarness(t, b, za, 100, 30)
	h.send("1 running")
	h.send("set by the global administrator", keys("enter", "2")...)
	m := h.m
	if hv := m.helpView(); strings.Contains(hv, "edit") || strings.Contains(hv, "persist") {
		t.Fatalf("help offers cap edits to a zone administrator: %s", hv)
	}
	if n := strings.Count(plain(m), "set by the global administrator"); n < 4 {
		t.Fatalf("%d caps marked as the global administrator's, want every one:\n%s", n, plain(m))
	}
	h.send("zone caps are set by the global administrator", keys("e")...)
	if m.detail.edit != nil {
		t.Fatal("an edit opened for a zone administrator")
	}
	h.send("permission denied", keys("P")...)
	if got := b.calls(); len(got) != 0 {
		t.Fatalf("engine changed caps for a zone administrator: %v", got)
	}
	// The same administrator edits its zone's projects.
	h.send("frontend", keys("3")...)
	if hv := m.helpView(); !strings.Contains(hv, "add") {
		t.Fatalf("help hides project edits from the zone's administrator: %s", hv)
	}
	h.send("project.max-lwps of web01:frontend set to 40", cat(keys("j", "e"), backspaces(2), typed("40"), keys("enter"))...)
}

func TestProjectsEdit(t *testing.T) {
	b := newEditFake()
	h := newHarness(t, b, globalAdmin, 100, 30)
	h.send("web01")
	h.send("frontend 100", keys("G", "enter", "3")...)
	// The zone's caps lead, then its own projects. The caps are no
	// project; default cannot go; frontend can, after its name is typed.
	h.send("not a project", keys("d")...)
	h.send("cannot be deleted", keys("j", "j", "d")...)
	h.send("type frontend", keys("k", "d")...)
	h.send("not frontend; nothing done", cat(typed("front"), keys("enter"))...)
	h.send("project frontend deleted from web01", cat(keys("d"), typed("frontend"), keys("enter"))...)
	// Edit a project limit in place.
	h.send("project.max-memory of web01:frontend set to 300M",
		cat(keys("right", "e"), backspaces(4), typed("300M"), keys("enter"))...)
	// Add a project with limits; a bad id shows beside its field first.
	h.send("New project in web01", keys("a")...)
	h.send("want 100", cat(typed("backend"), keys("tab"), typed("42"))...)
	h.send("project backend added to web01",
		cat(backspaces(2), typed("120"), keys("tab"), typed("the API"), keys("tab"), typed("200"),
			keys("tab"), typed("1G"), []tea.Msg{tea.KeyPressMsg{Code: 's', Mod: tea.ModCtrl}})...)
	want := []string{"projdel web01:frontend",
		"limit web01:frontend project.max-memory=300M",
		`projadd web01 backend id=120 comment="the API" project.max-lwps=200,project.max-memory=1G`}
	if got := b.calls(); !slices.Equal(got, want) {
		t.Fatalf("engine calls:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	h.send("projadd", keys("7")...)
}

// Without the editing interfaces the tabs say so instead of failing.
func TestEditNotAvailable(t *testing.T) {
	h := newHarness(t, withUsage(), globalAdmin, 100, 30)
	h.send("web01")
	h.send("zone.max-lwps", keys("G", "enter", "2")...)
	h.send("editing zone caps is not available", keys("e")...)
	h.send("default 3", keys("3")...)
	h.send("editing projects is not available", keys("a")...)
}

func TestGoldenCapEdit(t *testing.T) {
	for _, sz := range sizes {
		t.Run(fmt.Sprintf("%dx%d", sz.w, sz.h), func(t *testing.T) {
			m := run(t, newEditFake(), globalAdmin, sz.w, sz.h,
				step{want: "web01"},
				step{keys: keys("G", "enter", "2"), want: "zone.max-lwps"},
				step{keys: cat(keys("down", "P"), backspaces(3), typed("15x")), want: "15x"})
			golden.RequireEqual(t, plain(m))
		})
	}
}

func TestGoldenProjectForm(t *testing.T) {
	for _, sz := range sizes {
		t.Run(fmt.Sprintf("%dx%d", sz.w, sz.h), func(t *testing.T) {
			m := run(t, newEditFake(), globalAdmin, sz.w, sz.h,
				step{want: "web01"},
				step{keys: keys("G", "enter", "3"), want: "frontend"},
				step{keys: cat(keys("a"), typed("backend"), keys("tab", "tab"), typed("the API"), keys("tab"), typed("20x")), want: "20x"})
			golden.RequireEqual(t, plain(m))
		})
	}
}

// Every visible column sorts by its own key; pressed again it flips; `s`
// cycles only the columns on screen.
func TestSortKeys(t *testing.T) {
	m := newModel(withUsage(), Options{Principal: globalAdmin, Refresh: time.Hour, Now: fixedClock})
	m.Update(tea.WindowSizeMsg{Width: 160, Height: 30})
	m.Update(m.startRefresh()())
	bound := map[int]bool{}
	for _, s := range m.c.keys.SortKeys {
		bound[s.col] = true
		if m.actionVerb(press(s.Keys()[0]).(tea.KeyPressMsg)) != "" {
			t.Errorf("sort key %s is also an action key", s.Keys()[0])
		}
	}
	for _, col := range displayOrder {
		if !bound[col] {
			t.Errorf("column %s has no sort key", columns[col].title)
		}
	}
	m.Update(press("C"))
	if m.table.sortCol != colCPU || m.table.sortDesc {
		t.Fatalf("C sorts by %s desc=%v", columns[m.table.sortCol].title, m.table.sortDesc)
	}
	if !strings.Contains(plain(m), "CPU%↑") {
		t.Fatal("no sort indicator on CPU%")
	}
	m.Update(press("C"))
	if !m.table.sortDesc || m.table.rows[0].Name != "web01" {
		t.Fatalf("C again: desc=%v, first %s (want the busiest, web01)", m.table.sortDesc, m.table.rows[0].Name)
	}
	m.Update(press("A"))
	if m.table.sortCol != colCPUTrend {
		t.Fatalf("A sorts by %s", columns[m.table.sortCol].title)
	}
	// At 80 columns the trends and PATH are off screen: s skips them.
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	m.Update(press("N"))
	for range len(sortable) {
		m.Update(press("s"))
		if !slices.Contains(m.table.visible, m.table.sortCol) {
			t.Fatalf("s sorted by %s, which is not on screen", columns[m.table.sortCol].title)
		}
	}
}

// A zone administrator on a backend without cap editing (a zone's own
// socket) still reads why, in the engine's words.
func TestCapEditZoneAdminNoEditor(t *testing.T) {
	za := api.Principal{UID: 0, Zone: "web01"}
	h := newHarness(t, usageFake{&fakeBackend{zones: fixtureZones()[:1]}}, za, 100, 30)
	h.send("1 running")
	h.send("set by the global administrator", keys("enter", "2")...)
	h.send("permission denied: zone caps are set by the global administrator", keys("e")...)
}
