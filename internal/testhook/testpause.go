package testhook

import (
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// TestPauseEnv names the fault-injection point a process stops at. The
// end-to-end fault tests set it to kill -9 a front end or a zoneadmd at an
// exact step of install, ready or boot and then check that the next
// command understands what was left. Unset (always, outside tests) it
// costs one getenv per point.
const TestPauseEnv = "ZONETOP_TEST_PAUSE"

// testPause stops the calling goroutine for good when TestPauseEnv names
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

// testHold is testPause for a step a test lets go on: when TestPauseEnv
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
