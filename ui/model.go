package ui

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"
	"zonetop/api"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/spinner"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"zonetop/termsafe"
)

// Options configure a console.
type Options struct {
	// Principal is who the console acts as; it scopes every engine call
	// and what the header says.
	Principal api.Principal
	// Refresh is how often the zone list is fetched again; 1s when zero.
	Refresh time.Duration
	// Command, when set, runs a `:` command line other than q/quit
	// (zoneadm and zonecfg syntax) and returns its output. It runs outside
	// Update, so it may block.
	Command func(line string) (string, error)
	// Now is the clock the header shows; time.Now when nil. Tests fix it.
	Now func() time.Time
	// Complete, when set, offers the words that may follow words in a
	// `:` line (the last word is the one being typed, "" for a new one),
	// as the CLI's shell completion does: subcommands, options, zone
	// and rctl names. The console adds its own views and zone names.
	Complete func(words []string) []string
}

// Minimum usable size; below it the console says so instead of drawing
// broken lines. The message asks for the size the layout is designed for.
const (
	minWidth, minHeight   = 40, 10
	wantWidth, wantHeight = 80, 24
)

type inputMode int

const (
	inputNone inputMode = iota
	inputFilter
	inputCommand
	inputLogSearch // the log view's /
	inputLogSave   // the log view's w: a file name
	inputProcFilter
)

type (
	tickMsg  time.Time
	zonesMsg struct {
		zones  []api.ZoneInfo
		usage  map[string]ZoneUsage
		usErrs map[string]error
		host   *api.HostUsage
		hostEr error
		err    error
	}
	commandMsg struct {
		line, out string
		err       error
	}
)

// Model is the console's root model.
type Model struct {
	c       *common
	backend Backend
	opts    Options
	host    api.HostInfo

	// lastView is the last frame drawn; unchanged says the update since
	// changed nothing on screen, so View can give it again. A key typed
	// into a pane is such an update, and drawing the whole console for it
	// would hold up the frame with its echo, which follows at once.
	lastView  tea.View
	drawn     bool
	unchanged bool
	echo      echoState // a focused pane's output drawn between frames

	table *zoneTable
	help  help.Model
	input textinput.Model
	mode  inputMode

	ctx    context.Context
	cancel context.CancelFunc

	loaded     bool  // a List has succeeded at least once
	refreshing bool  // a List is in flight; ticks meanwhile are dropped
	dropped    int   // ticks dropped because a List was still running
	listErr    error // the last List failed; the table shows older data
	flash      string
	flashErr   bool
	paused     bool // `p`: refreshes stop until pressed again

	form    *zoneForm     // the new-zone form, while open
	editor  *zoneEditor   // the zonecfg editor, while open
	confirm *confirmState // a destructive action waiting for its answer
	detail  *detailView   // a zone's detail, while open
	output  *outputView   // a `:` command's output, when longer than a line

	// The views `:` switches to (views.go); nil when the zone table shows.
	projects *projectsOverview
	procs    *procView
	logs     *logView

	// history holds the `:` lines run, oldest first; histPos is where Up
	// and Down are in it, draft the line being typed before Up.
	history []string
	histPos int
	draft   string

	// consoleEvents are the edits made from this console (caps, projects),
	// for the Events tab beside the engine's own events.
	consoleEvents []api.Event

	ops      []*opState // engine calls under way
	nextOp   int
	spin     spinner.Model
	spinning bool

	panes    []*pane
	focus    int // index of the pane keys go to; -1: zonetop itself
	nextPane int
}

// New builds the console's root model over b.
func New(b Backend, o Options) tea.Model { return newModel(b, o) }

func newModel(b Backend, o Options) *Model {
	if o.Refresh <= 0 {
		o.Refresh = time.Second
	}
	c := newCommon(o.Now)
	ctx, cancel := context.WithCancel(context.Background())
	m := &Model{
		c:       c,
		backend: b,
		opts:    o,
		host:    b.Host(),
		table:   newZoneTable(c),
		help:    help.New(),
		input:   textinput.New(),
		ctx:     ctx,
		cancel:  cancel,
		spin:    spinner.New(spinner.WithSpinner(spinner.MiniDot)),
		focus:   -1,
	}
	c.keys.scope(o.Principal)
	m.help.Styles = c.styles.Help
	is := m.input.Styles()
	is.Cursor.Blink = false // a blinking cursor redraws twice a second for nothing
	is.Focused.Prompt = c.styles.Prompt
	is.Blurred.Prompt = c.styles.Prompt
	m.input.SetStyles(is)
	return m
}

