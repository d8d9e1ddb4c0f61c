package ui

import (
	"bytes"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
)

// Echo without the frame loop.
//
// bubbletea writes a frame only on its ticker (120 a second at most), so a
// key's echo in a login pane waited for the next tick: 4 ms on average
// against half a millisecond for a plain zlogin. While a pane has focus and
// shows its live screen, the rows its program changed are written to the
// terminal at once.
//
// The renderer does not know of those writes: it believes the pane's rows
// hold what its last frame drew there, and it edits the screen by moving
// what it believes is there (scrolling regions, inserting and deleting
// lines and characters) before it writes what changed. So:
//
//   - Each direct write is framed by DECSC/DECRC (ESC 7, ESC 8): the
//     cursor position and pen the renderer left are what it finds again.
//   - Every write to the terminal, a frame or a direct one, goes through
//     termOut under one lock, so the two never interleave.
//   - termOut keeps the whole pane as last drawn directly (the overlay),
//     and after every frame writes it again, in the same write as the
//     frame, before the frame's synchronized-output end: whatever the
//     frame did to the pane's rows from its wrong belief, the terminal
//     shows the pane as the direct path last drew it.
//   - What was drawn directly is also kept per row, so an echo rewrites
//     one row, not the pane.
//   - The pane's reader goroutine draws, right after it fed the pane's
//     screen, without a trip through the event loop (which may be busy
//     drawing a frame); the frames tell termOut where and whether it may.
//   - As soon as a frame shows anything else where the pane is (scrolled
//     back, focus elsewhere, another pane, a new size, the too-small
//     screen), the renderer's belief about those rows must be made true
//     again: the console asks bubbletea to clear the screen, so that its
//     next frame draws every cell. Until that frame is written the overlay
//     is those rows as the newest frame draws them; termOut drops it with
//     the frame that erases the screen.

// termOut is the terminal the console writes to. It passes the terminal's
// descriptor on (Fd, Read, Close), so bubbletea still sees a terminal (raw
// mode, size, colours). It also holds what the direct echo knows of the
// screen, under the same lock as the writes: a pane's reader goroutine
// draws through it, and the frames decide where it may.
type termOut struct {
	mu      sync.Mutex
	w       io.Writer
	f       *os.File // nil in tests
	overlay []byte   // the pane as last drawn directly, drawn after every frame
	// untilErase: the overlay is a hand-over to the frames, dropped
	// with the frame that erases the screen
	untilErase bool

	live    bool      // the last frame showed the live pane at place
	stopped bool      // the console is quitting: the terminal is no longer ours
	place   echoPlace // where the pane is, for the direct echo
	drawn   []string  // its rows as last drawn directly; nil: none
	writes  int       // direct writes made, for tests
}

// syncEnd closes a frame drawn under synchronized output (mode 2026).
const syncEnd = "\x1b[?2026l"

// Write writes a frame (bubbletea's renderer is the only other writer) and
// the overlay after it.
func (o *termOut) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.untilErase && bytes.Contains(p, []byte(ansi.EraseEntireScreen)) {
		o.overlay, o.untilErase = nil, false
	}
	if len(o.overlay) == 0 {
		return o.w.Write(p)
	}
	buf := make([]byte, 0, len(p)+len(o.overlay))
	if bytes.HasSuffix(p, []byte(syncEnd)) {
		buf = append(append(append(buf, p[:len(p)-len(syncEnd)]...), o.overlay...), syncEnd...)
	} else {
		buf = append(append(buf, p...), o.overlay...)
	}
	if _, err := o.w.Write(buf); err != nil {
		return 0, err
	}
	return len(p), nil
}

// echo draws the rows of pane pn that changed since they were last drawn,
// straight to the terminal, when the last frame showed it live; the pane's
// reader calls it after every write to its screen.
func (o *termOut) echo(pn *pane) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.live || o.stopped || o.place.pane != pn.id {
		return
	}
	at := o.place
	lines := paneLines(pn, at.rows, at.cols)
	var rows, full strings.Builder
	for y, l := range lines {
		row := paneRow(at, y, l)
		full.WriteString(row)
		if o.drawn == nil || y >= len(o.drawn) || o.drawn[y] != l {
			rows.WriteString(row)
		}
	}
	o.drawn = lines
	o.overlay, o.untilErase = []byte("\x1b7"+full.String()+"\x1b8"), false
	if rows.Len() == 0 {
		return
	}
	o.writes++
	// DECSC, DECRC: the renderer's cursor and pen as it left them. A
	// failed write leaves the frames to draw the pane, as before.
	if _, err := io.WriteString(o.w, "\x1b7"+rows.String()+"\x1b8"); err != nil {
		o.live, o.overlay, o.drawn = false, nil, nil
	}
}

