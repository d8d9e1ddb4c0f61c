package main

import (
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Interactive zonecfg at a real terminal, typed as an illumos
// administrator types at libtecla's prompt: Tab completes, Up recalls
// the last line to edit, cursor keys never reach the parser as ^[[A.
func TestZonecfgLineEditingTmux(t *testing.T) {
	needE2E(t)
	root := t.TempDir()
	zone := fmt.Sprintf("ztcfg%d", os.Getpid()%100000)
	c := &tmuxConsole{t: t, socket: "zonetop-zcfg-" + zone}
	t.Cleanup(func() { _ = exec.Command("tmux", "-L", c.socket, "kill-server").Run() })
	c.tmux("new-session", "-d", "-s", "zt", "-x", "120", "-y", "30", ztBin+" --root "+root+" zonecfg -z "+zone)
	prompt := regexp.MustCompile(`zonecfg:` + zone + `>\s*$`)
	c.wait("the first prompt", prompt, 10*time.Second)

	c.text("creat")
	c.keys("Tab")
	c.wait("create completed", regexp.MustCompile(`> create\s*$`), 5*time.Second)
	c.keys("Enter")
	c.wait("the prompt after create", prompt, 5*time.Second)

	c.text("set zonep")
	c.keys("Tab")
	c.wait("zonepath= completed", regexp.MustCompile(`> set zonepath=\s*$`), 5*time.Second)
	c.text("/zones/" + zone)
	c.keys("Enter")
	c.text("set brand=bu")
	c.keys("Tab")
	c.wait("busybox completed", regexp.MustCompile(`> set brand=busybox\s*$`), 5*time.Second)
	c.keys("Enter")
	// Up recalls the last line; edit its end, as a person fixes a typo.
	c.keys("Up")
	c.wait("the recalled line", regexp.MustCompile(`> set brand=busybox\s*$`), 5*time.Second)
	c.keys("BSpace", "BSpace", "BSpace", "BSpace", "BSpace", "BSpace", "BSpace")
	c.text("sparse")
	c.keys("Left", "Right", "Home", "End", "Enter")
	c.text("commit")
	c.keys("Enter")
	c.text("exit")
	c.keys("Enter")
	deadline := time.Now().Add(10 * time.Second)
	for exec.Command("tmux", "-L", c.socket, "has-session", "-t", "zt").Run() == nil && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	screen := c.capture()
	if strings.Contains(screen, "^[") || strings.Contains(screen, "column") {
		t.Errorf("an escape reached the parser:\n%s", screen)
	}
	out, err := exec.Command(ztBin, "--root", root, "zonecfg", "-z", zone, "export").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "set zonepath=/zones/"+zone) || !strings.Contains(string(out), "set brand=sparse") {
		t.Errorf("the session's configuration: %v\n%s\nscreen:\n%s", err, out, screen)
	}
}