// Run starts the console on the terminal and returns when the operator quits.
func Run(b Backend, o Options) error {
	m := newModel(b, o)
	defer m.cancel()
	// Frames at 120 a second (the most bubbletea allows): what a focused
	// pane shows goes out between them (echo.go), the rest waits for
	// the next, and an idle console only compares each frame with the
	// last.
	out := &termOut{w: os.Stdout, f: os.Stdout}
	p := tea.NewProgram(m, tea.WithFPS(120), tea.WithOutput(out))
	m.echo.out, m.echo.send = out, p.Send
	_, err := p.Run()
	out.stop() // however the program ended
	if err != nil {
		return fmt.Errorf("zonetop console: %w", err)
	}
	return nil
}

// Init paints as soon as the first list arrives instead of waiting a tick.
func (m *Model) Init() tea.Cmd {
	return tea.Batch(m.startRefresh(), m.tick())
}

func (m *Model) tick() tea.Cmd {
	return tea.Tick(m.opts.Refresh, func(t time.Time) tea.Msg { return tickMsg(t) })
}

// startRefresh fetches the zone list off the Update loop. While a fetch is
// under way another one is not started: a slow engine gets fewer calls,
// not a pile of them.
func (m *Model) startRefresh() tea.Cmd {
	if m.refreshing {
		m.dropped++
		return nil
	}
	m.refreshing = true
	b, p, ctx := m.backend, m.opts.Principal, m.ctx
	timeout := max(5*m.opts.Refresh, 5*time.Second)
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		zs, err := b.List(ctx, p, api.ListOptions{Configured: true, Installed: true})
		if err != nil {
			return zonesMsg{err: fmt.Errorf("list zones: %w", err)}
		}
		msg := zonesMsg{zones: zs}
		if hb, ok := b.(HostUsageBackend); ok && p.Zone == globalZone {
			if h, err := hb.HostUsage(ctx, p); err != nil {
				msg.hostEr = err
			} else {
				msg.host = &h
			}
		}
		if ub, ok := b.(UsageBackend); ok {
			msg.usage, msg.usErrs = map[string]ZoneUsage{}, map[string]error{}
			var live []string
			for _, z := range zs {
				if z.Name != globalZone && (z.State == "running" || z.State == "ready") {
					live = append(live, z.Name)
				}
			}
			us, errs := make([]ZoneUsage, len(live)), make([]error, len(live))
			if mb, ok := b.(UsageManyBackend); ok {
				us, errs = mb.UsageMany(ctx, p, live)
			} else {
				for i, z := range live {
					us[i], errs[i] = ub.Usage(ctx, p, z)
				}
			}
			for i, z := range live {
				if i >= len(us) || i >= len(errs) {
					msg.usErrs[z] = fmt.Errorf("usage of %s: no answer", z)
				} else if errs[i] != nil {
					msg.usErrs[z] = errs[i]
				} else {
					msg.usage[z] = us[i]
				}
			}
		}
		return msg
	}
}

