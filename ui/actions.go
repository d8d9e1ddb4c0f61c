package ui

import (
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/spinner"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"

	"zonetop/api"
)

// shutdownTimeout is how long a shutdown from the console lets the zone's
// shutdown entries run before it halts the zone, as zoneadm's default.
const shutdownTimeout = 60 * time.Second

// opState is one engine call under way. Several may run at once, each on
// its own zone; the status line shows them with a spinner, or a progress
// bar when the engine reports Done/Total.
type opState struct {
	id       int
	verb     string
	zone     string
	progress api.Progress
}

type (
	actionDoneMsg struct {
		id         int
		verb, zone string
		out        string
		err        error
	}
	progressMsg struct {
		id int
		p  api.Progress
		ch <-chan tea.Msg
	}
)

// confirmState asks before a destructive action. For uninstall and delete
// the operator types the zone's name, as a slip of one key must never
// remove a zone's files.
type confirmState struct {
	verb, zone string
	typeName   bool
	input      textinput.Model
	// target is the name to type when it is not the zone's (a project's),
	// subject what the status line calls it; do runs instead of a zoneadm
	// verb when set.
	target, subject string
	do              func() tea.Cmd
	// question replaces the [y/N] line's "verb zone zone?" when the
	// action is not one on a zone (quitting with logins open).
	question string
}

func (c *confirmState) want() string {
	if c.target != "" {
		return c.target
	}
	return c.zone
}

func (c *confirmState) what() string {
	if c.subject != "" {
		return c.subject
	}
	return c.zone
}

// verbs maps an action key to its zoneadm verb.
func (m *Model) actionVerb(msg tea.KeyPressMsg) string {
	k := m.c.keys
	for _, a := range []struct {
		b    key.Binding
		verb string
	}{
		{k.Install, "install"}, {k.Ready, "ready"}, {k.Boot, "boot"}, {k.Halt, "halt"},
		{k.Reboot, "reboot"}, {k.Shutdown, "shutdown"}, {k.Uninstall, "uninstall"}, {k.Delete, "delete"},
		{k.New, "new"}, {k.Edit, "edit"}, {k.Console, "console"}, {k.Login, "login"},
	} {
		// Disabled keys are matched by hand: typed anyway, they reach the
		// engine, whose refusal is the message the operator sees.
		for _, ks := range a.b.Keys() {
			if msg.String() == ks {
				return a.verb
			}
		}
	}
	return ""
}

// startAction is what an action key does on the selected zone.
func (m *Model) startAction(verb string) (tea.Model, tea.Cmd) {
	z, ok := m.table.Selected()
	if verb == "new" {
		if !m.opts.Principal.GlobalAdmin() {
			return m, m.refused("create", func() error {
				return m.backend.CreateZone(m.ctx, m.opts.Principal, api.NewZone{Name: "new"})
			})
		}
		m.form = newZoneForm(m.c, m.host.Brands, m.backend.CheckNewZone)
		return m, m.form.focus()
	}
	if !ok {
		m.setFlash("", fmt.Errorf("%s: no zone selected", verb))
		return m, nil
	}
	if z.Name == globalZone {
		m.setFlash("", fmt.Errorf("%s: the global zone is the host itself; it has no life cycle here", verb))
		return m, nil
	}
	switch verb {
	case "edit":
		return m, m.openEditor(z.Name)
	case "console", "login":
		return m, m.openPane(verb, z.Name)
	case "halt", "reboot", "shutdown":
		m.confirm = &confirmState{verb: verb, zone: z.Name}
		return m, nil
	case "uninstall", "delete":
		ti := textinput.New()
		ti.Prompt = "type " + z.Name + " to " + verb + " it: "
		ti.SetStyles(m.input.Styles())
		m.confirm = &confirmState{verb: verb, zone: z.Name, typeName: true, input: ti}
		return m, m.confirm.input.Focus()
	}
	return m, m.runAction(verb, z.Name)
}

// refused runs call, whose only purpose is to get the engine's answer to
// a principal that may not take the action.
func (m *Model) refused(verb string, call func() error) tea.Cmd {
	return func() tea.Msg {
		err := call()
		if err == nil {
			err = fmt.Errorf("%s: refused", verb)
		}
		return actionDoneMsg{id: -1, verb: verb, err: err}
	}
}

func (m *Model) confirmKey(msg tea.KeyPressMsg) (tea.Model, tea.Cmd) {
	c := m.confirm
	switch msg.String() {
	case "esc", "ctrl+c":
		m.confirm = nil
		m.setFlash(c.verb+" "+c.what()+": cancelled", nil)
		return m, nil
	case "enter":
		if c.typeName && strings.TrimSpace(c.input.Value()) != c.want() {
			m.setFlash("", fmt.Errorf("%s: the name typed is not %s; nothing done", c.verb, c.want()))
			m.confirm = nil
			return m, nil
		}
		m.confirm = nil
		if !c.typeName {
			// The default answer of [y/N] is no.
			m.setFlash(c.verb+" "+c.what()+": cancelled", nil)
			return m, nil
		}
		if c.do != nil {
			return m, c.do()
		}
		return m, m.runAction(c.verb, c.zone)
	}
	if !c.typeName {
		switch msg.String() {
		case "y", "Y":
			m.confirm = nil
			if c.do != nil {
				return m, c.do()
			}
			return m, m.runAction(c.verb, c.zone)
		case "n", "N":
			m.confirm = nil
			m.setFlash(c.verb+" "+c.what()+": cancelled", nil)
		}
		return m, nil
	}
	var cmd tea.Cmd
	c.input, cmd = c.input.Update(msg)
	return m, cmd
}

