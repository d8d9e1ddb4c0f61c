package console

import (
	"strings"
	"testing"
)

func TestEscaper(t *testing.T) {
	tests := []struct {
		name     string
		char     byte
		disabled bool
		reads    []string
		want     string
		detach   bool
	}{
		{name: "plain text", reads: []string{"ls -l\r"}, want: "ls -l\r"},
		{name: "detach at session start", reads: []string{"~."}, detach: true},
		{name: "detach after CR", reads: []string{"ls\r~."}, want: "ls\r", detach: true},
		{name: "detach after LF", reads: []string{"ls\n~."}, want: "ls\n", detach: true},
		{name: "bytes after detach dropped", reads: []string{"a\r~.rm -rf\r"}, want: "a\r", detach: true},
		{name: "mid-line tilde dot passes", reads: []string{"echo ~.\r"}, want: "echo ~.\r"},
		{name: "double tilde sends one", reads: []string{"~~"}, want: "~"},
		{name: "double tilde then dot is text", reads: []string{"~~.\r"}, want: "~.\r"},
		{name: "tilde other passes both", reads: []string{"~/bin\r"}, want: "~/bin\r"},
		{name: "tilde CR then detach", reads: []string{"~\r~."}, want: "~\r", detach: true},
		{name: "split tilde dot", reads: []string{"x\r~", "."}, want: "x\r", detach: true},
		{name: "split double tilde", reads: []string{"~", "~", "a"}, want: "~a"},
		{name: "split tilde other", reads: []string{"~", "a", "~."}, want: "~a~."},
		{name: "byte per read", reads: []string{"l", "s", "\r", "~", "."}, want: "ls\r", detach: true},
		{name: "empty reads", reads: []string{"", "~", "", "."}, detach: true},
		{name: "custom char", char: '#', reads: []string{"~.\r#."}, want: "~.\r", detach: true},
		{name: "custom char doubled", char: '#', reads: []string{"##"}, want: "#"},
		{name: "disabled", disabled: true, reads: []string{"~.", "~~"}, want: "~.~~"},
		{name: "ctrl chars pass", reads: []string{"\x03\x1a\x1b[A"}, want: "\x03\x1a\x1b[A"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := Escaper{Char: tt.char, Disabled: tt.disabled}
			var out []byte
			detach := false
			for _, r := range tt.reads {
				var d bool
				out, d = e.Filter(out, []byte(r))
				if d {
					detach = true
					break
				}
			}
			if string(out) != tt.want || detach != tt.detach {
				t.Errorf("got %q detach=%v, want %q detach=%v", out, detach, tt.want, tt.detach)
			}
		})
	}
}

func TestEscaperFlush(t *testing.T) {
	var e Escaper
	out, d := e.Filter(nil, []byte("~"))
	if d || len(out) != 0 {
		t.Fatalf("lone tilde emitted %q detach=%v", out, d)
	}
	if got := string(e.Flush(out)); got != "~" {
		t.Fatalf("Flush = %q", got)
	}
	if got := string(e.Flush(nil)); got != "" {
		t.Fatalf("second Flush = %q", got)
	}
}

func TestParseEscapeChar(t *testing.T) {
	for _, ok := range []string{"~", "#", "%", "^"} {
		if c, err := ParseEscapeChar(ok); err != nil || c != ok[0] {
			t.Errorf("ParseEscapeChar(%q) = %q, %v", ok, c, err)
		}
	}
	for _, bad := range []string{"", "ab", " ", "\x1b", "é"} {
		if _, err := ParseEscapeChar(bad); err == nil || !strings.Contains(err.Error(), "escape character") {
			t.Errorf("ParseEscapeChar(%q) err = %v", bad, err)
		}
	}
}
