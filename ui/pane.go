package ui

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	tea "charm.land/bubbletea/v2"
	uv "github.com/charmbracelet/ultraviolet"

	// ui has a screen of its own (its tests draw one).
	cscreen "zonetop/console/screen"
)

// pane is a console or login session drawn from a console/screen Screen. While
// it has focus every key goes to the zone, bare esc included; ctrl+]
// gives focus back and "~." at the start of a line detaches, as zlogin.
type pane struct {
	id     int
	kind   string // "console" or "login"
	zone   string
	screen *cscreen.Screen
	rw     io.ReadWriteCloser
	login  LoginSession // nil for a console pane
	offset int          // lines scrolled back
	closed bool

	out       *termOut // the terminal, to draw on directly; nil: frames only
	lineStart bool     // the last key sent ended a line (or none was sent)
	tilde     bool     // "~" held back, waiting to see whether "." follows
	closeOnce sync.Once
}

type (
	paneOpenedMsg struct {
		p   *pane
		err error
	}
	paneChangedMsg struct{ id int }
	paneClosedMsg  struct {
		id  int
		err error
	}
)

// paneRows is how many screen rows a pane of height h has under its title.
func paneRows(h int) int { return max(h-1, 2) }

func (m *Model) paneSize() (cols, rows int) {
	_, ph := m.split()
	return max(m.c.width, 10), paneRows(ph)
}

// openPane attaches a console or opens a login on zone, off the Update
// loop; the pane appears when the engine answers.
func (m *Model) openPane(kind, zone string) tea.Cmd {
	b, p, ctx := m.backend, m.opts.Principal, m.ctx
	m.nextPane++
	id := m.nextPane
	// The pane's size is the size it will have once it is on screen.
	hadPanes := len(m.panes) > 0
	if !hadPanes {
		m.panes = append(m.panes, nil) // reserve the space while measuring
	}
	cols, rows := m.paneSize()
	if !hadPanes {
		m.panes = m.panes[:0]
	}
	m.setFlash("opening "+kind+" of "+zone+"…", nil)
	return func() tea.Msg {
		pn := &pane{id: id, kind: kind, zone: zone, lineStart: true}
		switch kind {
		case "console":
			cb, ok := b.(ConsoleBackend)
			if !ok {
				return paneOpenedMsg{err: fmt.Errorf("console %s: this engine cannot attach consoles yet", zone)}
			}
			rw, err := cb.AttachConsole(ctx, p, zone)
			if err != nil {
				return paneOpenedMsg{err: err}
			}
			pn.rw = rw
		default:
			lb, ok := b.(LoginBackend)
			if !ok {
				return paneOpenedMsg{err: fmt.Errorf("zlogin %s: this engine cannot open logins yet", zone)}
			}
			s, err := lb.OpenLogin(ctx, p, zone, rows, cols)
			if err != nil {
				return paneOpenedMsg{err: err}
			}
			pn.rw, pn.login = s, s
		}
		pn.screen = cscreen.New(cols, rows, pn.rw)
		return paneOpenedMsg{p: pn}
	}
}

// pump copies the session's output into the screen until it ends.
func (pn *pane) pump(send chan<- tea.Msg) {
	buf := make([]byte, 32*1024)
	for {
		n, err := pn.rw.Read(buf)
		if n > 0 {
			_, _ = pn.screen.Write(buf[:n])
			if pn.out != nil {
				pn.out.echo(pn)
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = nil
			}
			send <- paneClosedMsg{id: pn.id, err: err}
			return
		}
	}
}

// waitPane turns the screen's coalesced change notices into redraws: one
// per burst of output, however many writes it had.
func waitPane(pn *pane) tea.Cmd {
	return func() tea.Msg {
		<-pn.screen.Changed()
		return paneChangedMsg{id: pn.id}
	}
}

func (m *Model) onPaneOpened(msg paneOpenedMsg) tea.Cmd {
	if msg.err != nil {
		m.setFlash("", msg.err)
		return nil
	}
	pn := msg.p
	pn.out = m.echo.out
	m.panes = append(m.panes, pn)
	m.focus = len(m.panes) - 1
	m.setFlash(pn.kind+" "+pn.zone+": ctrl+] back to zonetop, ~. detaches", nil)
	m.resize()
	ch := make(chan tea.Msg, 1)
	go pn.pump(ch)
	return tea.Batch(waitPane(pn), waitMsg(ch))
}

