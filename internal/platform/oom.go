package platform

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
//   - zinit (or the zone's own init) is set to 0 by zsched, which pins its
//     floor there when it holds CAP_SYS_RESOURCE;
//   - every other process of the zone is set to zoneOOMScoreAdj by
//     whoever forks it (zsched or zinit; see placeOOM).
//
// Without CAP_SYS_RESOURCE a zone process may lower its own score back to
// 0, zsched's: it can then make only its own zone's machinery a target,
// and only by keeping each of its processes smaller than zsched.
const (
	ZoneOOMScoreAdj      = 500
	MachineryOOMScoreAdj = -999
)

// setOOMScoreAdj writes pid's oom_score_adj as seen from the caller's
// /proc ("self" for the calling process).
func SetOOMScoreAdj(pid string, adj int) error {
	return os.WriteFile("/proc/"+pid+"/oom_score_adj", []byte(strconv.Itoa(adj)), 0)
}

// placeOOM gives a process just forked inside the zone its score. It is
// written after the fork: raising the forking process's own score around
// the fork instead (so that the child is born with it) made zsched the
// killer's pick whenever the fork itself hit the zone's memory cap. The
// cost is a window of microseconds, between the child's exec and this
// write, in which what the child forks keeps the forker's score.
func placeOOM(pid int, init bool) {
	_ = SetOOMScoreAdj(strconv.Itoa(pid), oomScoreFor(init))
}

// oomScoreFor is the score a process forked inside the zone is born with:
// init's or any other zone process's.
func oomScoreFor(init bool) int {
	if init {
		return 0
	}
	return ZoneOOMScoreAdj
}
