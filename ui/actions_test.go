package ui

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
	"zonetop/api"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/charmbracelet/x/exp/teatest/v2"
	"github.com/creack/pty"
)

// step is keys to send, then text to wait for on the screen.
type step struct {
	keys []tea.Msg
	want string
}

func keys(ks ...string) []tea.Msg {
	out := make([]tea.Msg, len(ks))
	for i, k := range ks {
		out[i] = press(k)
	}
	return out
}

// run drives a console over b through steps and returns the final model.
func run(t *testing.T, b Backend, p api.Principal, w, h int, steps ...step) *Model {
	t.Helper()
	m := newModel(b, Options{Principal: p, Refresh: time.Hour, Now: fixedClock})
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(w, h))
	for _, s := range steps {
		for _, k := range s.keys {
			tm.Send(k)
		}
		if s.want != "" {
			want := s.want
			teatest.WaitFor(t, tm.Output(), func(b []byte) bool { return bytes.Contains(b, []byte(want)) },
				teatest.WithDuration(10*time.Second))
		}
	}
	if err := tm.Quit(); err != nil {
		t.Fatal(err)
	}
	fm := tm.FinalModel(t, teatest.WithFinalTimeout(10*time.Second)).(*Model)
	return fm
}

var sizes = []struct{ w, h int }{{80, 24}, {160, 48}}

// withUsage is the fake with usage samples: two refreshes, so the
// sparklines have a trend.
func withUsage() Backend { return usageFake{&fakeBackend{zones: fixtureZones()}} }

// hostFake adds the host's figures, and the global zone, to the usage
// fake: a host of 4 CPUs, one and a half of them busy.
type hostFake struct{ usageFake }

func (hostFake) HostUsage(context.Context, api.Principal) (api.HostUsage, error) {
	return api.HostUsage{CPUs: 4, CPUPct: 150, MemTotal: 16 << 30, MemUsed: 5 << 30, LWPs: 812}, nil
}

func withHost() Backend {
	return hostFake{usageFake{&fakeBackend{zones: append([]api.ZoneInfo{globalInfo}, fixtureZones()...)}}}
}

func TestGoldenUsage(t *testing.T) {
	for _, sz := range sizes {
		t.Run(fmt.Sprintf("%dx%d", sz.w, sz.h), func(t *testing.T) {
			m := run(t, withHost(), globalAdmin, sz.w, sz.h, step{want: "web01"})
			m.Update(m.startRefresh()())
			golden.RequireEqual(t, plain(m))
		})
	}
}

func TestGoldenDetailTabs(t *testing.T) {
	wants := []string{"zonepath: /zones/web01", "zone.max-lwps", "capped by zone", "/sbin/init", "console pane", "login pane", "umount busy", "disk quota"}
	for i, tab := range detailTabs {
		for _, sz := range sizes {
			t.Run(fmt.Sprintf("%s/%dx%d", tab, sz.w, sz.h), func(t *testing.T) {
				m := run(t, withUsage(), globalAdmin, sz.w, sz.h,
					step{want: "web01"},
					step{keys: keys("G", "enter", fmt.Sprint(i+1)), want: wants[i]})
				golden.RequireEqual(t, plain(m))
			})
		}
	}
}

func TestGoldenNewZoneForm(t *testing.T) {
	for _, sz := range sizes {
		t.Run(fmt.Sprintf("%dx%d", sz.w, sz.h), func(t *testing.T) {
			ks := append(keys("n"), typed("web02")...)
			ks = append(ks, keys("tab", "tab", "right", "tab", "tab", "tab", "tab")...)
			ks = append(ks, typed("12x")...)
			m := run(t, &fakeBackend{zones: fixtureZones()}, globalAdmin, sz.w, sz.h,
				step{want: "web01"}, step{keys: ks, want: "12x"})
			golden.RequireEqual(t, plain(m))
		})
	}
}

