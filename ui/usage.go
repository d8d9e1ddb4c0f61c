package ui

import (
	"fmt"
	"strings"
	"time"
	"zonetop/api"

	"charm.land/lipgloss/v2"
)

// histLen is how many samples a zone's sparklines keep: two minutes at the
// default refresh.
const histLen = 120

// Thresholds of usage against a cap, as k9s colours them.
const (
	warnAt  = 0.70
	alarmAt = 0.90
)

// liveUsage is the newest sample of a zone and the trend behind it.
type liveUsage struct {
	ZoneUsage
	ok      bool
	err     error
	cpuHist []float64 // fraction of the zone's ceiling: see ceilings
	memHist []float64
	memMax  uint64 // the most seen, the ceiling when nothing else is known
}

func push(h []float64, v float64) []float64 {
	h = append(h, v)
	if len(h) > histLen {
		h = h[len(h)-histLen:]
	}
	return h
}

// add files a sample. The trends draw usage against the zone's ceiling:
// its cap where it has one, else the host (all its CPUs, all its memory),
// which is what an uncapped zone may take; without host figures, one CPU
// and the most memory the zone has used.
func (u *liveUsage) add(s ZoneUsage, host *api.HostUsage) {
	u.ZoneUsage, u.ok, u.err = s, true, nil
	cpu := s.CPU
	switch {
	case s.CPUCap > 0:
		cpu /= s.CPUCap
	case host != nil && host.CPUs > 0:
		cpu /= float64(host.CPUs)
	}
	u.cpuHist = push(u.cpuHist, cpu)
	u.memMax = max(u.memMax, s.Memory)
	mem := 0.0
	switch {
	case s.MemoryCap > 0:
		mem = float64(s.Memory) / float64(s.MemoryCap)
	case host != nil && host.MemTotal > 0:
		mem = float64(s.Memory) / float64(host.MemTotal)
	case u.memMax > 0:
		mem = float64(s.Memory) / float64(u.memMax)
	}
	u.memHist = push(u.memHist, mem)
}

// cpuFrac and memFrac are usage against the cap; -1 when there is no cap.
func (u *liveUsage) cpuFrac() float64 {
	if u == nil || !u.ok || u.CPUCap <= 0 {
		return -1
	}
	return u.CPU / u.CPUCap
}

func (u *liveUsage) memFrac() float64 {
	if u == nil || !u.ok || u.MemoryCap == 0 {
		return -1
	}
	return float64(u.Memory) / float64(u.MemoryCap)
}

func (u *liveUsage) lwpFrac() float64 {
	if u == nil || !u.ok || u.LWPCap == 0 {
		return -1
	}
	return float64(u.LWPs) / float64(u.LWPCap)
}

// threshold picks the style for a fraction of a cap.
func (s *Styles) threshold(frac float64) (lipgloss.Style, bool) {
	switch {
	case frac >= alarmAt:
		return s.Alarm, true
	case frac >= warnAt:
		return s.Warn, true
	}
	return lipgloss.Style{}, false
}

var sparkRunes = []rune(" ▁▂▃▄▅▆▇█")

// sparkline draws the last w values (0..1, clamped) as block characters.
// Every sample draws at least the lowest block, so a zone using little
// never looks like one with no samples; only the time before the first
// sample is blank.
func sparkline(h []float64, w int) string {
	if w <= 0 {
		return ""
	}
	if len(h) > w {
		h = h[len(h)-w:]
	}
	var b strings.Builder
	b.Grow(w * 3)
	for range w - len(h) {
		b.WriteByte(' ')
	}
	for _, v := range h {
		i := int(v*float64(len(sparkRunes)-1) + 0.5)
		i = min(max(i, 1), len(sparkRunes)-1)
		b.WriteRune(sparkRunes[i])
	}
	return b.String()
}

// humanBytes is a short size: 512M, 1.5G.
func humanBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%dB", n)
	}
	units := "KMGTPE"
	f := float64(n)
	i := -1
	for f >= unit && i < len(units)-1 {
		f /= unit
		i++
	}
	if f >= 100 || f == float64(int(f)) {
		return fmt.Sprintf("%.0f%c", f, units[i])
	}
	return fmt.Sprintf("%.1f%c", f, units[i])
}

// unitText renders an amount in the unit of a cap.
func unitText(unit string, n uint64) string {
	switch unit {
	case "bytes":
		return humanBytes(n)
	case "cpu":
		return fmt.Sprintf("%.2f", float64(n)/100)
	}
	return fmt.Sprint(n)
}

// capText renders used against limit in the unit of a cap.
func capText(unit string, used, limit uint64) string {
	f := func(n uint64) string { return unitText(unit, n) }
	if limit == 0 {
		return f(used) + " (no cap)"
	}
	return f(used) + " / " + f(limit)
}

// bar draws frac of w cells, coloured by threshold.
func (s *Styles) bar(frac float64, w int) string {
	if w <= 0 {
		return ""
	}
	if frac < 0 {
		return s.HeaderKey.Render(strings.Repeat("·", w))
	}
	n := int(min(frac, 1)*float64(w) + 0.5)
	st, ok := s.threshold(frac)
	if !ok {
		st = s.OK
	}
	return st.Render(strings.Repeat("█", n)) + s.HeaderKey.Render(strings.Repeat("░", w-n))
}

// uptime is a compact duration: 45s, 12m05s, 3h04m, 2d03h.
func uptime(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := int(d.Seconds())
	switch {
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600:
		return fmt.Sprintf("%dm%02ds", s/60, s%60)
	case s < 86400:
		return fmt.Sprintf("%dh%02dm", s/3600, s/60%60)
	}
	return fmt.Sprintf("%dd%02dh", s/86400, s/3600%24)
}

// progressBar is a plain left-to-right bar for an operation's progress.
func (s *Styles) progressBar(frac float64, w int) string {
	n := int(frac*float64(w) + 0.5)
	return s.Prompt.Render(strings.Repeat("█", n)) + s.HeaderKey.Render(strings.Repeat("░", w-n))
}
