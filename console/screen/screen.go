package screen

import (
	"image/color"
	"io"
	"strings"
	"sync"

	uv "github.com/charmbracelet/ultraviolet"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/vt"
)

// DefaultScrollback is how many lines that scrolled off the top a Screen
// keeps by default.
const DefaultScrollback = 10000

// Screen is the terminal-screen model a TUI pane draws from: a VT emulator
// fed with a pty's output, with its own scrollback, which also turns keys
// into the bytes a program on the pty expects.
//
// The emulator answers terminal queries (cursor position, device
// attributes) by writing into an unbuffered pipe; a Screen starts copying
// those answers to the pty before it accepts the first byte of output, or a
// program's first query would block the emulator, and the pane with it.
//
// Scrollback: the emulator's own history drops its oldest line by shifting
// the whole slice on every push, so a busy console would pay for 10,000
// moves per line. The Screen instead drains the emulator's history after
// every write into a ring of its own.
//
// All methods are safe for concurrent use.
type Screen struct {
	mu  sync.Mutex
	emu *vt.Emulator

	// history ring, oldest at hist[head]
	hist  []uv.Line
	head  int
	count int

	title         string
	cursorVisible bool
	// modes the program set, as the emulator reports them, for the keys
	// and mouse reports it expects
	modes   map[ansi.Mode]bool
	changed chan struct{}

	replies chan []byte
	done    chan struct{}
	closed  bool
}

// New returns a cols×rows screen whose answers to terminal queries and
// whose keys (SendKey, SendText, Paste) are written to input, normally the
// pty master. input may be nil to discard them.
func New(cols, rows int, input io.Writer) *Screen {
	cols, rows = max(cols, 1), max(rows, 1)
	s := &Screen{
		emu:           vt.NewEmulator(cols, rows),
		hist:          make([]uv.Line, DefaultScrollback),
		cursorVisible: true,
		modes:         map[ansi.Mode]bool{},
		changed:       make(chan struct{}, 1),
		replies:       make(chan []byte, 256),
		done:          make(chan struct{}),
	}
	s.emu.SetScrollbackSize(DefaultScrollback)
	s.emu.SetCallbacks(vt.Callbacks{
		Title:            func(t string) { s.title = t },
		CursorVisibility: func(v bool) { s.cursorVisible = v },
		EnableMode:       func(m ansi.Mode) { s.modes[m] = true },
		DisableMode:      func(m ansi.Mode) { delete(s.modes, m) },
	})
	if input == nil {
		input = io.Discard
	}
	// Two goroutines, so that a pty that stops reading its input only
	// stalls the writer, while the emulator keeps draining into the queue.
	go s.pumpReplies()
	go s.writeReplies(input)
	return s
}

func (s *Screen) pumpReplies() {
	defer close(s.replies)
	buf := make([]byte, 4096)
	for {
		n, err := s.emu.Read(buf)
		if n > 0 {
			s.replies <- append([]byte(nil), buf[:n]...)
		}
		if err != nil {
			return
		}
	}
}

func (s *Screen) writeReplies(w io.Writer) {
	defer close(s.done)
	failed := false
	for p := range s.replies {
		if !failed {
			// After the pty goes away keep draining, so the emulator
			// never blocks on an answer nobody will read.
			if _, err := w.Write(p); err != nil {
				failed = true
			}
		}
	}
}

// Write feeds program output to the emulator.
func (s *Screen) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, io.ErrClosedPipe
	}
	n, err := s.emu.Write(p)
	s.drainLocked()
	s.notify()
	return n, err
}

