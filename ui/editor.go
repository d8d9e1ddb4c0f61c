package ui

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"zonetop/api"

	"charm.land/bubbles/v2/textarea"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
)

// zoneEditor is the `e` pane: the zone's configuration as a zonecfg
// script, saved by running it through the engine as `zonecfg -f` would.
// Errors come back as FILE:LINE:COL and are shown under the text, with the
// line they name marked.
type zoneEditor struct {
	*common
	zone    string
	file    string
	area    textarea.Model
	loading bool
	saving  bool
	err     string
	errLine int
}

type (
	editorLoadedMsg struct {
		zone, export string
		err          error
	}
	editorSavedMsg struct {
		zone string
		err  error
	}
)

func (m *Model) openEditor(zone string) tea.Cmd {
	ta := textarea.New()
	ta.ShowLineNumbers = true
	ta.CharLimit = 0
	ta.MaxHeight = 0
	st := ta.Styles()
	st.Cursor.Blink = false
	ta.SetStyles(st)
	m.editor = &zoneEditor{common: m.c, zone: zone, file: zone + ".zonecfg", area: ta, loading: true}
	b, p, ctx := m.backend, m.opts.Principal, m.ctx
	return func() tea.Msg {
		if as, ok := b.(ActionScope); ok && !p.GlobalAdmin() && as.ActionAllowed(p, zone, api.ActConfigure) {
			// A delegated user changes settings, never replaces the
			// whole configuration: an empty script under the current
			// configuration shown as comments.
			_, export, err := b.ZoneConfig(ctx, p, zone)
			return editorLoadedMsg{zone: zone, export: delegatedScript(zone, export), err: err}
		}
		if !p.GlobalAdmin() {
			// Ask the engine, so the refusal is its own words.
			_, err := b.ApplyZonecfg(ctx, p, zone, zone+".zonecfg", "")
			if err == nil {
				err = fmt.Errorf("edit %s: refused", zone)
			}
			return editorLoadedMsg{zone: zone, err: err}
		}
		_, export, err := b.ZoneConfig(ctx, p, zone)
		return editorLoadedMsg{zone: zone, export: export, err: err}
	}
}

// delegatedScript is the editor's text for a user who may change some of
// a zone's settings: room for subcommands, above the current
// configuration as comments.
func delegatedScript(zone, export string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# zonecfg subcommands to apply to %s, e.g. set autoboot=true;\n# what you may not change is refused with the reason.\n\n\n# current configuration:\n", zone)
	for _, l := range strings.Split(strings.TrimRight(export, "\n"), "\n") {
		b.WriteString("#   " + l + "\n")
	}
	return b.String()
}

// editable turns an export into a script that replaces the configuration:
// the export starts with "create -b", which on an existing zone needs -F.
func editable(export string) string {
	if rest, ok := strings.CutPrefix(export, "create -b\n"); ok {
		return "create -F -b\n" + rest
	}
	return export
}

func (m *Model) onEditorLoaded(msg editorLoadedMsg) tea.Cmd {
	ed := m.editor
	if ed == nil || ed.zone != msg.zone {
		return nil
	}
	if msg.err != nil {
		m.editor = nil
		m.setFlash("", msg.err)
		return nil
	}
	ed.loading = false
	ed.area.SetValue(editable(msg.export))
	ed.area.MoveToBegin()
	return ed.area.Focus()
}

// errPos finds FILE:LINE:COL in a save error. Compiled on first use: the
// binary's every process (zoneadmd, zsched, each front end) would pay for
// it at start otherwise.
var errPos = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[^:\s]+:(\d+):(\d+): `) })

func (m *Model) onEditorSaved(msg editorSavedMsg) tea.Cmd {
	ed := m.editor
	if ed == nil || ed.zone != msg.zone {
		return nil
	}
	ed.saving = false
	if msg.err != nil {
		ed.err = msg.err.Error()
		ed.errLine = 0
		if mm := errPos().FindStringSubmatch(ed.err); mm != nil {
			ed.errLine, _ = strconv.Atoi(mm[1])
		}
		return nil
	}
	m.editor = nil
	m.setFlash(savedText(msg.zone, m.zoneState(msg.zone)), nil)
	m.detailDirty()
	return m.startRefresh()
}

// savedText says when a saved configuration takes effect. A zone that is
// up keeps the platform it booted with, as on illumos, while the table
// goes on showing what is in force; saying only "saved" would read as
// applied.
func savedText(zone, state string) string {
	switch state {
	case "running", "ready", "shutting_down", "down":
		return "zonecfg " + zone + ": saved; " + zone + " is " + state +
			", so it applies at its next boot (caps change now in the Caps tab)"
	}
	return "zonecfg " + zone + ": saved; it applies when " + zone + " boots"
}

func (m *Model) zoneState(name string) string {
	z, _ := m.zoneByName(name)
	return z.State
}

func (m *Model) editorKey(msg tea.KeyPressMsg) (tea.Model, tea.Cmd) {
	ed := m.editor
	switch msg.String() {
	case "esc":
		m.editor = nil
		m.setFlash("edit "+ed.zone+": discarded", nil)
		return m, nil
	case "ctrl+s":
		if ed.loading || ed.saving {
			return m, nil
		}
		ed.saving, ed.err = true, ""
		b, p, ctx, zone, file, script := m.backend, m.opts.Principal, m.ctx, ed.zone, ed.file, ed.area.Value()
		return m, func() tea.Msg {
			_, err := b.ApplyZonecfg(ctx, p, zone, file, script)
			return editorSavedMsg{zone: zone, err: err}
		}
	}
	if ed.loading {
		return m, nil
	}
	var cmd tea.Cmd
	ed.area, cmd = ed.area.Update(msg)
	return m, cmd
}

// View draws the editor in w×h: a title, the text, and the error.
func (ed *zoneEditor) View(w, h int) string {
	st := ed.styles
	title := st.Title.Render("Edit "+ed.zone) + st.HeaderKey.Render("  zonecfg script · ctrl+s save · esc discard")
	if ed.saving {
		title += st.HeaderKey.Render("  saving…")
	}
	if ed.loading {
		return clip(title+"\n"+st.Empty.Render("loading the configuration…"), w)
	}
	errH := 0
	errText := ""
	if ed.err != "" {
		errText = st.StatusError.Render(fit(ed.err, w, false))
		if ed.errLine > 0 {
			errText += "\n" + st.HeaderKey.Render(fmt.Sprintf("the error is on line %d (marked ▶)", ed.errLine))
		}
		errH = lipgloss.Height(errText)
	}
	ed.area.SetWidth(max(w, 10))
	ed.area.SetHeight(max(h-1-errH, 1))
	view := ed.area.View()
	if ed.errLine > 0 {
		view = markLine(view, ed.errLine-1-ed.area.ScrollYOffset(), st.StatusError.Render("▶"))
	}
	out := title + "\n" + view
	if errText != "" {
		out += "\n" + errText
	}
	return clip(out, w)
}

// markLine replaces the first cell of line i of s with mark.
func markLine(s string, i int, mark string) string {
	lines := strings.Split(s, "\n")
	if i < 0 || i >= len(lines) {
		return s
	}
	lines[i] = mark + ansiCut(lines[i], 1)
	return strings.Join(lines, "\n")
}
