package ui

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"zonetop/zones"
)

// formField is one line of the new-zone form: a text input, or a choice
// cycled with ←/→ or space.
type formField struct {
	label   string
	prop    string // the zonecfg property Verify names, to put its errors here
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

// zoneForm is the `n` form. It validates on every keystroke: names with
// zones.ValidateName, sizes with zones.ParseSize, and the whole would-be
// configuration with zones.Verify, each problem beside its field.
type zoneForm struct {
	*common
	fields      []*formField
	cur         int
	pathEdited  bool // the operator typed a zonepath; stop following the name
	general     []string
	submitError string
}

func newZoneForm(c *common) *zoneForm {
	f := &zoneForm{common: c}
	text := newTextField
	f.fields = []*formField{
		fName:     text("name", "zonename", "web01"),
		fZonepath: text("zonepath", "zonepath", "/zones/NAME"),
		fBrand:    {label: "brand", prop: "brand", choices: slices.Clone(zones.Brands)},
		fIPType:   {label: "ip-type", prop: "ip-type", choices: []string{"shared", "exclusive"}},
		fAddress:  text("address", "address", "198.18.0.10/24 (optional)"),
		fPhysical: text("physical", "physical", "eth0 (optional)"),
		fLWPs:     text("max-lwps", "max-lwps", "no cap"),
		fMemory:   text("memory cap", "physical", "e.g. 512m; no cap"),
		fCPU:      text("cpu cap", "ncpus", "e.g. 1.5 CPUs; no cap"),
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

// config builds the configuration the form describes; errors are filled
// into the fields they belong to.
func (f *zoneForm) config() *zones.Config {
	for _, fl := range f.fields {
		fl.err = ""
	}
	f.general = nil
	v := func(i int) string { return f.fields[i].value() }
	cfg := &zones.Config{Name: v(fName), Zonepath: v(fZonepath), Brand: v(fBrand), IPType: v(fIPType)}
	if err := zones.ValidateName(cfg.Name); err != nil {
		f.fields[fName].err = err.Error()
	}
	if addr, phys := v(fAddress), v(fPhysical); addr != "" || phys != "" {
		n := zones.Net{Physical: phys}
		if cfg.IPType == "exclusive" {
			n.AllowedAddress = addr
		} else {
			n.Address = addr
		}
		cfg.Nets = []zones.Net{n}
	}
	if s := v(fLWPs); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			f.fields[fLWPs].err = fmt.Sprintf("max-lwps %q is not a whole number", s)
		} else {
			cfg.Rctls = append(cfg.Rctls, zones.Rctl{Name: "zone.max-lwps",
				Values: []zones.RctlValue{{Priv: "privileged", Limit: n, Action: "deny"}}})
		}
	}
	if s := v(fMemory); s != "" {
		n, err := zones.ParseSize(s)
		if err != nil {
			f.fields[fMemory].err = err.Error()
		} else {
			cfg.CappedMemory = &zones.CappedMemory{Physical: n}
		}
	}
	if s := v(fCPU); s != "" {
		n, err := strconv.ParseFloat(s, 64)
		if err != nil {
			f.fields[fCPU].err = fmt.Sprintf("cpu cap %q is not a number of CPUs", s)
		} else {
			cfg.CappedCPU = &zones.CappedCPU{NCPUs: n}
		}
	}
	return cfg
}

// validate runs every check and reports whether the form may be committed.
func (f *zoneForm) validate() bool {
	if !f.pathEdited {
		name := f.fields[fName].value()
		if name == "" {
			f.fields[fZonepath].input.SetValue("")
		} else {
			f.fields[fZonepath].input.SetValue("/zones/" + name)
		}
	}
	cfg := f.config()
	for _, err := range zones.Verify(cfg, nil) {
		var ve *zones.VerifyError
		placed := false
		if errors.As(err, &ve) {
			for _, fl := range f.fields {
				if fl.prop == ve.Property && fl.err == "" {
					fl.err = ve.Problem
					placed = true
					break
				}
			}
		}
		if !placed && !slices.Contains(f.general, err.Error()) {
			f.general = append(f.general, err.Error())
		}
	}
	// The name's own message is clearer than Verify's about the same field.
	ok := len(f.general) == 0
	for _, fl := range f.fields {
		if fl.err != "" {
			ok = false
		}
	}
	return ok
}

// key handles a key; done reports that the form closes, with cfg when the
// operator committed it.
func (f *zoneForm) key(msg tea.KeyPressMsg) (cfg *zones.Config, done bool, cmd tea.Cmd) {
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
		return f.config(), true, nil
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
