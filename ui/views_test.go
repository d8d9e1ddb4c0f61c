package ui

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"zonetop/api"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/exp/golden"
)

func colon(line string) []tea.Msg { return cat(keys(":"), typed(line), keys("enter")) }

// Goldens of the views `:` switches to, and of the signal panel.
func TestGoldenViews(t *testing.T) {
	for _, c := range []struct {
		name  string
		steps []step
	}{
		{"projects", []step{{keys: colon("projects"), want: "usage/limit per zone"}}},
		{"procs", []step{{keys: colon("procs"), want: "sh -c load"}}},
		{"procs-tree", []step{{keys: colon("procs web01"), want: "sh -c load"}, {keys: keys("t"), want: "(tree)"}}},
		{"signal", []step{{keys: colon("procs web01"), want: "sh -c load"}, {keys: keys("k"), want: "Send signal"}}},
		{"logs", []step{{keys: colon("logs web01"), want: "disk quota"}, {keys: cat(keys("/"), typed("service 1"), keys("enter")), want: "/service 1"}}},
	} {
		for _, sz := range sizes {
			t.Run(fmt.Sprintf("%s/%dx%d", c.name, sz.w, sz.h), func(t *testing.T) {
				m := run(t, newEditFake(), globalAdmin, sz.w, sz.h, append([]step{{want: "web01"}}, c.steps...)...)
				golden.RequireEqual(t, plain(m))
			})
		}
	}
}

// liveProcs changes its processes' CPU time on every call: each sample,
// a different process is the busiest.
type liveProcs struct {
	*fakeBackend
	mu sync.Mutex
	n  int
}

func (l *liveProcs) Processes(context.Context, api.Principal, string) ([]api.Process, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.n++
	busy := 100 + l.n%3
	var ps []api.Process
	for pid := 100; pid < 103; pid++ {
		cpu := time.Duration(l.n) * 10 * time.Millisecond
		if pid == busy {
			cpu = time.Duration(l.n) * time.Second
		}
		ps = append(ps, api.Process{PID: pid, User: "root", Project: "default", Command: fmt.Sprint("p", pid), CPU: cpu, Start: uint64(pid), State: "S"})
	}
	return ps, nil
}

// Sorted by CPU%, the rows follow each sample, and the cursor stays on
// its process (not its line) while they move under it.
func TestProcSortFollowsSamples(t *testing.T) {
	b := &liveProcs{fakeBackend: &fakeBackend{zones: fixtureZones()}}
	h := newHarness(t, b, globalAdmin, 120, 30)
	h.send("web01")
	h.send("p100", colon("procs web01")...)
	v := h.m.procs
	h.send("", keys("down")...)
	held := v.selKey
	for range 6 {
		h.update(h.m.fetchProcs(v)())
		cpus := make([]float64, len(v.rows))
		for i, r := range v.rows {
			cpus[i] = r.cpu
		}
		if !slices.IsSortedFunc(cpus, func(a, b float64) int { return int(b - a) }) {
			t.Fatalf("rows out of CPU%% order after a sample: %v", cpus)
		}
		if r, _ := v.selected(); r.key() != held {
			t.Fatalf("the cursor moved to %s from %s", r.key(), held)
		}
	}
}

// The signal goes through the backend with the pid and start time the
// listing gave, only after y; a zone administrator of another zone is
// refused by the engine, and the refusal is what the screen says.
func TestProcSignal(t *testing.T) {
	fb := &fakeBackend{zones: fixtureZones()}
	h := newHarness(t, fb, globalAdmin, 120, 30)
	h.send("web01")
	h.send("sh -c load", colon("procs web01")...)
	h.send("", cat(keys("/"), typed("sleep"), keys("enter"))...)
	h.send("Send signal", keys("k")...)
	h.send("send SIGKILL to pid 4251 (sleep 60) of web01? [y/N]", keys("down", "enter")...)
	h.send("cancelled", keys("n")...)
	h.send("send SIGTERM", keys("k", "enter")...)
	h.send("sent SIGTERM to pid 4251 of web01", keys("y")...)
	fb.mu.Lock()
	log := slices.Clone(fb.log)
	fb.mu.Unlock()
	if !slices.Equal(log, []string{"signal web01 TERM 4251"}) {
		t.Fatalf("backend calls: %q", log)
	}

	// An attacker: root of zone db01 whose console lists web01's
	// processes (say, a crafted backend) still meets the engine's no.
	other := api.Principal{UID: 0, Zone: "db01"}
	h2 := newHarness(t, &fakeBackend{zones: fixtureZones()}, other, 120, 30)
	h2.send("web01")
	h2.send("sh -c load", colon("procs web01")...)
	h2.send("permission denied", keys("k", "enter", "y")...)
}

