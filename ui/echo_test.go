package ui

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	cscreen "zonetop/console/screen"
)

// syncBuffer is a bytes.Buffer a test reads while the model writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// written waits, playing the harness's messages meanwhile, until out holds
// want past its first from bytes, and returns what it holds past them.
func written(t *testing.T, h *harness, out *syncBuffer, from int, want string) string {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		if got := out.String()[from:]; strings.Contains(got, want) {
			return got
		}
		select {
		case msg := <-h.ch:
			h.update(msg)
			_ = plain(h.m) // the program draws a frame after every update
		case <-time.After(5 * time.Millisecond):
		case <-timeout:
			t.Fatalf("%q not written after 10s: %q", want, out.String()[from:])
		}
	}
}

// quiet waits until the pane's screen shows want, then a little longer,
// and returns what was written past from meanwhile.
func quiet(t *testing.T, h *harness, out *syncBuffer, from int, want string) string {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for !strings.Contains(h.m.panes[0].screen.String(), want) {
		select {
		case msg := <-h.ch:
			h.update(msg)
		case <-time.After(5 * time.Millisecond):
		case <-timeout:
			t.Fatalf("%q not on the pane's screen after 10s", want)
		}
	}
	time.Sleep(50 * time.Millisecond)
	return out.String()[from:]
}

// A focused pane's output reaches the terminal as soon as the model hears
// of it, before any frame: the echo no longer waits for the frame ticker.
// Only the changed row goes out, and the renderer finds its cursor and pen
// as it left them.
func TestPaneEchoBeforeFrame(t *testing.T) {
	h, s := openTapPane(t)
	out := &syncBuffer{}
	h.m.echo.out = &termOut{w: out}
	h.m.panes[0].out = h.m.echo.out
	_ = plain(h.m) // a frame with the live pane on it
	h.m.echo.send = func(msg tea.Msg) { h.ch <- msg }
	program(h, s, "$ ", "READY")
	// The first direct write draws the whole pane: nothing says which
	// rows the frame left as they are.
	written(t, h, out, 0, "READY")
	_, paneH := h.m.split()
	if n := strings.Count(out.String(), "H\x1b[m"); n != paneRows(paneH) {
		t.Errorf("the first direct write drew %d rows, want the pane's %d", n, paneRows(paneH))
	}
	before := len(out.String())
	go func() { _, _ = s.outW.Write([]byte("QXJ")) }()
	got := written(t, h, out, before, "QXJ")
	if !strings.HasPrefix(got, "\x1b7") || !strings.HasSuffix(got, "\x1b8") {
		t.Errorf("a direct write does not save and restore the renderer's cursor: %q", got)
	}
	_, at, _ := h.m.livePane()
	if want := fmt.Sprintf("\x1b[%d;1H", at.top+1); !strings.Contains(got, want) || strings.Count(got, "H\x1b[m") != 1 {
		t.Errorf("want one row written, at %q: %q", want, got)
	}

	// Scrolled back, the pane shows history: nothing is written past the
	// frame, which must show what the operator scrolled to.
	var lines strings.Builder
	for i := range 60 {
		fmt.Fprintf(&lines, "line %d\r\n", i)
	}
	program(h, s, lines.String(), "END")
	h.send("scrolled back", tea.KeyPressMsg{Code: tea.KeyPgUp, Mod: tea.ModShift})
	before = len(out.String())
	go func() { _, _ = s.outW.Write([]byte("MORE")) }()
	if got := quiet(t, h, out, before, "MORE"); got != "" {
		t.Errorf("a scrolled-back pane was drawn over: %q", got)
	}

	// Unfocused, the pane is the frame's alone too.
	h.send("still attached", tea.KeyPressMsg{Code: ']', Mod: tea.ModCtrl})
	before = len(out.String())
	go func() { _, _ = s.outW.Write([]byte("EVEN MORE")) }()
	if got := quiet(t, h, out, before, "EVEN MORE"); got != "" {
		t.Errorf("an unfocused pane was drawn over: %q", got)
	}

	// Focused again, once the screen was cleared for the frames to draw
	// every cell, the echo goes out at once again.
	h.send("~. detach", press("tab"))
	for h.m.panes[0].offset > 0 {
		h.update(tea.KeyPressMsg{Code: tea.KeyPgDown, Mod: tea.ModShift})
	}
	for timeout := time.After(10 * time.Second); h.m.echo.handing; {
		select {
		case msg := <-h.ch:
			h.update(msg)
		case <-timeout:
			t.Fatal("the clear asked for at the hand-over never came")
		}
	}
	_ = plain(h.m)
	before = len(out.String())
	go func() { _, _ = s.outW.Write([]byte("BACK")) }()
	written(t, h, out, before, "BACK")
}

// onlcr does what a tty's output processing does to the console's bytes
// on their way to the terminal: a newline comes out as CR LF.
type onlcr struct{ w io.Writer }

func (o onlcr) Write(p []byte) (int, error) {
	if _, err := o.w.Write(bytes.ReplaceAll(p, []byte("\n"), []byte("\r\n"))); err != nil {
		return 0, err
	}
	return len(p), nil
}

// probeMsg asks the program's own goroutine for the frame the model draws.
type probeMsg chan string

// probed is the console's model with a probe, so a test reads the frame
// without racing the program.
type probed struct{ *Model }

