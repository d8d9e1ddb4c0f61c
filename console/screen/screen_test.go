package screen

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	uv "github.com/charmbracelet/ultraviolet"
)

func feed(t testing.TB, s *Screen, name string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Write(b); err != nil {
		t.Fatal(err)
	}
}

func newScreen(t *testing.T, cols, rows int) *Screen {
	s := New(cols, rows, nil)
	t.Cleanup(func() { s.Close() })
	return s
}

// replyPipe gives a Screen somewhere to send answers and keys, and a way to
// read them back that fails instead of hanging.
func replyPipe(t *testing.T) (*os.File, func(want string)) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	expect := func(want string) {
		t.Helper()
		r.SetReadDeadline(time.Now().Add(10 * time.Second))
		got := make([]byte, 0, len(want))
		buf := make([]byte, 256)
		for len(got) < len(want) {
			n, err := r.Read(buf[:min(len(buf), len(want)-len(got))])
			got = append(got, buf[:n]...)
			if err != nil {
				t.Fatalf("reading %q: got %q: %v", want, got, err)
			}
		}
		if string(got) != want {
			t.Fatalf("pty got %q, want %q", got, want)
		}
	}
	return w, expect
}

func dump(t *testing.T, s *Screen) {
	t.Helper()
	for i, l := range s.Lines() {
		t.Logf("%2d|%s", i, l)
	}
}

func TestScreenVi(t *testing.T) {
	s := newScreen(t, 80, 24)
	feed(t, s, "vi.typescript")
	lines := s.Lines()
	if !s.AltScreen() {
		t.Error("vi did not get the alternate screen")
	}
	want := []string{"zone notes", "boot the zone", "watch the console"}
	for i, w := range want {
		if lines[i] != w {
			t.Errorf("row %d = %q, want %q", i, lines[i], w)
		}
	}
	for y := 3; y < 23; y++ {
		if lines[y] != "~" {
			t.Errorf("row %d = %q, want vi's empty-line marker", y, lines[y])
		}
	}
	if !strings.Contains(lines[23], `"notes.txt" 3L, 43B`) {
		t.Errorf("status line = %q", lines[23])
	}
	if c := s.CellAt(0, 5); c.Content != "~" || c.Fg == nil {
		t.Errorf("tilde cell = %+v, want a coloured ~", c)
	}
	if x, y, _ := s.Cursor(); x != 0 || y != 0 {
		t.Errorf("cursor at %d,%d, want 0,0", x, y)
	}
	if !strings.Contains(s.Render(), "\x1b[") {
		t.Error("Render carries no styles")
	}
	if t.Failed() {
		dump(t, s)
	}

	feed(t, s, "vi-quit.typescript")
	if s.AltScreen() {
		t.Error("still in the alternate screen after :q!")
	}
	if strings.Contains(s.String(), "watch the console") {
		t.Error("vi's buffer leaked onto the main screen")
	}
}

func TestScreenLess(t *testing.T) {
	s := newScreen(t, 80, 24)
	feed(t, s, "less.typescript")
	lines := s.Lines()
	if !s.AltScreen() {
		t.Error("less did not get the alternate screen")
	}
	if lines[0] != "log line = 1" || !strings.HasSuffix(lines[22], " 23") {
		t.Errorf("first page rows 0, 22 = %q, %q", lines[0], lines[22])
	}
	if !strings.Contains(lines[23], "long.txt") {
		t.Errorf("prompt = %q, want the file name", lines[23])
	}
	if c := s.CellAt(0, 23); !c.Reverse {
		t.Errorf("prompt cell %+v, want reverse video", c)
	}
	if t.Failed() {
		dump(t, s)
	}

	feed(t, s, "less-end.typescript")
	lines = s.Lines()
	if !strings.Contains(lines[23], "(END)") || !strings.HasSuffix(lines[22], " 200") {
		t.Errorf("after G rows 22, 23 = %q, %q", lines[22], lines[23])
		dump(t, s)
	}
	feed(t, s, "less-quit.typescript")
	if s.AltScreen() {
		t.Error("still in the alternate screen after q")
	}
}

