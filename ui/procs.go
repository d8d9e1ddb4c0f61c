package ui

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"zonetop/api"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"zonetop/termsafe"
)

// ProcessSignaler sends a signal to one process of a zone through the
// engine (or, inside a zone, zoneadmd), never to a pid from the console:
// the engine checks who asks and that the process is the zone's and the
// one listed (its start time), holding it by pidfd.
type ProcessSignaler interface {
	SignalProcess(ctx context.Context, p api.Principal, req api.SignalRequest) error
}

// The process view's columns, in order on screen.
const (
	pcZone = iota
	pcPID
	pcUser
	pcProject
	pcCPU
	pcRSS
	pcState
	pcCommand
)

var procTitles = []string{"ZONE", "PID", "USER", "PROJECT", "CPU%", "RSS", "S", "COMMAND"}

// procRow is one process with what the view adds: its zone, its CPU rate
// over the last two samples, and its depth in the tree.
type procRow struct {
	api.Process
	zone   string
	cpu    float64
	hasCPU bool
	depth  int
	last   bool // the last child of its parent, for the tree's corner
}

func (r procRow) key() string { return r.zone + "/" + strconv.Itoa(r.PID) }

// procView is the process list of one zone (the detail's Processes tab,
// `:procs ZONE`), of one project of it, or of every zone the principal
// sees (`:procs`). It sorts as htop does, holds the cursor on its process
// across samples, and sends signals through the engine after a choice
// and a confirmation.
type procView struct {
	zone, project string
	filter        string    // `/`: only rows whose pid, user, project or command hold it
	all           []procRow // the last sample, before the filter
	rows          []procRow
	prev          map[string]time.Duration
	prevAt        time.Time
	errs          []string
	loaded        bool

	sortCol int
	desc    bool
	tree    bool
	cursor  int
	selKey  string
	scroll  int

	menu *sigMenu
}

// sigMenu is the signal being chosen for a process, htop's `k` panel.
type sigMenu struct {
	target procRow
	sel    int
}

type (
	procsMsg struct {
		view  *procView
		procs map[string][]api.Process
		errs  []string
		at    time.Time
	}
	signalDoneMsg struct {
		what string
		err  error
	}
)

func newProcView(zone, project string) *procView {
	return &procView{zone: zone, project: project, sortCol: pcCPU, desc: true, prev: map[string]time.Duration{}}
}

// procZones are the zones the view lists now: its own, or every ready or
// running zone in the table but the global one, whose processes are the
// host's.
func (m *Model) procZones(v *procView) []string {
	if v.zone != "" {
		return []string{v.zone}
	}
	var out []string
	for _, z := range m.table.all {
		if z.Name != globalZone && (z.State == "running" || z.State == "ready") {
			out = append(out, z.Name)
		}
	}
	return out
}

// fetchProcs lists the view's processes off the Update loop.
func (m *Model) fetchProcs(v *procView) tea.Cmd {
	if v == nil {
		return nil
	}
	b, p, ctx, zones := m.backend, m.opts.Principal, m.ctx, m.procZones(v)
	return func() tea.Msg {
		msg := procsMsg{view: v, procs: map[string][]api.Process{}}
		for _, z := range zones {
			ps, err := b.Processes(ctx, p, z)
			if err != nil {
				msg.errs = append(msg.errs, err.Error())
				continue
			}
			msg.procs[z] = ps
		}
		msg.at = time.Now()
		return msg
	}
}

// set files a sample: CPU% is the CPU time used between two samples over
// the time between them, in percent of one CPU as the zone table's.
func (v *procView) set(msg procsMsg) {
	cur := map[string]time.Duration{}
	var rows []procRow
	secs := msg.at.Sub(v.prevAt).Seconds()
	for z, ps := range msg.procs {
		for _, p := range ps {
			if v.project != "" && p.Project != v.project {
				continue
			}
			r := procRow{Process: p, zone: z}
			cur[r.key()] = p.CPU
			if prev, ok := v.prev[r.key()]; ok && secs > 0 && p.CPU >= prev {
				r.cpu, r.hasCPU = (p.CPU-prev).Seconds()/secs*100, true
			}
			rows = append(rows, r)
		}
	}
	v.prev, v.prevAt = cur, msg.at
	v.all, v.errs, v.loaded = rows, msg.errs, true
	v.setFilter(v.filter)
}

// setFilter keeps the rows that hold f (case-insensitive), as htop's F4.
func (v *procView) setFilter(f string) {
	v.filter = f
	lf := strings.ToLower(f)
	var rows []procRow
	for _, r := range v.all {
		if lf == "" || strings.Contains(strings.ToLower(strconv.Itoa(r.PID)+" "+r.User+" "+r.Project+" "+r.Command), lf) {
			rows = append(rows, r)
		}
	}
	v.rows = rows
	v.order()
}

