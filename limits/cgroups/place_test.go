package cgroups

import "testing"

// Where a process is, read from its cgroup text, with the directories
// zonetop keeps beside the zones: a v2 zone's zsched and the global
// zone's projects; a name shaped like them but not theirs is no zone.
func TestPlace(t *testing.T) {
	for _, c := range []struct {
		cgroup, zone, project string
		task                  int
	}{
		{"8:pids:/user.slice/zonetop/z1/web/task.3\n4:memory:/user.slice/zonetop/z1/web/task.3\n", "z1", "web", 3},
		// v1 zsched: outside the zone's pids cgroup, in system elsewhere.
		{"8:pids:/user.slice/zonetop\n4:memory:/user.slice/zonetop/z1/system\n", "z1", "system", -1},
		{"0::/zonetop.slice/zonetop-z1.scope/zonetop/_zsched.z1\n", "z1", "system", -1},
		{"0::/zonetop/_zsched.\n", "", "", -1},
		{"4:memory:/user.slice/zonetop/_global/batch\n", "global", "batch", -1},
		{"0::/x/zonetop/_global.0a1b2c3d/batch\n", "global", "batch", -1},
		{"0::/user.slice/session-1.scope\n", "", "", -1},
	} {
		zone, project, task := Place(c.cgroup)
		if zone != c.zone || project != c.project || task != c.task {
			t.Errorf("%q: %q %q %d, want %q %q %d", c.cgroup, zone, project, task, c.zone, c.project, c.task)
		}
	}
}
