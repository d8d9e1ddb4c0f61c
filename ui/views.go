package ui

import (
	"fmt"
	"slices"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"zonetop/termsafe"
)

// Views are switched from the command line, as k9s' `:pods`: `:zones`,
// `:projects`, `:procs [ZONE [PROJECT]]`, `:logs [ZONE]`. A view replaces
// the zone table until esc; a zone's detail opens over any of them.

// viewCommands are the console's own `:` words, with their aliases.
var viewCommands = map[string]string{
	"zones": "zones", "zone": "zones", "z": "zones",
	"projects": "projects", "project": "projects", "proj": "projects",
	"procs": "procs", "processes": "procs", "ps": "procs", "proc": "procs",
	"logs": "logs", "log": "logs",
}

// shortVerbs are the `:` words that take a zone name next (`:boot web01`).
var shortVerbs = []string{"ready", "boot", "halt", "reboot", "shutdown", "install", "clone", "uninstall", "verify"}

// switchView runs a view command; ok is false when words are not one.
func (m *Model) switchView(words []string) (tea.Cmd, bool) {
	view, ok := viewCommands[words[0]]
	if !ok {
		return nil, false
	}
	args := words[1:]
	if len(args) > 2 || (view != "procs" && len(args) > 1) || (view == "zones" || view == "projects") && len(args) > 0 {
		m.setFlash("", fmt.Errorf("usage: :zones, :projects, :procs [ZONE [PROJECT]], :logs [ZONE]"))
		return nil, true
	}
	zone := ""
	if len(args) > 0 {
		zone = args[0]
		if _, known := m.zoneByName(zone); !known {
			m.setFlash("", fmt.Errorf("%s: no zone %s is visible to you", words[0], termsafe.String(zone)))
			return nil, true
		}
	}
	m.closeViews()
	m.flash = ""
	switch view {
	case "projects":
		m.projects = &projectsOverview{}
		return m.startRefresh(), true
	case "procs":
		project := ""
		if len(args) > 1 {
			project = args[1]
		}
		m.procs = newProcView(zone, project)
		return m.fetchProcs(m.procs), true
	case "logs":
		if zone == "" {
			z, ok := m.table.Selected()
			if !ok || z.Name == globalZone {
				m.setFlash("", fmt.Errorf("logs: name a zone (:logs ZONE) or select one"))
				return nil, true
			}
			zone = z.Name
		}
		m.logs = newLogView(zone)
		return m.fetchLog(m.logs), true
	}
	return nil, true // zones: the table itself
}

// closeViews goes back to the zone table.
func (m *Model) closeViews() {
	m.projects, m.procs, m.logs, m.detail, m.output = nil, nil, nil, nil, nil
	m.help.ShowAll = false
	m.resize()
}

// viewTick is what the open view fetches on a refresh.
func (m *Model) viewTick() tea.Cmd {
	var cmds []tea.Cmd
	if m.procs != nil {
		cmds = append(cmds, m.fetchProcs(m.procs))
	}
	if m.logs != nil && m.logs.follow {
		cmds = append(cmds, m.fetchLog(m.logs))
	}
	return tea.Batch(cmds...)
}

// viewMsg files what a view fetched; ok says msg was one.
func (m *Model) viewMsg(msg tea.Msg) (tea.Cmd, bool) {
	switch msg := msg.(type) {
	case procsMsg:
		if msg.view == m.procs && m.procs != nil {
			m.procs.set(msg)
		}
		return nil, true
	case logMsg:
		if d := m.detail; d != nil && d.lv != nil && d.lv.zone == msg.zone {
			d.lv.set(msg)
		}
		if m.logs != nil && m.logs.zone == msg.zone {
			m.logs.set(msg)
		}
		return nil, true
	case signalDoneMsg:
		m.setFlash(msg.what, msg.err)
		if m.detail != nil && m.detail.tab == tabProcesses {
			return m.fetchDetail(), true
		}
		return m.fetchProcs(m.procs), true
	}
	return nil, false
}

