package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"zonetop/internal/ztest"
)

// RemoveAs takes down the sub-cgroups one hierarchy showed in every
// hierarchy, lists a hierarchy that has more, and leaves the zone's
// neighbours alone.
func TestZoneCgroupsRemoveAs(t *testing.T) {
	ztest.RequireRoot(t, "zone cgroups")
	name := fmt.Sprintf("cgt%d", os.Getpid()%100000)
	cg, err := CreateZoneCgroups(name, "", nil)
	ztest.Must(t, err)
	nb, err := CreateZoneCgroups(name+"-nb", "", nil)
	if err != nil {
		_ = cg.Remove()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, c := range []*ZoneCgroups{cg, nb} {
			for _, d := range c.Dirs {
				for _, sub := range WalkCgroups(d) {
					_ = os.Remove(sub)
				}
			}
		}
	})
	for _, d := range cg.Dirs {
		for _, sub := range []string{"p1", "p1/t1", "p2"} {
			ztest.Must(t, os.Mkdir(filepath.Join(d, sub), 0o755))
		}
	}
	// The stray is a sub-cgroup in a hierarchy the survey does not read;
	// on cgroup v2 there is only the one it reads.
	stray := ""
	for _, d := range cg.Dirs {
		if d != cg.FreezerDir() && len(cg.Dirs) > 1 {
			stray = filepath.Join(d, "p2", "stray")
			ztest.Must(t, os.Mkdir(stray, 0o755))
			break
		}
	}
	subs, pids, err := cg.Survey()
	ztest.Must(t, err)
	if len(pids) != 0 {
		t.Errorf("survey of an empty zone: pids %v", pids)
	}
	want := map[string]bool{"p1": true, "p1/t1": true, "p2": true}
	if len(subs) != len(want) {
		t.Errorf("survey: subs %q", subs)
	}
	seen := map[string]bool{}
	for _, s := range subs {
		if !want[s] {
			t.Errorf("survey: unexpected sub-cgroup %q", s)
		}
		if s == "p1" && !seen["p1/t1"] {
			t.Errorf("survey: %q before its child: %q", s, subs)
		}
		seen[s] = true
	}
	ztest.Must(t, cg.RemoveAs(subs))
	for _, d := range cg.Dirs {
		if _, err := os.Stat(d); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s remains (%v)", d, err)
		}
	}
	for _, d := range nb.Dirs {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("neighbour %s: %v", d, err)
		}
	}
	ztest.Must(t, nb.Remove())
}
