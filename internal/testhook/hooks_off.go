//go:build !zonetop_testhooks

package testhook

// Enabled: this binary ignores the hooks.
const Enabled = false

// TestPause does nothing outside test builds.
func TestPause(root, point string) {}

// TestHold does nothing outside test builds.
func TestHold(root, point string) {}

// Cgroup2 is "" outside test builds.
func Cgroup2() string { return "" }
