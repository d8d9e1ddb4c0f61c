package ui

import (
	"slices"
	"zonetop/api"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
)

// KeyMap is every key the main screen answers to. It doubles as the
// help.KeyMap, so `?` always lists exactly what is bound: a binding the
// principal may not use is disabled and thereby vanishes from help too.
type KeyMap struct {
	Up       key.Binding
	Down     key.Binding
	PageUp   key.Binding
	PageDown key.Binding
	Home     key.Binding
	End      key.Binding

	Filter  key.Binding
	Sort    key.Binding
	Reverse key.Binding
	Command key.Binding
	Clear   key.Binding
	Pause   key.Binding
	Detail  key.Binding

	New       key.Binding
	Edit      key.Binding
	Install   key.Binding
	Ready     key.Binding
	Boot      key.Binding
	Halt      key.Binding
	Reboot    key.Binding
	Shutdown  key.Binding
	Uninstall key.Binding
	Delete    key.Binding

	Console key.Binding
	Login   key.Binding
	Panes   key.Binding

	Help key.Binding
	Quit key.Binding

	// SortKeys sort the table by one column each (shift+letter, as k9s);
	// pressed again they flip the direction.
	SortKeys []sortKey

	// The detail's Caps and Projects tabs.
	NextTab    key.Binding
	Back       key.Binding
	EditLimit  key.Binding
	PersistCap key.Binding
	AddProject key.Binding
	DelProject key.Binding
	// While a limit is edited.
	Apply   key.Binding
	Persist key.Binding
	Cancel  key.Binding

	// The detail view: q goes back there, as in k9s, where the table's q
	// quits.
	DetailBack key.Binding
	Tabs       key.Binding
	Scroll     key.Binding
	Select     key.Binding
	QuitAll    key.Binding

	// The zonecfg editor and the new-zone form.
	Save       key.Binding
	Discard    key.Binding
	FieldNext  key.Binding
	FieldPrev  key.Binding
	Choose     key.Binding
	Create     key.Binding
	FormCancel key.Binding

	// A focused pane: everything else goes to the zone.
	Release    key.Binding
	PaneScroll key.Binding
	Detach     key.Binding
}

// sortKey binds a key to a column of the zone table.
type sortKey struct {
	key.Binding
	col int
}

