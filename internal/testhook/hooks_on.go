//go:build zonetop_testhooks

package testhook

import (
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// Enabled: this binary was built for tests and obeys the hooks.
const Enabled = true

// TestPause stops the calling goroutine for good when TestPauseEnv names
// point, after writing ROOT/paused.POINT with the pid so the test knows
// where to aim.
func TestPause(root, point string) {
	if os.Getenv(TestPauseEnv) != point {
		return
	}
	_ = os.WriteFile(filepath.Join(root, "paused."+point), []byte(strconv.Itoa(os.Getpid())), 0o600)
	for {
		time.Sleep(time.Hour)
	}
}

// TestHold is TestPause for a step a test lets go on: when TestPauseEnv
// names point it writes ROOT/paused.POINT and waits until the test makes
// ROOT/release.POINT (a minute at most).
func TestHold(root, point string) {
	if os.Getenv(TestPauseEnv) != point {
		return
	}
	_ = os.WriteFile(filepath.Join(root, "paused."+point), []byte(strconv.Itoa(os.Getpid())), 0o600)
	for end := time.Now().Add(time.Minute); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(filepath.Join(root, "release."+point)); err == nil {
			return
		}
	}
}

// Cgroup2 is Cgroup2Env's value.
func Cgroup2() string { return os.Getenv(Cgroup2Env) }
