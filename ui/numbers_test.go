package ui

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"zonetop/api"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"
)

// liveFake is a backend whose samples a test changes between refreshes,
// with the host's figures beside them.
type liveFake struct {
	*fakeBackend
	mu    sync.Mutex
	usage map[string]ZoneUsage
	host  api.HostUsage
}

func (l *liveFake) Usage(_ context.Context, _ api.Principal, zone string) (ZoneUsage, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.usage[zone], nil
}

func (l *liveFake) HostUsage(context.Context, api.Principal) (api.HostUsage, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.host, nil
}

func (l *liveFake) set(zone string, u ZoneUsage) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.usage[zone] = u
}

var globalInfo = api.ZoneInfo{ID: 0, Name: "global", State: "running", Path: "/", Brand: "native", IPType: "shared"}

// newLiveFake: a zone capped at a quarter CPU using 0.2 of it, one
// uncapped using half a CPU, and a host of 4 CPUs with one busy.
func newLiveFake() *liveFake {
	z := func(id int, name string) api.ZoneInfo {
		return api.ZoneInfo{ID: id, Name: name, State: "running", Path: "/zones/" + name, Brand: "sparse", IPType: "shared"}
	}
	return &liveFake{
		fakeBackend: &fakeBackend{zones: []api.ZoneInfo{globalInfo, z(1, "capped"), z(2, "free")}},
		usage: map[string]ZoneUsage{
			"capped": {CPU: 0.2, CPUCap: 0.25, Memory: 100 << 20, MemoryCap: 1 << 30, LWPs: 20},
			"free":   {CPU: 0.5, Memory: 8 << 20, LWPs: 30},
		},
		host: api.HostUsage{CPUs: 4, CPUPct: 100, MemTotal: 8 << 30, MemUsed: 2 << 30, LWPs: 500},
	}
}

// refresh runs one refresh to its end, in the test's goroutine.
func (h *harness) refresh() {
	h.t.Helper()
	if cmd := h.m.startRefresh(); cmd != nil {
		h.m.Update(cmd())
	}
}

// until pumps messages until cond holds.
func (h *harness) until(what string, cond func() bool) {
	h.t.Helper()
	timeout := time.After(10 * time.Second)
	for !cond() {
		select {
		case msg := <-h.ch:
			h.update(msg)
		case <-timeout:
			h.t.Fatalf("%s: not after 10s:\n%s", what, plain(h.m))
		}
	}
}

// rowOf is a zone's line of the table, without colour.
func rowOf(m *Model, zone string) string {
	for _, l := range strings.Split(plain(m), "\n") {
		f := strings.Fields(l)
		if len(f) > 1 && f[1] == zone {
			return l
		}
	}
	return ""
}

func cell(m *Model, zone string, col int) string {
	z, _ := m.zoneByName(zone)
	text, _ := columns[col].live(m.table, z, trendWidth)
	return text
}

// CPU% means percent of one CPU in every row, capped or not, so a sort
// by it orders zones by CPU used; the global zone has figures of its own
// and the header has the host's.
func TestUsageOneMeaningCPU(t *testing.T) {
	for _, sz := range sizes {
		lf := newLiveFake()
		h := newHarness(t, lf, globalAdmin, sz.w, sz.h)
		h.wait("free")
		h.refresh()
		if got := cell(h.m, "capped", colCPU); got != "20" {
			t.Errorf("%dx%d: capped zone's CPU%% %q, want 20 (percent of one CPU)", sz.w, sz.h, got)
		}
		if got := cell(h.m, "free", colCPU); got != "50" {
			t.Errorf("%dx%d: uncapped zone's CPU%% %q, want 50", sz.w, sz.h, got)
		}
		// The host's 100 less the zones' 70.
		if got := cell(h.m, "global", colCPU); got != "30" {
			t.Errorf("%dx%d: global zone's CPU%% %q, want 30", sz.w, sz.h, got)
		}
		if got := cell(h.m, "global", colMem); got == "-" || got == "" {
			t.Errorf("%dx%d: global zone's MEMORY %q", sz.w, sz.h, got)
		}
		h.m.Update(press("C"))
		if got := names(h.m.table.rows); !slices.Equal(got, []string{"capped", "global", "free"}) {
			t.Errorf("%dx%d: sorted by CPU%%: %v, want capped global free", sz.w, sz.h, got)
		}
		scr := plain(h.m)
		for _, want := range []string{"CPU ", "100% of 4 CPUs", "MEM ", "2G/8G", "LWPS 500"} {
			if !strings.Contains(scr, want) {
				t.Errorf("%dx%d: header lacks %q:\n%s", sz.w, sz.h, want, scr)
			}
		}
	}
}

