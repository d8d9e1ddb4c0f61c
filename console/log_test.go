package console

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestLogRotation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "z1.console")
	l, err := OpenLog(path, 10, 2)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	for _, w := range []string{"aaaa", "bbbb", "cccc", "dddd", "eeee", "ffff", "gggg"} {
		if _, err := l.Write([]byte(w)); err != nil {
			t.Fatal(err)
		}
	}
	// 10-byte files hold two 4-byte writes each; the third rotates.
	want := map[string]string{
		path:        "gggg",
		path + ".0": "eeeeffff",
		path + ".1": "ccccdddd",
	}
	for p, w := range want {
		if got := readFile(t, p); got != w {
			t.Errorf("%s = %q, want %q", filepath.Base(p), got, w)
		}
	}
	if _, err := os.Stat(path + ".2"); !os.IsNotExist(err) {
		t.Errorf("kept more than 2 rotated files: stat .2: %v", err)
	}
	for p := range want {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600", filepath.Base(p), st.Mode().Perm())
		}
	}
}

// An oversized write starts a fresh file and keeps what fits: a file
// never grows past its limit (it used to keep the write whole).
func TestLogOversizedWriteCut(t *testing.T) {
	path := filepath.Join(t.TempDir(), "z.console")
	l, err := OpenLog(path, 4, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	l.Write([]byte("ab"))
	l.Write([]byte("0123456789"))
	if got := readFile(t, path); got != "0123" {
		t.Errorf("current = %q", got)
	}
	if got := readFile(t, path+".0"); got != "ab" {
		t.Errorf(".0 = %q", got)
	}
}

func TestLogNoKeepTruncates(t *testing.T) {
	path := filepath.Join(t.TempDir(), "z.console")
	l, err := OpenLog(path, 4, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	l.Write([]byte("abc"))
	l.Write([]byte("def"))
	if got := readFile(t, path); got != "def" {
		t.Errorf("current = %q", got)
	}
	if _, err := os.Stat(path + ".0"); !os.IsNotExist(err) {
		t.Errorf("keep=0 left a rotated file: %v", err)
	}
}

func TestLogSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "z.console")
	if err := os.WriteFile(path, []byte("old "), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := OpenLog(path, 8, 1)
	if err != nil {
		t.Fatal(err)
	}
	l.Write([]byte("new"))
	l.Close()
	if _, err := l.Write([]byte("x")); err == nil {
		t.Error("write after Close succeeded")
	}
	l, err = OpenLog(path, 8, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	// "old new" is 7 bytes; the size counted on reopen makes this rotate.
	l.Write([]byte("again"))
	if got := readFile(t, path+".0"); got != "old new" {
		t.Errorf(".0 = %q", got)
	}
	if got := readFile(t, path); got != "again" {
		t.Errorf("current = %q", got)
	}
	st, _ := os.Stat(path + ".0")
	if st.Mode().Perm() != 0o600 {
		t.Errorf("reopened log not tightened to 0600: %v", st.Mode().Perm())
	}
}

func TestLogOpenError(t *testing.T) {
	_, err := OpenLog(filepath.Join(t.TempDir(), "missing", "z.console"), 0, -1)
	if err == nil || !strings.Contains(err.Error(), "console log") {
		t.Fatalf("err = %v", err)
	}
}

// No write, however large, makes one file bigger than the limit: notices
// that quote a zone's file go through here too.
func TestLogWriteLargerThanLimit(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "z.console")
	l, err := OpenLog(path, 1000, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	big := bytes.Repeat([]byte("x"), 5000)
	for i := 0; i < 3; i++ {
		if n, err := l.Write(big); err != nil || n != len(big) {
			t.Fatalf("write: %d %v", n, err)
		}
	}
	for _, p := range []string{path, path + ".0"} {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if st.Size() > 1000 {
			t.Errorf("%s: %d bytes, limit 1000", p, st.Size())
		}
	}
}

// The log view's tail: a log never written is empty; a longer one starts
// at a whole line; trimmed to fit a message, the newest lines stay, even
// when the log is one line with no end.
func TestReadTailAndTrim(t *testing.T) {
	dir := t.TempDir()
	if s, err := ReadTail(filepath.Join(dir, "none.console"), 100); s != "" || err != nil {
		t.Fatalf("a log never written: %q %v", s, err)
	}
	path := filepath.Join(dir, "z.console")
	if err := os.WriteFile(path, []byte("first line\nsecond line\nthird\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if s, err := ReadTail(path, 15); s != "third\n" || err != nil {
		t.Fatalf("tail of 15 bytes: %q %v", s, err)
	}
	fits := func(n int) func(string) bool { return func(s string) bool { return len(s) <= n } }
	if s := TrimToFit("a\nbb\nccc\ndddd\n", fits(6)); s != "dddd\n" {
		t.Fatalf("trimmed to 6: %q", s)
	}
	if s := TrimToFit(strings.Repeat("x", 1000), fits(10)); len(s) > 10 {
		t.Fatalf("one long line trimmed to %d bytes", len(s))
	}
	if s := TrimToFit("abc", fits(0)); s != "" {
		t.Fatalf("nothing fits: %q", s)
	}
}
