package screen

import (
	"bytes"
	"os"
	"testing"
	"time"

	uv "github.com/charmbracelet/ultraviolet"
)

// keyTap reads what a Screen sends to its program, one key at a time: each
// key is followed by a marker no key encodes to, so extra or missing bytes
// show up instead of running into the next key.
type keyTap struct {
	t   *testing.T
	s   *Screen
	r   *os.File
	buf []byte
}

const tapMark = "\x00<tap>\x00"

func newKeyTap(t *testing.T) *keyTap {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	s := New(80, 24, w)
	t.Cleanup(func() { s.Close(); r.Close(); w.Close() })
	return &keyTap{t: t, s: s, r: r}
}

// sent runs send, then returns the bytes it sent.
func (k *keyTap) sent(send func(*Screen)) string {
	k.t.Helper()
	send(k.s)
	k.s.SendText(tapMark)
	_ = k.r.SetReadDeadline(time.Now().Add(10 * time.Second))
	tmp := make([]byte, 512)
	for {
		if i := bytes.Index(k.buf, []byte(tapMark)); i >= 0 {
			out := string(k.buf[:i])
			k.buf = k.buf[i+len(tapMark):]
			return out
		}
		n, err := k.r.Read(tmp)
		k.buf = append(k.buf, tmp[:n]...)
		if err != nil {
			k.t.Fatalf("reading keys: %v (so far %q)", err, k.buf)
		}
	}
}

// decode turns what a terminal sends into the key presses a bubbletea
// program receives, with the decoder bubbletea itself uses.
func decode(t *testing.T, in string) []uv.KeyPressEvent {
	t.Helper()
	var d uv.EventDecoder
	var out []uv.KeyPressEvent
	b := []byte(in)
	for len(b) > 0 {
		n, ev := d.Decode(b)
		if n == 0 {
			t.Fatalf("decoder stuck on %q", b)
		}
		b = b[n:]
		switch ev := ev.(type) {
		case uv.KeyPressEvent:
			out = append(out, ev)
		case uv.MultiEvent:
			for _, e := range ev {
				if k, ok := e.(uv.KeyPressEvent); ok {
					out = append(out, k)
				}
			}
		default:
			t.Fatalf("%q decodes to %T %v, not a key", in, ev, ev)
		}
	}
	return out
}

// typeIn plays in as typed on a terminal into the screen and returns
// what the program received.
func (k *keyTap) typeIn(in string) string {
	k.t.Helper()
	evs := decode(k.t, in)
	return k.sent(func(s *Screen) {
		for _, ev := range evs {
			s.SendKey(ev)
		}
	})
}

// xterm's own bytes, typed into a pane, reach the program unchanged: the
// pane must be a terminal the program cannot tell from xterm.
var xtermKeys = []struct{ name, in string }{
	{"lower", "abc"},
	{"upper", "ABCDEFG"},
	{"shell line", "echo PATH=$PATH ~/x \"A\" 'b' `c` !@#%^&*()_+{}|:<>?[]\\;,./-="},
	{"space", " "},
	{"utf-8", "é Ж 日本 😀"},
	{"no-break space", "\u00a0"},
	{"combining accent", "e\u0301"},
	{"flag", "🇫🇷"},
	{"enter", "\r"},
	{"tab", "\t"},
	{"backspace", "\x7f"},
	{"shift+tab", "\x1b[Z"},
	{"alt+x", "\x1bx"},
	{"alt+X", "\x1bX"},
	{"alt+.", "\x1b."},
	{"alt+backspace", "\x1b\x7f"},
	{"alt+enter", "\x1b\r"},
	{"ctrl+a", "\x01"},
	{"ctrl+c", "\x03"},
	{"ctrl+d", "\x04"},
	{"ctrl+h", "\x08"},
	{"ctrl+z", "\x1a"},
	{"ctrl+space", "\x00"},
	{"ctrl+\\", "\x1c"},
	{"ctrl+^", "\x1e"},
	{"ctrl+_", "\x1f"},
	{"ctrl+alt+a", "\x1b\x01"},
	{"up", "\x1b[A"}, {"down", "\x1b[B"}, {"right", "\x1b[C"}, {"left", "\x1b[D"},
	{"home", "\x1b[H"}, {"end", "\x1b[F"},
	{"insert", "\x1b[2~"}, {"delete", "\x1b[3~"}, {"pgup", "\x1b[5~"}, {"pgdown", "\x1b[6~"},
	{"f1", "\x1bOP"}, {"f2", "\x1bOQ"}, {"f3", "\x1bOR"}, {"f4", "\x1bOS"},
	{"f5", "\x1b[15~"}, {"f6", "\x1b[17~"}, {"f7", "\x1b[18~"}, {"f8", "\x1b[19~"},
	{"f9", "\x1b[20~"}, {"f10", "\x1b[21~"}, {"f11", "\x1b[23~"}, {"f12", "\x1b[24~"},
	{"shift+up", "\x1b[1;2A"},
	{"ctrl+left", "\x1b[1;5D"},
	{"alt+right", "\x1b[1;3C"},
	{"ctrl+shift+down", "\x1b[1;6B"},
	{"shift+home", "\x1b[1;2H"},
	{"ctrl+end", "\x1b[1;5F"},
	{"ctrl+delete", "\x1b[3;5~"},
	{"shift+pgup", "\x1b[5;2~"},
	{"shift+f5", "\x1b[15;2~"},
	{"ctrl+f1", "\x1b[1;5P"},
	{"alt+f12", "\x1b[24;3~"},
}