// Update handles one message; it never waits on the engine.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	if msg == tea.ClearScreen() {
		m.erased()
	}
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.c.width, m.c.height = msg.Width, msg.Height
		m.resize()
		return m, nil
	case tickMsg:
		if m.paused {
			return m, m.tick()
		}
		return m, tea.Batch(m.tick(), m.startRefresh(), m.fetchDetail(), m.viewTick())
	case zonesMsg:
		m.refreshing = false
		if msg.err != nil {
			m.listErr = msg.err
			return m, nil
		}
		m.listErr = nil
		m.loaded = true
		m.setUsage(msg)
		m.table.SetZones(msg.zones)
		var cmd tea.Cmd
		if m.detail != nil && m.detail.dirty {
			m.detail.dirty = false
			cmd = m.fetchDetail()
		}
		return m, cmd
	case actionDoneMsg:
		return m, m.onActionDone(msg)
	case editDoneMsg:
		return m, m.onEditDone(msg)
	case progressMsg:
		return m, m.onProgress(msg)
	case spinner.TickMsg:
		return m, m.onSpin(msg)
	case editorLoadedMsg:
		return m, m.onEditorLoaded(msg)
	case editorSavedMsg:
		return m, m.onEditorSaved(msg)
	case detailMsg:
		m.onDetail(msg)
		return m, nil
	case procsMsg, logMsg, signalDoneMsg:
		cmd, _ := m.viewMsg(msg)
		return m, cmd
	case paneOpenedMsg:
		return m, m.onPaneOpened(msg)
	case paneChangedMsg:
		return m, m.onPaneChanged(msg)
	case paneClosedMsg:
		m.onPaneClosed(msg)
		return m, nil
	case tea.PasteMsg:
		if m.focus >= 0 {
			m.pastePane(msg.Content)
			return m, nil
		}
	case commandMsg:
		out := msg.out
		if multiLine(out, msg.err) {
			m.output = newOutputView(msg.line, out, msg.err)
			m.flash = ""
			return m, m.startRefresh()
		}
		if strings.TrimSpace(out) == "" && msg.err == nil {
			// Silent success, as zonecfg and zoneadm are; say it happened.
			out = "done: " + msg.line
		}
		m.setFlash(out, msg.err)
		// A command usually changes a zone; show it now, not a tick later.
		return m, m.startRefresh()
	case tea.KeyPressMsg:
		return m.key(msg)
	case tea.MouseClickMsg, tea.MouseReleaseMsg, tea.MouseMotionMsg, tea.MouseWheelMsg:
		if m.paneMouse(msg.(tea.MouseMsg)) || m.overlayMouse(msg.(tea.MouseMsg)) {
			return m, nil
		}
	}
	switch msg := msg.(type) {
	case tea.MouseClickMsg:
		if msg.Button == tea.MouseLeft && m.mode == inputNone && m.overlay() == "" {
			m.table.Click(msg.X, msg.Y-m.headerHeight())
		}
		return m, nil
	case tea.MouseWheelMsg:
		switch msg.Button {
		case tea.MouseWheelUp:
			m.table.Move(-1)
		case tea.MouseWheelDown:
			m.table.Move(1)
		}
		return m, nil
	}
	if m.mode != inputNone {
		// Pastes and cursor messages; a paste into the filter applies it.
		var cmd tea.Cmd
		m.input, cmd = m.input.Update(msg)
		if m.mode == inputFilter {
			m.table.SetFilter(parseFilter(m.input.Value()))
		}
		return m, cmd
	}
	return m, nil
}

func (m *Model) setFlash(s string, err error) {
	m.flash, m.flashErr = strings.TrimSpace(s), err != nil
	if err != nil {
		m.flash = err.Error()
	}
	// Errors and outputs may quote a zone (its projects, its processes).
	m.flash = termsafe.String(m.flash)
}

func (m *Model) quit() (tea.Model, tea.Cmd) {
	if m.echo.out != nil {
		m.echo.out.stop()
	}
	m.closeAllPanes()
	m.cancel()
	return m, tea.Quit
}

// overlay names what covers the table: a form, the editor or a detail.
func (m *Model) overlay() string {
	switch {
	case m.form != nil:
		return "form"
	case m.editor != nil:
		return "editor"
	case m.output != nil:
		return "output"
	case m.detail != nil:
		return "detail"
	case m.procs != nil, m.logs != nil, m.projects != nil:
		return "view"
	}
	return ""
}

