package termsafe

import (
	"encoding/json"
	"testing"
	"unicode/utf8"
)

func TestString(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"web-01 ünïcødé 日本 ✓ 🙂", "web-01 ünïcødé 日本 ✓ 🙂"},
		{"a\\b", "a\\b"},
		{"\x1b]0;pwned\a", `\x1b]0;pwned\x07`},
		{"ok\r\nforged line", `ok\x0d\x0aforged line`},
		{"tab\there\x7f", `tab\x09here\x7f`},
		{"c1 \u009b31m", `c1 \u{9b}31m`},
		{"bad \xff\xc3 utf8", `bad \xff\xc3 utf8`},
		{"rlo \u202egnp.exe \u2066x\u2069", `rlo \u{202e}gnp.exe \u{2066}x\u{2069}`},
		{"zw\u200bsp \u2028", `zw\u{200b}sp \u{2028}`},
		{"", ""},
	} {
		if got := String(c.in); got != c.want {
			t.Errorf("String(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func FuzzString(f *testing.F) {
	f.Add("\x1b[2J\x9b\u202e")
	f.Fuzz(func(t *testing.T, s string) {
		out := String(s)
		for i := 0; i < len(out); {
			r, n := utf8.DecodeRuneInString(out[i:])
			if !safe(r, n) {
				t.Fatalf("String(%q) = %q holds %U", s, out, r)
			}
			i += n
		}
	})
}

func TestJSON(t *testing.T) {
	in := "x\x7f\u009b\u202e🙂\x1b"
	b, _ := json.Marshal(in)
	out := JSON(b)
	for _, r := range string(out) {
		if r == 0x7f || r == 0x9b || r == 0x202e || r == 0x1b {
			t.Fatalf("JSON left %U raw: %s", r, out)
		}
	}
	var back string
	if err := json.Unmarshal(out, &back); err != nil || back != in {
		t.Fatalf("JSON changed the value: %q %v", back, err)
	}
}
