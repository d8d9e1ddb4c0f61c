package ui

import (
	"fmt"
	"slices"
	"strings"

	"zonetop/termsafe"
)

// The Projects view is a grid, as zonestat's project lines are: a row per
// project (and one for the zone's own caps above them), a column per
// control, each cell "used/limit" against the limit that binds, coloured
// by how near it is. Four lines of bars per project filled a screen with
// three projects; a grid shows forty.

// projCol is one control of the grid.
type projCol struct {
	title string
	rctl  string // the control's name after "project." (and "zone.")
	zone  string // the zone cap's name after "zone.", where it differs
	unit  string
}

var projCols = []projCol{
	{"LWPS", "max-lwps", "", "count"},
	{"MEMORY", "max-memory", "max-physical-memory", "bytes"},
	{"CPU", "cpu-cap", "", "cpu"},
	{"SHM", "max-shm-memory", "", "bytes"},
	{"SHM-IDS", "max-shm-ids", "", "count"},
	{"SEM-IDS", "max-sem-ids", "", "count"},
	{"MSG-IDS", "max-msg-ids", "", "count"},
}

// rctlName is the control's full name for a project row, or for the
// zone's row (project "").
func (c projCol) rctlName(project string) string {
	if project != "" {
		return "project." + c.rctl
	}
	if c.zone != "" {
		return "zone." + c.zone
	}
	return "zone." + c.rctl
}

// projRow is a row of the grid: the zone's caps (project "") or one
// project, with a cell per projCols entry (nil: the backend gave none).
type projRow struct {
	project string
	id      int
	cells   []*CapUsage
}

// gridRows are a zone's grid rows: the zone's caps first, then its own
// projects, then the system's.
func gridRows(u *liveUsage) []projRow {
	byName := func(ls []CapUsage, project string) []*CapUsage {
		cells := make([]*CapUsage, len(projCols))
		for i, c := range projCols {
			name := c.rctlName(project)
			if j := slices.IndexFunc(ls, func(l CapUsage) bool { return l.Name == name }); j >= 0 {
				cells[i] = &ls[j]
			}
		}
		return cells
	}
	rows := []projRow{{cells: byName(u.Caps, "")}}
	for _, p := range orderedProjects(u.Projects) {
		rows = append(rows, projRow{project: p.Name, id: p.ID, cells: byName(p.Limits, p.Name)})
	}
	return rows
}

// limitOf is the limit that binds a cell: the effective one where the
// backend knows it, else its own.
func limitOf(c *CapUsage) uint64 {
	if c.Effective > 0 {
		return c.Effective
	}
	return c.Limit
}

// cellText is "used/limit", or "used" without a limit, in the control's
// unit; "*" marks a project limit the zone's cap overrides.
func cellText(c *CapUsage) string {
	if c == nil {
		return "-"
	}
	s := unitText(c.Unit, c.Used)
	if l := limitOf(c); l > 0 {
		s += "/" + unitText(c.Unit, l)
	}
	if c.CappedByZone {
		s += "*"
	}
	return s
}

// projGroup is one zone's rows in the grid.
type projGroup struct {
	zone string
	rows []projRow
}

// projGrid draws groups as a table w wide. With showZone a ZONE column
// leads (the all-zones view). selRow counts rows over all groups; selCol
// is the selected cell's column, -1 to select the whole row. It returns
// the lines and the index of the selected row's line.
func (m *Model) projGrid(groups []projGroup, w int, showZone bool, selRow, selCol int) ([]string, int) {
	st := m.c.styles
	zoneW, nameW := 0, len("PROJECT")
	colW := make([]int, len(projCols))
	for i, c := range projCols {
		colW[i] = len(c.title)
	}
	for _, g := range groups {
		zoneW = max(zoneW, len(termsafe.String(g.zone)))
		for _, r := range g.rows {
			nameW = max(nameW, len(rowName(r)))
			for i, c := range r.cells {
				colW[i] = max(colW[i], len(cellText(c)))
			}
		}
	}
	nameW = min(nameW, 18)
	if showZone {
		zoneW = min(max(zoneW, len("ZONE")), 14)
	}
	head := ""
	if showZone {
		head = fit("ZONE", zoneW, false) + " "
	}
	head += fit("PROJECT", nameW, false)
	for i, c := range projCols {
		t := fit(c.title, colW[i], true)
		if i == selCol {
			t = st.SortedHeader.Render(t)
		} else {
			t = st.TableHeader.Render(t)
		}
		head += " " + t
	}
	lines := []string{st.TableHeader.Render(head)}
	focus, n := -1, 0
	for _, g := range groups {
		for j, r := range g.rows {
			selected := n == selRow
			n++
			line := ""
			if showZone {
				z := ""
				if j == 0 {
					z = termsafe.String(g.zone)
				}
				line = st.Title.Render(fit(z, zoneW, false)) + " "
			}
			name := fit(rowName(r), nameW, false)
			switch {
			case selected:
				name = st.Selected.Render(name)
				focus = len(lines)
			case r.project == "":
				name = st.HeaderKey.Render(name)
			}
			line += name
			for i, c := range r.cells {
				text := fit(cellText(c), colW[i], true)
				var cs = st.HeaderVal
				if c != nil {
					if l := limitOf(c); l > 0 {
						if t, ok := st.threshold(float64(c.Used) / float64(l)); ok {
							cs = t
						}
					} else {
						cs = st.HeaderKey
					}
				}
				if selected && (selCol < 0 || i == selCol) {
					cs = st.Selected
				}
				line += " " + cs.Render(text)
			}
			lines = append(lines, line)
		}
	}
	return lines, focus
}