// DefaultKeyMap follows what operators' fingers already know from top,
// htop and k9s, and zoneadm's verbs for the actions.
func DefaultKeyMap() *KeyMap {
	return &KeyMap{
		Up:       key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "up")),
		Down:     key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "down")),
		PageUp:   key.NewBinding(key.WithKeys("pgup", "ctrl+b"), key.WithHelp("pgup", "page up")),
		PageDown: key.NewBinding(key.WithKeys("pgdown", "ctrl+f"), key.WithHelp("pgdn", "page down")),
		Home:     key.NewBinding(key.WithKeys("home", "g"), key.WithHelp("home/g", "first")),
		End:      key.NewBinding(key.WithKeys("end", "G"), key.WithHelp("end/G", "last")),

		Filter:  key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "filter (regex, !not)")),
		Sort:    key.NewBinding(key.WithKeys("s"), key.WithHelp("s", "sort, or ⇧N I T C…")),
		Reverse: key.NewBinding(key.WithKeys("o"), key.WithHelp("o", "reverse")),
		Command: key.NewBinding(key.WithKeys(":"), key.WithHelp(":", "command (↑ history)")),
		Clear:   key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "clear filter")),
		Pause:   key.NewBinding(key.WithKeys("p"), key.WithHelp("p", "pause")),
		Detail:  key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "details")),

		New:       key.NewBinding(key.WithKeys("n"), key.WithHelp("n", "new zone")),
		Edit:      key.NewBinding(key.WithKeys("e"), key.WithHelp("e", "edit")),
		Install:   key.NewBinding(key.WithKeys("i"), key.WithHelp("i", "install")),
		Ready:     key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "ready")),
		Boot:      key.NewBinding(key.WithKeys("b"), key.WithHelp("b", "boot")),
		Halt:      key.NewBinding(key.WithKeys("h"), key.WithHelp("h", "halt")),
		Reboot:    key.NewBinding(key.WithKeys("R"), key.WithHelp("R", "reboot")),
		Shutdown:  key.NewBinding(key.WithKeys("S"), key.WithHelp("S", "shutdown")),
		Uninstall: key.NewBinding(key.WithKeys("u"), key.WithHelp("u", "uninstall")),
		Delete:    key.NewBinding(key.WithKeys("D"), key.WithHelp("D", "delete")),

		Console: key.NewBinding(key.WithKeys("c"), key.WithHelp("c", "console")),
		Login:   key.NewBinding(key.WithKeys("l"), key.WithHelp("l", "login")),
		Panes:   key.NewBinding(key.WithKeys("tab"), key.WithHelp("tab", "focus pane")),

		Help: key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "help")),
		Quit: key.NewBinding(key.WithKeys("q", "ctrl+c"), key.WithHelp("q", "quit")),

		// The letters avoid the action keys (R, S, D) and G.
		SortKeys: []sortKey{
			{key.NewBinding(key.WithKeys("N"), key.WithHelp("N", "by name")), colName},
			{key.NewBinding(key.WithKeys("I"), key.WithHelp("I", "by id")), colID},
			{key.NewBinding(key.WithKeys("T"), key.WithHelp("T", "by status")), colStatus},
			{key.NewBinding(key.WithKeys("B"), key.WithHelp("B", "by brand")), colBrand},
			{key.NewBinding(key.WithKeys("Y"), key.WithHelp("Y", "by ip-type")), colIP},
			{key.NewBinding(key.WithKeys("C"), key.WithHelp("C", "by cpu%")), colCPU},
			{key.NewBinding(key.WithKeys("M"), key.WithHelp("M", "by memory")), colMem},
			{key.NewBinding(key.WithKeys("L"), key.WithHelp("L", "by lwps")), colLWPs},
			{key.NewBinding(key.WithKeys("U"), key.WithHelp("U", "by uptime")), colUptime},
			{key.NewBinding(key.WithKeys("A"), key.WithHelp("A", "by cpu trend")), colCPUTrend},
			{key.NewBinding(key.WithKeys("Z"), key.WithHelp("Z", "by mem trend")), colMemTrend},
			{key.NewBinding(key.WithKeys("P"), key.WithHelp("P", "by path")), colPath},
			{key.NewBinding(key.WithKeys("E"), key.WithHelp("E", "by reason")), colReason},
		},

		NextTab:    key.NewBinding(key.WithKeys("tab", "right"), key.WithHelp("tab", "next tab")),
		Back:       key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "back")),
		EditLimit:  key.NewBinding(key.WithKeys("e", "enter"), key.WithHelp("e", "edit")),
		PersistCap: key.NewBinding(key.WithKeys("P"), key.WithHelp("P", "edit+persist")),
		AddProject: key.NewBinding(key.WithKeys("a"), key.WithHelp("a", "add")),
		DelProject: key.NewBinding(key.WithKeys("d"), key.WithHelp("d", "delete")),
		Apply:      key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "apply")),
		Persist:    key.NewBinding(key.WithKeys("tab"), key.WithHelp("tab", "persist on/off")),
		Cancel:     key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "cancel")),

		DetailBack: key.NewBinding(key.WithKeys("esc", "q"), key.WithHelp("esc/q", "back")),
		Tabs:       key.NewBinding(key.WithKeys("right", "left", "1", "2", "3", "4", "5", "6", "7", "8"), key.WithHelp("←→/1-8", "tabs")),
		Scroll:     key.NewBinding(key.WithKeys("up", "down", "k", "j"), key.WithHelp("↑↓", "scroll")),
		Select:     key.NewBinding(key.WithKeys("up", "down", "k", "j"), key.WithHelp("↑↓", "select")),
		QuitAll:    key.NewBinding(key.WithKeys("ctrl+c"), key.WithHelp("ctrl+c", "quit zonetop")),

		Save:       key.NewBinding(key.WithKeys("ctrl+s"), key.WithHelp("ctrl+s", "save")),
		Discard:    key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "discard")),
		FieldNext:  key.NewBinding(key.WithKeys("tab", "down", "enter"), key.WithHelp("tab/↓", "next field")),
		FieldPrev:  key.NewBinding(key.WithKeys("shift+tab", "up"), key.WithHelp("⇧tab/↑", "previous")),
		Choose:     key.NewBinding(key.WithKeys("left", "right", "space"), key.WithHelp("←→", "choose")),
		Create:     key.NewBinding(key.WithKeys("ctrl+s"), key.WithHelp("ctrl+s", "create")),
		FormCancel: key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "cancel")),

		Release:    key.NewBinding(key.WithKeys("ctrl+]"), key.WithHelp("ctrl+]", "back to zonetop")),
		PaneScroll: key.NewBinding(key.WithKeys("shift+pgup", "shift+pgdown"), key.WithHelp("⇧pgup/pgdn", "scroll back")),
		Detach:     key.NewBinding(key.WithKeys("~."), key.WithHelp("~.", "detach")),
	}
}

