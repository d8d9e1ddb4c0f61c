package platform

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
	// Busybox runs a process field without shell syntax itself, and hands
	// the rest to /bin/sh -c; so does zinit.
	path, argv, _, _ := z.command(&es[1])
	if path != "/proc/self/exe" || strings.Join(argv, " ") != "newtask -p frontend /bin/sleep 100" {
		t.Errorf("project entry runs %s %q", path, argv)
	}
	path, argv, _, _ = z.command(&es[0])
	if path != "/bin/mount" || strings.Join(argv, " ") != "/bin/mount -a" {
		t.Errorf("plain entry runs %s %q", path, argv)
	}
	for proc, want := range map[string]string{
		"echo hi > /dev/null":    "sh -c echo hi > /dev/null",
		"/nonexistent/cmd x":     "sh -c /nonexistent/cmd x",
		"-/bin/sh":               "-sh", // busybox's login shell: argv[0] "-sh"
		"sleep 5; touch /done":   "sh -c sleep 5; touch /done",
		"FOO=1 /bin/env":         "sh -c FOO=1 /bin/env",
		"/bin/echo $HOME":        "sh -c /bin/echo $HOME",
		"/bin/echo   two  gaps ": "/bin/echo two gaps",
	} {
		e := inittabEntry{action: "once", process: proc}
		if _, argv, _, _ := z.command(&e); strings.Join(argv, " ") != want {
			t.Errorf("%q runs %q, want %q", proc, argv, want)
		}
	}
}

// A console nothing runs on gets a line saying so and how to get a shell.
func TestConsoleHint(t *testing.T) {
	for tab, quiet := range map[string]bool{
		"::sysinit:/bin/true\n::shutdown:/bin/sync\n": false,
		"tty1::respawn:/bin/sh\n":                     false,
		"::once:/bin/sh\n":                            false,
		"console::respawn:-/bin/sh\n":                 true,
		"::respawn:/sbin/getty -L console 0 vt100\n":  true,
		"::askfirst:-/bin/sh\n::sysinit:/bin/true\n":  true,
		"": false,
	} {
		es, _ := parseInittab(tab)
		hint := consoleHint(es)
		if quiet != (hint == "") {
			t.Errorf("inittab %q: hint %q", tab, hint)
		}
		if hint != "" && !strings.Contains(hint, "console::respawn:-/bin/sh") {
			t.Errorf("hint %q does not say how to get a shell", hint)
		}
	}
}
