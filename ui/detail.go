package ui

import (
	"fmt"
	"strings"
	"time"
	"zonetop/api"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"zonetop/termsafe"
)

// detailTabs are the tabs of a zone's detail view, in order.
var detailTabs = []string{"Config", "Caps", "Projects", "Processes", "Console", "Login", "Events", "Logs"}

const (
	tabConfig = iota
	tabCaps
	tabProjects
	tabProcesses
	tabConsole
	tabLogin
	tabEvents
	tabLogs
)

// detailView is what enter opens on a zone. Its data are fetched off the
// Update loop when it opens and on every refresh while it is open.
type detailView struct {
	zone    string
	tab     int
	info    string
	infoErr error
	pv      *procView // the Processes tab
	lv      *logView  // the Logs tab: the console log
	events  []api.Event
	scroll  int
	loading bool
	dirty   bool

	// The Caps and Projects tabs: the selected row, the limit being
	// edited, the new-project form, and the body line the selection is
	// drawn on, which scrolling keeps in view (-1: none).
	sel       int
	col       int // the Projects tab's selected control
	edit      *capEdit
	addForm   *projectForm
	focusLine int
}

type detailMsg struct {
	zone    string
	info    string
	infoErr error
	procs   []api.Process
	procErr error
	events  []api.Event
	at      time.Time
}

func (m *Model) openDetail(zone string) tea.Cmd {
	m.detail = &detailView{zone: zone, loading: true, pv: newProcView(zone, ""), lv: newLogView(zone)}
	return m.fetchDetail()
}

// detailDirty asks for fresh detail data after an action.
func (m *Model) detailDirty() {
	if m.detail != nil {
		m.detail.dirty = true
	}
}

func (m *Model) fetchDetail() tea.Cmd {
	d := m.detail
	if d == nil {
		return nil
	}
	b, p, ctx, zone, tab := m.backend, m.opts.Principal, m.ctx, d.zone, d.tab
	var logCmd tea.Cmd
	if tab == tabLogs && (d.lv.follow || !d.lv.loaded) {
		// Following, the log is read again on every refresh, as
		// :logs does; paused, what is shown stays put.
		logCmd = m.fetchLog(d.lv)
	}
	return tea.Batch(logCmd, func() tea.Msg {
		msg := detailMsg{zone: zone, at: time.Now()}
		msg.info, _, msg.infoErr = b.ZoneConfig(ctx, p, zone)
		if tab == tabProcesses {
			msg.procs, msg.procErr = b.Processes(ctx, p, zone)
		}
		msg.events = b.Events(p, zone)
		return msg
	})
}

func (m *Model) onDetail(msg detailMsg) {
	d := m.detail
	if d == nil || d.zone != msg.zone {
		return
	}
	d.loading = false
	d.info, d.infoErr, d.events = msg.info, msg.infoErr, msg.events
	if msg.procs != nil || msg.procErr != nil {
		pm := procsMsg{view: d.pv, procs: map[string][]api.Process{d.zone: msg.procs}, at: msg.at}
		if msg.procErr != nil {
			pm.procs, pm.errs = nil, []string{msg.procErr.Error()}
		}
		d.pv.set(pm)
	}
}

func (m *Model) detailKey(msg tea.KeyPressMsg) (tea.Model, tea.Cmd) {
	d := m.detail
	if cmd, ok := m.editKey(msg); ok {
		return m, cmd
	}
	if d.tab == tabProcesses {
		if cmd, ok := m.procKey(d.pv, msg); ok {
			return m, cmd
		}
	}
	if d.tab == tabLogs {
		if cmd, ok := m.logKey(d.lv, msg); ok {
			return m, cmd
		}
	}
	switch msg.String() {
	case "esc", "q":
		// The table's help is another list; it opens closed.
		m.detail, m.help.ShowAll = nil, false
		m.resize()
		return m, nil
	case "?":
		m.help.ShowAll = !m.help.ShowAll
		m.resize()
		return m, nil
	case "tab", "right", "L":
		d.tab = (d.tab + 1) % len(detailTabs)
		d.scroll, d.sel = 0, 0
		return m, m.fetchDetail()
	case "shift+tab", "left", "H":
		d.tab = (d.tab + len(detailTabs) - 1) % len(detailTabs)
		d.scroll, d.sel = 0, 0
		return m, m.fetchDetail()
	case "down", "j":
		d.scroll++
		return m, nil
	case "up", "k":
		d.scroll = max(d.scroll-1, 0)
		return m, nil
	}
	if s := msg.String(); len(s) == 1 && s[0] >= '1' && int(s[0]-'1') < len(detailTabs) {
		d.tab = int(s[0] - '1')
		d.scroll, d.sel = 0, 0
		return m, m.fetchDetail()
	}
	// The action keys act on the zone shown.
	if verb := m.actionVerb(msg); verb != "" && verb != "new" {
		return m.startAction(verb)
	}
	return m, nil
}

