package ui

import (
	"time"

	"github.com/charmbracelet/x/ansi"
)

// common is what every component of the console shares: the space it may
// draw in, the theme, the keys and the clock. Components embed a pointer so
// a resize or theme change reaches all of them at once.
type common struct {
	width, height int
	styles        *Styles
	keys          *KeyMap
	now           func() time.Time
}

func newCommon(now func() time.Time) *common {
	if now == nil {
		now = time.Now
	}
	return &common{styles: DefaultStyles(), keys: DefaultKeyMap(), now: now}
}

// ansiCut drops the first n cells of s, keeping its styles.
func ansiCut(s string, n int) string { return ansi.TruncateLeft(s, n, "") }