// frame is told what a frame shows where the pane is: live says it shows
// pane at.pane live at at; lines are the frame's rows; handing says a
// hand-over still waits for the erase. It answers whether a hand-over
// starts, for which the screen must be cleared.
func (o *termOut) frame(live bool, at echoPlace, lines []string, handing bool) (clear bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.stopped {
		return false
	}
	if !handing && live && o.live && o.place == at {
		return false
	}
	if !handing && o.drawn == nil {
		o.live, o.place = live, at
		return false
	}
	// Hand over to the frames: the rows drawn directly stay as this
	// frame draws them until the erase makes the renderer's belief true.
	old := o.place
	var full strings.Builder
	full.WriteString("\x1b7")
	for y := range old.rows {
		if old.top+y < len(lines) {
			full.WriteString(paneRow(old, y, lines[old.top+y]))
		}
	}
	full.WriteString("\x1b8")
	o.overlay, o.untilErase = []byte(full.String()), true
	o.live, o.drawn = false, nil
	return !handing
}

// stop ends the direct echo for good, before the program gives the
// terminal back: a pane's reader that still gets output must not draw on
// the operator's shell.
func (o *termOut) stop() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.stopped, o.live, o.overlay, o.drawn = true, false, nil, nil
}

// directWrites reports how many direct writes were made, for tests.
func (o *termOut) directWrites() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.writes
}

func (o *termOut) Read(p []byte) (int, error) { return o.f.Read(p) }
func (o *termOut) Close() error               { return o.f.Close() }
func (o *termOut) Fd() uintptr                { return o.f.Fd() }

// echoPlace is where the live focused pane is on screen; two places differ
// when anything about them does.
type echoPlace struct {
	pane       int // pane id
	top, left  int // screen row of the pane's first row, its first column
	cols, rows int
	width      int // the terminal's
}

// echoState is the model's side of the direct echo.
type echoState struct {
	out  *termOut // nil: no direct echo (tests, or a program without one)
	send func(tea.Msg)
	// handing: a hand-over to the frames waits for the screen's erase
	handing bool
}

// livePane returns the focused pane and its place when it is on screen
// showing its live screen, the one case a direct write may draw.
func (m *Model) livePane() (*pane, echoPlace, bool) {
	if m.focus < 0 || m.focus >= len(m.panes) {
		return nil, echoPlace{}, false
	}
	w, h := m.c.width, m.c.height
	if w < minWidth || h < minHeight {
		return nil, echoPlace{}, false
	}
	pn := m.panes[m.focus]
	if pn.closed || pn.offset > 0 {
		return nil, echoPlace{}, false
	}
	tableH, paneH := m.split()
	if paneH <= 0 {
		return nil, echoPlace{}, false
	}
	// The same sum as paneMouse: header, table, the pane's title line.
	return pn, echoPlace{
		pane:  pn.id,
		top:   m.headerHeight() + tableH + 1,
		cols:  w,
		rows:  paneRows(paneH),
		width: w,
	}, true
}

// paneLines is the pane's live screen as the frame draws it: rows lines,
// each clipped to w (which only a screen wider than w needs: measuring
// every line was a third of an echo's cost).
func paneLines(pn *pane, rows, w int) []string {
	view := strings.Split(pn.screen.View(0), "\n")
	for len(view) < rows {
		view = append(view, "")
	}
	view = view[:rows]
	if cols, _ := pn.screen.Size(); cols > w {
		return strings.Split(clip(strings.Join(view, "\n"), w), "\n")
	}
	return view
}

// noteFrame tells the direct echo what a frame shows; render calls it with
// every frame it draws.
func (m *Model) noteFrame(frame string) {
	if m.echo.out == nil {
		return
	}
	_, at, ok := m.livePane()
	if m.echo.out.frame(ok, at, strings.Split(frame, "\n"), m.echo.handing) {
		m.echo.handing = true
		if m.echo.send != nil {
			go m.echo.send(tea.ClearScreen())
		}
	}
}

// erased: the clear asked for at a hand-over reached the model, so the
// next frame erases the screen.
func (m *Model) erased() { m.echo.handing = false }

// paneRow draws row y of the pane at its place: the cursor to the row's
// start, the row erased to the default blank a frame draws past a line's
// end, then the row. Erased first, not after: after a row as wide as the
// terminal the cursor waits on its last cell, which an erase would clear;
// and no width is measured.
func paneRow(at echoPlace, y int, l string) string {
	return "\x1b[" + strconv.Itoa(at.top+y+1) + ";" + strconv.Itoa(at.left+1) + "H\x1b[m\x1b[2K" + l + "\x1b[m"
}
