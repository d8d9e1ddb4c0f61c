package screen

import (
	"strconv"
	"strings"
	"unicode"

	uv "github.com/charmbracelet/ultraviolet"
	"github.com/charmbracelet/x/ansi"
)

// A pane's program is told TERM=xterm-256color, so a key must reach it as
// the bytes xterm would send for it, whatever the terminal zonetop itself
// runs in sent to zonetop: a multiplexer's home key, a kitty or
// modifyOtherKeys report of ctrl+a, and a plain legacy byte all arrive
// here as the same decoded key and leave as xterm's one form of it.

// keyModes are the modes a program sets that change what keys send.
type keyModes struct {
	appCursor bool // DECCKM: unmodified cursor keys as SS3
	appKeypad bool // DECKPAM: keypad keys as SS3
}

// xtermMod is xterm's modifier parameter (1 + shift 1, alt 2, ctrl 4,
// meta 8); 1 means none.
func xtermMod(m uv.KeyMod) int {
	p := 1
	if m&uv.ModShift != 0 {
		p++
	}
	if m&uv.ModAlt != 0 {
		p += 2
	}
	if m&uv.ModCtrl != 0 {
		p += 4
	}
	if m&uv.ModMeta != 0 {
		p += 8
	}
	return p
}

// cursorFinal are keys sent as CSI/SS3 and a final letter; the cursor
// ones switch to SS3 in application cursor mode.
var cursorFinal = map[rune]byte{
	uv.KeyUp: 'A', uv.KeyDown: 'B', uv.KeyRight: 'C', uv.KeyLeft: 'D',
	uv.KeyHome: 'H', uv.KeyEnd: 'F', uv.KeyBegin: 'E',
	uv.KeyKpUp: 'A', uv.KeyKpDown: 'B', uv.KeyKpRight: 'C', uv.KeyKpLeft: 'D',
	uv.KeyKpHome: 'H', uv.KeyKpEnd: 'F', uv.KeyKpBegin: 'E',
}

// tildeNum are keys sent as CSI n ~.
var tildeNum = map[rune]int{
	uv.KeyFind: 1, uv.KeyInsert: 2, uv.KeyDelete: 3, uv.KeySelect: 4, uv.KeyPgUp: 5, uv.KeyPgDown: 6,
	uv.KeyKpInsert: 2, uv.KeyKpDelete: 3, uv.KeyKpPgUp: 5, uv.KeyKpPgDown: 6,
	uv.KeyF5: 15, uv.KeyF6: 17, uv.KeyF7: 18, uv.KeyF8: 19, uv.KeyF9: 20, uv.KeyF10: 21, uv.KeyF11: 23, uv.KeyF12: 24,
}

// keypad are the keypad's own keys: their SS3 letter in application
// keypad mode, and what they type otherwise.
var keypad = map[rune]struct {
	app  byte
	text string
}{
	uv.KeyKpEnter: {'M', "\r"}, uv.KeyKpEqual: {'X', "="}, uv.KeyKpMultiply: {'j', "*"},
	uv.KeyKpPlus: {'k', "+"}, uv.KeyKpComma: {'l', ","}, uv.KeyKpSep: {'l', ","},
	uv.KeyKpMinus: {'m', "-"}, uv.KeyKpDecimal: {'n', "."}, uv.KeyKpDivide: {'o', "/"},
	uv.KeyKp0: {'p', "0"}, uv.KeyKp1: {'q', "1"}, uv.KeyKp2: {'r', "2"}, uv.KeyKp3: {'s', "3"},
	uv.KeyKp4: {'t', "4"}, uv.KeyKp5: {'u', "5"}, uv.KeyKp6: {'v', "6"}, uv.KeyKp7: {'w', "7"},
	uv.KeyKp8: {'x', "8"}, uv.KeyKp9: {'y', "9"},
}

