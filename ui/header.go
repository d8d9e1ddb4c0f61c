package ui

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"zonetop/api"

	"github.com/charmbracelet/x/ansi"
)

// headerLines is how tall the header is without the host's meters;
// mouse hit-testing depends on it (headerHeight).
const headerLines = 2

// headerHeight is the header's height: a third line of host meters when
// the backend reports the host and the principal may see it. It depends
// on the backend, not on whether a sample has come yet, so the layout
// does not jump when the first one does.
func (m *Model) headerHeight() int {
	if _, ok := m.backend.(HostUsageBackend); ok && m.opts.Principal.Zone == globalZone {
		return headerLines + 1
	}
	return headerLines
}

// hostLine is the host as a whole, as htop's meters show it: CPU in the
// zone rows' unit (percent of one CPU) against all the host's CPUs,
// memory in use against the host's, and every thread.
func (m *Model) hostLine() string {
	st := m.c.styles
	w := m.c.width
	t := m.table
	switch {
	case t.host == nil && t.hostErr != nil:
		return st.StatusError.Render(fit("host: "+t.hostErr.Error(), w, false))
	case t.host == nil:
		return st.HeaderKey.Render(fit("host: sampling…", w, false))
	}
	h := t.host
	cpuFrac, memFrac := -1.0, -1.0
	if h.CPUs > 0 {
		cpuFrac = h.CPUPct / float64(h.CPUs*100)
	}
	if h.MemTotal > 0 {
		memFrac = float64(h.MemUsed) / float64(h.MemTotal)
	}
	noun := "CPUs"
	if h.CPUs == 1 {
		noun = "CPU"
	}
	cpuText := fmt.Sprintf(" %.0f%% of %d %s", h.CPUPct, h.CPUs, noun)
	memText := " " + humanBytes(h.MemUsed) + "/" + humanBytes(h.MemTotal)
	lwpText := st.HeaderKey.Render("LWPS ") + st.HeaderVal.Render(strconv.FormatUint(h.LWPs, 10))
	fixed := len("CPU ") + ansi.StringWidth(cpuText) + len("  MEM ") + ansi.StringWidth(memText) + 2 + ansi.StringWidth(lwpText)
	barW := min(max((w-fixed)/2, 4), 30)
	line := st.HeaderKey.Render("CPU ") + st.bar(cpuFrac, barW) + st.HeaderVal.Render(cpuText) +
		st.HeaderKey.Render("  MEM ") + st.bar(memFrac, barW) + st.HeaderVal.Render(memText) +
		"  " + lwpText
	return fit(line, w, false)
}

// globalZone is the name the engine lists the host under.
const globalZone = "global"

// countOrder is the order the header lists zone counts in: the states an
// operator must act on right after the running ones.
var countOrder = []string{"running", "ready", "shutting_down", "down", "incomplete", "installed", "configured"}

// whoText names the principal the way the header shows it.
func whoText(p api.Principal) string {
	switch {
	case p.GlobalAdmin():
		return "global administrator"
	case p.Zone != "" && p.Zone != "global":
		return "zone administrator of " + p.Zone
	case p.User != "":
		return p.User + " in the global zone (delegated zones only)"
	default:
		return fmt.Sprintf("uid %d in the global zone (delegated zones only)", p.UID)
	}
}

// header draws the two header lines: where and who on the first, with the
// clock on the right; zone counts by state and the view's sort and filter
// on the second.
func (m *Model) header() string {
	c := m.c
	st := c.styles
	sep := st.HeaderKey.Render(" · ")

	who := st.Who.Render(whoText(m.opts.Principal))
	if !m.opts.Principal.GlobalAdmin() {
		who = st.WhoLimited.Render(whoText(m.opts.Principal))
	}
	clock := st.Clock.Render(c.now().Format("15:04:05"))
	line1 := ""
	// Narrower terminals lose the labels, then the kernel, then the host
	// name; who you are and the clock always stay.
	for level := 0; level < 4; level++ {
		parts := []string{st.Title.Render("zonetop")}
		if m.host.Hostname != "" && level < 3 {
			parts = append(parts, st.HeaderVal.Render(m.host.Hostname))
		}
		if m.host.Kernel != "" && level < 2 {
			k := st.HeaderVal.Render(m.host.Kernel)
			if level == 0 {
				k = st.HeaderKey.Render("kernel ") + k
			}
			parts = append(parts, k)
		}
		if m.host.CgroupMode != "" {
			parts = append(parts, st.HeaderKey.Render("cgroup ")+st.HeaderVal.Render(m.host.CgroupMode))
		}
		parts = append(parts, who)
		left := strings.Join(parts, sep)
		if line1 = spread(left, clock, c.width); ansi.StringWidth(left)+1+ansi.StringWidth(clock) <= c.width {
			break
		}
	}

	counts := map[string]int{}
	// The global zone is the host itself: listed like zoneadm lists it,
	// but not counted among the zones an operator created.
	total := 0
	for _, z := range m.table.all {
		if z.Name != globalZone {
			counts[z.State]++
			total++
		}
	}
	noun := "zones"
	if total == 1 {
		noun = "zone"
	}
	left := []string{st.HeaderVal.Render(fmt.Sprintf("%d %s", total, noun))}
	for _, s := range countOrder {
		if n := counts[s]; n > 0 {
			left = append(left, st.StateStyle(s).Render(fmt.Sprintf("%d %s", n, s)))
			delete(counts, s)
		}
	}
	// States the console does not know yet still count.
	for _, s := range slices.Sorted(maps.Keys(counts)) {
		left = append(left, st.StateDefault.Render(fmt.Sprintf("%d %s", counts[s], s)))
	}
	if !m.loaded {
		left = []string{st.HeaderKey.Render("listing zones…")}
	}

	dir := "↑"
	if m.table.sortDesc {
		dir = "↓"
	}
	sortPart := st.HeaderKey.Render("sort ") + st.HeaderVal.Render(columns[m.table.sortCol].title+dir)
	filterPart := ""
	if m.table.filter.raw != "" {
		filterPart = st.HeaderKey.Render("filter ") + st.HeaderVal.Render("/"+m.table.filter.raw+"/") +
			st.HeaderKey.Render(fmt.Sprintf(" %d of %d", len(m.table.rows), total))
	}
	// An active filter must stay visible, so when space runs out the sort
	// goes first, then the rarest state counts; without a filter the counts
	// outrank the sort.
	rights := []string{strings.TrimSpace(filterPart + "  " + sortPart)}
	if filterPart != "" {
		rights = append(rights, filterPart)
	} else {
		rights = append(rights, "")
	}
	line2 := ""
	for n := len(left); n >= 1; n-- {
		l := strings.Join(left[:n], "  ")
		if n < len(left) {
			l += st.HeaderKey.Render("  …")
		}
		for _, r := range rights {
			if ansi.StringWidth(l)+1+ansi.StringWidth(r) <= c.width {
				line2 = spread(l, r, c.width)
				break
			}
		}
		if line2 != "" {
			break
		}
	}
	if line2 == "" {
		line2 = spread(strings.Join(left, "  "), "", c.width)
	}
	if m.headerHeight() > headerLines {
		return line1 + "\n" + line2 + "\n" + m.hostLine()
	}
	return line1 + "\n" + line2
}

// spread puts left and right on one line of width w, dropping the right
// part first when both do not fit.
func spread(left, right string, w int) string {
	lw, rw := ansi.StringWidth(left), ansi.StringWidth(right)
	if lw+1+rw > w {
		return fit(left, w, false)
	}
	return left + strings.Repeat(" ", w-lw-rw) + right
}
