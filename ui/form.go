package ui

import (
	"slices"
	"strings"

	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"zonetop/api"
)

// formField is one line of the new-zone form: a text input, or a choice
// cycled with ←/→ or space.
type formField struct {
	label   string
	prop    string // the api.Field* the backend names, to put its problems here
	input   textinput.Model
	choices []string
	choice  int
	err     string
}

func (f *formField) value() string {
	if f.choices != nil {
		return f.choices[f.choice]
	}
	return strings.TrimSpace(f.input.Value())
}

const (
	fName = iota
	fZonepath
	fBrand
	fIPType
	fAddress
	fPhysical
	fLWPs
	fMemory
	fCPU
)

// zoneForm is the `n` form. It has the backend check the zone it describes
// on every keystroke and shows each problem beside its field.
type zoneForm struct {
	*common
	check       func(api.NewZone) []api.FieldProblem
	fields      []*formField
	cur         int
	pathEdited  bool // the operator typed a zonepath; stop following the name
	general     []string
	submitError string
}

// newZoneForm offers brands, the backend's; check is its CheckNewZone.
func newZoneForm(c *common, brands []string, check func(api.NewZone) []api.FieldProblem) *zoneForm {
	if len(brands) == 0 {
		// A backend that names none still gets a zone: an empty brand is
		// the default one.
		brands = []string{""}
	}
	f := &zoneForm{common: c, check: check}
	text := newTextField
	f.fields = []*formField{
		fName:     text("name", api.FieldName, "web01"),
		fZonepath: text("zonepath", api.FieldZonepath, "/zones/NAME"),
		fBrand:    {label: "brand", prop: api.FieldBrand, choices: slices.Clone(brands)},
		fIPType:   {label: "ip-type", prop: api.FieldIPType, choices: []string{"shared", "exclusive"}},
		fAddress:  text("address", api.FieldAddress, "198.18.0.10/24 (optional)"),
		fPhysical: text("physical", api.FieldPhysical, "eth0 (optional)"),
		fLWPs:     text("max-lwps", api.FieldMaxLWPs, "no cap"),
		fMemory:   text("memory cap", api.FieldMemory, "e.g. 512m; no cap"),
		fCPU:      text("cpu cap", api.FieldCPU, "e.g. 1.5 CPUs; no cap"),
	}
	f.validate()
	return f
}

// newTextField is a form line with a text input that does not blink: a
// blinking cursor redraws twice a second for nothing.
func newTextField(label, prop, placeholder string) *formField {
	ti := textinput.New()
	ti.Prompt = ""
	ti.Placeholder = placeholder
	is := ti.Styles()
	is.Cursor.Blink = false
	ti.SetStyles(is)
	ti.SetWidth(40)
	return &formField{label: label, prop: prop, input: ti}
}

func (f *zoneForm) focus() tea.Cmd {
	for i, fl := range f.fields {
		if fl.choices == nil {
			if i == f.cur {
				fl.input.Focus()
			} else {
				fl.input.Blur()
			}
		}
	}
	return nil
}

// zone is the zone the form describes, as typed.
func (f *zoneForm) zone() api.NewZone {
	v := func(i int) string { return f.fields[i].value() }
	return api.NewZone{Name: v(fName), Zonepath: v(fZonepath), Brand: v(fBrand), IPType: v(fIPType),
		Address: v(fAddress), Physical: v(fPhysical), MaxLWPs: v(fLWPs), Memory: v(fMemory), CPU: v(fCPU)}
}

