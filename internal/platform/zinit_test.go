package platform

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"zonetop/internal/ztest"
)

// The zone's init is the C program cmd/zinit. These tests build it as make
// build does and run it: "--parse FILE" prints how each entry would run
// (and the warnings and hint zinit says on the console), "--inittab FILE"
// runs it as the init on the host, from FILE, in a temporary directory.

// hangGuard bounds a run that must end by itself: a zinit that waits on a
// FIFO or spins would otherwise hold the test until the suite's timeout.
const hangGuard = 2 * time.Minute

func zinitBin(t *testing.T) string {
	t.Helper()
	p, err := ztest.BuildZinit(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

type parsed struct {
	entries [][]string // line, id, action, project, path, argv...
	says    string     // what zinit says on the console
}

func parseWith(t *testing.T, bin, file string) parsed {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, "--parse", file)
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("zinit --parse %s did not end", file)
	}
	if ee, ok := err.(*exec.ExitError); err != nil && (!ok || ee.ExitCode() != 1) {
		t.Fatalf("zinit --parse %s: %v\n%s", file, err, out.String())
	}
	var p parsed
	var says []string
	for _, l := range strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n") {
		if f, ok := strings.CutPrefix(l, "entry\t"); ok {
			p.entries = append(p.entries, strings.Split(f, "\t"))
		} else if l != "" {
			says = append(says, l)
		}
	}
	p.says = strings.Join(says, "\n")
	return p
}