// viewKey handles the keys of an open view; ok says one was open.
func (m *Model) viewKey(msg tea.KeyPressMsg) (tea.Cmd, bool) {
	k := m.c.keys
	switch {
	case m.procs != nil:
		if cmd, ok := m.procKey(m.procs, msg); ok {
			return cmd, true
		}
		switch {
		case key.Matches(msg, k.DetailBack):
			m.closeViews()
		case msg.String() == "enter":
			if r, ok := m.procs.selected(); ok {
				return m.openDetail(r.zone), true
			}
		case key.Matches(msg, k.Help):
			m.help.ShowAll = !m.help.ShowAll
			m.resize()
		}
		return nil, true
	case m.logs != nil:
		if cmd, ok := m.logKey(m.logs, msg); ok {
			return cmd, true
		}
		switch {
		case key.Matches(msg, k.DetailBack):
			m.closeViews()
		case key.Matches(msg, k.Help):
			m.help.ShowAll = !m.help.ShowAll
			m.resize()
		}
		return nil, true
	case m.projects != nil:
		v := m.projects
		switch s := msg.String(); {
		case key.Matches(msg, k.DetailBack):
			m.closeViews()
		case s == "up" || s == "k":
			v.sel--
		case s == "down" || s == "j":
			v.sel++
		case s == "home" || s == "g":
			v.sel = 0
		case s == "end" || s == "G":
			v.sel = 1 << 30
		case s == "enter":
			// The zone's own Projects tab, on the same row, to edit.
			if zone, row, ok := m.overviewSelected(); ok {
				cmd := m.openDetail(zone)
				m.detail.tab, m.detail.sel = tabProjects, row
				return cmd, true
			}
		case s == "p":
			// The processes of the selected project.
			if zone, row, ok := m.overviewSelected(); ok {
				rows := gridRows(m.table.usage[zone])
				m.procs = newProcView(zone, rows[row].project)
				m.projects = nil
				return m.fetchProcs(m.procs), true
			}
		case key.Matches(msg, k.Help):
			m.help.ShowAll = !m.help.ShowAll
			m.resize()
		}
		total := 0
		for _, g := range m.overviewGroups() {
			total += len(g.rows)
		}
		v.sel = min(max(v.sel, 0), max(total-1, 0))
		return nil, true
	}
	return nil, false
}

// viewBody draws the open view in w×h; ok says one was open.
func (m *Model) viewBody(w, h int) (string, bool) {
	switch {
	case m.procs != nil:
		lines := append([]string{m.procsTitle(m.procs)}, m.procBody(m.procs, w, max(h-1, 1))...)
		return clip(strings.Join(lines, "\n"), w), true
	case m.logs != nil:
		return m.logBody(m.logs, w, h), true
	case m.projects != nil:
		return m.projectsView(w, h), true
	}
	return "", false
}

// logKeys are the log's own keys, in :logs and the detail's Logs tab.
func logKeys() []key.Binding {
	nb := func(keys, h, desc string) key.Binding {
		return key.NewBinding(key.WithKeys(keys), key.WithHelp(h, desc))
	}
	return []key.Binding{nb("f", "f/G", "follow"), nb("/", "/", "search"), nb("n", "n/N", "next"), nb("w", "w", "save")}
}

// viewHelp is the footer and full help of the open view.
func (m *Model) viewHelp() (viewKeys, bool) {
	k := m.c.keys
	nb := func(keys, h, desc string) key.Binding {
		return key.NewBinding(key.WithKeys(keys), key.WithHelp(h, desc))
	}
	cmd := relabel(k.Command, "view")
	switch {
	case m.procs != nil:
		return m.procHelp(m.procs, true), true
	case m.logs != nil:
		short := append(logKeys(), k.Scroll, cmd, relabel(k.DetailBack, "back"))
		return viewKeys{short, [][]key.Binding{short, {k.PageUp, k.PageDown, k.Home, k.End, k.Help, k.QuitAll}}}, true
	case m.projects != nil:
		short := []key.Binding{k.Scroll, nb("enter", "enter", "edit in zone"), nb("p", "p", "processes"), cmd, relabel(k.DetailBack, "back")}
		return viewKeys{short, [][]key.Binding{short, {k.Home, k.End, k.Help, k.QuitAll}}}, true
	}
	return viewKeys{}, false
}

