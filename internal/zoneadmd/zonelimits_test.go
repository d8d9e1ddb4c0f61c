package zoneadmd

import (
	"testing"
	"zonetop/limits/cgroups"
	"zonetop/rctl"

	"zonetop/limits"
)

// A project limit changed with persist must reach /etc/project with its
// value, not as a bare attribute name.
func TestSetProjectAttrKeepsValue(t *testing.T) {
	p := limits.Project{Name: "batch", ID: 100}
	vs, err := rctl.ParseValues("(privileged,12,deny)")
	if err != nil {
		t.Fatal(err)
	}
	SetProjectAttr(&p, "project.max-lwps", vs)
	if got := p.String(); got != "batch:100::::project.max-lwps=(privileged,12,deny)" {
		t.Fatalf("project line = %q", got)
	}
	SetProjectAttr(&p, "project.max-lwps", nil)
	if got := p.String(); got != "batch:100::::" {
		t.Fatalf("after removing: %q", got)
	}
}

// procsGroup is a task cgroup that lists fixed processes.
type procsGroup struct {
	cgroups.Group
	procs []int
}

func (g procsGroup) Procs(bool) ([]int, error) { return append([]int(nil), g.procs...), nil }

// On cgroup v1 zsched's starting thread shows in the task's cgroup for a
// moment; a task.max-cpu-time signal sent then must not reach zsched,
// whose death ends the zone.
func TestTaskSignalSparesZsched(t *testing.T) {
	l := &zoneLimits{zsched: 4242}
	got := l.taskProcs(procsGroup{procs: []int{17, 4242, 18}})
	if len(got) != 2 || got[0] != 17 || got[1] != 18 {
		t.Fatalf("task processes %v, want [17 18]: zsched must be left out", got)
	}
}
