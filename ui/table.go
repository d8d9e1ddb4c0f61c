package ui

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"zonetop/api"

	"github.com/charmbracelet/x/ansi"

	"zonetop/termsafe"
)

// column is one column of the zone table. Live columns of the full console
// (CPU%, MEMORY, LWPS, UPTIME) slot in as more entries of this table.
type column struct {
	title string
	width int  // fixed width; 0 for a flexible column
	right bool // numbers align right
	// drop orders which columns go first on a narrow terminal: the table
	// keeps every column whose drop is 0 or at least the terminal width.
	drop  int
	value func(z api.ZoneInfo) string
	cmp   func(a, b api.ZoneInfo) int
	// live columns draw from the usage samples instead: text, and the
	// fraction of a cap that colours it (-1: not coloured).
	live  func(t *zoneTable, z api.ZoneInfo, w int) (string, float64)
	lcmp  func(t *zoneTable, a, b api.ZoneInfo) int
	spark bool // a trend: never coloured by threshold as a whole
}

const (
	colID = iota
	colName
	colStatus
	colPath
	colBrand
	colIP
	colReason
	colCPU
	colMem
	colLWPs
	colUptime
	colCPUTrend
	colMemTrend
)

// stateRank orders states along the life of a zone, running first, so a
// sort by STATUS groups the zones that are up.
var stateRank = map[string]int{
	"running": 0, "ready": 1, "shutting_down": 2, "down": 3,
	"incomplete": 4, "installed": 5, "configured": 6,
}

func rank(state string) int {
	if r, ok := stateRank[state]; ok {
		return r
	}
	return len(stateRank)
}

