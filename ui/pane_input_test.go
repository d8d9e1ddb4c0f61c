package ui

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	uv "github.com/charmbracelet/ultraviolet"

	"zonetop/api"
)

// tapLogin is a LoginBackend whose session records every byte the pane
// sends, and lets the test play the program's output.
type tapLogin struct {
	*fakeBackend
	s *tapSession
}

type tapSession struct {
	outR *io.PipeReader
	outW *io.PipeWriter

	mu     sync.Mutex
	got    bytes.Buffer
	closed bool
}

func newTapLogin() tapLogin {
	r, w := io.Pipe()
	return tapLogin{&fakeBackend{zones: fixtureZones()}, &tapSession{outR: r, outW: w}}
}

func (l tapLogin) OpenLogin(_ context.Context, _ api.Principal, _ string, _, _ int) (LoginSession, error) {
	return l.s, nil
}

func (s *tapSession) Read(p []byte) (int, error) { return s.outR.Read(p) }
func (s *tapSession) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.got.Write(p)
}
func (s *tapSession) Resize(int, int) error { return nil }
func (s *tapSession) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	return s.outW.Close()
}

func (s *tapSession) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// expect waits for want to be what the program received since the last
// expect, byte for byte.
func (s *tapSession) expect(t *testing.T, what, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		s.mu.Lock()
		n := s.got.Len()
		s.mu.Unlock()
		if n >= len(want) || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Anything more than want would have been sent with it.
	time.Sleep(20 * time.Millisecond)
	s.mu.Lock()
	got := s.got.String()
	s.got.Reset()
	s.mu.Unlock()
	if got != want {
		t.Errorf("%s: the program got %q, want %q", what, got, want)
	}
}

// terminalKeys turns the bytes a terminal sends into the messages
// bubbletea hands the model, with the decoder bubbletea uses.
func terminalKeys(t *testing.T, in string) []tea.Msg {
	t.Helper()
	var d uv.EventDecoder
	var out []tea.Msg
	for b := []byte(in); len(b) > 0; {
		n, ev := d.Decode(b)
		if n == 0 {
			t.Fatalf("decoder stuck on %q", b)
		}
		b = b[n:]
		k, ok := ev.(uv.KeyPressEvent)
		if !ok {
			t.Fatalf("%q decodes to %T, not a key", in, ev)
		}
		out = append(out, tea.KeyPressMsg(k))
	}
	return out
}

func openTapPane(t *testing.T) (*harness, *tapSession) {
	t.Helper()
	b := newTapLogin()
	h := newHarness(t, b, globalAdmin, 100, 30)
	h.send("web01")
	h.send("~. detach", keys("G", "l")...)
	return h, b.s
}

// program plays the program's output, then waits until the pane shows
// mark.
func program(h *harness, s *tapSession, out, mark string) {
	h.t.Helper()
	go func() { _, _ = s.outW.Write([]byte(out + mark)) }()
	h.wait(mark)
}