func (m *Model) key(msg tea.KeyPressMsg) (tea.Model, tea.Cmd) {
	// A focused pane takes every key, ctrl+c included: it belongs to the
	// program in the zone.
	if m.focus >= 0 && m.focus < len(m.panes) {
		return m.paneKey(msg)
	}
	if msg.String() == "ctrl+c" && (m.confirm == nil || m.confirm.verb != "quit") {
		return m.askQuit()
	}
	if m.confirm != nil {
		return m.confirmKey(msg)
	}
	if m.mode != inputNone {
		return m.inputKey(msg)
	}
	if m.form != nil {
		z, done, cmd := m.form.key(msg)
		if done {
			m.form = nil
			if z != nil {
				return m, m.createZone(*z)
			}
		}
		return m, cmd
	}
	if m.editor != nil {
		return m.editorKey(msg)
	}
	k := m.c.keys
	if key.Matches(msg, k.Panes) && len(m.panes) > 0 {
		m.focus = len(m.panes) - 1
		return m, nil
	}
	if key.Matches(msg, k.Command) {
		return m, m.openInput(inputCommand, ":", "")
	}
	if m.output != nil {
		return m.outputKey(msg)
	}
	if m.detail != nil {
		return m.detailKey(msg)
	}
	if cmd, ok := m.viewKey(msg); ok {
		return m, cmd
	}
	m.flash = ""
	if verb := m.actionVerb(msg); verb != "" {
		return m.startAction(verb)
	}
	switch {
	case key.Matches(msg, k.Pause):
		m.paused = !m.paused
		if m.paused {
			m.setFlash("refresh paused; p resumes", nil)
		}
	case key.Matches(msg, k.Detail):
		if z, ok := m.table.Selected(); ok {
			return m, m.openDetail(z.Name)
		}
	case key.Matches(msg, k.Quit):
		return m.askQuit()
	case key.Matches(msg, k.Help):
		m.help.ShowAll = !m.help.ShowAll
		m.resize()
	case key.Matches(msg, k.Up):
		m.table.Move(-1)
	case key.Matches(msg, k.Down):
		m.table.Move(1)
	case key.Matches(msg, k.PageUp):
		m.table.Move(-m.table.pageSize())
	case key.Matches(msg, k.PageDown):
		m.table.Move(m.table.pageSize())
	case key.Matches(msg, k.Home):
		m.table.Top()
	case key.Matches(msg, k.End):
		m.table.Bottom()
	case key.Matches(msg, k.Sort):
		m.table.CycleSort()
	case m.sortKey(msg):
	case key.Matches(msg, k.Reverse):
		m.table.Reverse()
	case key.Matches(msg, k.Clear):
		if m.help.ShowAll {
			m.help.ShowAll = false
			m.resize()
		} else {
			m.table.SetFilter(zoneFilter{})
		}
	case key.Matches(msg, k.Filter):
		return m, m.openInput(inputFilter, "/", m.table.filter.raw)
	case key.Matches(msg, k.Command):
		return m, m.openInput(inputCommand, ":", "")
	}
	return m, nil
}

// sortKey sorts by the column of a sort key, and reports whether msg was
// one.
func (m *Model) sortKey(msg tea.KeyPressMsg) bool {
	for _, s := range m.c.keys.SortKeys {
		if key.Matches(msg, s.Binding) {
			m.table.SortBy(s.col)
			return true
		}
	}
	return false
}

func (m *Model) openInput(mode inputMode, prompt, value string) tea.Cmd {
	m.mode = mode
	m.histPos, m.draft = len(m.history), ""
	m.input.Prompt = prompt
	m.input.SetValue(value)
	m.input.CursorEnd()
	return m.input.Focus()
}

func (m *Model) closeInput() {
	m.mode = inputNone
	m.input.Blur()
}

// inputKey feeds the filter or command line. The filter applies as it is
// typed; esc in the filter drops it altogether, as in k9s.
func (m *Model) inputKey(msg tea.KeyPressMsg) (tea.Model, tea.Cmd) {
	switch msg.String() {
	case "esc":
		if m.mode == inputFilter {
			m.table.SetFilter(zoneFilter{})
		}
		m.closeInput()
		return m, nil
	case "enter":
		mode := m.mode
		m.closeInput()
		switch {
		case mode == inputCommand:
			return m.runCommand(m.input.Value())
		case mode == inputProcFilter:
			if v := m.activeProcs(); v != nil {
				v.setFilter(strings.TrimSpace(m.input.Value()))
			}
		case mode == inputLogSearch && m.activeLog() != nil:
			v := m.activeLog()
			v.search(m.input.Value(), true)
			if v.query != "" && len(v.matches) == 0 {
				m.setFlash("", fmt.Errorf("no match for /%s/", v.query))
			}
		case mode == inputLogSave && m.activeLog() != nil:
			return m, m.saveLog(m.activeLog(), m.input.Value(), false)
		}
		return m, nil
	case "tab":
		if m.mode == inputCommand {
			m.complete()
			return m, nil
		}
	case "up", "down":
		if m.mode == inputCommand {
			m.historyKey(map[string]int{"up": -1, "down": 1}[msg.String()])
			return m, nil
		}
	}
	var cmd tea.Cmd
	m.input, cmd = m.input.Update(msg)
	if m.mode == inputFilter {
		m.table.SetFilter(parseFilter(m.input.Value()))
	}
	return m, cmd
}