// The form validates as it is typed and creates the zone through the
// engine when it verifies.
func TestNewZoneCreates(t *testing.T) {
	fb := &fakeBackend{zones: fixtureZones()}
	ks := append(keys("n"), typed("web02")...)
	ks = append(ks, tea.KeyPressMsg{Code: 's', Mod: tea.ModCtrl})
	h := newHarness(t, fb, globalAdmin, 80, 24)
	h.send("web01")
	h.send("i installs it", ks...)
	m := h.m
	if len(fb.created) != 1 || fb.created[0].Name != "web02" || fb.created[0].Zonepath != "/zones/web02" {
		t.Fatalf("created %+v", fb.created)
	}
	if m.form != nil {
		t.Fatal("the form is still open after the zone was created")
	}
	// A bad name never reaches the engine.
	f := newZoneForm(newCommon(fixedClock), fb.Host().Brands, fb.CheckNewZone)
	f.fields[fName].input.SetValue("-bad")
	if f.validate() || f.fields[fName].err == "" {
		t.Fatal("the form accepts the name -bad")
	}
	f.fields[fName].input.SetValue("ok")
	f.fields[fMemory].input.SetValue("1q")
	if f.validate() || f.fields[fMemory].err == "" {
		t.Fatal("the form accepts the memory cap 1q")
	}
}

func TestActionsRunAndConfirm(t *testing.T) {
	fb := &fakeBackend{zones: fixtureZones()}
	// build (installed) is second by name: boot it; then halt asks first.
	h := newHarness(t, fb, globalAdmin, 80, 24)
	h.send("web01")
	h.send("boot build: done", keys("j", "b")...)
	h.send("halt zone build? [y/N]", keys("h")...)
	h.send("halt build: cancelled", keys("n")...)
	h.send("halt build: done", keys("h", "y")...)
	h.send("type build", append(keys("u"), typed("buidl")...)...)
	h.send("not build; nothing done", keys("enter")...)
	h.send("uninstall build: done", append(append(keys("u"), typed("build")...), press("enter"))...)
	h.send("install build: done", keys("i")...)
	want := []string{"running build", "installed build", "configured build", "installed build"}
	if !slices.Equal(fb.log, want) {
		t.Fatalf("engine calls %v, want %v", fb.log, want)
	}
}

// Install reports progress through the status line without blocking.
func TestInstallProgress(t *testing.T) {
	m := newModel(&fakeBackend{zones: fixtureZones()}, Options{Principal: globalAdmin, Now: fixedClock})
	m.Update(tea.WindowSizeMsg{Width: 100, Height: 24})
	cmd := m.runAction("install", "build")
	ch := make(chan tea.Msg, 32)
	go func() {
		for _, c := range cmd().(tea.BatchMsg) {
			if c != nil {
				ch <- c()
			}
		}
	}()
	sawBar := false
	for msg := range ch {
		switch msg := msg.(type) {
		case progressMsg:
			next := m.onProgress(msg)
			if strings.Contains(m.status(), "%") {
				sawBar = true
			}
			go func() { ch <- next() }()
		case actionDoneMsg:
			m.onActionDone(msg)
			if !sawBar {
				t.Fatal("no progress bar while installing")
			}
			if len(m.ops) != 0 || !strings.Contains(m.flash, "install build: done") {
				t.Fatalf("after install: ops %d, flash %q", len(m.ops), m.flash)
			}
			return
		}
	}
}

func TestEditorShowsErrorsInline(t *testing.T) {
	fb := &fakeBackend{zones: fixtureZones()}
	ks := append(typed("bogus"), tea.KeyPressMsg{Code: 's', Mod: tea.ModCtrl})
	h := newHarness(t, fb, globalAdmin, 80, 24)
	h.send("web01")
	h.send("create -F -b", keys("e")...)
	h.send("is not a global property", ks...)
	m := h.m
	if m.editor == nil || m.editor.errLine != 2 || !strings.HasPrefix(m.editor.err, "batch.zonecfg:2:1:") {
		t.Fatalf("editor after a bad save: %+v", m.editor)
	}
	if !strings.Contains(fb.scripts[0], "create -F -b\n") {
		t.Fatalf("the script saved does not replace the configuration: %q", fb.scripts[0])
	}
	golden.RequireEqual(t, plain(m))
}

// A zone administrator gets no action keys in help, and typing one
// anyway gets the engine's refusal.
func TestZoneAdminKeys(t *testing.T) {
	za := api.Principal{UID: 0, Zone: "web01"}
	fb := &fakeBackend{zones: fixtureZones()[:1]}
	h := newHarness(t, fb, za, 80, 24)
	h.send("1 running")
	h.send("quit", keys("?")...)
	h.send("permission denied", keys("b")...)
	m := h.m
	if h := m.help.View(m.c.keys); strings.Contains(h, "boot") || strings.Contains(h, "new zone") {
		t.Fatalf("help offers actions to a zone administrator:\n%s", h)
	}
	if len(fb.log) != 0 {
		t.Fatalf("engine changed zones for a zone administrator: %v", fb.log)
	}
}