// validate has the backend check the zone, puts each problem beside its
// field, and reports whether the form may be committed.
func (f *zoneForm) validate() bool {
	if !f.pathEdited {
		name := f.fields[fName].value()
		if name == "" {
			f.fields[fZonepath].input.SetValue("")
		} else {
			f.fields[fZonepath].input.SetValue("/zones/" + name)
		}
	}
	for _, fl := range f.fields {
		fl.err = ""
	}
	f.general = nil
	for _, p := range f.check(f.zone()) {
		placed := false
		if p.Field != "" {
			for _, fl := range f.fields {
				if fl.prop == p.Field && fl.err == "" {
					fl.err = p.Problem
					placed = true
					break
				}
			}
		}
		if !placed && !slices.Contains(f.general, p.Problem) {
			f.general = append(f.general, p.Problem)
		}
	}
	ok := len(f.general) == 0
	for _, fl := range f.fields {
		if fl.err != "" {
			ok = false
		}
	}
	return ok
}

// key handles a key; done reports that the form closes, with the zone when
// the operator committed it.
func (f *zoneForm) key(msg tea.KeyPressMsg) (z *api.NewZone, done bool, cmd tea.Cmd) {
	fl := f.fields[f.cur]
	switch msg.String() {
	case "esc":
		return nil, true, nil
	case "tab", "down":
		f.cur = (f.cur + 1) % len(f.fields)
		return nil, false, f.focus()
	case "shift+tab", "up":
		f.cur = (f.cur + len(f.fields) - 1) % len(f.fields)
		return nil, false, f.focus()
	case "enter", "ctrl+s":
		if msg.String() == "enter" && f.cur < len(f.fields)-1 {
			f.cur++
			return nil, false, f.focus()
		}
		if !f.validate() {
			f.submitError = "fix the fields marked ✗ first"
			return nil, false, nil
		}
		nz := f.zone()
		return &nz, true, nil
	}
	if fl.choices != nil {
		switch msg.String() {
		case "left", "h":
			fl.choice = (fl.choice + len(fl.choices) - 1) % len(fl.choices)
		case "right", "l", "space", " ":
			fl.choice = (fl.choice + 1) % len(fl.choices)
		}
		f.validate()
		return nil, false, nil
	}
	before := fl.input.Value()
	fl.input, cmd = fl.input.Update(msg)
	if f.cur == fZonepath && fl.input.Value() != before {
		f.pathEdited = true
	}
	f.submitError = ""
	f.validate()
	return nil, false, cmd
}

// View draws the form in a box of w×h.
func (f *zoneForm) View(w, h int) string {
	st := f.styles
	lines := []string{st.Title.Render("New zone") + st.HeaderKey.Render("  tab/↓ next · ←/→ choose · ctrl+s create · esc cancel"), ""}
	lines = append(lines, fieldLines(st, f.fields, f.cur, w, 11)...)
	for _, g := range f.general {
		lines = append(lines, "  "+st.StatusError.Render(g))
	}
	if f.submitError != "" {
		lines = append(lines, "", "  "+st.StatusError.Render(f.submitError))
	}
	return lipgloss.NewStyle().Height(h).MaxHeight(h).Render(clip(strings.Join(lines, "\n"), w))
}

// fieldLines draws a form's fields, one a line, each with its mark of
// validity and its error under it; cur is the field with the cursor.
func fieldLines(st *Styles, fields []*formField, cur, w, labelW int) []string {
	var lines []string
	for i, fl := range fields {
		mark := "  "
		if i == cur {
			mark = st.Prompt.Render("▸ ")
		}
		var val string
		if fl.choices != nil {
			parts := make([]string, len(fl.choices))
			for j, c := range fl.choices {
				if j == fl.choice {
					parts[j] = st.Selected.Render(" " + c + " ")
				} else {
					parts[j] = st.HeaderKey.Render(" " + c + " ")
				}
			}
			val = strings.Join(parts, "")
		} else {
			fl.input.SetWidth(max(min(40, w-labelW-6), 4))
			val = fl.input.View()
		}
		status := st.OK.Render("✓")
		if fl.err != "" {
			status = st.StatusError.Render("✗")
		}
		lines = append(lines, mark+st.HeaderVal.Render(fit(fl.label, labelW, false))+" "+status+" "+val)
		if fl.err != "" {
			lines = append(lines, strings.Repeat(" ", labelW+5)+st.StatusError.Render(fl.err))
		}
	}
	return lines
}
