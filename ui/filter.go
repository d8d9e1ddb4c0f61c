package ui

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"zonetop/api"
)

// zoneFilter is the operator's `/` pattern, compiled once per keystroke
// rather than once per row and frame.
type zoneFilter struct {
	raw    string // as typed, including a leading "!"
	re     *regexp.Regexp
	invert bool
	err    error // the pattern was not a valid regexp; it matches literally
}

// parseFilter reads a filter as k9s does: a regular expression, negated by
// a leading "!". Case is ignored unless the pattern has an upper-case
// letter (smart case), so "/web" finds WEB01 but "/Web" does not. A pattern
// that does not compile is matched as plain text, so a half-typed "web(" is
// still useful, and err says why.
func parseFilter(s string) zoneFilter {
	f := zoneFilter{raw: s}
	pat := s
	if strings.HasPrefix(pat, "!") {
		f.invert = true
		pat = pat[1:]
	}
	if pat == "" {
		return f
	}
	prefix := "(?i)"
	if strings.IndexFunc(pat, unicode.IsUpper) >= 0 {
		prefix = ""
	}
	re, err := regexp.Compile(prefix + pat)
	if err != nil {
		f.err = fmt.Errorf("filter %q: %w", pat, err)
		re = regexp.MustCompile(prefix + regexp.QuoteMeta(pat))
	}
	f.re = re
	return f
}

// active reports whether the filter hides anything at all.
func (f zoneFilter) active() bool { return f.re != nil }

// match tests each field on its own so that anchors mean what the operator
// expects: "^web" is a name prefix, not the start of some joined line.
func (f zoneFilter) match(z api.ZoneInfo) bool {
	if f.re == nil {
		return true
	}
	hit := false
	for _, field := range [...]string{z.Name, z.State, z.Path, z.Brand, z.IPType, z.Reason} {
		if f.re.MatchString(field) {
			hit = true
			break
		}
	}
	return hit != f.invert
}