// actionBindings are the keys that change zones: the global
// administrator's. Everything else reads.
func (k *KeyMap) actionBindings() []*key.Binding {
	return []*key.Binding{&k.New, &k.Edit, &k.Install, &k.Ready, &k.Boot, &k.Halt,
		&k.Reboot, &k.Shutdown, &k.Uninstall, &k.Delete, &k.Console, &k.Login}
}

// scope disables the keys p may not use, so help does not offer them. The
// engine still decides: a disabled key typed anyway goes to the engine and
// comes back with its refusal.
func (k *KeyMap) scope(p api.Principal) { k.scopeZone(p, nil) }

// scopeZone is scope for the selected zone: besides the global
// administrator's keys, those may allows (nil: none). Creating and
// deleting zones are never offered to anyone else.
func (k *KeyMap) scopeZone(p api.Principal, may func(api.Action) bool) {
	acts := map[*key.Binding]api.Action{
		&k.Edit: api.ActConfigure, &k.Install: api.ActInstall, &k.Ready: api.ActReady,
		&k.Boot: api.ActBoot, &k.Halt: api.ActHalt, &k.Reboot: api.ActReboot,
		&k.Shutdown: api.ActShutdown, &k.Uninstall: api.ActUninstall,
		&k.Console: api.ActConsole, &k.Login: api.ActLogin,
	}
	for _, b := range k.actionBindings() {
		a, ok := acts[b]
		b.SetEnabled(p.GlobalAdmin() || (ok && may != nil && may(a)))
	}
}

// ShortHelp is the one-line reminder under the table.
func (k *KeyMap) ShortHelp() []key.Binding {
	short := func(b key.Binding, desc string) key.Binding {
		b.SetHelp(b.Help().Key, desc)
		return b
	}
	// Short words: the whole line must fit 80 columns, : and q included;
	// ? lists the rest.
	return []key.Binding{short(k.Help, "help"), short(k.Filter, "filter"), k.Detail,
		short(k.New, "new"), k.Boot, k.Login, short(k.Command, "cmd"), k.Quit}
}

// FullHelp groups every key by what it acts on.
func (k *KeyMap) FullHelp() [][]key.Binding {
	sorts := make([]key.Binding, len(k.SortKeys))
	for i, s := range k.SortKeys {
		sorts[i] = s.Binding
	}
	// The sort keys come last: on a narrow terminal help drops them first,
	// and `s` still cycles every column.
	return [][]key.Binding{
		{k.Up, k.Down, k.PageUp, k.PageDown, k.Home, k.End, k.Detail, k.Pause},
		{k.Filter, k.Clear, k.Sort, k.Reverse, k.Command, k.Panes, k.Help, k.Quit},
		{k.New, k.Edit, k.Install, k.Ready, k.Boot, k.Uninstall},
		{k.Halt, k.Reboot, k.Shutdown, k.Delete, k.Console, k.Login},
		sorts[:7],
		sorts[7:],
	}
}

// viewKeys is the help of one view other than the table: its footer line
// and what ? opens.
type viewKeys struct {
	short []key.Binding
	full  [][]key.Binding
}

func (v viewKeys) ShortHelp() []key.Binding  { return v.short }
func (v viewKeys) FullHelp() [][]key.Binding { return v.full }

// keys is the help of whatever has the keys now: a focused pane, the
// new-zone form, the editor, a zone's detail, or the table.
func (m *Model) viewKeyMap() help.KeyMap {
	k := m.c.keys
	nb := func(keys, h, desc string) key.Binding {
		return key.NewBinding(key.WithKeys(keys), key.WithHelp(h, desc))
	}
	switch {
	case m.confirm != nil:
		// Only the answer is read while a question is open: the view's
		// own keys under it would promise what is not so.
		l := []key.Binding{nb("y", "y", m.confirm.verb), nb("n", "n/enter/esc", "cancel")}
		if m.confirm.typeName {
			l = []key.Binding{nb("enter", "enter", m.confirm.verb), nb("esc", "esc", "cancel")}
		}
		return viewKeys{l, [][]key.Binding{l}}
	case m.focus >= 0 && m.focus < len(m.panes):
		l := []key.Binding{k.Release, k.PaneScroll, k.Detach}
		return viewKeys{l, [][]key.Binding{l}}
	case m.form != nil:
		l := []key.Binding{k.FieldNext, k.FieldPrev, k.Choose, k.Create, k.FormCancel}
		return viewKeys{l, [][]key.Binding{l}}
	case m.editor != nil:
		l := []key.Binding{k.Save, k.Discard}
		return viewKeys{l, [][]key.Binding{l}}
	case m.output != nil:
		short := []key.Binding{k.Scroll, relabel(k.PageDown, "page"), relabel(k.Home, "top"),
			relabel(k.End, "end"), relabel(k.Command, "command"), k.DetailBack}
		return viewKeys{short, [][]key.Binding{{k.Up, k.Down, k.PageUp, k.PageDown, k.Home, k.End}, {k.Command, k.Help, k.DetailBack, k.QuitAll}}}
	case m.detail != nil:
		return m.detailKeys()
	}
	if v, ok := m.viewHelp(); ok {
		return v
	}
	if m.loaded && !m.hasZones() {
		// Nothing to select, boot or log in to: the first step, and
		// the ways out.
		short := []key.Binding{relabel(k.Help, "help"), relabel(k.New, "new zone"), relabel(k.Command, "cmd"), k.Quit}
		return viewKeys{short, k.FullHelp()}
	}
	return k
}