// activeProcs is the process view keys go to: the detail's Processes
// tab or the :procs view.
// activeLog is the log the / and w inputs act on: the detail's Logs tab
// or :logs.
func (m *Model) activeLog() *logView {
	if m.detail != nil {
		if m.detail.tab == tabLogs {
			return m.detail.lv
		}
		return nil
	}
	return m.logs
}

func (m *Model) activeProcs() *procView {
	if m.detail != nil {
		if m.detail.tab == tabProcesses {
			return m.detail.pv
		}
		return nil
	}
	return m.procs
}

// runCommand handles a `:` line. Quitting is the console's own business;
// everything else goes to the Command hook, off the Update loop.
func (m *Model) runCommand(line string) (tea.Model, tea.Cmd) {
	line = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), ":"))
	if line == "" {
		return m, nil
	}
	m.remember(line)
	switch line {
	case "q", "quit", "exit":
		return m.askQuit()
	case "q!":
		return m.quit()
	}
	if cmd, ok := m.switchView(strings.Fields(line)); ok {
		return m, cmd
	}
	if m.opts.Command == nil {
		m.setFlash("", fmt.Errorf("unknown command: %s", line))
		return m, nil
	}
	hook := m.opts.Command
	m.flash, m.flashErr = "running: "+line, false
	return m, func() tea.Msg {
		out, err := hook(line)
		if err != nil {
			err = fmt.Errorf("%s: %w", line, err)
		}
		return commandMsg{line: line, out: out, err: err}
	}
}

// createZone commits the form's zone through the engine.
func (m *Model) createZone(z api.NewZone) tea.Cmd {
	b, p, ctx := m.backend, m.opts.Principal, m.ctx
	m.setFlash("creating "+z.Name+"…", nil)
	name := z.Name
	return func() tea.Msg {
		err := b.CreateZone(ctx, p, z)
		out := ""
		if err == nil {
			out = "zone " + name + " configured; i installs it"
		}
		return actionDoneMsg{id: -1, verb: "create", zone: name, out: out, err: err}
	}
}

// setUsage files a refresh's usage samples under their zones; zones that
// went away lose their history. The global zone's row is the host less
// every zone, as prstat -Z's global line is the global zone's own
// processes; only the global administrator sees every zone, so only its
// console can subtract them.
func (m *Model) setUsage(msg zonesMsg) {
	if msg.host != nil || msg.hostEr != nil {
		m.table.host, m.table.hostErr = msg.host, msg.hostEr
	}
	if msg.usage == nil && msg.usErrs == nil {
		return
	}
	seen := map[string]bool{}
	file := func(name string, u ZoneUsage) {
		lu := m.table.usage[name]
		if lu == nil {
			lu = &liveUsage{}
			m.table.usage[name] = lu
		}
		lu.add(u, m.table.host)
		seen[name] = true
	}
	for name, u := range msg.usage {
		file(name, u)
	}
	if h := msg.host; h != nil && m.opts.Principal.GlobalAdmin() {
		file(globalZone, globalUsage(*h, msg.usage))
	}
	for name, err := range msg.usErrs {
		lu := m.table.usage[name]
		if lu == nil {
			lu = &liveUsage{}
			m.table.usage[name] = lu
		}
		lu.ok, lu.err = false, err
		seen[name] = true
	}
	for name := range m.table.usage {
		if !seen[name] {
			delete(m.table.usage, name)
		}
	}
}