func TestScreenTop(t *testing.T) {
	s := newScreen(t, 80, 24)
	feed(t, s, "top.typescript")
	lines := s.Lines()
	checks := []struct {
		row    int
		prefix string
	}{{0, "top - "}, {1, "Tasks:"}, {2, "%Cpu(s):"}, {3, "MiB Mem"}, {4, "MiB Swap"}}
	for _, c := range checks {
		if !strings.HasPrefix(lines[c.row], c.prefix) {
			t.Errorf("row %d = %q, want prefix %q", c.row, lines[c.row], c.prefix)
		}
	}
	if !strings.Contains(lines[0], "load average") {
		t.Errorf("header = %q", lines[0])
	}
	header := -1
	for i, l := range lines {
		if strings.Contains(l, "PID") && strings.Contains(l, "COMMAND") {
			header = i
		}
	}
	if header < 0 {
		t.Fatal("no process table header")
	}
	if c := s.CellAt(2, header); !c.Reverse {
		t.Errorf("table header cell %+v, want reverse video", c)
	}
	// "Tasks:  76 total": the counts are bold, the labels are not.
	tasks := lines[1]
	digit := strings.IndexAny(tasks, "0123456789")
	if c := s.CellAt(digit, 1); !c.Bold {
		t.Errorf("task count cell %+v, want bold", c)
	}
	if c := s.CellAt(0, 1); c.Bold {
		t.Errorf("label cell %+v, want plain", c)
	}
	if _, _, visible := s.Cursor(); visible {
		t.Error("top hides the cursor; screen says visible")
	}
	if t.Failed() {
		dump(t, s)
	}
}

// TestScreenAnswersQueries: the reply path must be live before the first
// byte, or a program's cursor-position query blocks Write forever.
func TestScreenAnswersQueries(t *testing.T) {
	w, expect := replyPipe(t)
	s := New(80, 24, w)
	defer s.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Write([]byte("\x1b[5;10H\x1b[6n"))
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Write blocked on a cursor-position query")
	}
	expect("\x1b[5;10R")
}

func TestScreenKeys(t *testing.T) {
	w, expect := replyPipe(t)
	s := New(80, 24, w)
	defer s.Close()
	s.SendText("ls\r")
	expect("ls\r")
	s.SendKey(uv.KeyPressEvent{Code: uv.KeyUp})
	expect("\x1b[A")
	s.Write([]byte("\x1b[?1h")) // application cursor keys, as vi sets
	s.SendKey(uv.KeyPressEvent{Code: uv.KeyUp})
	expect("\x1bOA")
	s.SendKey(uv.KeyPressEvent{Code: 'c', Mod: uv.ModCtrl})
	expect("\x03")
	s.Write([]byte("\x1b[?2004h"))
	s.Paste("x")
	expect("\x1b[200~x\x1b[201~")
}