// Every key class typed into a login pane reaches the zone as the bytes
// xterm sends for it.
func TestPaneInputReachesZone(t *testing.T) {
	h, s := openTapPane(t)
	for _, c := range []struct{ name, in string }{
		{"uppercase", "echo ABCDEFG abc\r"},
		{"shell variables", "echo PATH=$PATH\r"},
		{"punctuation", "!@#%^&*()_+{}|:\"<>?~`-=[]\\;',./\r"},
		{"utf-8", "é Ж\r"},
		{"alt+x", "\x1bx"},
		{"alt+shift+x", "\x1bX"},
		{"ctrl+a", "\x01"},
		{"ctrl+c", "\x03"},
		{"ctrl+d", "\x04"},
		{"ctrl+z", "\x1a"},
		{"ctrl+\\", "\x1c"},
		{"tab, shift+tab", "\t\x1b[Z"},
		{"backspace", "\x7f"},
		{"F1 to F12", "\x1bOP\x1bOQ\x1bOR\x1bOS\x1b[15~\x1b[17~\x1b[18~\x1b[19~\x1b[20~\x1b[21~\x1b[23~\x1b[24~"},
		{"arrows", "\x1b[A\x1b[B\x1b[C\x1b[D"},
		{"modified arrows", "\x1b[1;2A\x1b[1;5D\x1b[1;3C"},
		{"home end pgup pgdn insert delete", "\x1b[H\x1b[F\x1b[5~\x1b[6~\x1b[2~\x1b[3~"},
	} {
		for _, msg := range terminalKeys(t, c.in) {
			h.update(msg)
		}
		s.expect(t, c.name, c.in)
	}
	h.update(tea.KeyPressMsg{Code: tea.KeyEscape})
	s.expect(t, "esc", "\x1b")

	// ctrl+] stays zonetop's.
	h.send("still attached", terminalKeys(t, "\x1d")...)
	s.expect(t, "ctrl+]", "")
	h.update(press("q")) // the table's q now, not the zone's
	s.expect(t, "q in the table", "")
	h.send("1 web01 login", keys("esc", "tab")...)

	program(h, s, "\x1b[?1h", "APPCURSOR")
	for _, msg := range terminalKeys(t, "\x1b[A\x1b[D\x1b[H\x1b[1;5A") {
		h.update(msg)
	}
	s.expect(t, "cursor keys in application mode", "\x1bOA\x1bOD\x1bOH\x1b[1;5A")

	h.update(tea.PasteMsg{Content: "ls -l\rcd /"})
	s.expect(t, "paste", "ls -l\rcd /")
	program(h, s, "\x1b[?2004h", "BRACKETS")
	h.update(tea.PasteMsg{Content: "ls -l\rcd /"})
	s.expect(t, "bracketed paste", "\x1b[200~ls -l\rcd /\x1b[201~")

	// The mouse is zonetop's until the program asks for it; then a click
	// on the pane is reported in the pane's own cells.
	tableH, _ := h.m.split()
	top := headerLines + tableH + 1
	h.update(tea.MouseClickMsg{X: 2, Y: top + 1, Button: tea.MouseLeft})
	s.expect(t, "click before the program asks", "")
	program(h, s, "\x1b[?1000h\x1b[?1006h", "MOUSE")
	h.update(tea.MouseClickMsg{X: 2, Y: top + 1, Button: tea.MouseLeft})
	h.update(tea.MouseReleaseMsg{X: 2, Y: top + 1, Button: tea.MouseLeft})
	h.update(tea.MouseWheelMsg{X: 5, Y: top, Button: tea.MouseWheelUp})
	s.expect(t, "mouse on the pane", "\x1b[<0;3;2M\x1b[<0;3;2m\x1b[<64;6;1M")
	h.update(tea.MouseClickMsg{X: 2, Y: top - 2, Button: tea.MouseLeft})
	s.expect(t, "click on the table", "")
}

// q with a login open asks first, as other destructive actions do: a
// quit ends the shell in the zone.
func TestQuitWithLoginAsks(t *testing.T) {
	h, s := openTapPane(t)
	h.send("still attached", tea.KeyPressMsg{Code: ']', Mod: tea.ModCtrl})
	for _, k := range []string{"q", "ctrl+c"} {
		msg := press(k)
		if k == "ctrl+c" {
			msg = tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl}
		}
		_, cmd := h.m.Update(msg)
		if isQuit(cmd) {
			t.Fatalf("%s with a login pane open quit at once", k)
		}
		h.wait("[y/N]")
		if !strings.Contains(plain(h.m), "login") {
			t.Errorf("%s: the question does not say a login ends:\n%s", k, plain(h.m))
		}
		_, cmd = h.m.Update(press("n"))
		if isQuit(cmd) || s.isClosed() || len(h.m.panes) != 1 {
			t.Fatalf("%s then n: quit %v, session closed %v, %d panes", k, isQuit(cmd), s.isClosed(), len(h.m.panes))
		}
	}
	h.update(press("q"))
	h.wait("[y/N]")
	_, cmd := h.m.Update(press("y"))
	if !isQuit(cmd) || !s.isClosed() {
		t.Fatalf("q then y: quit %v, session closed %v", isQuit(cmd), s.isClosed())
	}
}

// A key typed into a pane redraws nothing by itself (its echo does), but
// one typed into a scrolled-back pane brings the live screen back at once.
func TestPaneKeyRedraw(t *testing.T) {
	h, s := openTapPane(t)
	var out strings.Builder
	for i := range 60 {
		fmt.Fprintf(&out, "line %d\r\n", i)
	}
	program(h, s, out.String(), "END-OF-LINES")
	before := plain(h.m)
	h.update(press("x"))
	s.expect(t, "x", "x")
	if after := plain(h.m); after != before {
		t.Errorf("a key with no echo changed the screen:\n%s\nto\n%s", before, after)
	}
	h.send("scrolled back", tea.KeyPressMsg{Code: tea.KeyPgUp, Mod: tea.ModShift})
	h.update(press("y"))
	s.expect(t, "y", "y")
	if v := plain(h.m); strings.Contains(v, "scrolled back") {
		t.Errorf("a key typed into a scrolled-back pane left it scrolled back:\n%s", v)
	}
}