// globalUsage is the host less the zones sampled with it. Samples are not
// taken at one instant, so a difference below zero is read as none.
func globalUsage(h api.HostUsage, zones map[string]ZoneUsage) ZoneUsage {
	cpu, mem, lwps := h.CPUPct/100, h.MemUsed, h.LWPs
	for _, z := range zones {
		cpu -= z.CPU
		mem -= min(mem, z.Memory)
		lwps -= min(lwps, z.LWPs)
	}
	return ZoneUsage{CPU: max(cpu, 0), Memory: mem, LWPs: lwps}
}

// helpView is the short or, after `?`, the full key help of whatever has
// the keys.
func (m *Model) helpView() string {
	km := m.viewKeyMap()
	k, table := km.(*KeyMap)
	if !table || !m.help.ShowAll {
		return m.help.View(km)
	}
	whole := m.help
	whole.SetWidth(0)
	if lipgloss.Width(whole.View(km)) <= m.c.width {
		return m.help.View(km)
	}
	// Too narrow for the sort columns, which help would drop behind
	// an ellipsis: the rest as columns, the sort keys as lines under
	// them, so every key shows at 80 columns.
	full := k.FullHelp()
	out := m.help.View(viewKeys{k.ShortHelp(), full[:len(full)-2]})
	st := m.help.Styles
	line, lines := st.FullDesc.Render("sort"), []string(nil)
	for _, s := range k.SortKeys {
		if !s.Binding.Enabled() {
			continue
		}
		h := s.Binding.Help()
		item := st.FullKey.Render(h.Key) + " " + st.FullDesc.Render(strings.TrimPrefix(h.Desc, "by "))
		if lipgloss.Width(line)+2+lipgloss.Width(item) > m.c.width {
			lines = append(lines, line)
			line = "    "
		} else {
			line += st.FullSeparator.Render("  ")
		}
		line += item
	}
	return out + "\n" + strings.Join(append(lines, line), "\n")
}

// resize hands the table what is left of the screen after the header,
// the status line and the help.
func (m *Model) resize() {
	w := m.c.width
	m.help.SetWidth(w)
	m.input.SetWidth(max(w-2, 1))
	tableH, _ := m.split()
	m.table.SetSize(w, tableH)
	m.resizePanes()
}

// bodyHeight is what is left of the screen after the header, the status
// line and the help.
func (m *Model) bodyHeight() int {
	return max(m.c.height-m.headerHeight()-1-lipgloss.Height(m.helpView()), 1)
}

// status is the one line between table and help: the open input, else a
// command's result, else a failed refresh, else the selected zone's reason.
func (m *Model) status() string {
	if m.confirm != nil {
		return m.confirmView()
	}
	left := m.statusLeft()
	if ops := m.opsView(m.c.width / 2); ops != "" {
		left = fit(left, max(m.c.width-ansi.StringWidth(ops)-1, 0), false)
		return spread(left, ops, m.c.width)
	}
	return left
}

func (m *Model) statusLeft() string {
	st := m.c.styles
	w := m.c.width
	switch {
	case m.mode != inputNone:
		return fit(m.input.View(), w, false)
	case m.flash != "" && m.flashErr:
		return st.StatusError.Render(fit(firstLine(m.flash), w, false))
	case m.flash != "":
		return st.StatusInfo.Render(fit(firstLine(m.flash), w, false))
	case m.listErr != nil:
		msg := m.listErr.Error()
		if m.loaded {
			msg += " (showing the last good list)"
		}
		return st.StatusError.Render(fit(msg, w, false))
	case m.table.filter.err != nil:
		return st.StatusError.Render(fit(m.table.filter.err.Error()+"; matching it as text", w, false))
	}
	if z, ok := m.table.Selected(); ok && z.Reason != "" {
		return st.Reason.Render(fit(z.Name+" "+z.State+": "+termsafe.String(z.Reason), w, false))
	}
	return strings.Repeat(" ", w)
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " …"
	}
	return s
}

// body is the table, or what to say instead of one.
func (m *Model) body() string {
	st := m.c.styles
	switch {
	case !m.loaded && m.listErr == nil:
		return st.Empty.Render("listing zones…")
	case !m.loaded:
		return st.Empty.Render("could not list zones; retrying every " + m.opts.Refresh.String())
	case !m.hasZones():
		if len(m.table.rows) == 0 {
			return m.emptyState()
		}
		// Only the global zone: show it, then how to make the first one.
		return m.table.View() + "\n\n" + m.emptyState()
	case len(m.table.rows) == 0:
		return m.table.titles() + "\n" + st.Empty.Render(fmt.Sprintf("no zone matches /%s/ — esc clears the filter", m.table.filter.raw))
	}
	return m.table.View()
}

