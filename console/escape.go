package console

import (
	"fmt"
	"unicode/utf8"
)

// DefaultEscape is zlogin's escape character, as on illumos and in ssh.
const DefaultEscape = '~'

// Escaper filters what the user types before it goes to a zone, watching for
// the escape sequences of zlogin: ESC then '.' detaches, ESC twice sends one
// literal ESC, and ESC followed by anything else sends both. ESC is only
// special at the start of a line (after CR or LF, or as the session's first
// byte), so a '~' in the middle of a command line costs nothing.
//
// An escape character that arrives as the last byte of a read is held back
// until the next byte decides what it means; sequences split across reads
// therefore behave exactly like unsplit ones.
//
// The zero value uses DefaultEscape. Set Char to change it, or Disabled to
// pass everything through (zlogin -E).
type Escaper struct {
	Char     byte
	Disabled bool

	midLine bool // false at session start and after CR/LF
	pending bool // an escape char at line start waits for the next byte
}

// ParseEscapeChar checks the argument of zlogin -e: a single printable ASCII
// character.
func ParseEscapeChar(s string) (byte, error) {
	r, size := utf8.DecodeRuneInString(s)
	if size == 0 || size != len(s) {
		return 0, fmt.Errorf("escape character %q: must be exactly one character", s)
	}
	if r < 0x21 || r > 0x7e {
		return 0, fmt.Errorf("escape character %q: must be a printable ASCII character", s)
	}
	return byte(r), nil
}

func (e *Escaper) char() byte {
	if e.Char == 0 {
		return DefaultEscape
	}
	return e.Char
}

// Filter appends to dst the bytes of p that should reach the zone and
// reports whether the user asked to detach. After a detach the rest of p is
// dropped: it was typed after the user asked to leave.
func (e *Escaper) Filter(dst, p []byte) ([]byte, bool) {
	if e.Disabled {
		return append(dst, p...), false
	}
	esc := e.char()
	for _, b := range p {
		if e.pending {
			e.pending = false
			switch b {
			case '.':
				return dst, true
			case esc:
				dst = append(dst, esc)
				e.midLine = true
				continue
			default:
				dst = append(dst, esc)
				// b is now an ordinary byte and may itself end the line.
			}
		} else if !e.midLine && b == esc {
			e.pending = true
			continue
		}
		dst = append(dst, b)
		e.midLine = b != '\r' && b != '\n'
	}
	return dst, false
}

// Flush returns a held-back escape character, for when the input ends
// (stdin EOF) before the next byte could decide what it meant.
func (e *Escaper) Flush(dst []byte) []byte {
	if e.pending {
		e.pending = false
		e.midLine = true
		dst = append(dst, e.char())
	}
	return dst
}
