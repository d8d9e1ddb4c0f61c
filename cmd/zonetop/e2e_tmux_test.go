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
	"zonetop/api"
	"zonetop/internal/ztest"
)

// needE2E skips without root or tmux, but fails when CI=true, where the
// end-to-end run is required.
func needE2E(t *testing.T) {
	t.Helper()
	ztest.Ring(t)
	var why string
	if os.Geteuid() != 0 {
		why = "needs root"
	} else if _, err := exec.LookPath("tmux"); err != nil {
		why = "needs tmux"
	} else if _, err := os.Stat("/bin/busybox"); err != nil {
		why = "needs a static busybox at /bin/busybox"
	}
	if why == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("end-to-end console test %s (CI=true)", why)
	}
	t.Skip(why)
}

// tmuxConsole is the real binary's console in a tmux server of its own.
type tmuxConsole struct {
	t      *testing.T
	socket string
}

func (c *tmuxConsole) tmux(args ...string) string {
	c.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-L", c.socket}, args...)...).CombinedOutput()
	if err != nil {
		c.t.Fatalf("tmux %v: %v: %s", args, err, out)
	}
	return string(out)
}

func (c *tmuxConsole) capture() string {
	out, _ := exec.Command("tmux", "-L", c.socket, "capture-pane", "-p", "-t", "zt").CombinedOutput()
	return string(out)
}

// send types keys (tmux key names, or literal text with -l).
func (c *tmuxConsole) keys(k ...string) { c.tmux(append([]string{"send-keys", "-t", "zt"}, k...)...) }
func (c *tmuxConsole) text(s string)    { c.tmux("send-keys", "-t", "zt", "-l", s) }

