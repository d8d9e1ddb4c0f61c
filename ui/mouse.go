package ui

import (
	tea "charm.land/bubbletea/v2"
)

// The mouse in what covers the zone table works as it does in the table:
// a click selects the row under it (a click on a title sorts by that
// column), the wheel moves the selection of a list a row a notch and
// scrolls a text textLines lines. The wheel goes through the same key
// handlers as the arrows, so a view's bounds and follow mode stay its
// own business.

// textLines is how far a wheel notch scrolls a text (a log, a command's
// output, the Config tab), as less and most terminals' scrollback do.
const textLines = 3

// overlayMouse handles a click or wheel notch over the open overlay; ok
// says one was open, so the table underneath is not moved.
func (m *Model) overlayMouse(msg tea.MouseMsg) bool {
	over := m.overlay()
	if over == "" {
		return false
	}
	if over == "form" || over == "editor" || m.confirm != nil ||
		over == "detail" && (m.detail.edit != nil || m.detail.addForm != nil) {
		return true // fields and answers are typed
	}
	mo := msg.Mouse()
	tableH, _ := m.split()
	y := mo.Y - m.headerHeight()
	if y < 0 || y >= tableH {
		return false // the header, a pane, the status and help lines
	}
	switch msg := msg.(type) {
	case tea.MouseWheelMsg:
		dir := ""
		switch msg.Button {
		case tea.MouseWheelUp:
			dir = "up"
		case tea.MouseWheelDown:
			dir = "down"
		default:
			return true
		}
		m.overlayWheel(over, dir)
	case tea.MouseClickMsg:
		if msg.Button == tea.MouseLeft && m.mode == inputNone {
			m.overlayClick(over, mo.X, y)
		}
	}
	return true
}

func (m *Model) overlayWheel(over, dir string) {
	code := map[string]rune{"up": tea.KeyUp, "down": tea.KeyDown}[dir]
	k := tea.KeyPressMsg{Code: code}
	n := 1
	switch {
	case over == "output", m.logs != nil && over == "view":
		n = textLines
	case over == "detail" && (m.detail.tab == tabConfig || m.detail.tab == tabEvents):
		n = textLines
	}
	for range n {
		switch over {
		case "output":
			m.outputKey(k)
		case "detail":
			m.detailKey(k)
		case "view":
			m.viewKey(k)
		}
	}
}

// overlayClick selects what is on body line y (0 is the body's first
// line) at column x.
func (m *Model) overlayClick(over string, x, y int) {
	switch {
	case over == "detail" && m.detail.tab == tabProcesses:
		// The tab bar takes two lines, wide or narrow.
		m.procClick(m.detail.pv, x, y-2)
	case over == "view" && m.procs != nil:
		m.procClick(m.procs, x, y-1) // under the view's title
	case over == "view" && m.projects != nil:
		m.projectsClick(y - 2) // under the title and the column titles
	}
}

// procClick acts on line k of what procBody drew: the column titles sort,
// a row is selected.
func (m *Model) procClick(v *procView, x, k int) {
	if v == nil || !v.loaded || v.menu != nil || k < 0 {
		return
	}
	if k == 0 && len(v.errs) == 0 {
		if len(v.rows) > 0 {
			v.sortBy(v.columnAt(x, m.c.width))
		}
		return
	}
	// procBody keeps its first line and scrolls the rest: line k is
	// line scroll+k of the whole list, whose rows follow the errors and
	// the titles.
	if i := v.scroll + k - 1 - len(v.errs); i >= 0 && i < len(v.rows) {
		v.cursor = i
		v.clamp()
	}
}

// projectsClick selects row n of the grid's scrolled rows.
func (m *Model) projectsClick(n int) {
	v := m.projects
	if n < 0 {
		return
	}
	total := 0
	for _, g := range m.overviewGroups() {
		total += len(g.rows)
	}
	if i := v.scroll + n; i < total {
		v.sel = i
	}
}