// encodeKey returns what xterm sends for k; "" for keys xterm sends
// nothing for (a modifier or lock key alone, media keys).
func encodeKey(k uv.KeyPressEvent, m keyModes) string {
	mods := k.Mod & (uv.ModShift | uv.ModAlt | uv.ModCtrl | uv.ModMeta)
	alt := mods&(uv.ModAlt|uv.ModMeta) != 0
	esc := func(s string) string {
		if alt && s != "" {
			return "\x1b" + s
		}
		return s
	}
	code := k.Code
	// F13 and up are F1 to F12 with modifiers, in the groups xterm's
	// terminfo entry uses: shift, ctrl, ctrl+shift, alt, alt+shift.
	if code >= uv.KeyF13 && code <= uv.KeyF63 {
		n := int(code - uv.KeyF1)
		code = uv.KeyF1 + rune(n%12)
		mods |= []uv.KeyMod{0, uv.ModShift, uv.ModCtrl, uv.ModCtrl | uv.ModShift, uv.ModAlt, uv.ModAlt | uv.ModShift}[n/12]
	}
	p := xtermMod(mods)

	if f, ok := cursorFinal[code]; ok {
		switch {
		case p > 1:
			return "\x1b[1;" + strconv.Itoa(p) + string(f)
		case m.appCursor:
			return "\x1bO" + string(f)
		}
		return "\x1b[" + string(f)
	}
	if code >= uv.KeyF1 && code <= uv.KeyF4 {
		f := string(rune('P' + code - uv.KeyF1))
		if p > 1 {
			return "\x1b[1;" + strconv.Itoa(p) + f
		}
		return "\x1bO" + f
	}
	if n, ok := tildeNum[code]; ok {
		if p > 1 {
			return "\x1b[" + strconv.Itoa(n) + ";" + strconv.Itoa(p) + "~"
		}
		return "\x1b[" + strconv.Itoa(n) + "~"
	}
	if kp, ok := keypad[code]; ok {
		if m.appKeypad {
			return "\x1bO" + string(kp.app)
		}
		return esc(kp.text)
	}

	// Text, when the decoder had it, is what the key types with shift and
	// caps lock applied; it is only absent with ctrl or alt, and it is
	// the one faithful form of what no code can say (a grapheme of many
	// runes, a no-break space).
	if mods&^uv.ModShift == 0 && k.Text != "" {
		return k.Text
	}
	switch code {
	case uv.KeyEnter:
		return esc("\r")
	case uv.KeyTab:
		if mods&uv.ModShift != 0 {
			return esc("\x1b[Z")
		}
		return esc("\t")
	case uv.KeyBackspace:
		if mods&uv.ModCtrl != 0 {
			return esc("\b")
		}
		return esc("\x7f")
	case uv.KeyEscape:
		return esc("\x1b")
	case uv.KeyExtended:
		return esc(k.Text)
	}
	if code > unicode.MaxRune || code < ' ' {
		return ""
	}

	r := code
	shift := mods&uv.ModShift != 0
	if unicode.IsLetter(r) && k.Mod&uv.ModCapsLock != 0 {
		shift = !shift
	}
	if shift {
		if k.ShiftedCode != 0 {
			r = k.ShiftedCode
		} else {
			r = unicode.ToUpper(r)
		}
	}
	if mods&uv.ModCtrl != 0 {
		if c, ok := ctrlByte(r); ok {
			return esc(string([]byte{c}))
		}
	}
	return esc(string(r))
}

// ctrlByte is the C0 byte ctrl makes of r on a VT220 or xterm keyboard.
func ctrlByte(r rune) (byte, bool) {
	switch {
	case r >= 'a' && r <= 'z':
		return byte(r - 'a' + 1), true
	case r >= '@' && r <= '_', r >= '`' && r <= '~':
		return byte(r) & 0x1f, true
	}
	switch r {
	case ' ', '2':
		return 0, true
	case '3':
		return 0x1b, true
	case '4':
		return 0x1c, true
	case '5':
		return 0x1d, true
	case '6':
		return 0x1e, true
	case '7', '/':
		return 0x1f, true
	case '8', '?':
		return 0x7f, true
	}
	return 0, false
}

// pasteText is text as pasted: bracketed when the program asked for it,
// with any end marker inside taken out, or the rest of a paste would run
// as typed.
func pasteText(text string, bracketed bool) string {
	if !bracketed {
		return text
	}
	for strings.Contains(text, ansi.BracketedPasteEnd) {
		text = strings.ReplaceAll(text, ansi.BracketedPasteEnd, "")
	}
	return ansi.BracketedPasteStart + text + ansi.BracketedPasteEnd
}

// mouseModes are the mouse reports a program asked for.
type mouseModes struct {
	x10, normal, button, any bool // 9, 1000, 1002, 1003
	sgr, urxvt               bool // 1006, 1015 encodings
}

// encodeMouse returns what xterm sends for ev, or "" when the program
// asked for no such report.
func encodeMouse(ev uv.MouseEvent, m mouseModes) string {
	mo := ev.Mouse()
	var motion, release, wheel bool
	switch ev.(type) {
	case uv.MouseMotionEvent:
		motion = true
	case uv.MouseReleaseEvent:
		release = true
	case uv.MouseWheelEvent:
		wheel = true
	}
	switch {
	case m.any:
	case m.button:
		if motion && mo.Button == uv.MouseNone {
			return ""
		}
	case m.normal:
		if motion {
			return ""
		}
	case m.x10:
		// X10 reports presses alone, without modifiers.
		if motion || release {
			return ""
		}
		mo.Mod = 0
	default:
		return ""
	}
	if wheel && release {
		return ""
	}
	btn := mo.Button
	if release && !m.sgr {
		btn = uv.MouseNone // the legacy encodings cannot say which was let go
	}
	b := ansi.EncodeMouseButton(btn, motion, mo.Mod&uv.ModShift != 0, mo.Mod&uv.ModAlt != 0, mo.Mod&uv.ModCtrl != 0)
	x, y := max(mo.X, 0), max(mo.Y, 0)
	switch {
	case m.sgr:
		return ansi.MouseSgr(b, x, y, release)
	case m.urxvt:
		return "\x1b[" + strconv.Itoa(int(b)+32) + ";" + strconv.Itoa(x+1) + ";" + strconv.Itoa(y+1) + "M"
	}
	if x > 222 || y > 222 {
		return "" // beyond what one byte can carry
	}
	return ansi.MouseX10(b, x, y)
}
