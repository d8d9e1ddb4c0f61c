package configs

import (
	"regexp"
	"strings"
	"testing"
)

// The hand-written zone name check must agree with the rule it replaced.
func TestZoneNameSyntaxMatchesRule(t *testing.T) {
	rule := regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)
	cases := []string{"", "a", "Z9", "_a", ".a", "-a", "a_b.c-d", "a b", "a/b", "ü", "a\x00",
		strings.Repeat("a", 64), strings.Repeat("a", 65), "9" + strings.Repeat("-", 63), "global"}
	for _, c := range cases {
		if got, want := ZoneNameSyntax(c), rule.MatchString(c); got != want {
			t.Errorf("zoneNameSyntax(%q) = %v, want %v", c, got, want)
		}
	}
}
