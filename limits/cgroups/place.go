package cgroups

import (
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Place reads where a process is from its /proc/PID/cgroup text: the
// zone, project and task (-1: none) of its cgroup path
// (…/zonetop/ZONE[/PROJECT[/task.N]]); zone "" when it is in no zone,
// "global" in a global-zone project (…/zonetop/_global/PROJECT). The
// memory hierarchy decides where there is one, since zsched leaves its
// zone's pids cgroup but stays in the zone everywhere else; then the other
// v1 hierarchies, by name, then the unified one.
func Place(cgroup string) (zone, project string, task int) {
	task = -1
	p, err := ParseProcCgroup(strings.NewReader(cgroup))
	if err != nil {
		return "", "", -1
	}
	best := ""
	in := func(path string) bool { return strings.Contains(path, "/"+DefaultParentName+"/") }
	if in(p.V1["memory"]) {
		best = p.V1["memory"]
	}
	for _, c := range slices.Sorted(maps.Keys(p.V1)) {
		if best == "" && in(p.V1[c]) {
			best = p.V1[c]
		}
	}
	if best == "" && in(p.V2) {
		best = p.V2
	}
	if best == "" {
		return "", "", -1
	}
	ps := strings.Split(best, "/")
	for i, s := range ps {
		if s != DefaultParentName || i+1 >= len(ps) {
			continue
		}
		zone = ps[i+1]
		if i+2 < len(ps) {
			project = ps[i+2]
		}
		// zonetop's own directories beside the zones': a v2 zone's
		// zsched (its system project, as illumos shows it) and the
		// global zone's projects (engine/globalproj.go).
		if z, ok := strings.CutPrefix(zone, "_zsched."); ok {
			if z == "" {
				return "", "", -1
			}
			return z, "system", -1
		}
		if zone == "_global" || strings.HasPrefix(zone, "_global.") {
			zone = "global"
		}
		if i+3 < len(ps) {
			if n, ok := strings.CutPrefix(ps[i+3], "task."); ok {
				if t, err := strconv.Atoi(n); err == nil {
					task = t
				}
			}
		}
		return zone, project, task
	}
	return "", "", -1
}