func parseText(t *testing.T, bin, text string) parsed {
	t.Helper()
	f := filepath.Join(t.TempDir(), "inittab")
	if err := os.WriteFile(f, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return parseWith(t, bin, f)
}

func TestZinitParse(t *testing.T) {
	bin := zinitBin(t)
	p := parseText(t, bin, `# comment
::sysinit:/bin/mount -a
w1:project=frontend:respawn:/bin/sleep 100
w2:project=bad name:respawn:/bin/true
::bogus:/bin/true
::once:
x
`)
	if len(p.entries) != 2 {
		t.Fatalf("entries %q", p.entries)
	}
	if e := p.entries[0]; e[0] != "2" || e[2] != "sysinit" || e[3] != "-" {
		t.Errorf("first entry %q", e)
	}
	if e := p.entries[1]; e[1] != "w1" || e[3] != "frontend" {
		t.Errorf("project entry %q", e)
	}
	for _, want := range []string{"line 4: project name", "line 5: unknown action \"bogus\"", "line 6: no process", "line 7: want id:runlevels:action:process"} {
		if !strings.Contains(p.says, "zinit: inittab "+want) {
			t.Errorf("warnings %q lack %q", p.says, want)
		}
	}
	// A project entry runs newtask -p PROJECT COMMAND from the per-zone
	// binary (none here: --parse names the placeholder).
	if e := p.entries[1]; e[4] != "@per-zone-binary" || strings.Join(e[5:], " ") != "newtask -p frontend /bin/sleep 100" {
		t.Errorf("project entry runs %q", e[4:])
	}
	if e := p.entries[0]; e[4] != "/bin/mount" || strings.Join(e[5:], " ") != "/bin/mount -a" {
		t.Errorf("plain entry runs %q", e[4:])
	}
	// Busybox runs a process field without shell syntax itself, and
	// hands the rest to /bin/sh -c; so does zinit.
	for proc, want := range map[string]string{
		"echo hi > /dev/null":    "sh -c echo hi > /dev/null",
		"/nonexistent/cmd x":     "sh -c /nonexistent/cmd x",
		"-/bin/sh":               "-sh", // busybox's login shell: argv[0] "-sh"
		"sleep 5; touch /done":   "sh -c sleep 5; touch /done",
		"FOO=1 /bin/env":         "sh -c FOO=1 /bin/env",
		"/bin/echo $HOME":        "sh -c /bin/echo $HOME",
		"/bin/echo   two  gaps ": "/bin/echo two gaps",
		"/bin/echo\ttab":         "/bin/echo tab",
		"/etc":                   "sh -c /etc",     // a directory is not a command
		"/bin/echo crlf\r":       "/bin/echo crlf", // an inittab saved with CRLF line ends
	} {
		p := parseText(t, bin, "::once:"+proc+"\n")
		if len(p.entries) != 1 || strings.Join(p.entries[0][5:], " ") != want {
			t.Errorf("%q runs %q, want %q", proc, p.entries, want)
		}
	}
	// Blanks around the fields, and an inittab written on another
	// system: CRLF line ends and no newline at the end.
	if p := parseText(t, bin, "  con :  project=web : respawn : /bin/echo a \r\n\t::once:/bin/true"); len(p.entries) != 2 ||
		strings.Join(p.entries[0][1:4], " ") != "con respawn web" || strings.Join(p.entries[0][5:], " ") != "newtask -p web /bin/echo a" ||
		p.entries[1][0] != "2" {
		t.Errorf("blanks and CRLF: %q, said %q", p.entries, p.says)
	}
	// Project names are checked as zonecfg and projadd check them.
	for rl, ok := range map[string]bool{"project=web.1_a-b": true, "project=": false, "project=1web": false,
		"project=w/x": false, "project=w\x1b[2Jx": false, "3": true, "": true} {
		p := parseText(t, bin, "id:"+rl+":once:/bin/true\n")
		if (len(p.entries) == 1) != ok {
			t.Errorf("runlevels %q: entries %q, said %q", rl, p.entries, p.says)
		}
	}
}

// A console nothing runs on gets a line saying so and how to get a shell.
func TestZinitConsoleHint(t *testing.T) {
	bin := zinitBin(t)
	for tab, quiet := range map[string]bool{
		"::sysinit:/bin/true\n::shutdown:/bin/sync\n": false,
		"tty1::respawn:/bin/sh\n":                     false,
		"::once:/bin/sh\n":                            false,
		"console::respawn:-/bin/sh\n":                 true,
		"::respawn:/sbin/getty -L console 0 vt100\n":  true,
		"::askfirst:-/bin/sh\n::sysinit:/bin/true\n":  true,
		"": false,
	} {
		p := parseText(t, bin, tab)
		hint := strings.Contains(p.says, "nothing in /etc/inittab runs on this console")
		if quiet == hint {
			t.Errorf("inittab %q: said %q", tab, p.says)
		}
		if hint && !strings.Contains(p.says, "console::respawn:-/bin/sh") {
			t.Errorf("hint %q does not say how to get a shell", p.says)
		}
	}
}

// What a zone's root can put at /etc/inittab: zinit reads it within the
// bounds the Go side keeps (pathrs.ReadZoneFile), says what it refused,
// and never waits on it.
func TestZinitHostileInittab(t *testing.T) {
	bin := zinitBin(t)
	dir := t.TempDir()
	path := func(name string) string { return filepath.Join(dir, name) }

	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(syscall.Mkfifo(path("fifo"), 0o644))
	must(os.WriteFile(path("real"), []byte("::once:/bin/true\n"), 0o644))
	must(os.Symlink(path("real"), path("link")))
	must(os.Mkdir(path("subdir"), 0o755))
	must(os.Symlink(path("subdir"), path("linkdir")))
	must(os.WriteFile(path("subdir/inittab"), []byte("::once:/bin/true\n"), 0o644))
	must(os.WriteFile(path("huge"), bytes.Repeat([]byte("::once:/bin/true\n"), (2<<20)/17), 0o644))
	for name, want := range map[string]string{
		"fifo":            "a FIFO, not a regular file; nothing to start",
		"link":            "a symbolic link, not a regular file (zonetop does not follow it)",
		"linkdir/inittab": "a symbolic link, not a regular file",
		"subdir":          "a directory, not a regular file",
		"huge":            "over the 1048576 zonetop reads; refused",
		"missing":         "no such file or directory; nothing to start",
	} {
		p := parseWith(t, bin, path(name))
		if len(p.entries) != 0 || !strings.Contains(strings.ToLower(p.says), strings.ToLower(want)) {
			t.Errorf("%s: entries %q, said %q, want %q", name, p.entries, p.says, want)
		}
	}
	if p := parseWith(t, bin, path("subdir/inittab")); len(p.entries) != 1 {
		t.Errorf("a plain inittab: %q %q", p.entries, p.says)
	}

	// Binary garbage: every bad line said, with nothing raw from the file
	// reaching the console (a zone's bytes must not become terminal
	// control sequences there).
	garbage := make([]byte, 64<<10)
	for i := range garbage {
		garbage[i] = byte(i*7919 + i/13)
	}
	garbage = append(garbage, []byte("\n::bo\x1b[2Jgus:/bin/true\n::once:/bin/true\n")...)
	p := parseText(t, bin, string(garbage))
	if strings.ContainsRune(p.says, 0x1b) || strings.ContainsRune(p.says, 0) {
		t.Errorf("zinit copied control bytes to the console: %q", p.says)
	}
	if !strings.Contains(p.says, `unknown action "bo\x1b[2Jgus"`) {
		t.Errorf("the escaped action is not said: %q", p.says[max(0, len(p.says)-300):])
	}
	if len(p.entries) == 0 || p.entries[len(p.entries)-1][2] != "once" {
		t.Errorf("the good line after the garbage was lost: %q", p.entries)
	}

	// A 100 KB line, and 10,000 entries: all of it read, within bounds.
	long := "::once:/bin/echo " + strings.Repeat("x", 100<<10) + "\n::once:/bin/true\n"
	p = parseText(t, bin, long)
	if len(p.entries) != 2 || len(p.entries[0]) != 7 || len(p.entries[0][6]) != 100<<10 {
		t.Errorf("a 100 KB line: %d entries", len(p.entries))
	}
	var many strings.Builder
	for i := range 10000 {
		fmt.Fprintf(&many, "e%d::once:/bin/echo %d\n", i, i)
	}
	p = parseText(t, bin, many.String())
	if len(p.entries) != 10000 || p.entries[9999][0] != "10000" {
		t.Errorf("10,000 entries: got %d", len(p.entries))
	}
	// An unknown action quoted at length is cut, not echoed whole.
	p = parseText(t, bin, "::"+strings.Repeat("a", 100<<10)+":/bin/true\n")
	if len(p.says) > 4096 {
		t.Errorf("one bad line said in %d bytes", len(p.says))
	}
}

// runningZinit is a zinit run as init from an inittab in a temporary
// directory; its processes end with the test, whatever happens.
type runningZinit struct {
	dir string
	cmd *exec.Cmd
}

// said is what zinit wrote on its console so far.
func (z *runningZinit) said() string {
	b, _ := os.ReadFile(filepath.Join(z.dir, "console"))
	return string(b)
}

func startZinit(t *testing.T, inittab string) *runningZinit {
	t.Helper()
	bin := zinitBin(t)
	dir := t.TempDir()
	tab := filepath.Join(dir, "inittab")
	if err := os.WriteFile(tab, []byte(strings.ReplaceAll(inittab, "DIR", dir)), 0o644); err != nil {
		t.Fatal(err)
	}
	z := &runningZinit{dir: dir}
	// Started with signals ignored, as under nohup or a harness that
	// ignores a real-time signal: an ignored disposition survives exec,
	// and neither zinit's wait for its children (SIGCHLD) nor its
	// entries (a console shell deaf to ctrl-C) may inherit one.
	z.cmd = exec.Command("/bin/sh", "-c", `trap '' 1 2 10 12 15 17 34; exec "$0" --inittab "$1"`, bin, tab)
	z.cmd.Dir = dir
	// A file, not a pipe: what an entry leaves running in the
	// background holds zinit's stdout, and Wait would wait for it.
	out, err := os.Create(filepath.Join(dir, "console"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	z.cmd.Stdout, z.cmd.Stderr = out, out
	// Where zsched gives zinit the per-zone binary (ZinitExeFd): kept
	// for newtask, and out of every entry's reach.
	exe, err := os.Open("/bin/true")
	if err != nil {
		t.Fatal(err)
	}
	defer exe.Close()
	z.cmd.ExtraFiles = []*os.File{exe}
	// A session of its own: its children's groups are killed at the end.
	z.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := z.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if z.cmd.ProcessState == nil {
			_ = z.cmd.Process.Kill()
			_ = z.cmd.Wait()
		}
		killSession(z.cmd.Process.Pid)
	})
	return z
}

// killSession ends every process left in session sid (the entries zinit
// started, each a session of its own, are found by their parent).
func killSession(sid int) {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(f) > 3 && (f[1] == strconv.Itoa(sid) || f[3] == strconv.Itoa(sid)) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

func (z *runningZinit) waitFile(t *testing.T, name, want string) string {
	t.Helper()
	deadline := time.Now().Add(hangGuard)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(filepath.Join(z.dir, name)); err == nil && strings.Contains(string(b), want) {
			return string(b)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s never held %q; zinit said:\n%s", name, want, z.said())
	return ""
}

// wait waits for zinit to end, and returns its exit code.
func (z *runningZinit) wait(t *testing.T) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- z.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(hangGuard):
		t.Fatalf("zinit did not end; it said:\n%s", z.said())
	}
	return z.cmd.ProcessState.ExitCode()
}

func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	return err == nil && !strings.Contains(string(b[bytes.LastIndexByte(b, ')'):]), ") Z")
}

