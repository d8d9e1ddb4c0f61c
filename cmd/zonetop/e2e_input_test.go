package main

import (
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestPaneInputTmuxE2E types the same keys through tmux into a login pane
// of the console and into a plain zlogin, each running a recorder in the
// zone, and compares what the zone received, byte for byte. Keys whose
// bytes depend on the terminal type (tmux sends home as ESC [1~, xterm as
// ESC [H, and the pane's program is told it runs on xterm) are typed as
// xterm's own bytes, so both sides must agree on them too. It runs once
// with tmux's legacy keys and once with its extended keys, which tmux
// sends to the console because bubbletea asks for them.
func TestPaneInputTmuxE2E(t *testing.T) {
	needE2E(t)
	l := newLab(t)
	l.tag = fmt.Sprintf("ztin%s", l.tag)
	z := l.newZone("busybox")
	l.ok("zoneadm", "-z", z, "install")
	l.ok("zoneadm", "-z", z, "boot")
	for i, ext := range []string{"off", "on"} {
		t.Run("extended-keys-"+ext, func(t *testing.T) {
			paneInputE2E(t, l, z, fmt.Sprintf("ztin-%s-%d", l.tag, i), ext)
		})
	}
}

// recorder is the command line that makes a shell in the zone record its
// terminal's raw input into file; it says ready-<n> once raw (lower case, so that setting up works even where uppercase is lost).
func recorder(modes, file string, n int) string {
	pre := ""
	if modes != "" {
		pre = "printf '" + modes + "'; "
	}
	return fmt.Sprintf("%sstty raw -echo; echo ready-$((%d+1)); cat > %s; stty sane", pre, n-1, file)
}

func paneInputE2E(t *testing.T, l *lab, z, socket, extended string) {
	c := &tmuxConsole{t: t, socket: socket}
	var socketPath string
	t.Cleanup(func() {
		_ = exec.Command("tmux", "-L", c.socket, "kill-server").Run()
		if socketPath != "" {
			_ = os.Remove(socketPath)
		}
	})
	c.tmux("start-server", ";", "set", "-s", "extended-keys", extended, ";",
		"new-session", "-d", "-s", "zt", "-x", "120", "-y", "40", ztBin+" --root "+l.root)
	socketPath = strings.TrimSpace(c.tmux("display-message", "-p", "-t", "zt", "#{socket_path}"))
	c.tmux("new-session", "-d", "-s", "plain", "-x", "120", "-y", "40", ztBin+" --root "+l.root+" zlogin "+z)
	plain := &tmuxConsole{t: t, socket: socket}
	capturePlain := func() string {
		out, _ := exec.Command("tmux", "-L", socket, "capture-pane", "-p", "-t", "plain").CombinedOutput()
		return string(out)
	}
	waitPlain := func(what string, re *regexp.Regexp) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for !re.MatchString(capturePlain()) {
			if time.Now().After(deadline) {
				t.Fatalf("plain zlogin: waiting for %s (%s):\n%s", what, re, capturePlain())
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	prompt := regexp.MustCompile(`@` + z + `:\S*#`)

	c.wait("the zone in the table", regexp.MustCompile(z+`\s+running`), 20*time.Second)
	c.keys("G", "l")
	c.wait("the login pane", regexp.MustCompile(`~\. detach`), 15*time.Second)
	c.wait("the pane's prompt", prompt, 15*time.Second)
	waitPlain("the prompt", prompt)

	// both types keys into the pane and into the plain zlogin alike.
	both := func(args ...string) {
		t.Helper()
		c.tmux(append([]string{"send-keys", "-t", "zt"}, args...)...)
		plain.tmux(append([]string{"send-keys", "-t", "plain"}, args...)...)
	}
	// An escape must come alone: followed at once by another key, a
	// terminal's bytes for it read as alt+that key.
	lone := func(key string) {
		time.Sleep(300 * time.Millisecond)
		both(key)
		time.Sleep(300 * time.Millisecond)
	}
	startRecorders := func(modes string, n int) (paneFile, plainFile string) {
		t.Helper()
		paneFile, plainFile = fmt.Sprintf("/tmp/ztin-pane-%d", n), fmt.Sprintf("/tmp/ztin-plain-%d", n)
		c.text(recorder(modes, paneFile, n))
		c.keys("Enter")
		plain.tmux("send-keys", "-t", "plain", "-l", recorder(modes, plainFile, n))
		plain.tmux("send-keys", "-t", "plain", "Enter")
		ready := regexp.MustCompile(fmt.Sprintf(`ready-%d`, n))
		c.wait("the pane's recorder", ready, 15*time.Second)
		waitPlain("the recorder", ready)
		return paneFile, plainFile
	}
	const end = "ztin-end"
	received := func(file, upTo string) string {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			out, _, code := l.run("zlogin", z, "od", "-An", "-tx1", "-v", file)
			b, err := hex.DecodeString(strings.Join(strings.Fields(out), ""))
			if code == 0 && err == nil && strings.HasSuffix(string(b), upTo) {
				return string(b)
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s never ended in %q: %q (od exit %d)", file, upTo, b, code)
			}
			time.Sleep(300 * time.Millisecond)
		}
	}
	compare := func(phase, paneFile, plainFile string) {
		t.Helper()
		want := received(plainFile, end)
		got := received(paneFile, end)
		if got != want {
			t.Errorf("%s: the zone got from the pane\n%q\nand from a plain zlogin\n%q\n%s", phase, got, want, firstDiff(got, want))
		}
	}
	stopRecorders := func(n int) {
		t.Helper()
		l.ok("zlogin", z, "killall", "cat")
		again := regexp.MustCompile(fmt.Sprintf(`(?s)ready-%d.*@`, n) + z + `:\S*#`)
		c.wait("the pane's prompt again", again, 15*time.Second)
		waitPlain("the prompt again", again)
	}

	// Normal cursor keys.
	paneFile, plainFile := startRecorders("", 1)
	both("-l", "echo ABCDEFG abc PATH=$PATH ~/x \"Q\" 'r' !@#%^&*()_+{}|:<>?[]\\;,./-= é Ж")
	both("Enter", "Tab", "BTab", "BSpace", "Space")
	both("C-a", "C-c", "C-d", "C-z", "C-\\", "C-Space", "C-_")
	both("M-x", "M-X", "M-.", "C-M-a", "M-Enter", "M-BSpace")
	both("F1", "F2", "F3", "F4", "F5", "F6", "F7", "F8", "F9", "F10", "F11", "F12")
	both("Up", "Down", "Right", "Left", "PPage", "NPage", "IC", "DC")
	both("S-Up", "C-Left", "M-Right", "C-S-Down", "C-Home", "S-End", "C-DC", "S-F5", "C-F1", "M-F12")
	both("-H", "1b", "5b", "48", "1b", "5b", "46") // xterm's home and end
	lone("Escape")
	both("-l", end)
	compare("normal cursor keys", paneFile, plainFile)
	stopRecorders(1)

	// Application cursor keys, bracketed paste and the mouse, asked for
	// by the program, as vi and less do.
	paneFile, plainFile = startRecorders(`\033[?1h\033[?2004h\033[?1000h\033[?1006h`, 2)
	both("Up", "Down", "Right", "Left", "C-Up", "S-Left", "F1", "PPage")
	both("-H", "1b", "4f", "48", "1b", "4f", "46") // xterm's home and end, application mode
	both("-l", "ABC abc")
	c.tmux("set-buffer", "-b", "ztin", "pasted ABC\ndef $HOME")
	c.tmux("paste-buffer", "-p", "-b", "ztin", "-t", "zt")
	plain.tmux("paste-buffer", "-p", "-b", "ztin", "-t", "plain")
	both("-l", end)
	compare("application cursor keys and bracketed paste", paneFile, plainFile)

	// A click on the pane reaches the program in the pane's own cells.
	top := -1
	for i, line := range strings.Split(c.capture(), "\n") {
		if strings.Contains(line, z+" login") && strings.Contains(line, "ctrl+] zonetop") {
			top = i + 1
		}
	}
	if top < 0 {
		t.Fatalf("no pane title on screen:\n%s", c.capture())
	}
	outer := fmt.Sprintf("\x1b[<0;5;%dM\x1b[<0;5;%dm", top+3, top+3)
	var hexKeys []string
	for _, b := range []byte(outer) {
		hexKeys = append(hexKeys, fmt.Sprintf("%02x", b))
	}
	time.Sleep(300 * time.Millisecond)
	c.tmux(append([]string{"send-keys", "-t", "zt", "-H"}, hexKeys...)...)
	time.Sleep(300 * time.Millisecond)
	c.text("ztin-mouse-end")
	got := received(paneFile, "ztin-mouse-end")
	if want := end + "\x1b[<0;5;3M\x1b[<0;5;3mztin-mouse-end"; !strings.HasSuffix(got, want) {
		t.Errorf("a click on the pane's row 2, column 4 reached the zone as %q, want it to end in %q", got, want)
	}
	stopRecorders(2)

	// q with the login open asks; no keeps the shell.
	c.keys("C-]")
	c.wait("focus back on the table", regexp.MustCompile(`still attached`), 10*time.Second)
	c.keys("q")
	c.wait("the quit question", regexp.MustCompile(`quit zonetop\? the login on `+z+` ends \[y/N\]`), 10*time.Second)
	c.keys("n")
	c.wait("the quit cancelled", regexp.MustCompile(`quit zonetop: cancelled`), 10*time.Second)
	c.keys("Tab")
	c.text("echo ALIVE-$((40+2))")
	c.keys("Enter")
	c.wait("the shell still alive", regexp.MustCompile(`(?m)^ALIVE-42\s*$`), 15*time.Second)
	c.keys("C-]")
	c.keys("q")
	c.wait("the quit question", regexp.MustCompile(`\[y/N\]`), 10*time.Second)
	c.keys("y")
	deadline := time.Now().Add(15 * time.Second)
	for {
		out, _ := exec.Command("tmux", "-L", socket, "list-panes", "-t", "zt", "-F", "#{pane_dead}").CombinedOutput()
		if exec.Command("tmux", "-L", socket, "has-session", "-t", "zt").Run() != nil || strings.TrimSpace(string(out)) == "1" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("zonetop did not quit on q, y:\n%s", c.capture())
		}
		time.Sleep(200 * time.Millisecond)
	}
	plain.tmux("send-keys", "-t", "plain", "-l", "exit")
	plain.tmux("send-keys", "-t", "plain", "Enter")
}

// firstDiff says where two byte strings part.
func firstDiff(a, b string) string {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	return fmt.Sprintf("they differ from byte %d: %q against %q", i, a[i:min(len(a), i+24)], b[i:min(len(b), i+24)])
}