func (s *Screen) notify() {
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

// drainLocked moves lines the emulator scrolled off into our ring.
func (s *Screen) drainLocked() {
	sb := s.emu.Scrollback()
	if sb == nil || sb.Len() == 0 {
		return
	}
	c := len(s.hist)
	for _, l := range sb.Lines() {
		if s.count < c {
			s.hist[(s.head+s.count)%c] = l
			s.count++
		} else {
			s.hist[s.head] = l
			s.head = (s.head + 1) % c
		}
	}
	sb.Clear()
}

// Changed delivers a value after output or a resize changed the screen. It
// coalesces: many writes between two receives yield one value, which is
// what a pane wants to schedule one redraw.
func (s *Screen) Changed() <-chan struct{} { return s.changed }

// Resize changes the screen's size. The caller resizes the pty too, so the
// program learns of it (SetSize).
func (s *Screen) Resize(cols, rows int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.emu.Resize(max(cols, 1), max(rows, 1))
	s.drainLocked()
	s.notify()
}

// Size returns the screen's columns and rows.
func (s *Screen) Size() (cols, rows int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.emu.Width(), s.emu.Height()
}

// SetScrollbackLimit changes how many history lines are kept (minimum 1),
// keeping the newest.
func (s *Screen) SetScrollbackLimit(n int) {
	n = max(n, 1)
	s.mu.Lock()
	defer s.mu.Unlock()
	lines := s.historyLocked()
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	s.hist = make([]uv.Line, n)
	copy(s.hist, lines)
	s.head, s.count = 0, len(lines)
	s.emu.SetScrollbackSize(n)
}

func (s *Screen) historyLocked() []uv.Line {
	out := make([]uv.Line, s.count)
	for i := range s.count {
		out[i] = s.hist[(s.head+i)%len(s.hist)]
	}
	return out
}

// SendKey sends a key press to the program as xterm would, in the modes
// the program set (application cursor keys and keypad). A bubbletea
// tea.KeyPressMsg converts directly: uv.KeyPressEvent(msg).
func (s *Screen) SendKey(k uv.KeyPressEvent) {
	// Through the emulator's pipe, so a key never overtakes an answer to
	// a query sent before it; the write only waits for pumpReplies, which
	// never locks.
	s.mu.Lock()
	defer s.mu.Unlock()
	if b := encodeKey(k, keyModes{
		appCursor: s.modes[ansi.ModeCursorKeys],
		appKeypad: s.modes[ansi.ModeNumericKeypad],
	}); b != "" {
		s.emu.SendText(b)
	}
}

// SendText sends text to the program as typed.
func (s *Screen) SendText(text string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.emu.SendText(text)
}

// Paste sends text as a paste, bracketed if the program enabled that.
func (s *Screen) Paste(text string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.emu.SendText(pasteText(text, s.modes[ansi.ModeBracketedPaste]))
}

// SendMouse reports a mouse event, in screen cells, to the program if it
// asked for such reports, and says whether it did.
func (s *Screen) SendMouse(ev uv.MouseEvent) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := encodeMouse(ev, s.mouseModesLocked())
	if b != "" {
		s.emu.SendText(b)
	}
	return b != ""
}

// Mouse tracking modes a program can ask for, from least to most.
const (
	MouseOff       = 0
	MouseX10       = 9    // presses
	MouseNormal    = 1000 // presses and releases
	MouseButton    = 1002 // and motion while a button is down
	MouseAnyMotion = 1003 // and all motion
)

// MouseTracking returns the most the program asked to hear of the mouse.
func (s *Screen) MouseTracking() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	mm := s.mouseModesLocked()
	switch {
	case mm.any:
		return MouseAnyMotion
	case mm.button:
		return MouseButton
	case mm.normal:
		return MouseNormal
	case mm.x10:
		return MouseX10
	}
	return MouseOff
}

func (s *Screen) mouseModesLocked() mouseModes {
	return mouseModes{
		x10:    s.modes[ansi.ModeMouseX10],
		normal: s.modes[ansi.ModeMouseNormal],
		button: s.modes[ansi.ModeMouseButtonEvent],
		any:    s.modes[ansi.ModeMouseAnyEvent],
		sgr:    s.modes[ansi.ModeMouseExtSgr],
		urxvt:  s.modes[ansi.ModeMouseExtUrxvt],
	}
}

// Render returns the visible screen with styles as ANSI sequences, one line
// per row joined by "\n".
func (s *Screen) Render() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.emu.Render()
}