// A shutdown asked while a sysinit entry still runs (a zone halted at
// once after boot, or a sysinit that hangs) does not wait for it: the
// shutdown entries run, the sysinit entry is ended, zinit exits.
func TestZinitStopDuringSysinit(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGUSR2, syscall.SIGTERM, syscall.SIGUSR1} {
		t.Run(sig.String(), func(t *testing.T) {
			z := startZinit(t, `::sysinit:/bin/sh -c 'echo $$ > DIR/sysinit; exec sleep 1000'
::once:/bin/sh -c 'echo started > DIR/once'
::respawn:/bin/sh -c 'echo started > DIR/respawn'
::shutdown:/bin/sh -c 'echo ran > DIR/shutdown'
`)
			pid, _ := strconv.Atoi(strings.TrimSpace(z.waitFile(t, "sysinit", "\n")))
			if err := z.cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			if code := z.wait(t); code != 0 {
				t.Errorf("zinit exit %d", code)
			}
			if b, _ := os.ReadFile(filepath.Join(z.dir, "shutdown")); string(b) != "ran\n" {
				t.Errorf("the shutdown entry did not run; zinit said:\n%s", z.said())
			}
			for _, f := range []string{"once", "respawn"} {
				if _, err := os.Stat(filepath.Join(z.dir, f)); err == nil {
					t.Errorf("the %s entry started after the shutdown was asked", f)
				}
			}
			waitGone(t, pid, "the sysinit entry")
			if !strings.Contains(z.said(), "zinit: shutting down") {
				t.Errorf("zinit said %q", z.said())
			}
		})
	}
}