var columns = []column{
	colID: {title: "ID", width: 4, right: true,
		value: func(z api.ZoneInfo) string {
			if z.ID < 0 {
				return "-"
			}
			return strconv.Itoa(z.ID)
		},
		// Zones without an ID sort after every running one.
		cmp: func(a, b api.ZoneInfo) int {
			ai, bi := a.ID, b.ID
			if ai < 0 {
				ai = int(^uint(0) >> 1)
			}
			if bi < 0 {
				bi = int(^uint(0) >> 1)
			}
			return cmp.Compare(ai, bi)
		}},
	colName: {title: "NAME",
		value: func(z api.ZoneInfo) string { return z.Name },
		cmp:   func(a, b api.ZoneInfo) int { return strings.Compare(a.Name, b.Name) }},
	colStatus: {title: "STATUS", width: 13,
		value: func(z api.ZoneInfo) string { return z.State },
		cmp:   func(a, b api.ZoneInfo) int { return cmp.Compare(rank(a.State), rank(b.State)) }},
	colPath: {title: "PATH", drop: 150,
		value: func(z api.ZoneInfo) string { return z.Path },
		cmp:   func(a, b api.ZoneInfo) int { return strings.Compare(a.Path, b.Path) }},
	colBrand: {title: "BRAND", width: 7, drop: 80,
		value: func(z api.ZoneInfo) string { return z.Brand },
		cmp:   func(a, b api.ZoneInfo) int { return strings.Compare(a.Brand, b.Brand) }},
	colIP: {title: "IP-TYPE", width: 9, drop: 64,
		value: func(z api.ZoneInfo) string { return z.IPType },
		cmp:   func(a, b api.ZoneInfo) int { return strings.Compare(a.IPType, b.IPType) }},
	// REASON appears only when some zone has one and the terminal is wide
	// enough; otherwise the status line shows the selected zone's reason.
	colReason: {title: "REASON", drop: 150,
		value: func(z api.ZoneInfo) string { return termsafe.String(z.Reason) },
		cmp:   func(a, b api.ZoneInfo) int { return strings.Compare(a.Reason, b.Reason) }},
	// CPU% is percent of one CPU in every row, capped or not, as top and
	// zone.cpu-cap count it: a zone capped at 0.5 CPU is full at 50. The
	// cap shows as the colour, how near the zone is to it.
	colCPU: {title: "CPU%", width: 5, right: true,
		live: func(t *zoneTable, z api.ZoneInfo, _ int) (string, float64) {
			u := t.usage[z.Name]
			if u == nil || !u.ok {
				return "-", -1
			}
			return fmt.Sprintf("%.0f", u.CPU*100), u.cpuFrac()
		},
		lcmp: func(t *zoneTable, a, b api.ZoneInfo) int {
			return cmp.Compare(t.cpuKey(a), t.cpuKey(b))
		}},
	colMem: {title: "MEMORY", width: 11, right: true, drop: 50,
		live: func(t *zoneTable, z api.ZoneInfo, _ int) (string, float64) {
			u := t.usage[z.Name]
			if u == nil || !u.ok {
				return "-", -1
			}
			if u.MemoryCap == 0 {
				return humanBytes(u.Memory), -1
			}
			return humanBytes(u.Memory) + "/" + humanBytes(u.MemoryCap), u.memFrac()
		},
		lcmp: func(t *zoneTable, a, b api.ZoneInfo) int {
			return cmp.Compare(t.memKey(a), t.memKey(b))
		}},
	colLWPs: {title: "LWPS", width: 9, right: true, drop: 72,
		live: func(t *zoneTable, z api.ZoneInfo, _ int) (string, float64) {
			u := t.usage[z.Name]
			if u == nil || !u.ok {
				return "-", -1
			}
			if u.LWPCap == 0 {
				return strconv.FormatUint(u.LWPs, 10), -1
			}
			return fmt.Sprintf("%d/%d", u.LWPs, u.LWPCap), u.lwpFrac()
		},
		lcmp: func(t *zoneTable, a, b api.ZoneInfo) int {
			return cmp.Compare(t.lwpKey(a), t.lwpKey(b))
		}},
	colUptime: {title: "UPTIME", width: 6, right: true, drop: 90,
		live: func(t *zoneTable, z api.ZoneInfo, _ int) (string, float64) {
			if z.Since.IsZero() || (z.State != "running" && z.State != "ready") {
				return "-", -1
			}
			return uptime(t.now().Sub(z.Since)), -1
		},
		lcmp: func(t *zoneTable, a, b api.ZoneInfo) int {
			// The longest up first in ascending order reads oddly; sort by start.
			return cmp.Compare(a.Since.UnixNano(), b.Since.UnixNano())
		}},
	// The trends sort by their mean over the window they draw: the zones
	// busiest lately, not merely this second.
	colCPUTrend: {title: "CPU~", width: trendWidth, drop: 120, spark: true,
		live: func(t *zoneTable, z api.ZoneInfo, w int) (string, float64) {
			if u := t.usage[z.Name]; u != nil && len(u.cpuHist) > 0 {
				return sparkline(u.cpuHist, w), -1
			}
			// Right, where the newest sample would be.
			return fit("-", w, true), -1
		},
		lcmp: func(t *zoneTable, a, b api.ZoneInfo) int {
			return cmp.Compare(t.trendKey(a, true), t.trendKey(b, true))
		}},
	colMemTrend: {title: "MEM~", width: trendWidth, drop: 120, spark: true,
		live: func(t *zoneTable, z api.ZoneInfo, w int) (string, float64) {
			if u := t.usage[z.Name]; u != nil && len(u.memHist) > 0 {
				return sparkline(u.memHist, w), -1
			}
			return fit("-", w, true), -1
		},
		lcmp: func(t *zoneTable, a, b api.ZoneInfo) int {
			return cmp.Compare(t.trendKey(a, false), t.trendKey(b, false))
		}},
}

// Sort keys of the live columns: zones without a sample go last.
func (t *zoneTable) cpuKey(z api.ZoneInfo) float64 {
	u := t.usage[z.Name]
	if u == nil || !u.ok {
		return -1
	}
	return u.CPU
}

// trendWidth is how many samples a trend column draws.
const trendWidth = 10

// trendKey is the mean of what a trend column draws; -1 without samples.
func (t *zoneTable) trendKey(z api.ZoneInfo, cpu bool) float64 {
	u := t.usage[z.Name]
	if u == nil {
		return -1
	}
	h := u.memHist
	if cpu {
		h = u.cpuHist
	}
	if n := min(len(h), trendWidth); n > 0 {
		sum := 0.0
		for _, v := range h[len(h)-n:] {
			sum += v
		}
		return sum / float64(n)
	}
	return -1
}

