package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestProcessViewEndToEnd: the real console's :procs view of a running
// zone sorts by a live column as samples come in, and the same
// order holds by pid; / filters, k sends the selected process a signal through the
// engine after the question, and only that process goes. Then the other
// `:` views: a command's whole output, the history, the zone's console
// log with a search, and the projects grid.
func TestProcessViewEndToEnd(t *testing.T) {
	needE2E(t)
	l := newLab(t)
	l.tag = "zc" + l.tag // this console's zones, by the shared machine's rule
	// A small CPU cap: the spinner is for sorting, not for load.
	z := l.newZone("busybox", "add capped-cpu", "set ncpus=0.2", "end")
	l.ok("zoneadm", "-z", z, "install")
	// The spinner first, the sleeper last: by CPU the spinner leads, by
	// pid the sleeper is the last line. The zone's init starts them, as
	// a zone's services are started; a zlogin's own go with it.
	inittab := filepath.Join(l.zonepath(z), "root/etc/inittab")
	old, err := os.ReadFile(inittab)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	entries := "::sysinit:/bin/echo ztlog-hello-console\n::once:/bin/sh -c 'while :; do :; done'\n::once:/bin/sh -c 'sleep 1; exec sleep 777'\n"
	if err := os.WriteFile(inittab, append(old, entries...), 0o644); err != nil {
		t.Fatal(err)
	}
	l.ok("zoneadm", "-z", z, "boot")
	sleeper := hostPidOf(t, "sleep 777")

	c := &tmuxConsole{t: t, socket: "zonetop-e2e-procs-" + l.tag}
	t.Cleanup(func() { _ = exec.Command("tmux", "-L", c.socket, "kill-server").Run() })
	c.tmux("new-session", "-d", "-s", "zt", "-x", "120", "-y", "40", ztBin+" --root "+l.root)
	c.wait("the console", regexp.MustCompile(z+`\s+running`), 20*time.Second)
	c.keys(":")
	c.text("procs " + z[:3])
	c.keys("Tab")
	c.wait("the zone name completed", regexp.MustCompile(`:procs `+z+`\s`), 5*time.Second)
	c.keys("Enter")
	c.wait("the process view", regexp.MustCompile(`Processes\s+`+z), 10*time.Second)
	// CPU% needs two samples; sorted by it, the spinner comes first
	// among the zone's processes once it has a figure.
	spinFirst := regexp.MustCompile(`CPU%↓[^\n]*\n[^\n]*\d+\.\d [^\n]*while :; do :; done`)
	c.wait("the spinner on top by CPU%", spinFirst, 20*time.Second)
	// It stays there across later samples.
	time.Sleep(2500 * time.Millisecond)
	c.wait("the spinner still on top", spinFirst, 5*time.Second)

	// By pid the spinner, started first, comes before the sleeper.
	c.keys("N")
	c.wait("sorted by pid", regexp.MustCompile(`PID↑[\s\S]*while :; do :; done[\s\S]*sleep 777`), 10*time.Second)
	c.keys("/")
	c.text("sleep 777")
	c.keys("Enter")
	c.wait("the sleeper alone", regexp.MustCompile(`/sleep 777 · 1\s*\n[^\n]*PID↑[^\n]*\n[^\n]*sleep 777\s*\n`), 10*time.Second)
	c.keys("k")
	c.wait("the signal panel", regexp.MustCompile(`Send signal[\s\S]*15 TERM`), 5*time.Second)
	c.keys("Enter")
	c.wait("the question", regexp.MustCompile(fmt.Sprintf(`send SIGTERM to pid %d \(sleep 777\) of %s\? \[y/N\]`, sleeper, z)), 5*time.Second)
	c.keys("y")
	c.wait("the answer", regexp.MustCompile(fmt.Sprintf(`sent SIGTERM to pid %d of %s`, sleeper, z)), 10*time.Second)
	deadline := time.Now().Add(10 * time.Second)
	for processAlive(sleeper) {
		if time.Now().After(deadline) {
			t.Fatalf("pid %d still runs after SIGTERM", sleeper)
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.wait("the sleeper gone from the view", regexp.MustCompile(`no process matches /sleep 777/`), 10*time.Second)
	if hostPidOf(t, "/bin/sh -c while :; do :; done") == 0 {
		t.Fatal("the spinner went too")
	}

	// An escape followed at once by another key reads as alt+that key:
	// it comes alone.
	escape := func() {
		time.Sleep(300 * time.Millisecond)
		c.keys("Escape")
		time.Sleep(300 * time.Millisecond)
	}
	// A command's answer of many lines opens whole, in a view of its
	// own: zoneadm list -cv's header, the global zone and this one.
	escape()
	c.wait("the zone table", regexp.MustCompile(`enter details`), 10*time.Second)
	c.keys(":")
	c.text("zoneadm list -cv")
	c.keys("Enter")
	c.wait("the whole output", regexp.MustCompile(`:zoneadm list -cv[\s\S]*ID\s+NAME\s+STATUS[\s\S]*global\s+running[\s\S]*`+z+`\s+running`), 15*time.Second)
	escape()
	c.wait("the zone table", regexp.MustCompile(`enter details`), 10*time.Second)
	c.keys(":", "Up")
	c.wait("the line back from the history", regexp.MustCompile(`(?m)^:zoneadm list -cv\s*$`), 5*time.Second)
	escape()
	c.wait("the zone table", regexp.MustCompile(`enter details`), 10*time.Second)

	// The console log, searched.
	c.keys(":")
	c.text("logs " + z)
	c.keys("Enter")
	c.wait("the console log", regexp.MustCompile(`Console log · `+z+`[\s\S]*ztlog-hello-console`), 15*time.Second)
	c.keys("/")
	c.text("ztlog-hello")
	c.keys("Enter")
	c.wait("the match", regexp.MustCompile(`/ztlog-hello [1-9]\d* match`), 10*time.Second)

	// The same log from the zone's detail, its Logs tab: it follows the
	// end, stops when scrolled up, follows again from G, and searches.
	escape()
	c.wait("the zone table", regexp.MustCompile(`enter details`), 10*time.Second)
	c.keys("G", "Enter")
	c.wait("the detail view", regexp.MustCompile(`8 Logs`), 10*time.Second)
	c.keys("8")
	c.wait("the Logs tab, following", regexp.MustCompile(`Console log · `+z+`[^\n]*following[\s\S]*ztlog-hello-console`), 15*time.Second)
	c.keys("k")
	c.wait("paused", regexp.MustCompile(`Console log · `+z+`[^\n]*paused \(G follows\)`), 10*time.Second)
	c.keys("G")
	c.wait("following again", regexp.MustCompile(`Console log · `+z+`[^\n]*following`), 10*time.Second)
	c.keys("/")
	c.text("ztlog-hello")
	c.keys("Enter")
	c.wait("the match in the tab", regexp.MustCompile(`/ztlog-hello [1-9]\d* match`), 10*time.Second)
	escape()
	c.wait("the zone table", regexp.MustCompile(`enter details`), 10*time.Second)

	// The projects grid: the zone's caps row, then its projects.
	c.keys(":")
	c.text("projects")
	c.keys("Enter")
	c.wait("the projects grid", regexp.MustCompile(`usage/limit per zone[\s\S]*`+z+`\s+\(zone caps\)`), 15*time.Second)
	escape()
	c.wait("the zone table again", regexp.MustCompile(`enter details`), 10*time.Second)
}

// hostPidOf is the host pid of the one process whose command line is
// cmdline, 0 when none.
func hostPidOf(t *testing.T, cmdline string) int {
	t.Helper()
	for range 50 {
		ents, _ := os.ReadDir("/proc")
		for _, e := range ents {
			var pid int
			if _, err := fmt.Sscan(e.Name(), &pid); err != nil {
				continue
			}
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
			if err == nil && strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " ")) == cmdline {
				return pid
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return 0
}

func processAlive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	// A zombie has exited; its parent has yet to reap it.
	return err == nil && !strings.Contains(string(b), ") Z ")
}
