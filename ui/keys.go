package ui

import (
	"charm.land/bubbles/v2/key"

	"zonetop/engine"
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
		Sort:    key.NewBinding(key.WithKeys("s"), key.WithHelp("s", "sort")),
		Reverse: key.NewBinding(key.WithKeys("o"), key.WithHelp("o", "reverse")),
		Command: key.NewBinding(key.WithKeys(":"), key.WithHelp(":", "command")),
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
func (k *KeyMap) scope(p engine.Principal) { k.scopeZone(p, nil) }

// scopeZone is scope for the selected zone: besides the global
// administrator's keys, those may allows (nil: none). Creating and
// deleting zones are never offered to anyone else.
func (k *KeyMap) scopeZone(p engine.Principal, may func(engine.Action) bool) {
	acts := map[*key.Binding]engine.Action{
		&k.Edit: engine.ActConfigure, &k.Install: engine.ActInstall, &k.Ready: engine.ActReady,
		&k.Boot: engine.ActBoot, &k.Halt: engine.ActHalt, &k.Reboot: engine.ActReboot,
		&k.Shutdown: engine.ActShutdown, &k.Uninstall: engine.ActUninstall,
		&k.Console: engine.ActConsole, &k.Login: engine.ActLogin,
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
	return []key.Binding{short(k.Help, "help"), short(k.Filter, "filter"), k.Detail, k.New, k.Boot, k.Halt, k.Login, k.Command, k.Quit}
}

// FullHelp groups every key by what it acts on.
func (k *KeyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{
		{k.Up, k.Down, k.PageUp, k.PageDown, k.Home, k.End, k.Detail, k.Pause},
		{k.Filter, k.Clear, k.Sort, k.Reverse, k.Command, k.Panes, k.Help, k.Quit},
		{k.New, k.Edit, k.Install, k.Ready, k.Boot, k.Uninstall},
		{k.Halt, k.Reboot, k.Shutdown, k.Delete, k.Console, k.Login},
	}
}