func (p probed) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	if ch, ok := msg.(probeMsg); ok {
		ch <- ansi.Strip(p.render())
		return p, nil
	}
	_, cmd := p.Model.Update(msg)
	return p, cmd
}

// screenLines trims what a terminal and a frame pad rows with.
func screenLines(s string) []string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	for len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

// A program in the zone that redraws at random (cursor jumps, scrolling,
// clears, colours, wide characters, the alternate screen) while the
// operator scrolls back, leaves the pane and comes back, with the
// renderer's frames and the direct echo both writing to one terminal: when
// it stops, the terminal shows exactly the frame the console draws. A
// direct write that moved the renderer's cursor, or a row the renderer
// wrongly believes is on screen, leaves the two apart.
func TestPaneEchoRaceWithFrames(t *testing.T) {
	const w, hgt = 100, 30
	b := newTapLogin()
	s := b.s
	term := cscreen.New(w, hgt, nil)
	t.Cleanup(func() { _ = term.Close() })
	out := &termOut{w: onlcr{term}}
	m := newModel(b, Options{Principal: globalAdmin, Refresh: time.Hour, Now: fixedClock})
	m.echo.out = out
	t.Cleanup(m.cancel)
	t.Cleanup(m.closeAllPanes)
	p := tea.NewProgram(probed{m}, tea.WithInput(nil), tea.WithOutput(out),
		tea.WithWindowSize(w, hgt), tea.WithFPS(120), tea.WithoutSignalHandler())
	m.echo.send = p.Send
	done := make(chan error, 1)
	go func() { _, err := p.Run(); done <- err }()
	stop := sync.OnceFunc(func() {
		p.Quit()
		<-done
	})
	t.Cleanup(stop)
	frame := func() string {
		ch := make(probeMsg, 1)
		p.Send(ch)
		select {
		case f := <-ch:
			return f
		case <-time.After(10 * time.Second):
			t.Fatal("the program did not answer a probe in 10s")
			return ""
		}
	}
	waitFrame := func(what string, ok func(string) bool) string {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			f := frame()
			if ok(f) {
				return f
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: not in the frame after 10s:\n%s", what, f)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitFrame("zones", func(f string) bool { return strings.Contains(f, "web01") })
	p.Send(press("G"))
	p.Send(press("l"))
	waitFrame("the pane", func(f string) bool { return strings.Contains(f, "~. detach") })

	rng := rand.New(rand.NewPCG(17, 8))
	bits := []string{"\x1b[H", "\x1b[2J", "\x1b[K", "\x1b[1;31m", "\x1b[0m", "\x1b[7m", "\r\n", "\r\n\r\n\r\n",
		"\x08 \x08", "日本語", "é", "\x1b[?1049h", "\x1b[?1049l", "\x1b[5;3H", "\x1b[99;1H", "\x1b[2A", "\x1b[M", "\x1b[L",
		"ABCDEFGHIJKLMNOPQRSTUVWXYZ", strings.Repeat("=", 130)}
	for i := range 400 {
		var chunk strings.Builder
		for range 1 + rng.IntN(4) {
			chunk.WriteString(bits[rng.IntN(len(bits))])
		}
		if _, err := s.outW.Write([]byte(chunk.String())); err != nil {
			t.Fatal(err)
		}
		switch i % 97 {
		case 30:
			p.Send(tea.KeyPressMsg{Code: tea.KeyPgUp, Mod: tea.ModShift})
		case 40:
			p.Send(tea.KeyPressMsg{Code: tea.KeyPgDown, Mod: tea.ModShift})
		case 60:
			p.Send(tea.KeyPressMsg{Code: ']', Mod: tea.ModCtrl})
		case 70:
			p.Send(press("tab"))
		}
		if rng.IntN(3) == 0 {
			time.Sleep(time.Duration(rng.IntN(3000)) * time.Microsecond)
		}
	}
	// The alternate screen left, the pane focused, a last known line.
	p.Send(press("tab"))
	_, _ = s.outW.Write([]byte("\x1b[?1049l\x1b[0m\r\nLAST-LINE"))
	want := waitFrame("the last line", func(f string) bool { return strings.Contains(f, "LAST-LINE") })
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := term.String()
		if slices.Equal(screenLines(got), screenLines(want)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the terminal does not show the console's frame:\n--- terminal\n%s\n--- frame\n%s", got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
	stop()
	if out.directWrites() == 0 {
		t.Error("no direct write happened: the test did not exercise the echo path")
	}
}

// Quitting ends the direct echo before the terminal is given back: output
// that reaches a pane's reader afterwards is not drawn on the operator's
// shell.
func TestPaneEchoStopsAtQuit(t *testing.T) {
	h, s := openTapPane(t)
	out := &syncBuffer{}
	h.m.echo.out = &termOut{w: out}
	pn := h.m.panes[0]
	pn.out = h.m.echo.out
	_ = plain(h.m)
	program(h, s, "$ ", "READY")
	written(t, h, out, 0, "READY")
	h.m.quit()
	before := len(out.String())
	_, _ = pn.screen.Write([]byte("LATE"))
	pn.out.echo(pn)
	if got := out.String()[before:]; got != "" {
		t.Errorf("a pane drew after quit: %q", got)
	}
	if n, err := pn.out.Write([]byte("frame")); err != nil || n != 5 || strings.HasSuffix(out.String(), "\x1b8") {
		t.Errorf("the last frame still carries the overlay: %q", out.String()[before:])
	}
}