// confirmView is the question in the status line.
func (m *Model) confirmView() string {
	c := m.confirm
	if c.typeName {
		return fit(c.input.View(), m.c.width, false)
	}
	q := fmt.Sprintf("%s zone %s? [y/N]", c.verb, c.zone)
	if c.question != "" {
		q = c.question
	}
	return m.c.styles.Prompt.Render(fit(q, m.c.width, false))
}

// runAction calls the engine off the Update loop. Install reports its
// progress through a channel the model keeps reading until it closes.
func (m *Model) runAction(verb, zone string) tea.Cmd {
	m.nextOp++
	id := m.nextOp
	m.ops = append(m.ops, &opState{id: id, verb: verb, zone: zone})
	b, p, ctx := m.backend, m.opts.Principal, m.ctx
	spin := m.spinTick()
	if verb == "install" {
		ch := make(chan tea.Msg, 8)
		go func() {
			err := b.InstallZone(ctx, p, zone, "", func(pr api.Progress) {
				// A slow screen skips progress reports; it never slows
				// the install down.
				select {
				case ch <- progressMsg{id: id, p: pr, ch: ch}:
				default:
				}
			})
			ch <- actionDoneMsg{id: id, verb: verb, zone: zone, err: err}
			close(ch)
		}()
		return tea.Batch(spin, waitMsg(ch))
	}
	call := func() (string, error) {
		switch verb {
		case "ready":
			_, err := b.ReadyZone(ctx, p, zone)
			return "", err
		case "boot":
			_, err := b.BootZone(ctx, p, zone, nil)
			return "", err
		case "halt":
			_, err := b.HaltZone(ctx, p, zone)
			return "", err
		case "reboot":
			_, err := b.RebootZone(ctx, p, zone, nil)
			return "", err
		case "shutdown":
			_, err := b.ShutdownZone(ctx, p, zone, shutdownTimeout)
			return "", err
		case "uninstall":
			return "", b.UninstallZone(ctx, p, zone, true)
		case "delete":
			return "", b.DeleteZone(ctx, p, zone)
		}
		return "", fmt.Errorf("unknown action %q", verb)
	}
	return tea.Batch(spin, func() tea.Msg {
		out, err := call()
		return actionDoneMsg{id: id, verb: verb, zone: zone, out: out, err: err}
	})
}

func waitMsg(ch <-chan tea.Msg) tea.Cmd {
	return func() tea.Msg {
		msg, ok := <-ch
		if !ok {
			return nil
		}
		return msg
	}
}

// spinTick starts the spinner when the first operation begins; it stops
// by itself when the last one ends, so an idle console does not redraw.
func (m *Model) spinTick() tea.Cmd {
	if m.spinning {
		return nil
	}
	m.spinning = true
	return m.spin.Tick
}

func (m *Model) onSpin(msg spinner.TickMsg) tea.Cmd {
	if len(m.ops) == 0 {
		m.spinning = false
		return nil
	}
	var cmd tea.Cmd
	m.spin, cmd = m.spin.Update(msg)
	return cmd
}

func (m *Model) onProgress(msg progressMsg) tea.Cmd {
	for _, op := range m.ops {
		if op.id == msg.id {
			op.progress = msg.p
		}
	}
	return waitMsg(msg.ch)
}

func (m *Model) onActionDone(msg actionDoneMsg) tea.Cmd {
	for i, op := range m.ops {
		if op.id == msg.id {
			m.ops = append(m.ops[:i], m.ops[i+1:]...)
			break
		}
	}
	if msg.err != nil {
		m.setFlash("", msg.err)
	} else {
		if msg.verb == "create" {
			// The next key the flash suggests (i) must act on the new
			// zone, which the refresh below lists.
			m.table.want = msg.zone
		}
		out := strings.TrimSpace(msg.out)
		if out == "" {
			out = msg.verb + " " + msg.zone + ": done"
		}
		m.setFlash(out, nil)
	}
	m.detailDirty()
	return m.startRefresh()
}

// opsView draws the operations under way for the right of the status
// line: a spinner and the step, or a progress bar when the size is known.
func (m *Model) opsView(room int) string {
	if len(m.ops) == 0 || room < 12 {
		return ""
	}
	op := m.ops[len(m.ops)-1]
	label := op.verb + " " + op.zone
	if op.progress.Step != "" {
		label += ": " + op.progress.Step
	}
	if len(m.ops) > 1 {
		label = fmt.Sprintf("%s (+%d)", label, len(m.ops)-1)
	}
	if op.progress.Total > 0 {
		// The bar is drawn here rather than with bubbles/progress, which
		// would pull in a spring-animation module for a status line.
		bw := min(20, room/3)
		pct := min(max(float64(op.progress.Done)/float64(op.progress.Total), 0), 1)
		label = fit(label, max(room-bw-6, 1), false)
		return label + " " + m.c.styles.progressBar(pct, bw) + fmt.Sprintf(" %3.0f%%", pct*100)
	}
	return fit(m.spin.View()+" "+label, room, false)
}
