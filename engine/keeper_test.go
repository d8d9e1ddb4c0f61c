package engine

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
	"zonetop/internal/configs"
)

// A keeper started for a root whose run base is gone (a zoneadmd that
// started it as its test's temp root was removed, or a host's /run
// cleared) has no zone to keep: it exits without making anything. It
// made the run base and its lock file again, and every such test left a
// directory in /tmp behind.
func TestKeeperOfAGoneRootMakesNothing(t *testing.T) {
	needZones(t)
	base := t.TempDir()
	for _, root := range []string{filepath.Join(base, "gone"), filepath.Join(base, "empty")} {
		if filepath.Base(root) == "empty" {
			// The root is there, with no run base under it.
			if err := os.Mkdir(root, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		cmd := exec.Command(zdBin, "zonetop-keeper", root)
		cmd.Args[0] = "zonetop-keeper"
		out := make(chan error, 1)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { out <- cmd.Wait() }()
		select {
		case err := <-out:
			if err != nil {
				t.Errorf("keeper of %s: %v", root, err)
			}
		case <-time.After(60 * time.Second):
			_ = cmd.Process.Kill()
			<-out
			t.Errorf("keeper of %s with no run base stayed", root)
		}
		if _, err := os.Lstat(configs.RunBase(root)); !os.IsNotExist(err) {
			t.Errorf("keeper of %s made its run base %s (%v)", root, configs.RunBase(root), err)
		}
	}
}
