//go:build !race

package engine

// raceBuild: this test binary carries the race detector.
const raceBuild = false