func TestPaneKeysAsXterm(t *testing.T) {
	k := newKeyTap(t)
	for _, c := range xtermKeys {
		if got := k.typeIn(c.in); got != c.in {
			t.Errorf("%s: typed %q, program got %q", c.name, c.in, got)
		}
	}
}

// Other terminals and multiplexers, and terminals speaking the extended
// keyboard protocols bubbletea asks for, send the same keys differently;
// the program in the pane still gets xterm's bytes, as its TERM says.
func TestPaneKeysFromOtherTerminals(t *testing.T) {
	k := newKeyTap(t)
	for _, c := range []struct{ name, in, want string }{
		{"home, as tmux and screen send it", "\x1b[1~", "\x1b[H"},
		{"end, as tmux and screen send it", "\x1b[4~", "\x1b[F"},
		{"home, rxvt", "\x1b[7~", "\x1b[H"},
		{"ctrl+a, modifyOtherKeys", "\x1b[27;5;97~", "\x01"},
		{"A, modifyOtherKeys", "\x1b[27;2;65~", "A"},
		{"alt+x, modifyOtherKeys", "\x1b[27;3;120~", "\x1bx"},
		{"ctrl+enter, modifyOtherKeys", "\x1b[27;5;13~", "\r"},
		{"ctrl+a, kitty", "\x1b[97;5u", "\x01"},
		{"shift+a, kitty", "\x1b[97;2u", "A"},
		{"shift+a with alternates, kitty", "\x1b[97:65;2u", "A"},
		{"alt+x, kitty", "\x1b[120;3u", "\x1bx"},
		{"ctrl+alt+a, kitty", "\x1b[97;7u", "\x1b\x01"},
		{"ctrl+shift+a, kitty", "\x1b[97;6u", "\x01"},
		{"enter, kitty", "\x1b[13u", "\r"},
		{"escape, kitty", "\x1b[27u", "\x1b"},
		{"ctrl+backspace, kitty", "\x1b[127;5u", "\x08"},
		{"ctrl+[, kitty", "\x1b[91;5u", "\x1b"},
		{"ctrl+], kitty", "\x1b[93;5u", "\x1d"},
		{"ctrl+/, kitty", "\x1b[47;5u", "\x1f"},
		{"ctrl+2, kitty", "\x1b[50;5u", "\x00"},
		{"ctrl+shift+up, kitty", "\x1b[1;6A", "\x1b[1;6A"},
		{"é, kitty", "\x1b[233u", "é"},
	} {
		if got := k.typeIn(c.in); got != c.want {
			t.Errorf("%s: typed %q, program got %q, want %q", c.name, c.in, got, c.want)
		}
	}
}

// Full-screen programs switch the cursor keys and the keypad to their
// application forms; modified keys keep their CSI forms, as in xterm.
func TestPaneKeysApplicationModes(t *testing.T) {
	k := newKeyTap(t)
	kp5 := func(s *Screen) { s.SendKey(uv.KeyPressEvent{Code: uv.KeyKp5, Text: "5"}) }
	kpEnter := func(s *Screen) { s.SendKey(uv.KeyPressEvent{Code: uv.KeyKpEnter}) }
	if got := k.sent(kp5); got != "5" {
		t.Errorf("keypad 5, numeric keypad: %q", got)
	}
	if got := k.sent(kpEnter); got != "\r" {
		t.Errorf("keypad enter, numeric keypad: %q", got)
	}

	_, _ = k.s.Write([]byte("\x1b[?1h\x1b="))
	for _, c := range []struct{ name, in, want string }{
		{"up", "\x1b[A", "\x1bOA"},
		{"down", "\x1b[B", "\x1bOB"},
		{"right", "\x1b[C", "\x1bOC"},
		{"left", "\x1b[D", "\x1bOD"},
		{"up, typed in application mode", "\x1bOA", "\x1bOA"},
		{"home", "\x1b[H", "\x1bOH"},
		{"end", "\x1b[F", "\x1bOF"},
		{"ctrl+up", "\x1b[1;5A", "\x1b[1;5A"},
		{"shift+end", "\x1b[1;2F", "\x1b[1;2F"},
		{"pgdown", "\x1b[6~", "\x1b[6~"},
		{"f1", "\x1bOP", "\x1bOP"},
		{"A", "A", "A"},
	} {
		if got := k.typeIn(c.in); got != c.want {
			t.Errorf("application mode %s: typed %q, program got %q, want %q", c.name, c.in, got, c.want)
		}
	}
	if got := k.sent(kp5); got != "\x1bOu" {
		t.Errorf("keypad 5, application keypad: %q", got)
	}
	if got := k.sent(kpEnter); got != "\x1bOM" {
		t.Errorf("keypad enter, application keypad: %q", got)
	}

	// A full reset puts both back.
	_, _ = k.s.Write([]byte("\x1bc"))
	if got := k.typeIn("\x1b[A"); got != "\x1b[A" {
		t.Errorf("up after a reset: %q", got)
	}
	if got := k.sent(kp5); got != "5" {
		t.Errorf("keypad 5 after a reset: %q", got)
	}
}