func waitGone(t *testing.T, pid int, what string) {
	t.Helper()
	deadline := time.Now().Add(hangGuard)
	for alive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("%s (pid %d) still runs after the shutdown", what, pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// An entry that forks and dies at once, forever: the back-off bounds how
// often it starts (100 ms, doubling to 10 s), so an init left with such
// an entry does not spin a core.
func TestZinitRespawnBackoff(t *testing.T) {
	z := startZinit(t, `::respawn:/bin/sh -c 'echo run >> DIR/runs; sleep 1000 & exit 0'
::shutdown:/bin/true
`)
	z.waitFile(t, "runs", "run\nrun\nrun\n")
	time.Sleep(2 * time.Second)
	b, _ := os.ReadFile(filepath.Join(z.dir, "runs"))
	runs := strings.Count(string(b), "run")
	// Within 100+200+400+800+1600 ms of its first start it can have
	// started 6 times at most; without a back-off, thousands.
	if runs > 8 {
		t.Errorf("the dying entry started %d times in a few seconds", runs)
	}
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", z.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(st[bytes.LastIndexByte(st, ')')+1:]))
	ticks, _ := strconv.Atoi(f[11])
	stime, _ := strconv.Atoi(f[12])
	if ticks+stime > 100 { // a second of CPU
		t.Errorf("zinit used %d ticks of CPU", ticks+stime)
	}
	if err := z.cmd.Process.Signal(syscall.SIGUSR2); err != nil {
		t.Fatal(err)
	}
	if code := z.wait(t); code != 0 {
		t.Errorf("zinit exit %d", code)
	}
}

// What an entry starts with: no signal blocked or ignored (a console
// shell deaf to ctrl-C), RUNLEVEL=S, no descriptor beyond its stdio, and
// the out-of-memory score of a zone process; a respawned entry that ran a
// while starts again; the others end at shutdown.
func TestZinitEntryStart(t *testing.T) {
	z := startZinit(t, `::once:/bin/sh -c 'grep -E "^Sig(Blk|Ign)" /proc/self/status > DIR/sig; env > DIR/env; ls /proc/self/fd > DIR/fds; cat /proc/self/oom_score_adj > DIR/oom; echo done >> DIR/sig'
::respawn:/bin/sh -c 'echo $$ >> DIR/respawn; exec sleep 1000'
::shutdown:/bin/sh -c 'echo ran > DIR/shutdown'
`)
	sig := z.waitFile(t, "sig", "done")
	for _, l := range strings.Split(strings.TrimSpace(sig), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.Trim(strings.TrimSpace(v), "0") != "" {
			t.Errorf("an entry starts with %s %s", k, strings.TrimSpace(v))
		}
	}
	if b, _ := os.ReadFile(filepath.Join(z.dir, "env")); !strings.Contains(string(b), "RUNLEVEL=S") {
		t.Errorf("an entry's environment: %q", b)
	}
	// 0-2 and the one ls lists with; nothing of zinit's own (the
	// per-zone binary it was given at 3 and keeps at 64).
	if b, _ := os.ReadFile(filepath.Join(z.dir, "fds")); len(strings.Fields(string(b))) > 4 {
		t.Errorf("an entry starts with descriptors %q", strings.Fields(string(b)))
	}
	if b, _ := os.ReadFile(filepath.Join(z.dir, "oom")); strings.TrimSpace(string(b)) != strconv.Itoa(ZoneOOMScoreAdj) {
		t.Errorf("an entry's oom_score_adj %q", b)
	}
	first, _ := strconv.Atoi(strings.TrimSpace(z.waitFile(t, "respawn", "\n")))
	// The respawn entry, killed by something in the zone, is back.
	_ = syscall.Kill(first, syscall.SIGKILL)
	var lines []string
	for deadline := time.Now().Add(hangGuard); len(lines) < 2; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the respawn entry did not come back; zinit said:\n%s", z.said())
		}
		b, _ := os.ReadFile(filepath.Join(z.dir, "respawn"))
		lines = strings.Fields(string(b))
	}
	second, _ := strconv.Atoi(lines[len(lines)-1])
	if err := z.cmd.Process.Signal(syscall.SIGUSR2); err != nil {
		t.Fatal(err)
	}
	if code := z.wait(t); code != 0 {
		t.Errorf("zinit exit %d", code)
	}
	waitGone(t, second, "the respawn entry")
	if b, _ := os.ReadFile(filepath.Join(z.dir, "shutdown")); string(b) != "ran\n" {
		t.Errorf("the shutdown entry did not run")
	}
}

// zinit started by hand (on the host, by someone who found it beside
// zoneadmd) says what it is and runs nothing.
func TestZinitNotByHand(t *testing.T) {
	bin := zinitBin(t)
	for _, args := range [][]string{nil, {"--help"}, {"/etc/inittab"}, {"--parse"}} {
		out, err := exec.Command(bin, args...).CombinedOutput()
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), "it is not run by hand") {
			t.Errorf("zinit %q: %v %q", args, err, out)
		}
	}
}