// The log view follows, searches with / n N, and saves without ever
// overwriting a file.
func TestLogView(t *testing.T) {
	dir := t.TempDir()
	h := newHarness(t, &fakeBackend{zones: fixtureZones()}, globalAdmin, 100, 20)
	h.send("web01")
	h.send("following", colon("logs web01")...)
	if !strings.Contains(plain(h.m), "disk quota exceeded") {
		t.Fatalf("following does not show the end:\n%s", plain(h.m))
	}
	h.send("/service 4 11 matches", cat(keys("/"), typed("service 4"), keys("enter"))...)
	h.send("paused", keys("n")...)
	first := h.m.logs.cur
	h.update(press("N"))
	h.update(press("N"))
	if h.m.logs.cur == first {
		t.Fatal("N did not move")
	}
	path := filepath.Join(dir, "web01.log")
	if err := os.WriteFile(path, []byte("precious\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// An existing name is asked about; no (the default) leaves it.
	h.send("exists; overwrite it? [y/N]", cat(keys("w"), backspaces(40), typed(path), keys("enter"))...)
	h.send("cancelled", keys("n")...)
	if b, _ := os.ReadFile(path); string(b) != "precious\n" {
		t.Fatalf("the file was overwritten: %q", b)
	}
	h.send("exists; overwrite it? [y/N]", cat(keys("w"), backspaces(40), typed(path), keys("enter"))...)
	h.send("cancelled", keys("enter")...)
	if b, _ := os.ReadFile(path); string(b) != "precious\n" {
		t.Fatalf("enter overwrote the file: %q", b)
	}
	h.send("saved 61 lines", cat(keys("w"), backspaces(40), typed(path), keys("enter", "y"))...)
	if b, _ := os.ReadFile(path); !strings.HasSuffix(string(b), "disk quota exceeded\n") {
		t.Fatalf("y did not overwrite: %q", b)
	}
	// A link to a file elsewhere is a name that exists too; overwriting
	// replaces the link, never writes through it.
	link := filepath.Join(dir, "link.log")
	elsewhere := filepath.Join(dir, "elsewhere")
	if err := os.Symlink(elsewhere, link); err != nil {
		t.Fatal(err)
	}
	h.send("exists; overwrite it? [y/N]", cat(keys("w"), backspaces(80), typed(link), keys("enter"))...)
	h.send("saved 61 lines", keys("y")...)
	if _, err := os.Stat(elsewhere); err == nil {
		t.Fatal("the save followed a dangling link")
	}
	if fi, err := os.Lstat(link); err != nil || !fi.Mode().IsRegular() {
		t.Fatalf("the link was not replaced by the log: %v %v", fi, err)
	}
	// Nothing of the save's own is left beside the log.
	if ents, _ := os.ReadDir(dir); len(ents) != 2 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("the directory holds %v, want the log and the link's name, now a log", names)
	}
	// A name in a directory that does not exist is an error, said.
	h.send("no such file or directory", cat(keys("w"), backspaces(80), typed(filepath.Join(dir, "nodir", "x.log")), keys("enter"))...)
	fresh := filepath.Join(dir, "fresh.log")
	h.send("saved 61 lines", cat(keys("w"), backspaces(80), typed(fresh), keys("enter"))...)
	if b, _ := os.ReadFile(fresh); !strings.HasSuffix(string(b), "disk quota exceeded\n") {
		t.Fatalf("saved log: %q", b)
	}
}

// Tab completes the console's views, zone names and projects, and what
// the CLI's completion offers, which it is asked with the words typed.
func TestCommandCompletion(t *testing.T) {
	var asked [][]string
	m := newModel(withUsage(), Options{Principal: globalAdmin, Refresh: time.Hour, Now: fixedClock,
		Complete: func(words []string) []string {
			asked = append(asked, slices.Clone(words))
			if words[0] == "prctl" && len(words) == 3 && words[1] == "-n" {
				return []string{"zone.max-lwps", "zone.max-shm-ids", "project.max-lwps"}
			}
			return nil
		}})
	m.Update(tea.WindowSizeMsg{Width: 120, Height: 30})
	m.Update(m.startRefresh()())
	for _, c := range []struct{ typed, want string }{
		{"pro", "pro"}, // procs, proc, processes, project, projects, proj
		{"proc", "proc"},
		{"procs w", "procs web01 "},
		{"logs d", "logs db01 "},
		{"boot b", "boot b"}, // batch, build: listed, not chosen
		{"prctl -n zone.max-l", "prctl -n zone.max-lwps "},
		{"procs web01 def", "procs web01 default "},
	} {
		m.openInput(inputCommand, ":", c.typed)
		m.inputKey(tea.KeyPressMsg{Code: tea.KeyTab})
		if got := m.input.Value(); got != c.want {
			t.Errorf("Tab after %q: %q, want %q", c.typed, got, c.want)
		}
		m.closeInput()
	}
	m.openInput(inputCommand, ":", "boot b")
	m.inputKey(tea.KeyPressMsg{Code: tea.KeyTab})
	if !strings.Contains(m.flash, "batch  build") {
		t.Errorf("several completions are not listed: %q", m.flash)
	}
	if !slices.ContainsFunc(asked, func(w []string) bool { return slices.Equal(w, []string{"prctl", "-n", "zone.max-l"}) }) {
		t.Errorf("the CLI's completion was not asked with the words typed: %q", asked)
	}
}

// :procs, :projects, :logs and :zones switch views; a zone that is not
// visible is refused, and esc goes back to the table.
func TestViewSwitching(t *testing.T) {
	h := newHarness(t, newEditFake(), globalAdmin, 120, 30)
	h.send("web01")
	h.send("usage/limit per zone", colon("projects")...)
	h.send("Processes  every zone", colon("procs")...)
	h.send("no zone nosuch is visible", colon("logs nosuch")...)
	h.send("Console log · web01", colon("logs web01")...)
	h.send("enter details", colon("zones")...)
	h.send("usage/limit per zone", colon("proj")...)
	h.send("enter details", keys("esc")...)
	// From the grid, p lists a project's processes.
	h.send("project frontend", cat(colon("projects"), keys("G", "k", "p"))...)
}

// The detail view's Logs tab is the same log: it follows the end until
// the operator scrolls up, and again from G; / n N search; w saves, never
// over a file that exists; and a refresh while paused leaves it where it
// was.
func TestDetailLogsTab(t *testing.T) {
	dir := t.TempDir()
	h := newHarness(t, &fakeBackend{zones: fixtureZones()}, globalAdmin, 80, 24)
	h.send("web01")
	h.send("1 Config", keys("G", "enter")...)
	h.send("following", keys("8")...)
	if !strings.Contains(plain(h.m), "disk quota exceeded") {
		t.Fatalf("following does not show the end:\n%s", plain(h.m))
	}
	if f := footer(h.m); !strings.Contains(f, "/ search") || !strings.Contains(f, "f/G follow") {
		t.Errorf("the Logs tab's footer lacks its keys: %q", f)
	}
	h.send("paused (G follows)", keys("k")...)
	top := h.m.detail.lv.scroll
	h.update(tickMsg(fixedNow)) // a refresh must not pull a paused log down
	h.wait("paused (G follows)")
	if h.m.detail.lv.scroll != top {
		t.Errorf("a refresh moved a paused log from line %d to %d", top, h.m.detail.lv.scroll)
	}
	h.send("following", keys("G")...)
	h.send("/service 4 11 mat", cat(keys("/"), typed("service 4"), keys("enter"))...)
	first := h.m.detail.lv.cur
	h.update(press("n"))
	if h.m.detail.lv.cur == first {
		t.Fatal("n did not move")
	}
	h.update(press("N"))
	if h.m.detail.lv.cur != first {
		t.Fatal("N did not move back")
	}
	path := filepath.Join(dir, "web01.log")
	h.send("saved", cat(keys("w"), backspaces(40), typed(path), keys("enter"))...)
	b, err := os.ReadFile(path)
	if err != nil || !strings.Contains(string(b), "disk quota exceeded") {
		t.Fatalf("the saved log: %q %v", b, err)
	}
	h.send("exists; overwrite it? [y/N]", cat(keys("w"), backspaces(40), typed(path), keys("enter"))...)
	h.send("cancelled", keys("n")...)
	// The tab keys still leave the tab, and esc the view.
	h.send("1 Config", keys("1")...)
	h.update(press("esc"))
	if h.m.detail != nil {
		t.Fatal("esc does not leave the detail view")
	}
}