// detailBody draws the tab bar and the current tab in w×h.
func (m *Model) detailBody(w, h int) string {
	d := m.detail
	st := m.c.styles
	// tabBar draws the labels padded, or, tight, one space apart: eight
	// padded labels are 81 columns.
	tabBar := func(tight bool) string {
		var tabs []string
		for i, t := range detailTabs {
			label := fmt.Sprintf("%d %s", i+1, t)
			s := st.Tab
			if i == d.tab {
				s = st.ActiveTab
			}
			if tight {
				s = s.UnsetPadding()
			}
			tabs = append(tabs, s.Render(label))
		}
		if tight {
			return strings.Join(tabs, " ")
		}
		return strings.Join(tabs, "")
	}
	title := st.Title.Render(d.zone)
	if z, ok := m.zoneByName(d.zone); ok {
		title += " " + st.StateStyle(z.State).Render(z.State)
	}
	bar := title + "  " + tabBar(false)
	lines := []string{bar, ""}
	if ansi.StringWidth(bar) > w {
		// Narrow: the tabs take the line under the title, whole, rather
		// than being cut to names no one can read; tight when even that
		// line is too narrow for them.
		tabs := tabBar(false)
		if ansi.StringWidth(tabs) > w {
			tabs = tabBar(true)
		}
		lines = []string{title, tabs}
	}
	var body []string
	d.focusLine = -1
	switch {
	case d.loading:
		body = []string{st.Empty.Render("loading…")}
	case d.tab == tabConfig:
		if d.infoErr != nil {
			body = []string{st.StatusError.Render(d.infoErr.Error())}
		} else {
			body = strings.Split(strings.TrimRight(d.info, "\n"), "\n")
			for i, l := range body {
				// zonecfg info indents with tabs; attr values come
				// from delegated users.
				body[i] = termsafe.String(strings.ReplaceAll(l, "\t", "    "))
			}
		}
	case d.tab == tabCaps:
		body = m.capsLines(w)
	case d.tab == tabProjects:
		body = m.projectLines(w)
	case d.tab == tabProcesses:
		// The list scrolls itself to its cursor.
		body = m.procBody(d.pv, w, max(h-len(lines), 1))
		d.scroll = 0
	case d.tab == tabConsole, d.tab == tabLogin:
		kind := "console"
		if d.tab == tabLogin {
			kind = "login"
		}
		body = m.paneTabLines(kind, d.zone)
	case d.tab == tabLogs:
		// The log view draws its own window onto the log; it follows
		// the end, searches and saves as :logs does.
		return clip(strings.Join(append(lines, m.logBody(d.lv, w, max(h-len(lines), 1))), "\n"), w)
	case d.tab == tabEvents:
		events := m.eventsOf(d.zone, d.events)
		if len(events) == 0 {
			body = []string{st.Empty.Render("nothing has happened to this zone through this console's engine yet")}
		}
		for _, ev := range events {
			// An event's op and result quote what a zone named
			// (projects, users); shown escaped, never acted on.
			res := st.OK.Render(termsafe.String(ev.Result))
			if ev.Failed {
				res = st.StatusError.Render(termsafe.String(ev.Result))
			}
			body = append(body, fmt.Sprintf("%s  %-9s uid %-5d %s", ev.Time.Format("15:04:05"), termsafe.String(ev.Op), ev.UID, res))
		}
	}
	room := max(h-len(lines), 1)
	if f := d.focusLine; f >= 0 {
		// Keep the selected row, and the edit under it, on screen.
		if f < d.scroll {
			d.scroll = f
		} else if f >= d.scroll+room {
			d.scroll = f - room + 1
		}
	}
	d.scroll = min(d.scroll, max(len(body)-room, 0))
	body = body[d.scroll:]
	if len(body) > room {
		body = body[:room]
	}
	lines = append(lines, body...)
	return clip(strings.Join(lines, "\n"), w)
}

func (m *Model) zoneByName(name string) (api.ZoneInfo, bool) {
	for _, z := range m.table.all {
		if z.Name == name {
			return z, true
		}
	}
	return api.ZoneInfo{}, false
}

// usageNote explains why a usage view is empty.
func (m *Model) usageNote(zone string) (string, *liveUsage) {
	if _, ok := m.backend.(UsageBackend); !ok {
		return "usage is not available from this engine yet", nil
	}
	u := m.table.usage[zone]
	switch {
	case zone == globalZone:
		// Its row is the host less the zones; it has no cgroup of
		// zonetop's, so no caps or projects of the console's to list.
		return "the global zone is the host: it has no zone caps; its row in the table is the host less every zone", nil
	case u == nil:
		return "no usage sample yet (the zone is not ready or running)", nil
	case u.err != nil:
		return u.err.Error(), nil
	}
	return "", u
}

func (m *Model) capsLines(w int) []string {
	st := m.c.styles
	note, u := m.usageNote(m.detail.zone)
	if u == nil {
		return []string{st.Empty.Render(note)}
	}
	d := m.detail
	lines := []string{st.TableHeader.Render(fmt.Sprintf("%-26s %-22s %s", "CAP", "USED / LIMIT", "USAGE"))}
	editable := m.canEditCaps()
	mark := ""
	if !editable {
		lines = []string{st.HeaderKey.Render("zone caps are set by the global administrator (read-only)"), lines[0]}
		mark = "set by the global administrator"
		if w < 50+5+1+len(mark) {
			mark = "set by global admin"
		}
	}
	barW := max(min(w-52-len(mark), 40), 5)
	d.sel = min(d.sel, max(len(u.Caps)-1, 0))
	for i, c := range u.Caps {
		frac := -1.0
		if c.Limit > 0 {
			frac = float64(c.Used) / float64(c.Limit)
		}
		text := fmt.Sprintf("%-26s %-22s", c.Name, capText(c.Unit, c.Used, c.Limit))
		if editable && i == d.sel {
			text = st.Selected.Render(text)
			d.focusLine = len(lines)
		}
		line := text + " " + st.bar(frac, barW)
		if mark != "" {
			line += " " + st.HeaderKey.Render(mark)
		}
		lines = append(lines, line)
		if editable && i == d.sel && d.edit != nil {
			lines = append(lines, m.editLines(2)...)
			d.focusLine = len(lines) - 1
		}
	}
	return lines
}