func (m *Model) paneIndex(id int) int {
	for i, pn := range m.panes {
		if pn.id == id {
			return i
		}
	}
	return -1
}

func (m *Model) onPaneChanged(msg paneChangedMsg) tea.Cmd {
	i := m.paneIndex(msg.id)
	if i < 0 || m.panes[i].closed {
		return nil
	}
	return waitPane(m.panes[i])
}

func (m *Model) onPaneClosed(msg paneClosedMsg) {
	i := m.paneIndex(msg.id)
	if i < 0 {
		return
	}
	pn := m.panes[i]
	text := pn.kind + " " + pn.zone + ": session ended"
	if msg.err != nil && !pn.closed {
		text = pn.kind + " " + pn.zone + ": " + msg.err.Error()
	}
	m.closePane(i)
	m.setFlash(text, nil)
}

// closePane detaches and removes pane i; focus returns to the table.
func (m *Model) closePane(i int) {
	pn := m.panes[i]
	pn.closed = true
	pn.closeOnce.Do(func() { _ = pn.rw.Close() })
	m.panes = append(m.panes[:i], m.panes[i+1:]...)
	m.focus = -1
	m.resize()
}

// closeAllPanes detaches every pane, when the console quits.
func (m *Model) closeAllPanes() {
	for len(m.panes) > 0 {
		m.closePane(0)
	}
}

// paneKey sends a key to the focused pane, except the few that belong to
// zonetop.
func (m *Model) paneKey(msg tea.KeyPressMsg) (tea.Model, tea.Cmd) {
	pn := m.panes[m.focus]
	s := msg.String()
	switch s {
	case "ctrl+]":
		m.focus = -1
		m.setFlash(pn.kind+" "+pn.zone+": still attached; tab focuses it again", nil)
		return m, nil
	case "shift+pgup":
		_, rows := pn.screen.Size()
		pn.offset = min(pn.offset+rows/2, pn.screen.ScrollbackLen())
		return m, nil
	case "shift+pgdown":
		_, rows := pn.screen.Size()
		pn.offset = max(pn.offset-rows/2, 0)
		return m, nil
	}
	// Sent on, a key changes nothing on screen unless the pane was
	// scrolled back; its echo is what redraws.
	unchanged := pn.offset == 0
	pn.offset = 0
	// "~." at the start of a line detaches, as zlogin's escape; a "~"
	// followed by anything else is sent on with it.
	if pn.tilde {
		pn.tilde = false
		if s == "." {
			m.closePane(m.focus)
			m.setFlash(pn.kind+" "+pn.zone+": detached", nil)
			return m, nil
		}
		pn.screen.SendText("~")
	} else if s == "~" && pn.lineStart {
		pn.tilde = true
		m.unchanged = unchanged
		return m, nil
	}
	pn.lineStart = s == "enter" || s == "ctrl+c" || s == "ctrl+u"
	pn.screen.SendKey(uv.KeyPressEvent(msg))
	m.unchanged = unchanged
	return m, nil
}

func (m *Model) pastePane(text string) {
	if m.focus >= 0 && m.focus < len(m.panes) {
		m.panes[m.focus].screen.Paste(text)
	}
}

// resizePanes gives every pane the space under the table.
func (m *Model) resizePanes() {
	if len(m.panes) == 0 {
		return
	}
	cols, rows := m.paneSize()
	for _, pn := range m.panes {
		if c, r := pn.screen.Size(); c == cols && r == rows {
			continue
		}
		pn.screen.Resize(cols, rows)
		if pn.login != nil {
			_ = pn.login.Resize(rows, cols)
		}
	}
}

// split divides the body between the table (or detail) and the panes:
// the table keeps a third, at least six lines, so it stays in sight.
func (m *Model) split() (tableH, paneH int) {
	bodyH := m.bodyHeight()
	if len(m.panes) == 0 {
		return bodyH, 0
	}
	tableH = max(bodyH/3, min(6, bodyH/2))
	return tableH, bodyH - tableH
}