// A sort by a live column holds after the next sample, and the selection
// stays on its zone.
func TestLiveSortResorts(t *testing.T) {
	lf := newLiveFake()
	h := newHarness(t, lf, globalAdmin, 80, 24)
	h.wait("free")
	h.refresh()
	h.m.Update(press("C"))
	h.m.Update(press("o")) // busiest first
	if got := names(h.m.table.rows); got[0] != "free" {
		t.Fatalf("busiest first: %v", got)
	}
	h.m.Update(press("G"))
	if z, _ := h.m.table.Selected(); z.Name != "capped" {
		t.Fatalf("selected %s, want capped", z.Name)
	}
	lf.set("capped", ZoneUsage{CPU: 0.9, CPUCap: 1})
	h.refresh()
	if got := names(h.m.table.rows); got[0] != "capped" {
		t.Fatalf("after a sample that made capped the busiest, the rows are %v", got)
	}
	if z, _ := h.m.table.Selected(); z.Name != "capped" {
		t.Fatalf("the selection moved to %s", z.Name)
	}
}

// A trend column is never blank for a zone that has samples, capped or
// not, however small its use; one without samples says so with "-".
func TestUsageTrendsNeverBlank(t *testing.T) {
	lf := newLiveFake()
	lf.fakeBackend.zones = append(lf.fakeBackend.zones, api.ZoneInfo{ID: -1, Name: "idle", State: "installed", Path: "/zones/idle", Brand: "sparse", IPType: "shared"})
	lf.set("free", ZoneUsage{CPU: 0.001, Memory: 1 << 20})
	h := newHarness(t, lf, globalAdmin, 160, 48)
	h.wait("free")
	h.refresh()
	for _, col := range []int{colCPUTrend, colMemTrend} {
		if got := cell(h.m, "free", col); strings.TrimSpace(got) == "" {
			t.Errorf("%s of an uncapped zone using little: %q", columns[col].title, got)
		}
		if got := cell(h.m, "idle", col); strings.TrimSpace(got) == "" {
			t.Errorf("%s of a zone without samples is blank", columns[col].title)
		}
	}
	if r := rowOf(h.m, "free"); !strings.Contains(r, "▁") {
		t.Errorf("row of free draws no trend: %q", r)
	}
}

// Saving a running zone's configuration says the change waits for its
// next boot; a live cap is changed in the Caps tab.
func TestEditorSaysWhenItApplies(t *testing.T) {
	fb := &fakeBackend{zones: fixtureZones()}
	h := newHarness(t, fb, globalAdmin, 80, 24)
	h.wait("web01")
	h.send("set zonepath=/zones/web01", press("G"), press("e"))
	h.send("saved", tea.KeyPressMsg{Code: 's', Mod: tea.ModCtrl})
	if !strings.Contains(h.m.flash, "next boot") {
		t.Fatalf("saving a running zone's configuration says %q", h.m.flash)
	}
	h.send("set zonepath=/zones/build", press("g"), press("j"), press("e"))
	h.send("saved", tea.KeyPressMsg{Code: 's', Mod: tea.ModCtrl})
	if strings.Contains(h.m.flash, "next boot") {
		t.Fatalf("saving an installed zone's configuration says %q", h.m.flash)
	}
}

// The zone `n` creates is selected, so the next key acts on it.
func TestNewZoneSelected(t *testing.T) {
	fb := &fakeBackend{zones: append([]api.ZoneInfo{globalInfo}, fixtureZones()...)}
	h := newHarness(t, fb, globalAdmin, 80, 24)
	h.wait("web01")
	ks := append(keys("n"), typed("web02")...)
	ks = append(ks, tea.KeyPressMsg{Code: 's', Mod: tea.ModCtrl})
	h.send("i installs it", ks...)
	h.until("web02 selected", func() bool {
		z, _ := h.m.table.Selected()
		return z.Name == "web02"
	})
	h.send("", press("i"))
	h.until("web02 installed", func() bool {
		fb.mu.Lock()
		defer fb.mu.Unlock()
		return slices.Contains(fb.log, "installed web02")
	})
}

// The first screen names n, the quickest way to a first zone.
func TestEmptyMentionsNew(t *testing.T) {
	for _, zs := range [][]api.ZoneInfo{nil, {globalInfo}} {
		m := screen(t, zs, 80, 24, "No zones yet")
		if !strings.Contains(plain(m), "Press n") {
			t.Fatalf("the empty screen never mentions n:\n%s", plain(m))
		}
	}
}

// footer is the help under the status line, without colour.
func footer(m *Model) string { return ansi.Strip(m.helpView()) }

// Every view's footer lists its own keys and fits 80 columns whole.
func TestFootersMatchKeys(t *testing.T) {
	h := newHarness(t, withUsage(), globalAdmin, 80, 24)
	h.wait("web01")
	main := footer(h.m)
	for _, want := range []string{"n new", "b boot", "l login", ": cmd", "q quit", "? help"} {
		if !strings.Contains(main, want) {
			t.Errorf("main footer lacks %q: %q", want, main)
		}
	}
	if strings.Contains(main, "…") {
		t.Errorf("main footer cut at 80 columns: %q", main)
	}
	h.send("1 Config", press("G"), press("enter"))
	for i, tab := range detailTabs {
		h.m.Update(press(string(rune('1' + i))))
		f := footer(h.m)
		if strings.Contains(f, "…") || strings.Contains(f, "q quit") || !strings.Contains(f, "back") || strings.Contains(f, "n new") {
			t.Errorf("%s tab footer: %q", tab, f)
		}
		for _, label := range detailTabs {
			if !strings.Contains(plain(h.m), label) {
				t.Errorf("%s tab: label %s cut at 80 columns:\n%s", tab, label, plain(h.m))
			}
		}
	}
	h.m.Update(press("1"))
	h.m.Update(press("?"))
	if f := footer(h.m); !strings.Contains(f, "i install") || strings.Count(f, "\n") == 0 {
		t.Errorf("? in the detail view shows no full help: %q", f)
	}
	h.m.Update(press("?"))
	h.m.Update(press("q"))
	if h.m.detail != nil {
		t.Fatal("q does not leave the detail view")
	}
}

