package ui

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"zonetop/termsafe"
)

// maxHistory is how many `:` lines Up brings back.
const maxHistory = 100

// outputView shows a `:` command's whole output when it is more than one
// line: `zoneadm list -cv` is a table, and the status line would show
// only its header.
type outputView struct {
	line   string
	lines  []string
	failed bool
	scroll int
}

func newOutputView(line, out string, err error) *outputView {
	text := strings.TrimRight(out, "\n")
	if err != nil {
		if text != "" {
			text += "\n"
		}
		text += err.Error()
	}
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		// Commands quote what zones named; tabs are zonecfg's indent.
		lines[i] = termsafe.String(strings.ReplaceAll(l, "\t", "    "))
	}
	return &outputView{line: line, lines: lines, failed: err != nil}
}

// multiLine says whether a command's answer needs the output view.
func multiLine(out string, err error) bool {
	text := strings.TrimSpace(out)
	if err != nil {
		text += "\n" + err.Error()
		text = strings.TrimSpace(text)
	}
	return strings.Contains(text, "\n")
}

func (m *Model) outputKey(msg tea.KeyPressMsg) (tea.Model, tea.Cmd) {
	o := m.output
	k := m.c.keys
	page := max(m.bodyHeight()-1, 1)
	switch {
	case key.Matches(msg, k.DetailBack):
		m.output, m.help.ShowAll = nil, false
		m.resize()
	case key.Matches(msg, k.Up):
		o.scroll--
	case key.Matches(msg, k.Down):
		o.scroll++
	case key.Matches(msg, k.PageUp):
		o.scroll -= page
	case key.Matches(msg, k.PageDown), msg.String() == "space":
		o.scroll += page
	case key.Matches(msg, k.Home):
		o.scroll = 0
	case key.Matches(msg, k.End):
		o.scroll = len(o.lines)
	case key.Matches(msg, k.Help):
		m.help.ShowAll = !m.help.ShowAll
		m.resize()
	}
	// View clamps the bottom, which depends on the height it is given.
	o.scroll = max(o.scroll, 0)
	return m, nil
}

// View draws the command, its output from the scroll position, and where
// in the output that is.
func (o *outputView) View(st *Styles, w, h int) string {
	room := max(h-1, 1)
	o.scroll = min(o.scroll, max(len(o.lines)-room, 0))
	end := min(o.scroll+room, len(o.lines))
	title := st.Title.Render(":" + termsafe.String(o.line))
	if o.failed {
		title += "  " + st.StatusError.Render("failed")
	}
	if len(o.lines) > room {
		title += st.HeaderKey.Render(fmt.Sprintf("  lines %d–%d of %d", o.scroll+1, end, len(o.lines)))
	}
	out := append([]string{title}, o.lines[o.scroll:end]...)
	return clip(strings.Join(out, "\n"), w)
}

// remember adds a line to the `:` history, once: running the same line
// again does not push the others further back.
func (m *Model) remember(line string) {
	if n := len(m.history); n > 0 && m.history[n-1] == line {
		m.histPos = len(m.history)
		return
	}
	m.history = append(m.history, line)
	if len(m.history) > maxHistory {
		m.history = m.history[len(m.history)-maxHistory:]
	}
	m.histPos = len(m.history)
}

// historyKey moves through the `:` history with Up and Down, as a shell
// does; past the newest line is what was being typed.
func (m *Model) historyKey(delta int) {
	if len(m.history) == 0 {
		return
	}
	if m.histPos == len(m.history) && delta < 0 {
		m.draft = m.input.Value()
	}
	m.histPos = min(max(m.histPos+delta, 0), len(m.history))
	if m.histPos == len(m.history) {
		m.input.SetValue(m.draft)
	} else {
		m.input.SetValue(m.history[m.histPos])
	}
	m.input.CursorEnd()
}