// less compares two rows by the sort column; ties go by zone and pid so
// the order never flickers between samples.
func (v *procView) less(a, b procRow) int {
	var c int
	switch v.sortCol {
	case pcZone:
		c = strings.Compare(a.zone, b.zone)
	case pcPID:
		c = cmp.Compare(a.PID, b.PID)
	case pcUser:
		c = strings.Compare(a.User, b.User)
	case pcProject:
		c = strings.Compare(a.Project, b.Project)
	case pcCPU:
		c = cmp.Compare(a.cpu, b.cpu)
	case pcRSS:
		c = cmp.Compare(a.RSS, b.RSS)
	case pcState:
		c = strings.Compare(a.State, b.State)
	case pcCommand:
		c = strings.Compare(a.Command, b.Command)
	}
	if v.desc {
		c = -c
	}
	if c == 0 {
		c = cmp.Or(strings.Compare(a.zone, b.zone), cmp.Compare(a.PID, b.PID))
	}
	return c
}

// order sorts the rows (as a tree: each parent's children sorted under
// it) and puts the cursor back on the process it was on.
func (v *procView) order() {
	slices.SortFunc(v.rows, v.less)
	if v.tree {
		v.rows = treeOrder(v.rows)
	} else {
		for i := range v.rows {
			v.rows[i].depth = 0
		}
	}
	if i := slices.IndexFunc(v.rows, func(r procRow) bool { return r.key() == v.selKey }); i >= 0 {
		v.cursor = i
	}
	v.clamp()
}

// treeOrder lays sorted rows out as a forest by PPID within each zone: a
// process whose parent is not listed is a root.
func treeOrder(rows []procRow) []procRow {
	byKey := map[string]bool{}
	for _, r := range rows {
		byKey[r.key()] = true
	}
	kids := map[string][]procRow{}
	var roots []procRow
	for _, r := range rows {
		pk := r.zone + "/" + strconv.Itoa(r.PPID)
		if r.PPID > 0 && r.PPID != r.PID && byKey[pk] {
			kids[pk] = append(kids[pk], r)
		} else {
			roots = append(roots, r)
		}
	}
	out := make([]procRow, 0, len(rows))
	seen := map[string]bool{}
	var walk func(r procRow, depth int, last bool)
	walk = func(r procRow, depth int, last bool) {
		if seen[r.key()] {
			return // a cycle in what a zone's /proc said; shown once
		}
		seen[r.key()] = true
		r.depth, r.last = depth, last
		out = append(out, r)
		ks := kids[r.key()]
		for i, k := range ks {
			walk(k, depth+1, i == len(ks)-1)
		}
	}
	for _, r := range roots {
		walk(r, 0, false)
	}
	// Whatever a cycle kept from the roots still shows, flat.
	for _, r := range rows {
		if !seen[r.key()] {
			r.depth = 0
			out = append(out, r)
		}
	}
	return out
}

func (v *procView) clamp() {
	v.cursor = min(max(v.cursor, 0), max(len(v.rows)-1, 0))
	if len(v.rows) > 0 {
		v.selKey = v.rows[v.cursor].key()
	}
}

func (v *procView) move(d int) {
	v.cursor += d
	v.clamp()
}

func (v *procView) selected() (procRow, bool) {
	if len(v.rows) == 0 {
		return procRow{}, false
	}
	return v.rows[v.cursor], true
}

// procSortKeys sort by a column each, as htop's P, M, N, U; pressed again
// they flip the direction.
var procSortKeys = map[string]int{"P": pcCPU, "M": pcRSS, "N": pcPID, "U": pcUser, "J": pcProject, "C": pcCommand}

// procKey handles a key of the process view; handled says whether it was
// one.
func (m *Model) procKey(v *procView, msg tea.KeyPressMsg) (tea.Cmd, bool) {
	if v.menu != nil {
		return m.sigMenuKey(v, msg), true
	}
	s := msg.String()
	if col, ok := procSortKeys[s]; ok {
		v.sortBy(col)
		return nil, true
	}
	switch s {
	case "up":
		v.move(-1)
	case "down", "j":
		v.move(1)
	case "pgup", "ctrl+b":
		v.move(-10)
	case "pgdown", "ctrl+f", "space":
		v.move(10)
	case "home", "g":
		v.move(-len(v.rows))
	case "end", "G":
		v.move(len(v.rows))
	case "s":
		cols := []int{pcPID, pcUser, pcProject, pcCPU, pcRSS, pcState, pcCommand}
		if v.zone == "" {
			cols = append([]int{pcZone}, cols...)
		}
		i := slices.Index(cols, v.sortCol)
		v.sortCol, v.desc = cols[(i+1)%len(cols)], false
		v.order()
	case "o", "I":
		v.desc = !v.desc
		v.order()
	case "t":
		v.tree = !v.tree
		v.order()
	case "/":
		return m.openInput(inputProcFilter, "/", v.filter), true
	case "k", "F9":
		r, ok := v.selected()
		if !ok {
			m.setFlash("", fmt.Errorf("no process selected"))
			return nil, true
		}
		if _, ok := m.backend.(ProcessSignaler); !ok {
			m.setFlash("", fmt.Errorf("signals are not available from this engine"))
			return nil, true
		}
		v.menu = &sigMenu{target: r}
	default:
		return nil, false
	}
	return nil, true
}

