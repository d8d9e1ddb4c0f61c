package zoneadmd

import (
	"testing"
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
