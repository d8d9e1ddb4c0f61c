package main

import (
	"io"
	"os"
	"strings"

	xterm "golang.org/x/term"
)

// termLines is interactive zonecfg's line editor on a terminal: cursor
// keys, Home/End and the emacs keys move and edit, Up and Down walk the
// session's history, Tab completes commands, resource types, properties
// and their values (zones' completer decides which), as illumos' zonecfg
// does with libtecla. Everything the session prints goes through it, so
// output and the line being edited never overwrite each other.
type termLines struct {
	t *xterm.Terminal
}

// newTermLines puts the terminal in raw mode; restore puts it back.
func newTermLines(in, out *os.File) (*termLines, func(), error) {
	old, err := xterm.MakeRaw(int(in.Fd()))
	if err != nil {
		return nil, nil, err
	}
	t := xterm.NewTerminal(struct {
		io.Reader
		io.Writer
	}{in, out}, "")
	if w, h, err := xterm.GetSize(int(out.Fd())); err == nil {
		_ = t.SetSize(w, h)
	}
	restore := func() { _ = xterm.Restore(int(in.Fd()), old) }
	return &termLines{t: t}, restore, nil
}

// Write is the session's output, with the line being edited kept intact.
func (l *termLines) Write(b []byte) (int, error) { return l.t.Write(b) }

func (l *termLines) ReadLine(prompt string, complete func(string) []string) (string, error) {
	l.t.SetPrompt(prompt)
	l.t.AutoCompleteCallback = func(line string, pos int, key rune) (string, int, bool) {
		if key != '\t' || complete == nil {
			return "", 0, false
		}
		cands := complete(line[:pos])
		switch len(cands) {
		case 0:
			return "", 0, false
		case 1:
			return cands[0] + line[pos:], len(cands[0]), true
		}
		if p := commonPrefix(cands); len(p) > pos {
			return p + line[pos:], len(p), true
		}
		// Several ways on: show their last words, as a shell does.
		var words []string
		for _, c := range cands {
			words = append(words, c[strings.LastIndexAny(c[:len(c)-1], " ;")+1:])
		}
		_, _ = l.t.Write([]byte(strings.Join(words, "  ") + "\n"))
		return "", 0, false
	}
	return l.t.ReadLine()
}

func commonPrefix(ss []string) string {
	p := ss[0]
	for _, s := range ss[1:] {
		for !strings.HasPrefix(s, p) {
			p = p[:len(p)-1]
		}
	}
	return p
}