// sigMenuKey picks a signal; enter asks for confirmation, as every
// destructive key of the console does, and y sends it.
func (m *Model) sigMenuKey(v *procView, msg tea.KeyPressMsg) tea.Cmd {
	mn := v.menu
	switch msg.String() {
	case "esc", "q":
		v.menu = nil
	case "up", "k":
		mn.sel = max(mn.sel-1, 0)
	case "down", "j":
		mn.sel = min(mn.sel+1, len(api.Signals)-1)
	case "enter":
		v.menu = nil
		sig, r := api.Signals[mn.sel], mn.target
		b, _ := m.backend.(ProcessSignaler)
		p, ctx := m.opts.Principal, m.ctx
		what := fmt.Sprintf("SIG%s to pid %d (%s) of %s", sig, r.PID, ansi.Truncate(termsafe.String(r.Command), 24, "…"), r.zone)
		m.confirm = &confirmState{verb: "signal", zone: r.zone, subject: fmt.Sprintf("pid %d", r.PID),
			question: "send " + what + "? [y/N]",
			do: func() tea.Cmd {
				return func() tea.Msg {
					err := b.SignalProcess(ctx, p, api.SignalRequest{Zone: r.zone, PID: r.PID, Start: r.Start, Signal: sig})
					return signalDoneMsg{what: fmt.Sprintf("sent SIG%s to pid %d of %s", sig, r.PID, r.zone), err: err}
				}
			}}
	}
	return nil
}

// procCol is a column of the process table before COMMAND, which takes
// the rest of the line.
type procCol struct {
	id    int
	w     int
	right bool
}

// columns lays the table out w wide; a click on a title finds its
// column from the same layout the titles are drawn with.
func (v *procView) columns(w int) ([]procCol, int) {
	cols := []procCol{{pcPID, 7, true}, {pcUser, 8, false}, {pcProject, 10, false}, {pcCPU, 6, true}, {pcRSS, 6, true}, {pcState, 1, false}}
	if v.zone == "" {
		cols = append([]procCol{{pcZone, 10, false}}, cols...)
	}
	used := 0
	for _, c := range cols {
		used += c.w + 1
	}
	return cols, max(w-used, 8)
}

// columnAt is the column under x, COMMAND past the others.
func (v *procView) columnAt(x, w int) int {
	cols, _ := v.columns(w)
	pos := 0
	for _, c := range cols {
		if x < pos+c.w+1 {
			return c.id
		}
		pos += c.w + 1
	}
	return pcCommand
}

// sortBy sorts by col; asked again, it flips the direction.
func (v *procView) sortBy(col int) {
	if v.sortCol == col {
		v.desc = !v.desc
	} else {
		// Numbers read biggest first, names from A.
		v.sortCol, v.desc = col, col == pcCPU || col == pcRSS
	}
	v.order()
}

