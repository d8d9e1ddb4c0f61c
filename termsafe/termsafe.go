// Package termsafe renders text that came from a zone (a project name, a
// command line, a user name from the zone's /etc/passwd, a line of its
// /etc/project) for a terminal or a log file an administrator reads with
// one. Everything a zone can write may hold escape sequences that retitle
// a terminal, move its cursor to forge a line, or reorder what is shown
// (bidi overrides), so every front end shows such text through String,
// and records keep the raw facts.
//
// It is a leaf: every front end (cmd, ui, engine's log writers) imports it.
package termsafe

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// String returns s with everything that is not printable text escaped:
// control characters (ESC, BEL, CR, LF, TAB, DEL...) and bytes that are not
// UTF-8 as \xNN, other non-graphic runes (C1 controls, bidi overrides and
// isolates, zero-width and line separators, private use) as \u{N}. A
// backslash stays as it is: the point is what a terminal does, and
// printable text (any script, symbols, emoji) is shown unchanged.
func String(s string) string {
	i := 0
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		if !safe(r, n) {
			break
		}
		i += n
	}
	if i == len(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	b.WriteString(s[:i])
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case safe(r, n):
			b.WriteString(s[i : i+n])
		case r == utf8.RuneError || r < utf8.RuneSelf:
			// One byte: an ASCII control or a byte outside UTF-8.
			b.WriteString(`\x`)
			b.WriteByte(hex[s[i]>>4])
			b.WriteByte(hex[s[i]&0xf])
			n = 1
		default:
			b.WriteString(`\u{`)
			b.WriteString(strconv.FormatInt(int64(r), 16))
			b.WriteByte('}')
		}
		i += n
	}
	return b.String()
}

const hex = "0123456789abcdef"

// safe tells whether rune r, n bytes long in its text, is shown as itself.
func safe(r rune, n int) bool {
	if r < utf8.RuneSelf {
		return r >= 0x20 && r < 0x7f
	}
	if r == utf8.RuneError && n == 1 {
		return false
	}
	// Graphic is letters, marks, numbers, punctuation, symbols and the
	// space separators; it leaves out Cc (C0, C1, DEL), Cf (bidi
	// overrides U+202A-202E and isolates U+2066-2069, zero-width
	// characters), Zl/Zp separators, private use and unassigned runes.
	return unicode.IsGraphic(r)
}

// JSON makes encoded JSON safe to show on a terminal as it is: it writes
// the runes encoding/json leaves raw but a terminal acts on (DEL, C1
// controls, bidi and other format characters) as \uXXXX escapes, which
// decode to the same text. Control characters below 0x20 are already
// escaped by encoding/json, and it has replaced invalid UTF-8.
func JSON(b []byte) []byte {
	i := 0
	for i < len(b) {
		r, n := utf8.DecodeRune(b[i:])
		if jsonUnsafe(r, n) {
			break
		}
		i += n
	}
	if i == len(b) {
		return b
	}
	out := make([]byte, 0, len(b)+32)
	out = append(out, b[:i]...)
	for i < len(b) {
		r, n := utf8.DecodeRune(b[i:])
		if !jsonUnsafe(r, n) {
			out = append(out, b[i:i+n]...)
			i += n
			continue
		}
		if r > 0xffff {
			r1, r2 := utf16Pair(r)
			out = appendU(appendU(out, r1), r2)
		} else {
			out = appendU(out, r)
		}
		i += n
	}
	return out
}

func jsonUnsafe(r rune, n int) bool {
	if r < utf8.RuneSelf {
		return r == 0x7f
	}
	if r == utf8.RuneError && n == 1 {
		return false // not ours to fix: the caller's JSON was not UTF-8
	}
	return !unicode.IsGraphic(r)
}

func appendU(out []byte, r rune) []byte {
	out = append(out, '\\', 'u')
	for s := 12; s >= 0; s -= 4 {
		out = append(out, hex[(r>>s)&0xf])
	}
	return out
}

func utf16Pair(r rune) (rune, rune) {
	r -= 0x10000
	return 0xd800 + (r>>10)&0x3ff, 0xdc00 + r&0x3ff
}
