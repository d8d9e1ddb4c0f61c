package ui

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
	"zonetop/api"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
)

func names(zs []api.ZoneInfo) []string {
	out := make([]string, len(zs))
	for i, z := range zs {
		out[i] = z.Name
	}
	return out
}

func TestFilter(t *testing.T) {
	zones := fixtureZones()
	tests := []struct {
		pattern string
		want    []string
		bad     bool
	}{
		{"", []string{"web01", "db01", "batch", "build", "scratch", "half", "legacy"}, false},
		{"!", []string{"web01", "db01", "batch", "build", "scratch", "half", "legacy"}, false},
		{"web", []string{"web01"}, false},
		{"WEB", nil, false}, // smart case: an upper-case letter makes it exact
		{"^b", []string{"batch", "build", "batch"}[:2], false},
		{"running|ready", []string{"web01", "db01", "batch"}, false},
		{"!running", []string{"batch", "build", "scratch", "half", "legacy"}, false},
		{"!^(web|db)", []string{"batch", "build", "scratch", "half", "legacy"}, false},
		{"busy", []string{"batch", "legacy"}, false},       // brand busybox, reason "busy"
		{"excl", []string{"web01", "db01", "half"}, false}, // ip-type
		{"web(", nil, true}, // invalid: literal, no zone has "web("
		{"!web(", []string{"web01", "db01", "batch", "build", "scratch", "half", "legacy"}, true},
	}
	for _, tt := range tests {
		f := parseFilter(tt.pattern)
		var got []string
		for _, z := range zones {
			if f.match(z) {
				got = append(got, z.Name)
			}
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("filter %q matched %v, want %v", tt.pattern, got, tt.want)
		}
		if (f.err != nil) != tt.bad {
			t.Errorf("filter %q: err = %v, want error %v", tt.pattern, f.err, tt.bad)
		}
	}
}

func newTestTable(zs []api.ZoneInfo) *zoneTable {
	t := newZoneTable(newCommon(fixedClock))
	t.SetSize(160, 20)
	t.SetZones(zs)
	return t
}

