package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"zonetop/internal/configs"
	"zonetop/internal/zoneadmd"
	"zonetop/internal/ztest"
)

// inotifyInstances counts the inotify instances pid holds.
func inotifyInstances(pid int) int {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, _ := os.ReadDir(dir)
	n := 0
	for _, e := range ents {
		if l, _ := os.Readlink(filepath.Join(dir, e.Name())); l == "anon_inode:inotify" {
			n++
		}
	}
	return n
}

// Inotify instances are counted per uid (128 by default), and zoneadmd
// runs as host root: one per zoneadmd ran out at the 128th zone and left
// no instance for any other root process on the host. The zones of a
// root prefix share the keeper's one instance, and a hand edit of each
// zone's /etc/project still applies.
func TestProjectWatchesShareOneInotifyInstance(t *testing.T) {
	zs := []*testZone{newBusyboxZone(t)}
	for i := 0; i < 2; i++ {
		z := newBusyboxZone(t)
		// One root prefix for all three: one keeper.
		z.root, z.spec.RootPrefix = zs[0].root, zs[0].root
		zs = append(zs, z)
	}
	for _, z := range zs {
		z.ready()
	}
	for i, z := range zs {
		tag := fmt.Sprintf("handedit%d", i)
		ztest.Must(t, os.WriteFile(filepath.Join(z.zroot(), "etc/project"), []byte("system:0::::\n"+badLines(tag, 1, 4)), 0o644))
		waitFor(t, "edit "+tag+" applied", func() bool {
			ws, _ := z.stateWarnings(t)
			return len(ws) > 0 && strings.Contains(strings.Join(ws, "\n"), tag)
		})
	}
	for _, z := range zs {
		b, err := os.ReadFile(filepath.Join(configs.RunDir(z.root, z.spec.Name), "zoneadmd.pid"))
		ztest.Must(t, err)
		pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		if n := inotifyInstances(pid); n != 0 {
			t.Errorf("zoneadmd of %s (pid %d) holds %d inotify instances, want none", z.spec.Name, pid, n)
		}
	}
	keeper := zoneadmd.KeeperPid(zs[0].root)
	if keeper <= 0 {
		t.Fatal("no keeper for the root prefix")
	}
	if n := inotifyInstances(keeper); n != 1 {
		t.Errorf("the keeper holds %d inotify instances for three zones, want 1", n)
	}
	for _, z := range zs {
		z.halt()
	}
}
