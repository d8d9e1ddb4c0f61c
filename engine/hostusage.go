package engine

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"zonetop/api"
)

// hostSampler remembers the host's previous CPU counters. One per engine:
// every caller's sample ends the interval of the next, which still gives
// a true rate over whatever interval it was.
type hostSampler struct {
	mu          sync.Mutex
	busy, total uint64
	ok          bool
}

// procDir is where the host's figures are read. It is the host's /proc
// whatever the root prefix: the prefix moves zonetop's state, not the
// kernel.
var procDir = "/proc"

// HostUsage samples the host as a whole for the console's header and its
// global zone row. Only principals of the global zone see it: a zone
// administrator sees its own zone, as prstat does inside a zone.
func (e *Engine) HostUsage(_ context.Context, p api.Principal) (api.HostUsage, error) {
	if err := mayView(p, "global"); err != nil {
		return api.HostUsage{}, err
	}
	return e.host.sample(procDir, time.Now())
}

func (h *hostSampler) sample(dir string, now time.Time) (api.HostUsage, error) {
	u := api.HostUsage{Sampled: now}
	f, err := os.Open(dir + "/stat")
	if err != nil {
		return u, fmt.Errorf("host usage: %w", err)
	}
	busy, total, cpus, err := parseProcStat(f)
	f.Close()
	if err != nil {
		return u, fmt.Errorf("host usage: %s/stat: %w", dir, err)
	}
	u.CPUs = cpus
	h.mu.Lock()
	pb, pt, ok := h.busy, h.total, h.ok
	h.busy, h.total, h.ok = busy, total, true
	h.mu.Unlock()
	// The first sample has no interval of its own: the average since boot
	// is still a real figure, where 0 would claim an idle host.
	if ok && total > pt && busy >= pb {
		busy, total = busy-pb, total-pt
	}
	if total > 0 {
		u.CPUPct = float64(busy) / float64(total) * float64(cpus) * 100
	}
	if b, err := os.ReadFile(dir + "/meminfo"); err == nil {
		u.MemTotal, u.MemUsed = parseMeminfo(string(b))
	}
	if b, err := os.ReadFile(dir + "/loadavg"); err == nil {
		u.LWPs = parseLoadavgThreads(string(b))
	}
	return u, nil
}

// parseProcStat reads the aggregate cpu line of /proc/stat: busy and
// total ticks, and how many CPUs have a line of their own. Guest time is
// already counted in user and nice, so it is not added again.
func parseProcStat(r io.Reader) (busy, total uint64, cpus int, err error) {
	sc := bufio.NewScanner(r)
	found := false
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 || !strings.HasPrefix(f[0], "cpu") {
			continue
		}
		if f[0] != "cpu" {
			cpus++
			continue
		}
		if len(f) < 5 {
			return 0, 0, 0, fmt.Errorf("short cpu line %q", sc.Text())
		}
		var v [8]uint64
		for i := 1; i < len(f) && i <= len(v); i++ {
			if v[i-1], err = strconv.ParseUint(f[i], 10, 64); err != nil {
				return 0, 0, 0, fmt.Errorf("cpu line: %w", err)
			}
		}
		for _, n := range v {
			total += n
		}
		idle := v[3] + v[4] // idle, iowait
		busy = total - idle
		found = true
	}
	if err := sc.Err(); err != nil {
		return 0, 0, 0, err
	}
	if !found {
		return 0, 0, 0, fmt.Errorf("no cpu line")
	}
	return busy, total, max(cpus, 1), nil
}

// parseMeminfo gives MemTotal and what is in use, MemTotal less
// MemAvailable, as free(1) counts "used" on current kernels.
func parseMeminfo(s string) (total, used uint64) {
	var avail uint64
	haveAvail := false
	for _, l := range strings.Split(s, "\n") {
		name, rest, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			continue
		}
		n, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			continue
		}
		switch name {
		case "MemTotal":
			total = n * 1024
		case "MemAvailable":
			avail, haveAvail = n*1024, true
		}
	}
	if haveAvail && avail <= total {
		used = total - avail
	}
	return total, used
}

// parseLoadavgThreads is the fourth field's total of "running/total":
// every scheduling entity, which is what an LWP count means on Linux.
func parseLoadavgThreads(s string) uint64 {
	f := strings.Fields(s)
	if len(f) < 4 {
		return 0
	}
	_, tot, ok := strings.Cut(f[3], "/")
	if !ok {
		return 0
	}
	n, _ := strconv.ParseUint(tot, 10, 64)
	return n
}
