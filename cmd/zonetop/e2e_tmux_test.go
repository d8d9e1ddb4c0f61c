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

// needE2E skips without root or tmux, but fails when CI=true, where the
// end-to-end run is required.
func needE2E(t *testing.T) {
	t.Helper()
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
	dir := t.TempDir()
	bin := filepath.Join(dir, "zonetop")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v: %s", err, out)
	}
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
	time.Sleep(500 * time.Millisecond) // the shell's prompt
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