// rowName is what the PROJECT column says: the project and its id, or
// that the row is the zone's own caps.
func rowName(r projRow) string {
	if r.project == "" {
		return "(zone caps)"
	}
	return fmt.Sprintf("%s %d", termsafe.String(r.project), r.id)
}

// projectLines is the detail's Projects tab: the zone's grid, what the
// selected cell means, and the edit under it.
func (m *Model) projectLines(w int) []string {
	st := m.c.styles
	note, u := m.usageNote(m.detail.zone)
	if u == nil {
		return []string{st.Empty.Render(note)}
	}
	d := m.detail
	if d.addForm != nil {
		d.focusLine = 2 + d.addForm.cur
		return d.addForm.view(st, w)
	}
	rows := gridRows(u)
	d.sel = min(d.sel, len(rows)-1)
	d.col = min(max(d.col, 0), len(projCols)-1)
	lines, focus := m.projGrid([]projGroup{{zone: d.zone, rows: rows}}, w, false, d.sel, d.col)
	d.focusLine = focus
	if len(rows) == 1 {
		lines = append(lines, st.Empty.Render("this zone has no projects"))
	}
	lines = append(lines, "", m.cellNote(rows[d.sel], d.col))
	if cappedAny(rows) {
		lines = append(lines, st.Warn.Render("*")+st.HeaderKey.Render(" capped by zone: the zone's cap is below the project's own limit, and wins"))
	}
	if d.edit != nil {
		lines = append(lines, m.editLines(2)...)
		d.focusLine = len(lines) - 1
	}
	return lines
}

// cellNote says in words what the selected cell holds: which control,
// what binds it, and who may change it.
func (m *Model) cellNote(r projRow, col int) string {
	st := m.c.styles
	c := r.cells[col]
	name := projCols[col].rctlName(r.project)
	who := st.HeaderKey.Render("  e edits")
	if r.project == "" && !m.canEditCaps() {
		who = st.HeaderKey.Render("  zone caps are set by the global administrator (read-only)")
	} else if r.project != "" && !m.canEditProjects(m.detail.zone) {
		who = st.HeaderKey.Render("  read-only")
	}
	if c == nil {
		return st.HeaderVal.Render(name+": not reported") + who
	}
	s := name + ": " + unitText(c.Unit, c.Used) + " in use"
	if l := limitOf(c); l > 0 {
		s += " of " + unitText(c.Unit, l)
	} else {
		s += ", no limit"
	}
	note := st.HeaderVal.Render(s)
	if c.CappedByZone {
		note += st.Warn.Render(" * capped by zone") + st.HeaderKey.Render(" (own "+unitText(c.Unit, c.Limit)+")")
	}
	return note + who
}

func cappedAny(rows []projRow) bool {
	for _, r := range rows {
		for _, c := range r.cells {
			if c != nil && c.CappedByZone {
				return true
			}
		}
	}
	return false
}

// projectsOverview is the `:projects` view: every visible zone's grid in
// one table, read-only; enter opens the selected zone's Projects tab on
// the same row.
type projectsOverview struct {
	sel    int
	scroll int
}

// overviewGroups are the grids of the zones with a usage sample, by name.
func (m *Model) overviewGroups() []projGroup {
	names := make([]string, 0, len(m.table.usage))
	for name, u := range m.table.usage {
		if name != globalZone && u.ok {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	groups := make([]projGroup, 0, len(names))
	for _, name := range names {
		groups = append(groups, projGroup{zone: name, rows: gridRows(m.table.usage[name])})
	}
	return groups
}

func (m *Model) projectsView(w, h int) string {
	st := m.c.styles
	v := m.projects
	groups := m.overviewGroups()
	title := st.Title.Render("Projects") + st.HeaderKey.Render("  usage/limit per zone and project · * capped by zone")
	if len(groups) == 0 {
		return title + "\n" + st.Empty.Render("no zone is ready or running, so no project has usage to show")
	}
	total := 0
	for _, g := range groups {
		total += len(g.rows)
	}
	v.sel = min(max(v.sel, 0), total-1)
	lines, focus := m.projGrid(groups, w, true, v.sel, -1)
	room := max(h-2, 1)
	// The column titles stay; the rows scroll under them.
	body := lines[1:]
	focus--
	if focus < v.scroll {
		v.scroll = focus
	} else if focus >= v.scroll+room {
		v.scroll = focus - room + 1
	}
	v.scroll = min(max(v.scroll, 0), max(len(body)-room, 0))
	body = body[v.scroll:min(v.scroll+room, len(body))]
	return clip(strings.Join(append([]string{title, lines[0]}, body...), "\n"), w)
}

// overviewSelected is the zone and row index within it of the selection.
func (m *Model) overviewSelected() (zone string, row int, ok bool) {
	n := m.projects.sel
	for _, g := range m.overviewGroups() {
		if n < len(g.rows) {
			return g.zone, n, true
		}
		n -= len(g.rows)
	}
	return "", 0, false
}
