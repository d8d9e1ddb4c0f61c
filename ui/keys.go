package ui

import "charm.land/bubbles/v2/key"

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

	Help key.Binding
	Quit key.Binding
}

// DefaultKeyMap follows what operators' fingers already know from top,
// htop and k9s.
func DefaultKeyMap() *KeyMap {
	return &KeyMap{
		Up:       key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "up")),
		Down:     key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "down")),
		PageUp:   key.NewBinding(key.WithKeys("pgup", "ctrl+b"), key.WithHelp("pgup", "page up")),
		PageDown: key.NewBinding(key.WithKeys("pgdown", "ctrl+f"), key.WithHelp("pgdn", "page down")),
		Home:     key.NewBinding(key.WithKeys("home", "g"), key.WithHelp("home/g", "first zone")),
		End:      key.NewBinding(key.WithKeys("end", "G"), key.WithHelp("end/G", "last zone")),

		Filter:  key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "filter (regex; !inverts)")),
		Sort:    key.NewBinding(key.WithKeys("s"), key.WithHelp("s", "sort")),
		Reverse: key.NewBinding(key.WithKeys("S"), key.WithHelp("S", "reverse sort")),
		Command: key.NewBinding(key.WithKeys(":"), key.WithHelp(":", "command")),
		Clear:   key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "clear filter")),

		Help: key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "help")),
		Quit: key.NewBinding(key.WithKeys("q", "ctrl+c"), key.WithHelp("q", "quit")),
	}
}

// ShortHelp is the one-line reminder under the table.
func (k *KeyMap) ShortHelp() []key.Binding {
	short := func(b key.Binding, desc string) key.Binding {
		b.SetHelp(b.Help().Key, desc)
		return b
	}
	return []key.Binding{short(k.Help, "help"), short(k.Filter, "filter"), k.Sort, k.Command, k.Quit}
}

// FullHelp groups every key by what it acts on.
func (k *KeyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{
		{k.Up, k.Down, k.PageUp, k.PageDown, k.Home, k.End},
		{k.Filter, k.Clear, k.Sort, k.Reverse},
		{k.Command, k.Help, k.Quit},
	}
}
