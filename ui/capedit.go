package ui

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"zonetop/api"
	"zonetop/rctl"

	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
)

// Editing limits from the Caps and Projects tabs. A row is selected with
// up/down; e or enter opens an input under it, validated as it is typed
// against the control's unit; enter hands the value to the backend off the
// Update loop. Zone caps are the global administrator's; projects also
// their zone administrator's. The engine decides: a key the principal may
// not use is hidden from help, and typed anyway it goes to the engine,
// whose refusal is what the operator reads.

// capEdit is one limit being edited.
type capEdit struct {
	project string // "" for a zone cap
	rctl    string
	input   textinput.Model
	persist bool // zone caps: also write the configuration
	err     string
	busy    bool // handed to the engine; waiting for its answer
}

// editDoneMsg is the engine's answer to an edit, an add or a delete.
type editDoneMsg struct {
	zone string
	op   string // set-cap, set-limit, projadd, projdel: the events log's name
	what string // what was done, for the status line
	err  error
}

// systemProjects are the entries every /etc/project starts with, which
// the system's own processes run in; deleting one is refused.
var systemProjects = []string{"system", "user.root", "noproject", "default"}

// SystemProject reports whether name is one of the projects the system's
// own processes run in, which a ProjectEditor must not delete.
func SystemProject(name string) bool { return slices.Contains(systemProjects, name) }

// ErrSystemProject is what a ProjectEditor answers when asked to delete
// one of the system's own projects.
func ErrSystemProject(name string) error {
	return fmt.Errorf("project %s cannot be deleted: the system's own projects (%s) stay", name, strings.Join(systemProjects, ", "))
}

func (m *Model) canEditCaps() bool { return m.opts.Principal.GlobalAdmin() }

// canEditProjects mirrors the engine's rule, to decide what help offers.
func (m *Model) canEditProjects(zone string) bool {
	p := m.opts.Principal
	return p.GlobalAdmin() || (p.Zone == zone && p.UID == 0)
}

func (m *Model) capRows() []CapUsage {
	if _, u := m.usageNote(m.detail.zone); u != nil {
		return u.Caps
	}
	return nil
}

func (m *Model) projRows() []projRow {
	if _, u := m.usageNote(m.detail.zone); u != nil {
		return gridRows(u)
	}
	return nil
}