func TestScreenScrollback(t *testing.T) {
	s := newScreen(t, 80, 24)
	var b bytes.Buffer
	for i := 1; i <= 20000; i++ {
		fmt.Fprintf(&b, "line %d\r\n", i)
		if b.Len() > 32<<10 { // arrive in pty-sized reads
			s.Write(b.Bytes())
			b.Reset()
		}
	}
	s.Write(b.Bytes())
	// 20000 lines and the empty cursor row: 23 lines stay on screen.
	if n := s.ScrollbackLen(); n != DefaultScrollback {
		t.Fatalf("ScrollbackLen() = %d, want %d", n, DefaultScrollback)
	}
	if got := s.ScrollbackLine(0); got != "line 9978" {
		t.Errorf("oldest kept = %q", got)
	}
	if got := s.ScrollbackLine(DefaultScrollback - 1); got != "line 19977" {
		t.Errorf("newest history = %q", got)
	}
	if l := s.Lines(); l[0] != "line 19978" || l[22] != "line 20000" {
		t.Errorf("screen rows 0, 22 = %q, %q", l[0], l[22])
	}
	view := strings.Split(s.View(5), "\n")
	if len(view) != 24 || view[0] != "line 19973" || strings.TrimRight(view[5], " ") != "line 19978" {
		t.Errorf("View(5) rows 0, 5 of %d = %q, %q", len(view), view[0], view[min(5, len(view)-1)])
	}
	if v := strings.Split(s.View(1<<30), "\n"); v[0] != "line 9978" {
		t.Errorf("View(huge) starts %q, want the oldest line", v[0])
	}
	if s.View(0) != s.Render() {
		t.Error("View(0) is not the live screen")
	}

	s.SetScrollbackLimit(100)
	if s.ScrollbackLen() != 100 || s.ScrollbackLine(0) != "line 19878" {
		t.Errorf("after shrink: %d lines, oldest %q", s.ScrollbackLen(), s.ScrollbackLine(0))
	}
	if s.ScrollbackLine(-1) != "" || s.ScrollbackLine(100) != "" {
		t.Error("out-of-range history lines not empty")
	}
}

func TestScreenResizeTitleChanged(t *testing.T) {
	s := newScreen(t, 80, 24)
	select {
	case <-s.Changed():
		t.Fatal("changed before anything happened")
	default:
	}
	s.Write([]byte("\x1b]0;zone web1\x07hello"))
	s.Write([]byte(" world"))
	<-s.Changed() // two writes, one notification
	select {
	case <-s.Changed():
		t.Fatal("writes not coalesced")
	default:
	}
	if s.Title() != "zone web1" {
		t.Errorf("Title() = %q", s.Title())
	}
	s.Resize(40, 10)
	<-s.Changed()
	if c, r := s.Size(); c != 40 || r != 10 || len(s.Lines()) != 10 {
		t.Errorf("Size() = %d, %d", c, r)
	}
	s.Resize(0, -3)
	if c, r := s.Size(); c != 1 || r != 1 {
		t.Errorf("degenerate resize gave %dx%d", c, r)
	}
	if (s.CellAt(-1, 0) != Cell{}) || (s.CellAt(5, 99) != Cell{}) {
		t.Error("out-of-screen cell not zero")
	}
}

func TestScreenDraw(t *testing.T) {
	s := newScreen(t, 20, 3)
	s.Write([]byte("\x1b[1mzone\x1b[m up"))
	buf := uv.NewScreenBuffer(30, 5)
	s.Draw(buf, uv.Rect(2, 1, 20, 3))
	if c := buf.CellAt(2, 1); c == nil || c.Content != "z" || c.Style.Attrs&uv.AttrBold == 0 {
		t.Fatalf("drawn cell = %+v", c)
	}
	if c := buf.CellAt(7, 1); c == nil || c.Content != "u" {
		t.Fatalf("drawn cell = %+v", c)
	}
}

func TestScreenClosed(t *testing.T) {
	s := New(10, 2, nil)
	s.Close()
	if _, err := s.Write([]byte("x")); err == nil {
		t.Fatal("write after Close succeeded")
	}
	s.SendText("ignored") // must not block or panic
}

func BenchmarkScreenWrite(b *testing.B) {
	var stream bytes.Buffer
	for _, name := range []string{"top.typescript", "vi.typescript", "vi-quit.typescript", "less.typescript", "less-end.typescript", "less-quit.typescript"} {
		p, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			b.Fatal(err)
		}
		stream.Write(p)
	}
	for i := range 2000 {
		fmt.Fprintf(&stream, "\x1b[32m%6d\x1b[m console line with some ordinary text in it\r\n", i)
	}
	data := stream.Bytes()
	s := New(80, 24, nil)
	defer s.Close()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		for p := data; len(p) > 0; {
			n := min(len(p), 4096)
			s.Write(p[:n])
			p = p[n:]
		}
	}
}