// panesView draws the pane bar (every pane, the shown one marked) and the
// shown pane: the focused one, else the newest.
func (m *Model) panesView(w, h int) string {
	st := m.c.styles
	shown := len(m.panes) - 1
	if m.focus >= 0 {
		shown = m.focus
	}
	var tabs []string
	for i, pn := range m.panes {
		label := fmt.Sprintf(" %d %s %s ", i+1, pn.zone, pn.kind)
		switch {
		case i == m.focus:
			tabs = append(tabs, st.PaneFocus.Render(label))
		case i == shown:
			tabs = append(tabs, st.ActiveTab.Render(label))
		default:
			tabs = append(tabs, st.PaneTitle.Render(label))
		}
	}
	pn := m.panes[shown]
	hint := " ctrl+] zonetop · ~. detach · shift+pgup scroll"
	if m.focus < 0 {
		hint = " tab: focus pane"
	}
	if pn.offset > 0 {
		hint = fmt.Sprintf(" scrolled back %d lines", pn.offset)
	}
	title := fit(strings.Join(tabs, " ")+st.HeaderKey.Render(hint), w, false)
	rows := paneRows(h)
	view := strings.Split(pn.screen.View(pn.offset), "\n")
	for len(view) < rows {
		view = append(view, "")
	}
	return title + "\n" + clip(strings.Join(view[:rows], "\n"), w)
}

// paneTabLines is what the Console and Login tabs of the detail view say:
// the pane is below when open, else how to open it.
func (m *Model) paneTabLines(kind, zone string) []string {
	st := m.c.styles
	for _, pn := range m.panes {
		if pn.kind == kind && pn.zone == zone {
			return []string{st.HeaderVal.Render(fmt.Sprintf("the %s of %s is open in the pane below; tab focuses it", kind, zone))}
		}
	}
	k := "c"
	if kind == "login" {
		k = "l"
	}
	return []string{st.Empty.Render(fmt.Sprintf("press %s to open a %s pane on %s", k, kind, zone))}
}

// askQuit quits, but first asks when a login pane is open: quitting ends
// the shell in the zone and whatever it runs. A console pane only
// detaches, and the console goes on without zonetop.
func (m *Model) askQuit() (tea.Model, tea.Cmd) {
	var logins []string
	for _, pn := range m.panes {
		if pn.login != nil {
			logins = append(logins, pn.zone)
		}
	}
	if len(logins) == 0 {
		return m.quit()
	}
	what := "the login on " + logins[0] + " ends"
	if len(logins) > 1 {
		what = fmt.Sprintf("%d logins end (%s)", len(logins), strings.Join(logins, ", "))
	}
	m.confirm = &confirmState{verb: "quit", subject: "zonetop",
		question: "quit zonetop? " + what + " [y/N]",
		do: func() tea.Cmd {
			_, cmd := m.quit()
			return cmd
		}}
	return m, nil
}

// paneMouse reports a mouse event on the focused pane to its program, in
// the pane's own cells, when the program asked for the mouse, and says
// whether it did; otherwise the mouse stays zonetop's.
func (m *Model) paneMouse(msg tea.MouseMsg) bool {
	if m.focus < 0 || m.focus >= len(m.panes) {
		return false
	}
	pn := m.panes[m.focus]
	if pn.offset > 0 {
		return false // scrolled back: what is under the pointer is history
	}
	tableH, _ := m.split()
	top := m.headerHeight() + tableH + 1 // the pane's title line is above it
	cols, rows := pn.screen.Size()
	mo := msg.Mouse()
	x, y := mo.X, mo.Y-top
	if x < 0 || x >= cols || y < 0 || y >= rows {
		return false
	}
	in := uv.Mouse{X: x, Y: y, Button: mo.Button, Mod: mo.Mod}
	var ev uv.MouseEvent
	switch msg.(type) {
	case tea.MouseClickMsg:
		ev = uv.MouseClickEvent(in)
	case tea.MouseReleaseMsg:
		ev = uv.MouseReleaseEvent(in)
	case tea.MouseMotionMsg:
		ev = uv.MouseMotionEvent(in)
	case tea.MouseWheelMsg:
		ev = uv.MouseWheelEvent(in)
	default:
		return false
	}
	return pn.screen.SendMouse(ev)
}

// mouseMode is the mouse reporting zonetop asks of its terminal: cell
// motion for itself, all motion while the focused pane's program follows
// the pointer.
func (m *Model) mouseMode() tea.MouseMode {
	if m.focus >= 0 && m.focus < len(m.panes) && m.panes[m.focus].screen.MouseTracking() == cscreen.MouseAnyMotion {
		return tea.MouseModeAllMotion
	}
	return tea.MouseModeCellMotion
}