// ? in the detail view opens that view's full help: its own keys, the
// actions on the zone shown, and the way back.
func TestGoldenDetailHelp(t *testing.T) {
	for _, sz := range sizes {
		t.Run(fmt.Sprintf("%dx%d", sz.w, sz.h), func(t *testing.T) {
			m := run(t, withUsage(), globalAdmin, sz.w, sz.h,
				step{want: "web01"},
				step{keys: keys("G", "enter", "4", "?"), want: "uninstall"})
			golden.RequireEqual(t, plain(m))
		})
	}
}

// zoneadmList is what `:zoneadm list -cv` answers on a host with a few
// zones: a table, more than a status line can show.
func zoneadmList() string {
	var b strings.Builder
	b.WriteString("  ID NAME             STATUS      PATH                           BRAND    IP\n")
	b.WriteString("   0 global           running     /                              native   shared\n")
	for i := range 30 {
		fmt.Fprintf(&b, "   - zone%02d           installed   /zones/zone%02d                   sparse   shared\n", i, i)
	}
	return b.String()
}

func commandModel(t *testing.T, w, h int, ran *[]string) *harness {
	t.Helper()
	hs := &harness{t: t, ch: make(chan tea.Msg, 64)}
	hs.m = newModel(&fakeBackend{zones: fixtureZones()}, Options{Principal: globalAdmin, Refresh: time.Hour, Now: fixedClock,
		Command: func(line string) (string, error) {
			*ran = append(*ran, line)
			if strings.HasPrefix(line, "zoneadm list") {
				return zoneadmList(), nil
			}
			return "done", nil
		}})
	t.Cleanup(hs.m.cancel)
	hs.update(tea.WindowSizeMsg{Width: w, Height: h})
	hs.exec(hs.m.Init())
	hs.wait("web01")
	return hs
}

// A command's output longer than a line opens in a view that scrolls;
// esc goes back to the table.
func TestCommandOutputView(t *testing.T) {
	var ran []string
	h := commandModel(t, 80, 24, &ran)
	h.send("lines 1–", append(append(keys(":"), typed("zoneadm list -cv")...), press("enter"))...)
	h.send("zone29", press("G"))
	if !strings.Contains(plain(h.m), ":zoneadm list -cv") || !strings.Contains(plain(h.m), "of 32") {
		t.Fatalf("the output view:\n%s", plain(h.m))
	}
	h.m.Update(press("g"))
	if !strings.Contains(plain(h.m), "global           running") {
		t.Fatalf("g does not go back to the top:\n%s", plain(h.m))
	}
	h.m.Update(press("esc"))
	if h.m.output != nil || !strings.Contains(plain(h.m), "web01") {
		t.Fatalf("esc does not leave the output view:\n%s", plain(h.m))
	}
}

// Up in the command line brings back earlier lines, newest first; Down
// goes forward to what was being typed.
func TestCommandHistory(t *testing.T) {
	var ran []string
	h := commandModel(t, 80, 24, &ran)
	for _, l := range []string{"boot web01", "halt db01"} {
		h.send("done", append(append(keys(":"), typed(l)...), press("enter"))...)
		h.m.flash = ""
	}
	h.m.Update(press(":"))
	for _, k := range typed("zo") {
		h.m.Update(k)
	}
	up, down := tea.KeyPressMsg{Code: tea.KeyUp}, tea.KeyPressMsg{Code: tea.KeyDown}
	for _, s := range []struct {
		k    tea.Msg
		want string
	}{{up, "halt db01"}, {up, "boot web01"}, {up, "boot web01"}, {down, "halt db01"}, {down, "zo"}} {
		h.m.Update(s.k)
		if got := h.m.input.Value(); got != s.want {
			t.Fatalf("history: %q, want %q", got, s.want)
		}
	}
	h.update(up)
	h.update(press("enter"))
	h.until("the line from history run", func() bool { return len(ran) == 3 })
	if ran[2] != "halt db01" {
		t.Fatalf("ran %v", ran)
	}
}

func TestGoldenCommandOutput(t *testing.T) {
	for _, sz := range sizes {
		t.Run(fmt.Sprintf("%dx%d", sz.w, sz.h), func(t *testing.T) {
			var ran []string
			h := commandModel(t, sz.w, sz.h, &ran)
			h.send("zone00", append(append(keys(":"), typed("zoneadm list -cv")...), press("enter"))...)
			golden.RequireEqual(t, plain(h.m))
		})
	}
}