// relabel is b with a shorter description, for a footer that must fit.
func relabel(b key.Binding, desc string) key.Binding {
	b.SetHelp(b.Help().Key, desc)
	return b
}

// detailKeys are the keys of the detail view's current tab: its own
// first, then the tabs, help and the way back. ? adds the actions on the
// zone shown, which work from every tab.
func (m *Model) detailKeys() viewKeys {
	k := m.c.keys
	d := m.detail
	short := func(b key.Binding, desc string) key.Binding {
		b.SetHelp(b.Help().Key, desc)
		return b
	}
	var own []key.Binding
	switch d.tab {
	case tabCaps, tabProjects:
		own = m.limitKeys()
		if d.edit != nil || d.addForm != nil {
			// While a value is typed only the edit's keys work.
			return viewKeys{own, [][]key.Binding{own}}
		}
	case tabProcesses:
		pk := m.procHelp(d.pv, false)
		if d.pv != nil && d.pv.menu != nil {
			return pk
		}
		own = pk.short
	case tabConfig:
		own = []key.Binding{k.Scroll, short(k.Edit, "edit")}
	case tabConsole:
		own = []key.Binding{short(k.Console, "open console")}
	case tabLogin:
		own = []key.Binding{short(k.Login, "open login")}
	case tabLogs:
		own = logKeys()
	default:
		own = []key.Binding{k.Scroll}
	}
	if len(m.panes) > 0 {
		own = append(own, k.Panes)
	}
	// : works here too, but the line must fit 80 columns; ? lists it.
	tabs := k.Tabs
	if d.tab == tabProjects {
		// ←→ choose the grid's column there.
		tabs = short(key.NewBinding(key.WithKeys("tab"), key.WithHelp("tab/1-8", "")), "tabs")
	}
	general := []key.Binding{tabs, short(k.Help, "help"), k.DetailBack}
	var acts []key.Binding
	for _, b := range []key.Binding{k.Edit, k.Install, k.Ready, k.Boot, k.Halt, k.Reboot,
		k.Shutdown, k.Uninstall, k.Delete, k.Console, k.Login} {
		// A tab's own key is listed once, under the tab's keys.
		if !slices.ContainsFunc(own, func(o key.Binding) bool { return o.Help().Key == b.Help().Key }) {
			acts = append(acts, b)
		}
	}
	half := (len(acts) + 1) / 2
	return viewKeys{
		short: append(own, general...),
		full:  [][]key.Binding{own, acts[:half], acts[half:], append(general, k.Command, k.QuitAll)},
	}
}

// limitKeys are the keys of the Caps and Projects tabs for this console's
// principal: editing keys it may not use are left out, as the engine
// would refuse them.
func (m *Model) limitKeys() []key.Binding {
	k := m.c.keys
	d := m.detail
	switch {
	case d.edit != nil && d.edit.project == "":
		return []key.Binding{k.Apply, k.Persist, k.Cancel}
	case d.edit != nil:
		return []key.Binding{k.Apply, k.Cancel}
	case d.addForm != nil:
		// The form's own keys, as the new-zone form's footer has them.
		return []key.Binding{k.FieldNext, k.FieldPrev, relabel(k.Create, "add"), k.FormCancel}
	}
	out := []key.Binding{k.Select}
	switch {
	case d.tab == tabCaps && m.canEditCaps():
		out = append(out, k.EditLimit, k.PersistCap)
	case d.tab == tabProjects && m.canEditProjects(d.zone):
		out = append(out, k.EditLimit, k.AddProject, k.DelProject)
	}
	if d.tab == tabProjects {
		out[0] = key.NewBinding(key.WithKeys("up", "down", "left", "right"), key.WithHelp("↑↓←→", "cell"))
	}
	return out
}