// Lines returns the visible screen as plain text, one string per row,
// trailing blanks trimmed.
func (s *Screen) Lines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, s.emu.Height())
	for y := range out {
		var b strings.Builder
		for x := 0; x < s.emu.Width(); x++ {
			c := s.emu.CellAt(x, y)
			if c == nil || c.Width == 0 {
				continue // second half of a wide character
			}
			if c.Content == "" {
				b.WriteByte(' ')
				continue
			}
			b.WriteString(c.Content)
		}
		out[y] = strings.TrimRight(b.String(), " ")
	}
	return out
}

// String returns the visible screen as plain text.
func (s *Screen) String() string { return strings.Join(s.Lines(), "\n") }

// View returns rows lines, styled, scrolled back offset lines into history
// (0 is the live screen). In the alternate screen, which has no history,
// offset is ignored. The offset is clamped to the history's length.
func (s *Screen) View(offset int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if offset <= 0 || s.emu.IsAltScreen() || s.count == 0 {
		return s.emu.Render()
	}
	offset = min(offset, s.count)
	rows := s.emu.Height()
	lines := make([]string, 0, rows)
	for i := s.count - offset; i < s.count && len(lines) < rows; i++ {
		lines = append(lines, s.hist[(s.head+i)%len(s.hist)].Render())
	}
	if len(lines) < rows {
		screen := strings.Split(s.emu.Render(), "\n")
		lines = append(lines, screen[:min(len(screen), rows-len(lines))]...)
	}
	return strings.Join(lines, "\n")
}

// ScrollbackLen reports how many history lines are kept.
func (s *Screen) ScrollbackLen() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.count
}

// ScrollbackLine returns history line i as plain text (0 is the oldest).
func (s *Screen) ScrollbackLine(i int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i < 0 || i >= s.count {
		return ""
	}
	return strings.TrimRight(s.hist[(s.head+i)%len(s.hist)].String(), " ")
}

// Cell is one screen cell, in terms a pane or a test can use without the
// emulator's types.
type Cell struct {
	Content                                                       string // a grapheme; "" for the right half of a wide one
	Width                                                         int
	Fg, Bg                                                        color.Color // nil: the terminal's default
	Bold, Faint, Italic, Blink, Reverse, Strikethrough, Underline bool
}

// CellAt returns the cell at column x, row y of the visible screen; outside
// the screen it returns the zero Cell.
func (s *Screen) CellAt(x, y int) Cell {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.emu.CellAt(x, y)
	if c == nil {
		return Cell{}
	}
	a := c.Style.Attrs
	return Cell{
		Content:       c.Content,
		Width:         c.Width,
		Fg:            c.Style.Fg,
		Bg:            c.Style.Bg,
		Bold:          a&uv.AttrBold != 0,
		Faint:         a&uv.AttrFaint != 0,
		Italic:        a&uv.AttrItalic != 0,
		Blink:         a&uv.AttrBlink != 0,
		Reverse:       a&uv.AttrReverse != 0,
		Strikethrough: a&uv.AttrStrikethrough != 0,
		Underline:     c.Style.Underline != uv.UnderlineNone,
	}
}

// Cursor returns the cursor's column and row and whether the program wants
// it shown.
func (s *Screen) Cursor() (x, y int, visible bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.emu.CursorPosition()
	return p.X, p.Y, s.cursorVisible
}

// AltScreen reports whether the program switched to the alternate screen
// (full-screen programs such as vi, less and top do).
func (s *Screen) AltScreen() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.emu.IsAltScreen()
}

// Title returns the window title the program last set.
func (s *Screen) Title() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.title
}

// Draw paints the visible screen into area of scr (a bubbletea v2 / uv
// screen buffer), cell by cell.
func (s *Screen) Draw(scr uv.Screen, area uv.Rectangle) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.emu.Draw(scr, area)
}

// Close stops the emulator; its reply goroutines end once a pending write
// to the pty returns (Close does not wait for that: a pty that stopped
// reading must not freeze the caller). Further writes fail.
func (s *Screen) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	// Emulator.Close flips a flag its Read checks without a lock, racing
	// with pumpReplies; closing the pipe's write end ends the reader just
	// the same, and s.closed keeps everything else out.
	if pw, ok := s.emu.InputPipe().(*io.PipeWriter); ok {
		return pw.CloseWithError(io.EOF)
	}
	return nil
}