// hasZones reports whether any zone besides the global one exists.
func (m *Model) hasZones() bool {
	for _, z := range m.table.all {
		if z.Name != globalZone {
			return true
		}
	}
	return false
}

// emptyState teaches the first step instead of showing an empty table.
func (m *Model) emptyState() string {
	st := m.c.styles
	if !m.opts.Principal.GlobalAdmin() {
		return st.Empty.Render("No zones are visible to you.")
	}
	// The quickest way first: a form that checks each field as it is
	// typed; then the commands an illumos administrator already knows.
	lines := []string{
		st.Empty.Render("No zones yet. Press ") + st.EmptyCode.Render("n") + st.Empty.Render(" to create one here, with a form."),
		"",
		st.Empty.Render("Or from a shell:"),
		"",
		"  " + st.EmptyCode.Render("zonecfg -z web01 'create; set zonepath=/zones/web01; commit'"),
		"",
		st.Empty.Render("or on the command line here (:):"),
		"",
		"  " + st.EmptyCode.Render(":zonecfg -z web01 'create; set zonepath=/zones/web01; commit'"),
	}
	return strings.Join(lines, "\n")
}

// scopeKeys offers a principal other than the global administrator the
// keys its rights on the selected zone allow (ActionScope), before help
// is drawn.
func (m *Model) scopeKeys() {
	p := m.opts.Principal
	if p.GlobalAdmin() {
		return
	}
	var may func(api.Action) bool
	if as, ok := m.backend.(ActionScope); ok {
		if z, sel := m.table.Selected(); sel && z.Name != globalZone {
			may = func(a api.Action) bool { return as.ActionAllowed(p, z.Name, a) }
		}
	}
	m.c.keys.scopeZone(p, may)
}

// View draws the whole screen.
func (m *Model) View() tea.View {
	if m.unchanged && m.drawn {
		m.unchanged = false
		return m.lastView
	}
	var v tea.View
	v.AltScreen = true
	v.MouseMode = m.mouseMode()
	v.WindowTitle = "zonetop"
	v.SetContent(m.render())
	m.lastView, m.drawn, m.unchanged = v, true, false
	return v
}

func (m *Model) render() string {
	f := m.renderFrame()
	m.noteFrame(f)
	return f
}

func (m *Model) renderFrame() string {
	w, h := m.c.width, m.c.height
	if w == 0 || h == 0 {
		return ""
	}
	if w < minWidth || h < minHeight {
		msg := m.c.styles.TooSmall.Render(fmt.Sprintf("terminal too small (%d×%d)", w, h)) + "\n" +
			fmt.Sprintf("need %d×%d", wantWidth, wantHeight)
		return clip(lipgloss.Place(w, h, lipgloss.Center, lipgloss.Center, msg), w)
	}
	m.scopeKeys()
	helpV := m.helpView()
	tableH, paneH := m.split()
	var top string
	switch m.overlay() {
	case "form":
		top = m.form.View(w, tableH)
	case "editor":
		top = m.editor.View(w, tableH)
	case "output":
		top = m.output.View(m.c.styles, w, tableH)
	case "detail":
		top = m.detailBody(w, tableH)
	case "view":
		top, _ = m.viewBody(w, tableH)
	default:
		top = m.body()
	}
	body := lipgloss.NewStyle().Height(tableH).MaxHeight(tableH).Render(top)
	if paneH > 0 {
		body += "\n" + m.panesView(w, paneH)
	}
	return clip(strings.Join([]string{m.header(), body, m.status(), helpV}, "\n"), w)
}

// clip cuts every line of s to w cells.
func clip(s string, w int) string {
	lines := strings.Split(s, "\n")
	// Whatever a part drew, no line may wrap: a wrapped line scrolls the
	// whole screen on a real terminal.
	for i, l := range lines {
		if ansi.StringWidth(l) > w {
			lines[i] = ansi.Truncate(l, w, "…")
		}
	}
	return strings.Join(lines, "\n")
}