// orderedProjects puts the zone's own projects (ids from 100 on) before
// the system's, which every zone has and which are seldom what an
// operator came to see; each group keeps /etc/project's order.
func orderedProjects(ps []ProjectUsage) []ProjectUsage {
	out := slices.Clone(ps)
	slices.SortStableFunc(out, func(a, b ProjectUsage) int {
		return cmpBool(a.ID < api.FirstUserProjID, b.ID < api.FirstUserProjID)
	})
	return out
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// editRows is how many rows the current tab can select.
func (m *Model) editRows() int {
	switch m.detail.tab {
	case tabCaps:
		return len(m.capRows())
	case tabProjects:
		return len(m.projRows())
	}
	return 0
}

// editKey handles the Caps and Projects tabs' own keys; handled reports
// whether the key was theirs.
func (m *Model) editKey(msg tea.KeyPressMsg) (cmd tea.Cmd, handled bool) {
	d := m.detail
	if d.tab != tabCaps && d.tab != tabProjects {
		return nil, false
	}
	if d.edit != nil {
		return m.editInputKey(msg), true
	}
	if d.addForm != nil {
		return m.projectFormKey(msg), true
	}
	n := m.editRows()
	switch s := msg.String(); {
	case (s == "left" || s == "right") && d.tab == tabProjects:
		// The grid's columns: ←→ pick the control, as in htop's
		// setup screens; tab and the digits change tabs here.
		d.col = min(max(d.col+map[string]int{"left": -1, "right": 1}[s], 0), len(projCols)-1)
	case s == "down" || s == "j":
		d.sel = min(d.sel+1, max(n-1, 0))
	case s == "up" || s == "k":
		d.sel = max(d.sel-1, 0)
	case s == "e" || s == "enter":
		return m.startEdit(false), true
	case s == "P" && d.tab == tabCaps:
		return m.startEdit(true), true
	case s == "a" && d.tab == tabProjects:
		return m.openProjectForm(), true
	case s == "d" && d.tab == tabProjects:
		return m.askDeleteProject(), true
	default:
		return nil, false
	}
	return nil, true
}

// startEdit opens the input on the selected row.
func (m *Model) startEdit(persist bool) tea.Cmd {
	d := m.detail
	var ed *capEdit
	var cur CapUsage
	switch d.tab {
	case tabCaps:
		rows := m.capRows()
		if len(rows) == 0 {
			m.setFlash("", fmt.Errorf("caps of %s: no usage sample yet, so nothing to edit", d.zone))
			return nil
		}
		cur = rows[min(d.sel, len(rows)-1)]
		var cmd tea.Cmd
		if ed, cmd = m.capEditOf(cur, persist); ed == nil {
			return cmd
		}
	case tabProjects:
		rows := m.projRows()
		if len(rows) == 0 {
			m.setFlash("", fmt.Errorf("projects of %s: no usage sample yet, so nothing to edit", d.zone))
			return nil
		}
		r := rows[min(d.sel, len(rows)-1)]
		col := projCols[min(max(d.col, 0), len(projCols)-1)]
		if c := r.cells[min(max(d.col, 0), len(projCols)-1)]; c != nil {
			cur = *c
		} else {
			// Not reported is not limited: the edit sets a first limit.
			cur = CapUsage{Name: col.rctlName(r.project), Unit: col.unit}
		}
		if r.project == "" {
			// The zone's row of the grid is its caps, the global
			// administrator's as in the Caps tab.
			var cmd tea.Cmd
			if ed, cmd = m.capEditOf(cur, persist); ed == nil {
				return cmd
			}
			break
		}
		pe, ok := m.backend.(ProjectEditor)
		if !ok {
			m.setFlash("", fmt.Errorf("editing projects is not available from this engine"))
			return nil
		}
		if !m.canEditProjects(d.zone) {
			// Ask the engine with the value already there, so its refusal
			// is the message and nothing can change.
			zone, p, ctx, rctl, proj, val := d.zone, m.opts.Principal, m.ctx, cur.Name, r.project, typedLimit(cur.Unit, cur.Limit)
			if cur.Limit == 0 {
				val = ""
			}
			return func() tea.Msg {
				err := pe.SetProjectLimit(ctx, p, zone, proj, rctl, val)
				if err == nil {
					err = fmt.Errorf("%s of %s:%s: refused", rctl, zone, proj)
				}
				return editDoneMsg{zone: zone, op: "set-limit", err: err}
			}
		}
		ed = &capEdit{project: r.project, rctl: cur.Name}
	default:
		return nil
	}
	ti := textinput.New()
	ti.Prompt = ""
	ti.Placeholder = "no limit"
	is := ti.Styles()
	is.Cursor.Blink = false
	ti.SetStyles(is)
	ti.SetWidth(16)
	if cur.Limit > 0 {
		ti.SetValue(typedLimit(cur.Unit, cur.Limit))
		ti.CursorEnd()
	}
	ed.input = ti
	d.edit = ed
	m.validateEdit()
	return d.edit.input.Focus()
}

// capEditOf opens an edit of zone cap cur for the global administrator;
// anyone else gets the engine's refusal (or, without a CapEditor, the
// rule), and a nil edit.
func (m *Model) capEditOf(cur CapUsage, persist bool) (*capEdit, tea.Cmd) {
	_, ok := m.backend.(CapEditor)
	switch {
	case !m.canEditCaps() && ok:
		return nil, m.refusedCap(m.detail.zone, cur)
	case !m.canEditCaps():
		// A zone's own socket offers no cap editing at all; the
		// refusal is the engine's rule all the same.
		m.setFlash("", fmt.Errorf("%s: %w: zone caps are set by the global administrator", cur.Name, api.ErrPermission))
		return nil, nil
	case !ok:
		m.setFlash("", fmt.Errorf("editing zone caps is not available from this engine"))
		return nil, nil
	}
	return &capEdit{rctl: cur.Name, persist: persist}, nil
}

// refusedCap asks the engine to set a zone cap to the value it has, for a
// principal that may not: the engine's refusal is the answer, and were
// it to accept, nothing would change.
func (m *Model) refusedCap(zone string, cur CapUsage) tea.Cmd {
	ce := m.backend.(CapEditor)
	p, ctx := m.opts.Principal, m.ctx
	val := ""
	if cur.Limit > 0 {
		val = typedLimit(cur.Unit, cur.Limit)
	}
	return func() tea.Msg {
		err := ce.SetZoneCap(ctx, p, zone, cur.Name, val, false)
		if err == nil {
			err = fmt.Errorf("%s of %s: refused", cur.Name, zone)
		}
		return editDoneMsg{zone: zone, op: "set-cap", err: err}
	}
}

func (m *Model) validateEdit() {
	ed := m.detail.edit
	ed.err = ""
	if _, err := RctlValues(ed.rctl, ed.input.Value()); err != nil {
		ed.err = err.Error()
	}
}

func (m *Model) editInputKey(msg tea.KeyPressMsg) tea.Cmd {
	d := m.detail
	ed := d.edit
	switch msg.String() {
	case "esc":
		d.edit = nil
		return nil
	case "tab":
		if ed.project == "" {
			ed.persist = !ed.persist
		}
		return nil
	case "enter":
		if ed.busy {
			return nil
		}
		m.validateEdit()
		if ed.err != "" {
			return nil
		}
		ed.busy = true
		return m.applyEdit(d.zone, ed)
	}
	if ed.busy {
		return nil
	}
	var cmd tea.Cmd
	ed.input, cmd = ed.input.Update(msg)
	m.validateEdit()
	return cmd
}

// applyEdit hands the edit to the backend off the Update loop.
func (m *Model) applyEdit(zone string, ed *capEdit) tea.Cmd {
	p, ctx := m.opts.Principal, m.ctx
	rctl, proj, persist := ed.rctl, ed.project, ed.persist
	value := strings.TrimSpace(ed.input.Value())
	what := rctl + " of " + zone
	if proj != "" {
		what = rctl + " of " + zone + ":" + proj
	}
	if value == "" {
		what += " removed"
	} else {
		what += " set to " + value
	}
	if proj == "" {
		ce := m.backend.(CapEditor)
		if persist {
			what += " (live and in the configuration)"
		} else {
			what += " (live only; P or tab persists)"
		}
		return func() tea.Msg {
			err := ce.SetZoneCap(ctx, p, zone, rctl, value, persist)
			return editDoneMsg{zone: zone, op: "set-cap", what: what, err: err}
		}
	}
	pe := m.backend.(ProjectEditor)
	return func() tea.Msg {
		err := pe.SetProjectLimit(ctx, p, zone, proj, rctl, value)
		return editDoneMsg{zone: zone, op: "set-limit", what: what, err: err}
	}
}

// onEditDone shows the engine's answer in the status line and the
// events log; a refused edit stays open with the reason under it.
func (m *Model) onEditDone(msg editDoneMsg) tea.Cmd {
	ev := api.Event{Time: m.c.now(), Zone: msg.zone, UID: m.opts.Principal.UID, Op: msg.op, Result: "ok"}
	if msg.err != nil {
		ev.Result, ev.Failed = msg.err.Error(), true
	} else if msg.what != "" {
		ev.Result = "ok: " + msg.what
	}
	m.consoleEvents = append(m.consoleEvents, ev)
	if len(m.consoleEvents) > maxConsoleEvents {
		m.consoleEvents = m.consoleEvents[len(m.consoleEvents)-maxConsoleEvents:]
	}
	d := m.detail
	if msg.err != nil {
		m.setFlash("", msg.err)
		if d != nil && d.zone == msg.zone {
			if d.edit != nil {
				d.edit.busy, d.edit.err = false, msg.err.Error()
			}
			if d.addForm != nil && msg.op == "projadd" {
				d.addForm.busy, d.addForm.submitError = false, msg.err.Error()
			}
		}
		return nil
	}
	m.setFlash(msg.what, nil)
	if d != nil && d.zone == msg.zone {
		d.edit, d.addForm = nil, nil
	}
	m.detailDirty()
	// The new limit shows with the next usage sample: take it now.
	return m.startRefresh()
}

// maxConsoleEvents bounds the edits the console remembers for the Events
// tab.
const maxConsoleEvents = 200

// eventsOf merges the engine's events of zone with the console's own
// edits, newest first.
func (m *Model) eventsOf(zone string, engineEvents []api.Event) []api.Event {
	out := slices.Clone(engineEvents)
	for _, ev := range m.consoleEvents {
		if ev.Zone == zone {
			out = append(out, ev)
		}
	}
	slices.SortStableFunc(out, func(a, b api.Event) int { return b.Time.Compare(a.Time) })
	return out
}

// askDeleteProject asks for the selected project's name before deleting it.
func (m *Model) askDeleteProject() tea.Cmd {
	d := m.detail
	rows := m.projRows()
	if len(rows) == 0 {
		m.setFlash("", fmt.Errorf("projects of %s: nothing to delete", d.zone))
		return nil
	}
	proj := rows[min(d.sel, len(rows)-1)].project
	if proj == "" {
		m.setFlash("", fmt.Errorf("the zone's caps are not a project; select a project to delete"))
		return nil
	}
	if SystemProject(proj) {
		m.setFlash("", ErrSystemProject(proj))
		return nil
	}
	pe, ok := m.backend.(ProjectEditor)
	if !ok {
		m.setFlash("", fmt.Errorf("editing projects is not available from this engine"))
		return nil
	}
	zone, p, ctx := d.zone, m.opts.Principal, m.ctx
	ti := textinput.New()
	ti.Prompt = "type " + proj + " to delete project " + proj + " of " + zone + ": "
	ti.SetStyles(m.input.Styles())
	m.confirm = &confirmState{verb: "delete", zone: zone, typeName: true, input: ti,
		target: proj, subject: "project " + proj,
		do: func() tea.Cmd {
			return func() tea.Msg {
				err := pe.DeleteProject(ctx, p, zone, proj)
				return editDoneMsg{zone: zone, op: "projdel", what: "project " + proj + " deleted from " + zone, err: err}
			}
		}}
	return m.confirm.input.Focus()
}

// projectForm is the `a` form of the Projects tab: projadd's name, id and
// comment, and the limits a project is most often given.
type projectForm struct {
	zone        string
	fields      []*formField
	cur         int
	submitError string
	busy        bool
	taken       map[string]bool // names in use
	takenIDs    map[int]string
}

const (
	pfName = iota
	pfID
	pfComment
	pfLimits // the first limit field; the rest follow in projectFormLimits order
)

// projectFormLimits are the controls the form offers, in order.
var projectFormLimits = []string{rctl.ProjectMaxLwps, rctl.ProjectMaxMemory, rctl.ProjectCPUShares, rctl.ProjectCPUCap, rctl.ProjectMaxShmMemory}

func (m *Model) openProjectForm() tea.Cmd {
	d := m.detail
	if _, ok := m.backend.(ProjectEditor); !ok {
		m.setFlash("", fmt.Errorf("editing projects is not available from this engine"))
		return nil
	}
	if !m.canEditProjects(d.zone) {
		m.setFlash("", fmt.Errorf("%w: projects of zone %s are set by its zone administrator or the global administrator", api.ErrPermission, d.zone))
		return nil
	}
	f := &projectForm{zone: d.zone, taken: map[string]bool{}, takenIDs: map[int]string{}}
	if _, u := m.usageNote(d.zone); u != nil {
		for _, p := range u.Projects {
			f.taken[p.Name] = true
			f.takenIDs[p.ID] = p.Name
		}
	}
	f.fields = []*formField{
		pfName:    newTextField("name", "", "e.g. frontend"),
		pfID:      newTextField("id", "", "next free from 100"),
		pfComment: newTextField("comment", "", "optional"),
	}
	for _, r := range projectFormLimits {
		f.fields = append(f.fields, newTextField(strings.TrimPrefix(r, "project."), r, unitHint(r)+"; empty: none"))
	}
	d.addForm = f
	f.validate()
	return f.focus()
}

func (f *projectForm) focus() tea.Cmd {
	var cmd tea.Cmd
	for i, fl := range f.fields {
		if i == f.cur {
			cmd = fl.input.Focus()
		} else {
			fl.input.Blur()
		}
	}
	return cmd
}

// validate checks every field as projadd would, and reports whether the
// form may be submitted.
func (f *projectForm) validate() bool {
	ok := true
	for i, fl := range f.fields {
		fl.err = ""
		v := fl.value()
		switch {
		case i == pfName:
			if err := api.ValidProjectName(v); err != nil {
				fl.err = err.Error()
			} else if f.taken[v] {
				fl.err = fmt.Sprintf("project %q already exists in %s", v, f.zone)
			}
		case i == pfID && v != "":
			id, err := strconv.Atoi(v)
			switch {
			case err != nil:
				fl.err = fmt.Sprintf("id %q is not a whole number", v)
			case id < api.FirstUserProjID || id > api.MaxProjID:
				fl.err = fmt.Sprintf("id %d: want %d to %d (lower ids are the system's)", id, api.FirstUserProjID, api.MaxProjID)
			case f.takenIDs[id] != "":
				fl.err = fmt.Sprintf("id %d is used by project %s", id, f.takenIDs[id])
			}
		case i == pfComment:
			if strings.ContainsAny(v, ":\n") {
				fl.err = "a comment may not hold ':' (it separates /etc/project's fields)"
			}
		case i >= pfLimits && v != "":
			if _, err := RctlValues(fl.prop, v); err != nil {
				fl.err = err.Error()
			}
		}
		if fl.err != "" {
			ok = false
		}
	}
	return ok
}

// spec is the project the form describes.
func (f *projectForm) spec() ProjectSpec {
	s := ProjectSpec{Name: f.fields[pfName].value(), Comment: f.fields[pfComment].value(), Limits: map[string]string{}}
	s.ID, _ = strconv.Atoi(f.fields[pfID].value())
	for _, fl := range f.fields[pfLimits:] {
		if v := fl.value(); v != "" {
			s.Limits[fl.prop] = v
		}
	}
	return s
}

func (m *Model) projectFormKey(msg tea.KeyPressMsg) tea.Cmd {
	d := m.detail
	f := d.addForm
	switch msg.String() {
	case "esc":
		d.addForm = nil
		return nil
	case "tab", "down":
		f.cur = (f.cur + 1) % len(f.fields)
		return f.focus()
	case "shift+tab", "up":
		f.cur = (f.cur + len(f.fields) - 1) % len(f.fields)
		return f.focus()
	case "enter", "ctrl+s":
		if msg.String() == "enter" && f.cur < len(f.fields)-1 {
			f.cur++
			return f.focus()
		}
		if f.busy {
			return nil
		}
		if !f.validate() {
			f.submitError = "fix the fields marked ✗ first"
			return nil
		}
		f.busy, f.submitError = true, ""
		pe := m.backend.(ProjectEditor)
		zone, p, ctx, spec := d.zone, m.opts.Principal, m.ctx, f.spec()
		return func() tea.Msg {
			err := pe.AddProject(ctx, p, zone, spec)
			return editDoneMsg{zone: zone, op: "projadd", what: "project " + spec.Name + " added to " + zone, err: err}
		}
	}
	if f.busy {
		return nil
	}
	var cmd tea.Cmd
	fl := f.fields[f.cur]
	fl.input, cmd = fl.input.Update(msg)
	f.submitError = ""
	f.validate()
	return cmd
}

// view draws the form in w columns.
func (f *projectForm) view(st *Styles, w int) []string {
	lines := []string{st.Title.Render("New project in "+f.zone) + st.HeaderKey.Render("  tab/↓ next · ctrl+s add · esc cancel"), ""}
	lines = append(lines, fieldLines(st, f.fields, f.cur, w, 15)...)
	switch {
	case f.busy:
		lines = append(lines, "", "  "+st.HeaderKey.Render("adding…"))
	case f.submitError != "":
		lines = append(lines, "", "  "+st.StatusError.Render(f.submitError))
	}
	return lines
}

// editLine draws the input under the row being edited, and its problem.
func (m *Model) editLines(indent int) []string {
	st := m.c.styles
	ed := m.detail.edit
	pad := strings.Repeat(" ", indent)
	status := st.OK.Render("✓")
	if ed.err != "" {
		status = st.StatusError.Render("✗")
	}
	line := pad + st.Prompt.Render("↳ new limit ") + status + " " + ed.input.View()
	switch {
	case ed.busy:
		line += "  " + st.HeaderKey.Render("applying…")
	case ed.project == "" && ed.persist:
		line += "  " + st.HeaderVal.Render("[x] persist") + st.HeaderKey.Render(" (tab)")
	case ed.project == "":
		line += "  " + st.HeaderKey.Render("[ ] persist (tab)")
	}
	lines := []string{line}
	hint := unitHint(ed.rctl) + "; empty removes the limit"
	if ed.err != "" {
		lines = append(lines, pad+"  "+st.StatusError.Render(ed.err))
	} else {
		lines = append(lines, pad+"  "+st.HeaderKey.Render(hint))
	}
	return lines
}