// ptyLogin is a LoginBackend running /bin/sh on a host pty.
type ptyLogin struct{ *fakeBackend }

type ptySession struct {
	f   *os.File
	cmd *exec.Cmd
}

func (s *ptySession) Read(p []byte) (int, error)  { return s.f.Read(p) }
func (s *ptySession) Write(p []byte) (int, error) { return s.f.Write(p) }
func (s *ptySession) Resize(rows, cols int) error {
	return pty.Setsize(s.f, &pty.Winsize{Rows: uint16(rows), Cols: uint16(cols)})
}
func (s *ptySession) Close() error {
	_ = s.cmd.Process.Kill()
	_, _ = s.cmd.Process.Wait()
	return s.f.Close()
}

func (l ptyLogin) OpenLogin(_ context.Context, _ api.Principal, _ string, rows, cols int) (LoginSession, error) {
	cmd := exec.Command("/bin/sh")
	cmd.Env = []string{"PS1=ztsh$ ", "TERM=xterm-256color", "PATH=/usr/bin:/bin"}
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: uint16(rows), Cols: uint16(cols)})
	if err != nil {
		return nil, err
	}
	return &ptySession{f: f, cmd: cmd}, nil
}

var _ io.ReadWriteCloser = (*ptySession)(nil)

func TestLoginPane(t *testing.T) {
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Skip("no /bin/sh")
	}
	word := fmt.Sprintf("hello-%d", time.Now().UnixNano()%100000)
	b := ptyLogin{&fakeBackend{zones: fixtureZones()}}
	h := newHarness(t, b, globalAdmin, 100, 30)
	h.send("web01")
	h.send("~. detach", keys("G", "l")...)
	// Typing before the shell's first prompt lets the tty echo the line
	// ahead of the prompt, and the answer then follows "$ " instead of
	// starting a line: wait for the prompt as a person would.
	h.send("ztsh$")
	h.send("\n"+word, append(typed("echo "+word), press("enter"))...)
	// esc goes to the shell, not to zonetop; ctrl+] gives focus back.
	h.send("still attached", press("esc"), tea.KeyPressMsg{Code: ']', Mod: tea.ModCtrl})
	h.send("1 web01 login", keys("tab")...)
	h.send("detached", append(keys("enter"), typed("~.")...)...)
	m := h.m
	if len(m.panes) != 0 || m.focus != -1 {
		t.Fatalf("after ~.: %d panes, focus %d", len(m.panes), m.focus)
	}
}

func TestSparklineAndThresholds(t *testing.T) {
	if got := sparkline([]float64{0, 0.5, 1, 2}, 6); got != "  ▄██" && got != "  \u2581▄██" {
		if []rune(got)[2] != ' ' || []rune(got)[5] != '█' {
			t.Fatalf("sparkline = %q", got)
		}
	}
	st := DefaultStyles()
	if _, ok := st.threshold(0.69); ok {
		t.Fatal("69% is coloured")
	}
	if s, ok := st.threshold(0.7); !ok || s.GetForeground() != st.Warn.GetForeground() {
		t.Fatal("70% does not warn")
	}
	if s, ok := st.threshold(0.95); !ok || s.GetForeground() != st.Alarm.GetForeground() {
		t.Fatal("95% does not alarm")
	}
}

// BenchmarkRender1000 draws a full frame with 1,000 zones and usage.
func BenchmarkRender1000(b *testing.B) {
	m := newModel(&fakeBackend{}, Options{Principal: globalAdmin, Now: fixedClock})
	m.Update(tea.WindowSizeMsg{Width: 160, Height: 48})
	zs := manyZones(1000)
	m.Update(zonesMsg{zones: zs})
	for i, z := range zs {
		u := &liveUsage{}
		for j := range 60 {
			u.add(ZoneUsage{CPU: float64((i+j)%10) / 10, CPUCap: 1, Memory: uint64(j) << 20, MemoryCap: 64 << 20, LWPs: 5, LWPCap: 100}, nil)
		}
		m.table.usage[z.Name] = u
	}
	b.ResetTimer()
	for range b.N {
		_ = m.View()
	}
}