// wait polls the screen until re matches, for at most d.
func (c *tmuxConsole) wait(what string, re *regexp.Regexp, d time.Duration) {
	c.t.Helper()
	deadline := time.Now().Add(d)
	for {
		s := c.capture()
		if re.MatchString(s) {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("waiting for %s (%s):\n%s", what, re, s)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestConsoleEndToEnd(t *testing.T) {
	needE2E(t)
	if ztBin == "" {
		t.Fatal("TestMain could not build the binaries")
	}
	dir := t.TempDir()
	// Both binaries, side by side: the console boots zones through the
	// per-zone one beside it.
	bin := copyBins(t, dir)
	root := filepath.Join(dir, "root")
	// Zone paths default to /zones/NAME, under the root prefix.
	if err := os.MkdirAll(filepath.Join(root, "zones"), 0o700); err != nil {
		t.Fatal(err)
	}
	suffix := fmt.Sprintf("%d%d", os.Getpid(), time.Now().UnixNano()%10000)
	zone := "e2e" + suffix // sorts before "global", so `g` selects it
	c := &tmuxConsole{t: t, socket: "zonetop-e2e-" + suffix}
	t.Cleanup(func() {
		_ = exec.Command("tmux", "-L", c.socket, "kill-server").Run()
		// Whatever step failed, the zone goes: halt, uninstall, delete.
		for _, args := range [][]string{
			{"zoneadm", "-z", zone, "halt"},
			{"zoneadm", "-z", zone, "uninstall", "-F"},
			{"zonecfg", "-z", zone, "delete", "-F"},
		} {
			_ = exec.Command(bin, append([]string{"--root", root}, args...)...).Run()
		}
	})
	c.tmux("new-session", "-d", "-s", "zt", "-x", "120", "-y", "40", bin+" --root "+root)
	c.wait("the empty console", regexp.MustCompile(`No zones yet`), 15*time.Second)

	// n: the form; a name, the busybox brand (third field, one right).
	c.keys("n")
	c.wait("the form", regexp.MustCompile(`New zone`), 5*time.Second)
	c.text(zone)
	c.keys("Tab", "Tab", "Right", "C-s")
	c.wait("the zone configured", regexp.MustCompile(zone+`\s+configured`), 10*time.Second)

	c.keys("g", "i")
	c.wait("the install", regexp.MustCompile(zone+`\s+installed`), 60*time.Second)

	c.keys("b")
	c.wait("the zone running", regexp.MustCompile(zone+`\s+running`), 60*time.Second)

	c.keys("l")
	c.wait("the login pane", regexp.MustCompile(`~\. detach`), 15*time.Second)
	word := "hello-" + suffix
	// Typed before the shell's first prompt, the line is echoed ahead of
	// the prompt and the answer no longer starts a line.
	c.wait("the shell's prompt", regexp.MustCompile(`@`+zone+`:\S*#`), 15*time.Second)
	c.text("echo " + word)
	c.keys("Enter")
	c.wait("the echo", regexp.MustCompile(`(?m)^`+word+`\s*$`), 15*time.Second)
	c.text("~.")
	c.wait("the detach", regexp.MustCompile(`login `+zone+`: detached`), 10*time.Second)

	c.keys("h")
	c.wait("the halt question", regexp.MustCompile(`halt zone `+zone+`\? \[y/N\]`), 5*time.Second)
	c.keys("y")
	c.wait("the zone halted", regexp.MustCompile(zone+`\s+installed`), 60*time.Second)

	c.keys("q")
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, _ := exec.Command("tmux", "-L", c.socket, "list-panes", "-t", "zt", "-F", "#{pane_dead}").CombinedOutput()
		if err := exec.Command("tmux", "-L", c.socket, "has-session", "-t", "zt").Run(); err != nil || strings.TrimSpace(string(out)) == "1" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("zonetop did not quit on q:\n%s", c.capture())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestZoneConsoleEndToEnd: zonetop started inside a zone (through zlogin
// -t, the way its administrator would) shows the zone administrator's
// view; a project limit changed on its Projects tab reaches the host's
// project cgroup and the zone's /etc/project, and a zone cap cannot be
// edited; the zone's console log is there to read.
func TestZoneConsoleEndToEnd(t *testing.T) {
	needE2E(t)
	l := newLab(t)
	z := l.newZone("busybox", "set max-lwps=300")
	l.ok("zoneadm", "-z", z, "install")
	proj := "system:0::::\ndefault:3::::\nweb:100::::project.max-lwps=(privileged,20,deny)\n"
	etcProject := filepath.Join(l.zonepath(z), "root/etc/project")
	if err := os.WriteFile(etcProject, []byte(proj), 0o644); err != nil {
		t.Fatal(err)
	}
	inittab := filepath.Join(l.zonepath(z), "root/etc/inittab")
	old, err := os.ReadFile(inittab)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	if err := os.WriteFile(inittab, append([]byte("::sysinit:/bin/echo ztlog-zone-admin-reads\n"), old...), 0o644); err != nil {
		t.Fatal(err)
	}
	l.ok("zoneadm", "-z", z, "boot")
	// web's cgroup is made when a process first joins the project.
	l.ok("newtask", "-z", z, "-p", "web", "true")
	pidsMax := filepath.Join(zonePidsDir(t, z), "web", "pids.max")
	if got := readTrim(t, pidsMax); got != "20" {
		t.Fatalf("web pids.max before: %s", got)
	}

	c := &tmuxConsole{t: t, socket: "zonetop-e2e-zone-" + l.tag}
	t.Cleanup(func() { _ = exec.Command("tmux", "-L", c.socket, "kill-server").Run() })
	c.tmux("new-session", "-d", "-s", "zt", "-x", "120", "-y", "40",
		ztBin+" --root "+l.root+" zlogin -t "+z+" "+api.ZoneBinaryPath)
	c.wait("the zone administrator's console", regexp.MustCompile(`zone administrator of `+z), 20*time.Second)
	c.wait("its own zone alone", regexp.MustCompile(`1 zone\s+1 running`), 10*time.Second)

	c.keys("Enter")
	c.keys("3")
	c.wait("the Projects tab", regexp.MustCompile(`web 100\s+\d+/20`), 10*time.Second)
	c.keys("j", "e")
	c.wait("the edit line", regexp.MustCompile(`new limit \S+ 20`), 10*time.Second)
	c.keys("BSpace", "BSpace")
	c.text("33")
	c.keys("Enter")
	c.wait("the new limit", regexp.MustCompile(`project\.max-lwps of `+z+`:web set to 33`), 10*time.Second)
	waitFile(t, pidsMax, "33")
	if b, err := os.ReadFile(etcProject); err != nil || !strings.Contains(string(b), "web:100::::project.max-lwps=(privileged,33,deny)") {
		t.Errorf("/etc/project after the edit: %q %v", b, err)
	}

	// The zone's caps are read-only here, and an edit is refused.
	c.keys("2")
	c.wait("the Caps tab", regexp.MustCompile(`set by the global administrator`), 10*time.Second)
	c.keys("e")
	c.wait("the refusal", regexp.MustCompile(`permission denied: zone caps are set by the global administrator`), 10*time.Second)
	if got := readTrim(t, filepath.Join(zonePidsDir(t, z), "pids.max")); got != "300" {
		t.Errorf("zone pids.max after a zone administrator's edit: %s, want 300", got)
	}

	c.keys("Escape")
	c.wait("the zone table", regexp.MustCompile(`enter details`), 10*time.Second)

	// The zone's console log, through the zone socket.
	c.keys(":")
	c.text("logs " + z)
	c.keys("Enter")
	c.wait("the console log", regexp.MustCompile(`Console log · `+z+`[\s\S]*ztlog-zone-admin-reads`), 15*time.Second)
	c.keys("Escape")
	c.wait("the zone table", regexp.MustCompile(`enter details`), 10*time.Second)
	c.keys("q")
	deadline := time.Now().Add(10 * time.Second)
	for exec.Command("tmux", "-L", c.socket, "has-session", "-t", "zt").Run() == nil {
		out, _ := exec.Command("tmux", "-L", c.socket, "list-panes", "-t", "zt", "-F", "#{pane_dead}").CombinedOutput()
		if strings.TrimSpace(string(out)) == "1" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("zonetop in the zone did not quit on q:\n%s", c.capture())
		}
		time.Sleep(200 * time.Millisecond)
	}
}
