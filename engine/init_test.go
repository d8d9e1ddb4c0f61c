package engine

import (
	"strings"
	"testing"
)

func TestParseInittab(t *testing.T) {
	text := `# comment
::sysinit:/bin/mount -a
w1:project=frontend:respawn:/bin/sleep 100
w2:project=bad name:respawn:/bin/true
::bogus:/bin/true
::once:
x
`
	es, warns := parseInittab(text)
	if len(es) != 2 {
		t.Fatalf("entries %+v", es)
	}
	if es[0].action != "sysinit" || es[0].project != "" || es[0].line != 2 {
		t.Errorf("first entry %+v", es[0])
	}
	if es[1].project != "frontend" || es[1].id != "w1" || es[1].process != "/bin/sleep 100" {
		t.Errorf("project entry %+v", es[1])
	}
	joined := strings.Join(warns, "\n")
	for _, want := range []string{"line 4:", "line 5: unknown action", "line 6: no process", "line 7: want id:runlevels:action:process"} {
		if !strings.Contains(joined, want) {
			t.Errorf("warnings %q lack %q", warns, want)
		}
	}
	var z zinit
	_, path, argv := z.command(&es[1])
	if path != "/proc/self/exe" || strings.Join(argv, " ") != "newtask -p frontend /bin/sh -c /bin/sleep 100" {
		t.Errorf("project entry runs %s %q", path, argv)
	}
	_, path, argv = z.command(&es[0])
	if path != "/bin/sh" || strings.Join(argv, " ") != "sh -c /bin/mount -a" {
		t.Errorf("plain entry runs %s %q", path, argv)
	}
}