func (t *zoneTable) memKey(z api.ZoneInfo) float64 {
	u := t.usage[z.Name]
	if u == nil || !u.ok {
		return -1
	}
	return float64(u.Memory)
}

func (t *zoneTable) lwpKey(z api.ZoneInfo) float64 {
	u := t.usage[z.Name]
	if u == nil || !u.ok {
		return -1
	}
	return float64(u.LWPs)
}

// displayOrder is the order columns appear in, left to right: identity,
// then usage against caps, then the wide text columns that go first.
var displayOrder = []int{colID, colName, colStatus, colBrand, colIP, colCPU, colMem, colLWPs,
	colUptime, colCPUTrend, colMemTrend, colPath, colReason}

// sortable are the columns `s` cycles through, in order: every column.
var sortable = []int{colName, colStatus, colID, colCPU, colMem, colLWPs, colUptime, colCPUTrend, colMemTrend,
	colPath, colBrand, colIP, colReason}

const (
	colGap  = 2
	nameMin = 4
	nameMax = 20
	flexMin = 8
)

// zoneTable is the main screen's table: the last good list from the engine,
// the filtered and sorted view of it, and a cursor that follows a zone by
// name rather than by position, so refreshes never move the selection.
type zoneTable struct {
	*common

	all  []api.ZoneInfo
	rows []api.ZoneInfo

	filter   zoneFilter
	sortCol  int
	sortDesc bool
	// usage holds each zone's samples; the model owns it and fills it.
	usage map[string]*liveUsage
	// host is the newest sample of the whole host, nil before one (or
	// when the backend has none); hostErr why the last one failed.
	host    *api.HostUsage
	hostErr error
	// want is a zone to select as soon as a list holds it: one the
	// console just created.
	want string

	cursor   int
	offset   int
	selected string // name of the selected zone; "" before the first list

	w, h int // the table's box; h includes the title line

	// layout, recomputed when data or size change, not every frame
	visible []int
	widths  []int
	hasWhy  bool
}

func newZoneTable(c *common) *zoneTable {
	return &zoneTable{common: c, sortCol: colName, usage: map[string]*liveUsage{}}
}

// SetZones replaces the data with a fresh list from the engine.
func (t *zoneTable) SetZones(zs []api.ZoneInfo) {
	t.all = zs
	t.rebuild()
}

// SetFilter applies a parsed filter.
func (t *zoneTable) SetFilter(f zoneFilter) {
	t.filter = f
	t.rebuild()
}

// CycleSort moves the sort to the next column on screen, ascending.
func (t *zoneTable) CycleSort() {
	i := slices.Index(sortable, t.sortCol)
	for range sortable {
		i = (i + 1) % len(sortable)
		// Before the first layout nothing is on screen; take any.
		if len(t.visible) == 0 || slices.Contains(t.visible, sortable[i]) {
			break
		}
	}
	t.sortCol = sortable[i]
	t.sortDesc = false
	t.rebuild()
}

// SortBy sorts on col, or flips the direction when it already sorts on col,
// which is what a click on a column title does.
func (t *zoneTable) SortBy(col int) {
	if !slices.Contains(sortable, col) {
		return
	}
	if t.sortCol == col {
		t.sortDesc = !t.sortDesc
	} else {
		t.sortCol, t.sortDesc = col, false
	}
	t.rebuild()
}

// Reverse flips the sort direction.
func (t *zoneTable) Reverse() {
	t.sortDesc = !t.sortDesc
	t.rebuild()
}

