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
// terminal at once, from Update, when the pane reports the change.
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
//   - As soon as a frame shows anything else where the pane is (scrolled
//     back, focus elsewhere, another pane, a new size, the too-small
//     screen), the renderer's belief about those rows must be made true
//     again: the console asks bubbletea to clear the screen, so that its
//     next frame draws every cell. Until that frame is written the overlay
//     is those rows as the newest frame draws them; termOut drops it with
//     the frame that erases the screen.

// termOut is the terminal the console writes to. It passes the terminal's
// descriptor on (Fd, Read, Close), so bubbletea still sees a terminal (raw
// mode, size, colours).
type termOut struct {
	mu      sync.Mutex
	w       io.Writer
	f       *os.File // nil in tests
	overlay []byte   // the pane as last drawn directly, drawn after every frame
	// untilErase: the overlay is a hand-over to the frames, dropped
	// with the frame that erases the screen
	untilErase bool
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

// direct writes rows drawn outside the frame loop and keeps full, the
// whole pane, to draw again after frames.
func (o *termOut) direct(rows, full []byte) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.overlay, o.untilErase = full, false
	if len(rows) == 0 {
		return nil
	}
	_, err := o.w.Write(rows)
	return err
}

// handOver sets the overlay that stands until the screen is erased.
func (o *termOut) handOver(full []byte) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.overlay, o.untilErase = full, true
}

func (o *termOut) Read(p []byte) (int, error) { return o.f.Read(p) }
func (o *termOut) Close() error               { return o.f.Close() }
func (o *termOut) Fd() uintptr                { return o.f.Fd() }

// echoPlace is where the live focused pane is on screen, in the last frame
// or for a direct write; two places differ when anything about them does.
type echoPlace struct {
	pane       int // pane id
	top, left  int // screen row of the pane's first row, its first column
	cols, rows int
	width      int // the terminal's
}

// echoState is what the direct echo knows of the screen.
type echoState struct {
	out  *termOut // nil: no direct echo (tests, or a program without one)
	send func(tea.Msg)
	// handing: a hand-over to the frames waits for the screen's erase
	handing bool
	place   echoPlace // where drawn rows are
	drawn   []string  // the rows last drawn directly at place; nil: none known
	// framed is where the last frame showed the live focused pane; ok
	// is false when it showed anything else there.
	framed   echoPlace
	framedOK bool
	writes   int // direct writes made, for tests
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
// each clipped to w.
func paneLines(pn *pane, rows, w int) []string {
	view := strings.Split(pn.screen.View(0), "\n")
	for len(view) < rows {
		view = append(view, "")
	}
	return strings.Split(clip(strings.Join(view[:rows], "\n"), w), "\n")
}

// noteFrame records what a frame shows where the pane is; render calls it
// with every frame it draws.
func (m *Model) noteFrame(frame string) {
	_, at, ok := m.livePane()
	m.echo.framed, m.echo.framedOK = at, ok
	if ok && at == m.echo.place && !m.echo.handing {
		return
	}
	if m.echo.drawn == nil && !m.echo.handing {
		return
	}
	// Hand over to the frames: the rows drawn directly stay as this
	// frame draws them until the erase makes the renderer's belief true.
	old := m.echo.place
	lines := strings.Split(frame, "\n")
	var full strings.Builder
	full.WriteString("\x1b7")
	for y := range old.rows {
		if old.top+y < len(lines) {
			full.WriteString(paneRow(old, y, lines[old.top+y]))
		}
	}
	full.WriteString("\x1b8")
	if m.echo.out != nil {
		m.echo.out.handOver([]byte(full.String()))
	}
	if !m.echo.handing && m.echo.send != nil {
		go m.echo.send(tea.ClearScreen())
	}
	m.echo.drawn, m.echo.handing = nil, true
}

// erased: the clear asked for at a hand-over reached the model, so the
// next frame erases the screen.
func (m *Model) erased() { m.echo.handing = false }

// echoNow writes the rows of the focused pane that changed since they were
// last drawn straight to the terminal, when the last frame showed that pane
// live at the same place.
func (m *Model) echoNow(id int) {
	if m.echo.out == nil {
		return
	}
	pn, at, ok := m.livePane()
	if !ok || pn.id != id || !m.echo.framedOK || m.echo.framed != at || m.echo.handing {
		return
	}
	if at != m.echo.place {
		m.echo.place, m.echo.drawn = at, nil
	}
	lines := paneLines(pn, at.rows, at.cols)
	var rows, full strings.Builder
	for y, l := range lines {
		row := paneRow(at, y, l)
		full.WriteString(row)
		if m.echo.drawn == nil || y >= len(m.echo.drawn) || m.echo.drawn[y] != l {
			rows.WriteString(row)
		}
	}
	m.echo.drawn = lines
	r := ""
	if rows.Len() > 0 {
		m.echo.writes++
		// DECSC, DECRC: the renderer's cursor and pen as it left them.
		r = "\x1b7" + rows.String() + "\x1b8"
	}
	// A failed write leaves the frames to draw the pane, as before.
	if err := m.echo.out.direct([]byte(r), []byte("\x1b7"+full.String()+"\x1b8")); err != nil {
		_ = m.echo.out.direct(nil, nil)
		m.echo.out, m.echo.drawn = nil, nil
	}
}

// paneRow draws row y of the pane at its place: the cursor to the row's
// start, the row, then default blanks to the edge as a frame draws them.
// Spaces, not an erase: after a row as wide as the terminal the cursor
// waits on its last cell, which an erase would clear.
func paneRow(at echoPlace, y int, l string) string {
	return "\x1b[" + strconv.Itoa(at.top+y+1) + ";" + strconv.Itoa(at.left+1) + "H\x1b[m" +
		l + "\x1b[m" + strings.Repeat(" ", max(at.cols-ansi.StringWidth(l), 0))
}