func TestPanePaste(t *testing.T) {
	k := newKeyTap(t)
	paste := func(text string) func(*Screen) { return func(s *Screen) { s.Paste(text) } }
	if got := k.sent(paste("ls -l\rABC")); got != "ls -l\rABC" {
		t.Errorf("plain paste: %q", got)
	}
	_, _ = k.s.Write([]byte("\x1b[?2004h"))
	if got := k.sent(paste("ls -l\rABC")); got != "\x1b[200~ls -l\rABC\x1b[201~" {
		t.Errorf("bracketed paste: %q", got)
	}
	// A pasted end marker would let the rest of the paste run as typed.
	if got := k.sent(paste("a\x1b[201~rm -rf /\r")); got != "\x1b[200~arm -rf /\r\x1b[201~" {
		t.Errorf("paste with an end marker inside: %q", got)
	}
	_, _ = k.s.Write([]byte("\x1b[?2004l"))
	if got := k.sent(paste("x")); got != "x" {
		t.Errorf("paste after bracketing ends: %q", got)
	}
}

func TestPaneMouse(t *testing.T) {
	k := newKeyTap(t)
	click := uv.MouseClickEvent{X: 3, Y: 4, Button: uv.MouseLeft}
	release := uv.MouseReleaseEvent{X: 3, Y: 4, Button: uv.MouseLeft}
	wheel := uv.MouseWheelEvent{X: 0, Y: 0, Button: uv.MouseWheelDown}
	motion := uv.MouseMotionEvent{X: 5, Y: 6, Button: uv.MouseNone}
	drag := uv.MouseMotionEvent{X: 5, Y: 6, Button: uv.MouseLeft}
	send := func(ev uv.MouseEvent, wantTaken bool) func(*Screen) {
		return func(s *Screen) {
			if got := s.SendMouse(ev); got != wantTaken {
				t.Errorf("SendMouse(%#v) = %v", ev, got)
			}
		}
	}
	if got := k.sent(send(click, false)); got != "" {
		t.Errorf("click with no mouse mode: %q", got)
	}
	_, _ = k.s.Write([]byte("\x1b[?1000h"))
	for _, c := range []struct {
		name  string
		ev    uv.MouseEvent
		taken bool
		want  string
	}{
		{"click, X10 encoding", click, true, "\x1b[M $%"},
		{"release, X10 encoding", release, true, "\x1b[M#$%"},
		{"wheel, X10 encoding", wheel, true, "\x1b[Ma!!"},
		{"motion without 1003", motion, false, ""},
		{"drag without 1002", drag, false, ""},
	} {
		if got := k.sent(send(c.ev, c.taken)); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
	_, _ = k.s.Write([]byte("\x1b[?1002h\x1b[?1006h"))
	for _, c := range []struct {
		name  string
		ev    uv.MouseEvent
		taken bool
		want  string
	}{
		{"click, SGR", click, true, "\x1b[<0;4;5M"},
		{"release, SGR", release, true, "\x1b[<0;4;5m"},
		{"ctrl+click, SGR", uv.MouseClickEvent{X: 3, Y: 4, Button: uv.MouseRight, Mod: uv.ModCtrl}, true, "\x1b[<18;4;5M"},
		{"drag, SGR", drag, true, "\x1b[<32;6;7M"},
		{"motion without 1003", motion, false, ""},
	} {
		if got := k.sent(send(c.ev, c.taken)); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
	_, _ = k.s.Write([]byte("\x1b[?1003h"))
	if got := k.sent(send(motion, true)); got != "\x1b[<35;6;7M" {
		t.Errorf("motion with 1003: %q", got)
	}
	_, _ = k.s.Write([]byte("\x1b[?1003l\x1b[?1002l\x1b[?1000l"))
	if got := k.sent(send(click, false)); got != "" {
		t.Errorf("click after the program let the mouse go: %q", got)
	}
}