// Sorting on a column with many equal keys gives the same order whatever
// order the engine listed the zones in, and equal keys go by name.
func TestSortStable(t *testing.T) {
	zs := manyZones(50)
	tb := newTestTable(zs)
	tb.SortBy(colStatus)
	want := names(tb.rows)
	for i := 1; i < len(want); i++ {
		a, b := tb.rows[i-1], tb.rows[i]
		if rank(a.State) > rank(b.State) || (a.State == b.State && a.Name > b.Name) {
			t.Fatalf("rows %d,%d out of order: %s/%s before %s/%s", i-1, i, a.State, a.Name, b.State, b.Name)
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 20 {
		shuffled := slices.Clone(zs)
		r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		tb.SetZones(shuffled)
		if got := names(tb.rows); !slices.Equal(got, want) {
			t.Fatalf("order changed after a refresh in another order:\n got %v\nwant %v", got, want)
		}
	}
	tb.Reverse()
	rev := names(tb.rows)
	if rev[0] == want[0] || tb.rows[0].State != "configured" {
		t.Fatalf("reverse sort starts with %s (%s), want a configured zone", rev[0], tb.rows[0].State)
	}
}

// The selection follows the zone, not the line: a refresh that inserts
// zones above it, or changes its state, keeps it selected.
func TestSelectionFollowsName(t *testing.T) {
	tb := newTestTable(fixtureZones())
	tb.Move(3) // batch build db01 half -> half
	if z, _ := tb.Selected(); z.Name != "half" {
		t.Fatalf("selected %s, want half", z.Name)
	}
	zs := append(fixtureZones(), api.ZoneInfo{Name: "aaa", State: "configured", ID: -1},
		api.ZoneInfo{Name: "abc", State: "configured", ID: -1})
	tb.SetZones(zs)
	if z, _ := tb.Selected(); z.Name != "half" {
		t.Fatalf("after zones were added above it, selected %s, want half", z.Name)
	}
	tb.SortBy(colStatus)
	if z, _ := tb.Selected(); z.Name != "half" {
		t.Fatalf("after a re-sort, selected %s, want half", z.Name)
	}
	// The zone goes away: the cursor stays where it was, on a neighbour.
	before := tb.cursor
	zs = slices.DeleteFunc(zs, func(z api.ZoneInfo) bool { return z.Name == "half" })
	tb.SetZones(zs)
	if tb.cursor != before {
		t.Fatalf("cursor moved from %d to %d when the selected zone vanished", before, tb.cursor)
	}
	tb.SetZones(nil)
	if _, ok := tb.Selected(); ok {
		t.Fatal("an empty table reports a selection")
	}
}

func TestRefreshDropsWhileRunning(t *testing.T) {
	fb := &fakeBackend{zones: fixtureZones()}
	m := newModel(fb, Options{Principal: globalAdmin, Now: fixedClock})
	first := m.startRefresh()
	if first == nil || !m.refreshing {
		t.Fatal("first refresh did not start")
	}
	// Ticks while the List is out are dropped, not queued.
	for range 3 {
		m.Update(tickMsg(fixedNow))
	}
	if m.dropped != 3 {
		t.Fatalf("dropped %d ticks, want 3", m.dropped)
	}
	if fb.calls != 0 {
		t.Fatalf("engine called %d times before the command ran", fb.calls)
	}
	msg := first()
	if fb.calls != 1 {
		t.Fatalf("engine called %d times, want 1", fb.calls)
	}
	m.Update(msg)
	if m.refreshing || !m.loaded || len(m.table.rows) != 7 {
		t.Fatalf("after the list arrived: refreshing=%v loaded=%v rows=%d", m.refreshing, m.loaded, len(m.table.rows))
	}
	if m.startRefresh() == nil {
		t.Fatal("refresh after the list arrived was dropped")
	}
}

func TestListErrorKeepsData(t *testing.T) {
	fb := &fakeBackend{zones: fixtureZones()}
	m := newModel(fb, Options{Principal: globalAdmin, Now: fixedClock})
	m.Update(tea.WindowSizeMsg{Width: 100, Height: 30})
	m.Update(m.startRefresh()())
	fb.err = errors.New("engine socket: connection refused")
	m.Update(m.startRefresh()())
	out := ansi.Strip(m.View().Content)
	if !strings.Contains(out, "list zones: engine socket: connection refused (showing the last good list)") {
		t.Fatalf("error not in the status line:\n%s", out)
	}
	if !strings.Contains(out, "web01") || len(m.table.rows) != 7 {
		t.Fatalf("table lost its data after a failed refresh:\n%s", out)
	}
	fb.err = nil
	m.Update(m.startRefresh()())
	if strings.Contains(ansi.Strip(m.View().Content), "connection refused") {
		t.Fatal("error still shown after a good refresh")
	}
}

func runLine(m *Model, line string) tea.Cmd {
	m.Update(press(":"))
	for _, k := range typed(line) {
		m.Update(k)
	}
	_, cmd := m.Update(press("enter"))
	return cmd
}

func isQuit(cmd tea.Cmd) bool {
	if cmd == nil {
		return false
	}
	_, ok := cmd().(tea.QuitMsg)
	return ok
}

func TestCommandLine(t *testing.T) {
	m := newModel(&fakeBackend{}, Options{Principal: globalAdmin, Now: fixedClock})
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	if cmd := runLine(m, "boot web01"); cmd != nil {
		t.Fatal("unknown command without a hook returned a command")
	}
	if !m.flashErr || m.flash != "unknown command: boot web01" {
		t.Fatalf("status = %q (error %v), want unknown command", m.flash, m.flashErr)
	}
	for _, q := range []string{"q", "quit", " quit "} {
		if cmd := runLine(m, q); !isQuit(cmd) {
			t.Fatalf(":%s did not quit", q)
		}
	}

	var got string
	m = newModel(&fakeBackend{}, Options{Principal: globalAdmin, Now: fixedClock,
		Command: func(line string) (string, error) {
			got = line
			if line == "halt db01" {
				return "", errors.New("zone db01 is installed; boot it first")
			}
			if line == "zonecfg -z web01 set autoboot=true" {
				return "", nil
			}
			return "web01 booted", nil
		}})
	cmd := runLine(m, "boot web01")
	if cmd == nil {
		t.Fatal("the hook was not run")
	}
	m.Update(cmd())
	if got != "boot web01" || m.flash != "web01 booted" || m.flashErr {
		t.Fatalf("hook got %q, status %q (error %v)", got, m.flash, m.flashErr)
	}
	if !m.refreshing {
		t.Fatal("a command did not trigger a refresh")
	}
	m.Update(runLine(m, "halt db01")())
	if !m.flashErr || !strings.Contains(m.flash, "halt db01: zone db01 is installed") {
		t.Fatalf("hook error shown as %q", m.flash)
	}
	m.Update(runLine(m, "zonecfg -z web01 set autoboot=true")())
	if m.flashErr || m.flash != "done: zonecfg -z web01 set autoboot=true" {
		t.Fatalf("silent success shown as %q", m.flash)
	}
	// esc abandons the line without running it.
	got = ""
	m.Update(press(":"))
	for _, k := range typed("boot x") {
		m.Update(k)
	}
	m.Update(press("esc"))
	if got != "" || m.mode != inputNone {
		t.Fatalf("esc ran %q or left the input open", got)
	}
}

func TestFilterKeys(t *testing.T) {
	m := newModel(&fakeBackend{}, Options{Principal: globalAdmin, Now: fixedClock})
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	m.Update(zonesMsg{zones: fixtureZones()})
	m.Update(press("/"))
	for _, k := range typed("db") {
		m.Update(k)
	}
	if len(m.table.rows) != 1 {
		t.Fatalf("filter did not apply while typing: %v", names(m.table.rows))
	}
	m.Update(press("enter"))
	if m.mode != inputNone || len(m.table.rows) != 1 {
		t.Fatal("enter did not keep the filter")
	}
	// q is a key again once the filter line is closed, but typed into the
	// filter it is just a letter.
	m.Update(press("/"))
	if _, cmd := m.Update(press("q")); isQuit(cmd) {
		t.Fatal("q in the filter line quit")
	}
	m.Update(press("esc"))
	if m.table.filter.active() || len(m.table.rows) != 7 {
		t.Fatal("esc did not clear the filter")
	}
	// A pasted pattern filters like a typed one.
	m.Update(press("/"))
	m.Update(tea.PasteMsg{Content: "^(web|db)"})
	if got := names(m.table.rows); !slices.Equal(got, []string{"db01", "web01"}) {
		t.Fatalf("pasted filter left %v", got)
	}
}

func TestMouseSelects(t *testing.T) {
	m := newModel(&fakeBackend{}, Options{Principal: globalAdmin, Now: fixedClock})
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	m.Update(zonesMsg{zones: fixtureZones()})
	// headerLines, then the column titles, then batch build db01 ...
	m.Update(tea.MouseClickMsg{X: 10, Y: headerLines + 3, Button: tea.MouseLeft})
	if z, _ := m.table.Selected(); z.Name != "db01" {
		t.Fatalf("click selected %s, want db01", z.Name)
	}
	// Below the last zone: nothing changes.
	m.Update(tea.MouseClickMsg{X: 10, Y: headerLines + 15, Button: tea.MouseLeft})
	if z, _ := m.table.Selected(); z.Name != "db01" {
		t.Fatalf("click below the rows selected %s", z.Name)
	}
	// On a title: sort by that column.
	m.Update(tea.MouseClickMsg{X: 16, Y: headerLines, Button: tea.MouseLeft})
	if m.table.sortCol != colStatus {
		t.Fatalf("click on STATUS sorted by %s", columns[m.table.sortCol].title)
	}
}

func TestKeysMove(t *testing.T) {
	m := newModel(&fakeBackend{}, Options{Principal: globalAdmin, Now: fixedClock})
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	m.Update(zonesMsg{zones: manyZones(100)})
	steps := []struct {
		key  tea.Msg
		want int
	}{
		{press("j"), 1}, {press("down"), 2}, {press("k"), 1},
		{tea.KeyPressMsg{Code: tea.KeyPgDown}, 1 + m.table.pageSize()},
		{tea.KeyPressMsg{Code: tea.KeyEnd}, 99}, {press("j"), 99},
		{tea.KeyPressMsg{Code: tea.KeyHome}, 0}, {press("k"), 0},
	}
	for i, s := range steps {
		m.Update(s.key)
		if m.table.cursor != s.want {
			t.Fatalf("step %d: cursor %d, want %d", i, m.table.cursor, s.want)
		}
		if m.table.cursor < m.table.offset || m.table.cursor >= m.table.offset+m.table.pageSize() {
			t.Fatalf("step %d: cursor %d off screen (offset %d)", i, m.table.cursor, m.table.offset)
		}
	}
}

// At every size the screen is exactly the terminal: no line wider, no
// more lines, so nothing wraps or scrolls; and narrow terminals lose
// PATH, then BRAND.
func TestEverySizeFits(t *testing.T) {
	for w := 20; w <= 200; w += 7 {
		for h := 5; h <= 60; h += 11 {
			// With the host's meters too, a third header line.
			var b Backend = &fakeBackend{}
			if w%2 == 0 {
				b = withHost()
			}
			m := newModel(b, Options{Principal: globalAdmin, Now: fixedClock})
			m.Update(tea.WindowSizeMsg{Width: w, Height: h})
			host, _ := b.(HostUsageBackend)
			var hu *api.HostUsage
			if host != nil {
				u, _ := host.HostUsage(context.Background(), globalAdmin)
				hu = &u
			}
			m.Update(zonesMsg{zones: fixtureZones(), host: hu})
			for _, help := range []bool{false, true} {
				if help {
					m.Update(press("?"))
				}
				lines := strings.Split(m.View().Content, "\n")
				if len(lines) != h {
					t.Fatalf("%dx%d help=%v: %d lines", w, h, help, len(lines))
				}
				for i, l := range lines {
					if lw := ansi.StringWidth(l); lw > w {
						t.Fatalf("%dx%d help=%v: line %d is %d wide: %q", w, h, help, i, lw, ansi.Strip(l))
					}
				}
			}
		}
	}
	cols := func(w int) string {
		m := newModel(&fakeBackend{}, Options{Principal: globalAdmin, Now: fixedClock})
		m.Update(tea.WindowSizeMsg{Width: w, Height: 24})
		m.Update(zonesMsg{zones: fixtureZones()})
		return strings.Join(strings.Fields(ansi.Strip(m.table.titles())), " ")
	}
	for w, want := range map[int]string{
		160: "ID NAME↑ STATUS BRAND IP-TYPE CPU% MEMORY LWPS UPTIME CPU~ MEM~ PATH REASON",
		120: "ID NAME↑ STATUS BRAND IP-TYPE CPU% MEMORY LWPS UPTIME CPU~ MEM~",
		80:  "ID NAME↑ STATUS BRAND IP-TYPE CPU% MEMORY LWPS",
		60:  "ID NAME↑ STATUS CPU% MEMORY",
		45:  "ID NAME↑ STATUS CPU%",
	} {
		if got := cols(w); got != want {
			t.Errorf("width %d: columns %q, want %q", w, got, want)
		}
	}
}

func TestWho(t *testing.T) {
	for p, want := range map[api.Principal]string{
		{UID: 0, Zone: "global"}:                   "global administrator",
		{UID: 1000, Zone: "web01"}:                 "zone administrator of web01",
		{UID: 1000, Zone: "global"}:                "uid 1000 in the global zone (delegated zones only)",
		{UID: 1000, User: "alice", Zone: "global"}: "alice in the global zone (delegated zones only)",
	} {
		if got := whoText(p); got != want {
			t.Errorf("%+v: %q, want %q", p, got, want)
		}
	}
}

// BenchmarkRenderTable100 and 1000 are a frame's drawing, the console's
// frame time, over a fake backend with that many zones, the selection
// half way down.
func BenchmarkRenderTable100(b *testing.B)  { benchRenderTable(b, 100) }
func BenchmarkRenderTable1000(b *testing.B) { benchRenderTable(b, 1000) }

func benchRenderTable(b *testing.B, n int) {
	m := newModel(&fakeBackend{}, Options{Principal: globalAdmin, Now: fixedClock, Refresh: time.Second})
	m.Update(tea.WindowSizeMsg{Width: 160, Height: 48})
	m.Update(zonesMsg{zones: manyZones(n)})
	m.table.Move(n / 2)
	b.ReportAllocs()
	for b.Loop() {
		_ = m.View()
	}
}

// BenchmarkRefresh1000 is the other half of a frame's cost: taking in a
// fresh list of 1,000 zones (filter, sort, layout).
func BenchmarkRefresh1000(b *testing.B) {
	m := newModel(&fakeBackend{}, Options{Principal: globalAdmin, Now: fixedClock})
	m.Update(tea.WindowSizeMsg{Width: 160, Height: 48})
	zs := manyZones(1000)
	for i := range zs {
		zs[i].Name = fmt.Sprintf("z%04d", (i*7919)%1000)
	}
	b.ReportAllocs()
	for b.Loop() {
		m.Update(zonesMsg{zones: zs})
	}
}