// rebuild filters and sorts, then puts the cursor back on the zone it was
// on, at the same line of the screen when the data allow it.
func (t *zoneTable) rebuild() {
	screenLine := t.cursor - t.offset
	rows := make([]api.ZoneInfo, 0, len(t.all))
	for _, z := range t.all {
		if t.filter.match(z) {
			rows = append(rows, z)
		}
	}
	col := columns[t.sortCol]
	c := col.cmp
	if col.lcmp != nil {
		c = func(a, b api.ZoneInfo) int { return col.lcmp(t, a, b) }
	}
	desc := t.sortDesc
	// Every rebuild sorts again, live columns included: a title that says
	// CPU%↓ over rows out of that order is a lie. The cursor follows its
	// zone, so the selection does not change under the operator.
	// Stable, with the name as tie-break, so equal keys never swap places
	// between two refreshes.
	slices.SortStableFunc(rows, func(a, b api.ZoneInfo) int {
		r := c(a, b)
		if desc {
			r = -r
		}
		if r != 0 {
			return r
		}
		return strings.Compare(a.Name, b.Name)
	})
	t.rows = rows

	if t.want != "" && slices.ContainsFunc(rows, func(z api.ZoneInfo) bool { return z.Name == t.want }) {
		t.selected, t.want = t.want, ""
	}
	idx := -1
	if t.selected != "" {
		idx = slices.IndexFunc(rows, func(z api.ZoneInfo) bool { return z.Name == t.selected })
	}
	if idx < 0 {
		// The selected zone went away or was filtered out: stay at the
		// same position, which now holds its neighbour.
		idx = min(t.cursor, len(rows)-1)
	}
	t.cursor = max(idx, 0)
	t.offset = t.cursor - screenLine
	t.clamp()
	t.layout()
}

// pageSize is how many zone rows fit under the column titles.
func (t *zoneTable) pageSize() int { return max(t.h-1, 1) }

func (t *zoneTable) clamp() {
	n := len(t.rows)
	if n == 0 {
		t.cursor, t.offset = 0, 0
		return
	}
	t.cursor = min(max(t.cursor, 0), n-1)
	page := t.pageSize()
	t.offset = min(t.offset, t.cursor)
	if t.cursor >= t.offset+page {
		t.offset = t.cursor - page + 1
	}
	t.offset = max(min(t.offset, n-page), 0)
	t.selected = t.rows[t.cursor].Name
}

// Move moves the cursor by delta rows.
func (t *zoneTable) Move(delta int) {
	t.cursor += delta
	t.clamp()
}

// Top and Bottom jump to the first and last zone.
func (t *zoneTable) Top() { t.cursor = 0; t.clamp() }

// Bottom jumps to the last zone.
func (t *zoneTable) Bottom() { t.cursor = len(t.rows) - 1; t.clamp() }

// Click selects the zone drawn on line y of the table (0 is the titles,
// where a click sorts by the column under x).
func (t *zoneTable) Click(x, y int) {
	if y == 0 {
		if col := t.columnAt(x); col >= 0 {
			t.SortBy(col)
		}
		return
	}
	i := t.offset + y - 1
	if y < 1 || i >= len(t.rows) || y > t.pageSize() {
		return
	}
	t.cursor = i
	t.clamp()
}

func (t *zoneTable) columnAt(x int) int {
	pos := 0
	for i, col := range t.visible {
		end := pos + t.widths[i] + colGap
		if x >= pos && x < end {
			return col
		}
		pos = end
	}
	return -1
}

// Selected returns the zone under the cursor.
func (t *zoneTable) Selected() (api.ZoneInfo, bool) {
	if len(t.rows) == 0 {
		return api.ZoneInfo{}, false
	}
	return t.rows[t.cursor], true
}

// SetSize gives the table its box; height includes the title line.
func (t *zoneTable) SetSize(width, height int) {
	t.w, t.h = width, height
	t.clamp()
	t.layout()
}