// procHelp is the process view's keys; top says it is the `:procs` view
// rather than the detail's tab.
func (m *Model) procHelp(v *procView, top bool) viewKeys {
	k := m.c.keys
	nb := func(keys, h, desc string) key.Binding {
		return key.NewBinding(key.WithKeys(keys), key.WithHelp(h, desc))
	}
	if v != nil && v.menu != nil {
		l := []key.Binding{nb("up", "↑↓", "signal"), nb("enter", "enter", "send…"), nb("esc", "esc", "cancel")}
		return viewKeys{l, [][]key.Binding{l}}
	}
	move := nb("up", "↑↓", "move")
	sorts := nb("P", "P/M/N/U", "sort")
	tree := nb("t", "t", "tree")
	kill := nb("k", "k", "signal")
	full := [][]key.Binding{
		{move, k.PageUp, k.PageDown, k.Home, k.End, nb("/", "/", "filter")},
		{nb("P", "P", "by cpu%"), nb("M", "M", "by rss"), nb("N", "N", "by pid"), nb("U", "U", "by user"), nb("J", "J", "by project"), nb("C", "C", "by command")},
		{nb("s", "s", "next column"), nb("o", "o/I", "reverse"), tree, kill},
	}
	if top {
		short := []key.Binding{move, sorts, tree, kill, nb("enter", "enter", "zone"), relabel(k.Command, "view"), relabel(k.DetailBack, "back")}
		// The way back shares the last column: a fourth did not fit 80
		// columns and was the one cut.
		full[2] = append(full[2], nb("enter", "enter", "zone"), relabel(k.Command, "view"), k.Help, relabel(k.DetailBack, "back"), k.QuitAll)
		return viewKeys{short, full}
	}
	return viewKeys{[]key.Binding{move, sorts, tree, kill}, full}
}

// complete is Tab in the command line: the console's own words (views,
// quit), zone names after a word that takes one, and whatever the CLI's
// completion (Options.Complete) offers for zoneadm, zonecfg, prctl...
// One candidate completes the word; several complete what they share and
// are listed in the status line.
func (m *Model) complete() {
	line := m.input.Value()
	words := strings.Fields(line)
	if len(words) == 0 || strings.HasSuffix(line, " ") {
		words = append(words, "")
	}
	cur := words[len(words)-1]
	var cands []string
	if len(words) == 1 {
		for w := range viewCommands {
			cands = append(cands, w)
		}
		cands = append(cands, "quit")
		cands = append(cands, shortVerbs...)
	} else if _, isView := viewCommands[words[0]]; isView || slices.Contains(shortVerbs, words[0]) {
		if len(words) == 2 {
			for _, z := range m.table.all {
				if z.Name != globalZone {
					cands = append(cands, z.Name)
				}
			}
		} else if len(words) == 3 && viewCommands[words[0]] == "procs" {
			if u := m.table.usage[words[1]]; u != nil {
				for _, p := range u.Projects {
					cands = append(cands, p.Name)
				}
			}
		}
	}
	if m.opts.Complete != nil {
		cands = append(cands, m.opts.Complete(words)...)
	}
	var match []string
	for _, c := range cands {
		if strings.HasPrefix(c, cur) && !slices.Contains(match, c) {
			match = append(match, c)
		}
	}
	slices.Sort(match)
	if len(match) == 0 {
		m.setFlash("", fmt.Errorf("no completion for %q", cur))
		return
	}
	prefix := match[0]
	for _, c := range match[1:] {
		for !strings.HasPrefix(c, prefix) {
			prefix = prefix[:len(prefix)-1]
		}
	}
	head := line[:len(line)-len(cur)]
	if len(match) == 1 {
		prefix += " "
		m.flash = ""
	} else {
		m.setFlash(strings.Join(match, "  "), nil)
	}
	m.input.SetValue(head + prefix)
	m.input.CursorEnd()
}
