package engine

import (
	"os"
	"strconv"
)

// The out-of-memory killer, in the zone's memory cgroup or host-wide,
// picks the process with the most memory, shifted by oom_score_adj. A
// memory bomb spread over many small processes made zsched (a Go runtime
// of a few MiB) the biggest, and its death took the zone down. zonetop's
// machinery in the zone must be the last thing picked:
//   - zsched is set to machineryOOMScoreAdj by zoneadmd where the host
//     gives zonetop CAP_SYS_RESOURCE (only it may lower a score);
//   - zinit (or the zone's own init) runs at 0, written by zsched, which
//     also pins its floor there when zsched holds CAP_SYS_RESOURCE;
//   - every other process of the zone starts at zoneOOMScoreAdj, written
//     by whoever forks it (zsched or zinit).
//
// Without CAP_SYS_RESOURCE a zone process may lower its own score back to
// 0, zsched's: it can then make only its own zone's machinery a target,
// and only by keeping each of its processes smaller than zsched.
const (
	zoneOOMScoreAdj      = 500
	machineryOOMScoreAdj = -999
)

// setOOMScoreAdj writes pid's oom_score_adj as seen from the caller's
// /proc. A refusal is not an error worth failing a start for: the score
// only orders the out-of-memory killer's choice.
func setOOMScoreAdj(pid, adj int) error {
	return os.WriteFile("/proc/"+strconv.Itoa(pid)+"/oom_score_adj", []byte(strconv.Itoa(adj)), 0)
}

// placeOOM gives a process just forked inside the zone its score: init's
// or a zone process's.
func placeOOM(pid int, init bool) {
	adj := zoneOOMScoreAdj
	if init {
		adj = 0
	}
	_ = setOOMScoreAdj(pid, adj)
}