// procLines draws the view's table w wide and says which line holds the
// cursor. Zone text (users, projects, commands) is shown through
// termsafe.
func (m *Model) procLines(v *procView, w int) ([]string, int) {
	st := m.c.styles
	if !v.loaded {
		return []string{st.Empty.Render("listing processes…")}, -1
	}
	var lines []string
	for _, e := range v.errs {
		lines = append(lines, st.StatusError.Render(termsafe.String(e)))
	}
	if len(v.rows) == 0 {
		what := "no processes (the zone is not ready or running)"
		if v.filter != "" {
			what = "no process matches /" + termsafe.String(v.filter) + "/ — / and enter on an empty line clear it"
		} else if v.project != "" {
			what = "no processes in project " + termsafe.String(v.project)
		}
		return append(lines, st.Empty.Render(what)), -1
	}
	cols, cmdW := v.columns(w)
	var head strings.Builder
	for _, c := range cols {
		t := procTitles[c.id]
		if c.id == v.sortCol {
			t += map[bool]string{true: "↓", false: "↑"}[v.desc]
		}
		head.WriteString(fit(t, c.w, c.right) + " ")
	}
	ct := "COMMAND"
	if v.sortCol == pcCommand {
		ct += map[bool]string{true: "↓", false: "↑"}[v.desc]
	}
	if v.tree {
		ct += " (tree)"
	}
	head.WriteString(fit(ct, cmdW, false))
	lines = append(lines, st.TableHeader.Render(head.String()))
	focus := -1
	for i, r := range v.rows {
		var b strings.Builder
		for _, c := range cols {
			var s string
			switch c.id {
			case pcZone:
				s = termsafe.String(r.zone)
			case pcPID:
				s = strconv.Itoa(r.PID)
			case pcUser:
				s = termsafe.String(r.User)
			case pcProject:
				s = termsafe.String(r.Project)
			case pcCPU:
				s = "-"
				if r.hasCPU {
					s = fmt.Sprintf("%.1f", r.cpu)
				}
			case pcRSS:
				s = humanBytes(r.RSS)
			case pcState:
				s = termsafe.String(r.State)
			}
			b.WriteString(fit(s, c.w, c.right) + " ")
		}
		cmdText := termsafe.String(r.Command)
		if r.depth > 0 {
			corner := "├─ "
			if r.last {
				corner = "└─ "
			}
			cmdText = strings.Repeat("  ", r.depth-1) + corner + cmdText
		}
		b.WriteString(fit(cmdText, cmdW, false))
		line := b.String()
		if i == v.cursor {
			focus = len(lines)
			line = st.Selected.Render(line)
		} else if r.State == "Z" || r.State == "D" || r.State == "T" {
			line = st.Warn.Render(line)
		}
		lines = append(lines, line)
	}
	return lines, focus
}

// sigMenuLines is the signal panel beside the list.
func (m *Model) sigMenuLines(v *procView) []string {
	st := m.c.styles
	mn := v.menu
	lines := []string{st.Title.Render(fit("Send signal", 14, false)), st.HeaderKey.Render(fit("to pid "+strconv.Itoa(mn.target.PID), 14, false))}
	for i, s := range api.Signals {
		l := fit(fmt.Sprintf("%2d %s", signalNumbers[s], s), 14, false)
		if i == mn.sel {
			l = st.Selected.Render(l)
		}
		lines = append(lines, l)
	}
	return append(lines, st.HeaderKey.Render(fit("enter · esc", 14, false)))
}

// signalNumbers are the Linux numbers of api.Signals on every
// architecture Go's zonetop builds for, as kill -l shows them.
var signalNumbers = map[string]int{"HUP": 1, "INT": 2, "QUIT": 3, "KILL": 9, "USR1": 10, "USR2": 12, "TERM": 15, "CONT": 18, "STOP": 19}

// procBody draws the view in w×h: the list scrolled to the cursor, with
// the signal panel on its left while a signal is chosen.
func (m *Model) procBody(v *procView, w, h int) []string {
	lw := w
	if v.menu != nil {
		lw = max(w-15, 20)
	}
	lines, focus := m.procLines(v, lw)
	lines = scrollTo(lines, 1, focus, &v.scroll, h)
	if v.menu != nil {
		menu := m.sigMenuLines(v)
		out := make([]string, max(len(lines), len(menu)))
		for i := range out {
			l, r := strings.Repeat(" ", 14), ""
			if i < len(menu) {
				l = menu[i]
			}
			if i < len(lines) {
				r = lines[i]
			}
			out[i] = l + " " + r
		}
		lines = out
	}
	return lines
}

// scrollTo keeps the first fixed lines (titles) and scrolls the rest so
// that the focus line is among the room lines shown.
func scrollTo(lines []string, fixed, focus int, scroll *int, room int) []string {
	if len(lines) <= room || fixed >= len(lines) {
		*scroll = 0
		return lines
	}
	body := lines[fixed:]
	n := max(room-fixed, 1)
	if f := focus - fixed; f >= 0 {
		if f < *scroll {
			*scroll = f
		} else if f >= *scroll+n {
			*scroll = f - n + 1
		}
	}
	*scroll = min(max(*scroll, 0), max(len(body)-n, 0))
	return append(slices.Clone(lines[:fixed]), body[*scroll:min(*scroll+n, len(body))]...)
}

// procsTitle names what the top-level view lists.
func (m *Model) procsTitle(v *procView) string {
	st := m.c.styles
	what := "every zone"
	if v.zone != "" {
		what = termsafe.String(v.zone)
	}
	if v.project != "" {
		what += " · project " + termsafe.String(v.project)
	}
	if v.filter != "" {
		what += " · /" + termsafe.String(v.filter)
	}
	return st.Title.Render("Processes") + st.HeaderKey.Render(fmt.Sprintf("  %s · %d", what, len(v.rows)))
}