// layout decides which columns fit and how wide each is. Narrow terminals
// lose whole columns (REASON, then PATH, then BRAND) instead of wrapping.
func (t *zoneTable) layout() {
	t.hasWhy = slices.ContainsFunc(t.rows, func(z api.ZoneInfo) bool { return z.Reason != "" })
	nameW, pathW, whyW := len("NAME"), len("PATH"), len("REASON")
	for _, z := range t.rows {
		nameW = max(nameW, ansi.StringWidth(z.Name))
		pathW = max(pathW, ansi.StringWidth(z.Path))
		whyW = max(whyW, ansi.StringWidth(termsafe.String(z.Reason)))
	}
	nameW = min(max(nameW, nameMin), nameMax)

	// room is the width the drop thresholds are compared with: it starts
	// at the terminal's width and shrinks while the fixed columns overflow
	// (long zone names), so whole columns go rather than lines wrapping.
	room := t.w
	want := func(col int) bool {
		c := columns[col]
		if col == colReason && !t.hasWhy {
			return false
		}
		return c.drop == 0 || room >= c.drop
	}
	for {
		fixed, n, widest := 0, 0, 0
		for _, i := range displayOrder {
			c := columns[i]
			if !want(i) || c.width == 0 && i != colName {
				continue
			}
			w := c.width
			if i == colName {
				w = nameW
			}
			fixed += w
			n++
			if c.drop > 0 && c.drop <= room {
				widest = max(widest, c.drop)
			}
		}
		if fixed+colGap*(n-1) <= t.w || widest == 0 {
			break
		}
		room = widest - 1
	}
	for _, drop := range []int{-1, colReason, colPath} {
		t.visible, t.widths = t.visible[:0], t.widths[:0]
		fixed := 0
		for _, i := range displayOrder {
			c := columns[i]
			if i == drop || !want(i) || (drop == colPath && i == colReason) {
				continue
			}
			w := c.width
			if i == colName {
				w = nameW
			}
			t.visible = append(t.visible, i)
			t.widths = append(t.widths, w)
			fixed += w
		}
		free := t.w - fixed - colGap*(len(t.visible)-1)
		pi, ri := slices.Index(t.visible, colPath), slices.Index(t.visible, colReason)
		flex := 0
		if pi >= 0 {
			flex++
		}
		if ri >= 0 {
			flex++
		}
		if flex > 0 && free < flex*flexMin && drop != colPath {
			continue
		}
		switch {
		case pi >= 0 && ri >= 0:
			p := min(pathW, max(free/2, free-whyW))
			t.widths[pi], t.widths[ri] = p, free-p
		case pi >= 0:
			t.widths[pi] = min(pathW, free)
		case ri >= 0:
			t.widths[ri] = free
		}
		return
	}
}

// fit truncates or pads s to exactly w cells.
func fit(s string, w int, right bool) string {
	if w <= 0 {
		return ""
	}
	s = ansi.Truncate(s, w, "…")
	pad := strings.Repeat(" ", max(w-ansi.StringWidth(s), 0))
	if right {
		return pad + s
	}
	return s + pad
}

// titles draws the column titles, marking the sort column with its
// direction.
func (t *zoneTable) titles() string {
	var b strings.Builder
	st := t.styles
	for i, col := range t.visible {
		if i > 0 {
			b.WriteString(strings.Repeat(" ", colGap))
		}
		c := columns[col]
		title := c.title
		style := st.TableHeader
		if col == t.sortCol {
			style = st.SortedHeader
			if t.sortDesc {
				title += "↓"
			} else {
				title += "↑"
			}
		}
		b.WriteString(style.Render(fit(title, t.widths[i], c.right)))
	}
	return fit(b.String(), t.w, false)
}

// row draws one zone, coloured by its state; usage cells take the
// threshold colour when they pass 70% or 90% of their cap.
func (t *zoneTable) row(z api.ZoneInfo, selected bool) string {
	style := t.styles.StateStyle(z.State)
	if selected {
		style = t.styles.Selected.Inherit(style)
	}
	var b strings.Builder
	used := 0
	for i, col := range t.visible {
		if i > 0 {
			b.WriteString(style.Render(strings.Repeat(" ", colGap)))
			used += colGap
		}
		c := columns[col]
		w := t.widths[i]
		used += w
		if c.live == nil {
			b.WriteString(style.Render(fit(c.value(z), w, c.right)))
			continue
		}
		text, frac := c.live(t, z, w)
		cell := style
		if th, ok := t.styles.threshold(frac); ok {
			cell = th.Inherit(style)
			if selected {
				cell = t.styles.Selected.Inherit(th)
			}
		}
		b.WriteString(cell.Render(fit(text, w, c.right)))
	}
	if used < t.w {
		b.WriteString(style.Render(strings.Repeat(" ", t.w-used)))
	}
	return b.String()
}

// View draws the titles and the visible page of zones, at most h lines. It
// touches only the rows on screen, so its cost does not grow with the
// number of zones.
func (t *zoneTable) View() string {
	if t.w <= 0 || t.h <= 0 {
		return ""
	}
	lines := make([]string, 0, t.h)
	lines = append(lines, t.titles())
	end := min(t.offset+t.pageSize(), len(t.rows))
	for i := t.offset; i < end; i++ {
		lines = append(lines, t.row(t.rows[i], i == t.cursor))
	}
	return strings.Join(lines, "\n")
}
