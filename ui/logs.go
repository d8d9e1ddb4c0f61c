package ui

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"zonetop/api"

	tea "charm.land/bubbletea/v2"

	"zonetop/termsafe"
)

// LogBackend reads a zone's console log (what zoneadmd kept of its
// /dev/console), newest last, as much as the engine keeps to hand.
type LogBackend interface {
	ConsoleLog(ctx context.Context, p api.Principal, zone string) (string, error)
}

// maxLogLines is how many lines of a log the view holds.
const maxLogLines = 20000

// logView is `:logs ZONE`: the console log, following its end as tail -f
// does until the operator scrolls up, with less's / n N and a save that
// never overwrites a file.
type logView struct {
	zone    string
	raw     []string // as the zone wrote them, for search and save
	lines   []string // shown: through termsafe
	err     error
	loaded  bool
	follow  bool
	scroll  int
	query   string
	matches []int
	cur     int // index into matches
}

type logMsg struct {
	zone string
	text string
	err  error
}

func newLogView(zone string) *logView { return &logView{zone: zone, follow: true} }

func (m *Model) fetchLog(v *logView) tea.Cmd {
	if v == nil {
		return nil
	}
	lb, ok := m.backend.(LogBackend)
	if !ok {
		return func() tea.Msg {
			return logMsg{zone: v.zone, err: errors.New("console logs are not available from this engine")}
		}
	}
	p, ctx, zone := m.opts.Principal, m.ctx, v.zone
	return func() tea.Msg {
		text, err := lb.ConsoleLog(ctx, p, zone)
		return logMsg{zone: zone, text: text, err: err}
	}
}

func (v *logView) set(msg logMsg) {
	v.loaded, v.err = true, msg.err
	if msg.err != nil {
		return
	}
	raw := strings.Split(strings.TrimRight(strings.ReplaceAll(msg.text, "\r\n", "\n"), "\n"), "\n")
	if len(raw) > maxLogLines {
		raw = raw[len(raw)-maxLogLines:]
	}
	v.raw = raw
	v.lines = make([]string, len(raw))
	for i, l := range raw {
		v.lines[i] = termsafe.String(strings.ReplaceAll(l, "\t", "    "))
	}
	v.search(v.query, false)
}

// search finds every line holding q (case-insensitive); jump moves to
// the first match at or after the top line, as less does.
func (v *logView) search(q string, jump bool) {
	v.query, v.matches = q, nil
	if q == "" {
		return
	}
	lq := strings.ToLower(q)
	for i, l := range v.raw {
		if strings.Contains(strings.ToLower(l), lq) {
			v.matches = append(v.matches, i)
		}
	}
	if !jump || len(v.matches) == 0 {
		v.cur = min(v.cur, max(len(v.matches)-1, 0))
		return
	}
	v.cur = 0
	for i, ln := range v.matches {
		if ln >= v.scroll {
			v.cur = i
			break
		}
	}
	v.show(v.matches[v.cur])
}

// next moves to the next (d 1) or previous (d -1) match, wrapping.
func (v *logView) next(d int) bool {
	if len(v.matches) == 0 {
		return false
	}
	v.cur = (v.cur + d + len(v.matches)) % len(v.matches)
	v.show(v.matches[v.cur])
	return true
}

// show scrolls so line i is near the top, and stops following.
func (v *logView) show(i int) {
	v.follow = false
	v.scroll = max(i-2, 0)
}

// errLogExists says a save would replace a file: the console asks first.
var errLogExists = errors.New("exists")

// save writes the log as the zone wrote it to path, atomically: a file of
// its own in the same directory, then linked to the name (which fails on
// any name that exists, a link to elsewhere included, with no window for
// a file made meanwhile) or, when the operator said to overwrite, renamed
// over it (which replaces a link, never writes through it). A reader
// never sees half a log.
func (v *logView) save(path string, overwrite bool) error {
	path = strings.TrimSpace(path)
	if path == "" {
		return errors.New("save: no file name")
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".zonetop-*")
	if err != nil {
		return fmt.Errorf("save %s: %w", path, bare(err))
	}
	defer os.Remove(tmp.Name()) // after a link or a failure; gone after a rename
	_, err = tmp.WriteString(strings.Join(v.raw, "\n") + "\n")
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
	if overwrite {
		err = os.Rename(tmp.Name(), path)
	} else {
		err = os.Link(tmp.Name(), path)
	}
	switch {
	case errors.Is(err, os.ErrExist):
		return fmt.Errorf("save: %s %w", path, errLogExists)
	case err != nil:
		return fmt.Errorf("save %s: %w", path, bare(err))
	}
	return nil
}

// bare is the reason of a file operation's error without the names in it:
// the save's own file name means nothing to the operator, who named path.
func bare(err error) error {
	var pe *fs.PathError
	var le *os.LinkError
	switch {
	case errors.As(err, &pe):
		return pe.Err
	case errors.As(err, &le):
		return le.Err
	}
	return err
}

// saveLog saves v to path; a name that exists is overwritten only when the
// operator says so.
func (m *Model) saveLog(v *logView, path string, overwrite bool) tea.Cmd {
	path = strings.TrimSpace(path)
	err := v.save(path, overwrite)
	switch {
	case errors.Is(err, errLogExists):
		m.confirm = &confirmState{verb: "overwrite", subject: termsafe.String(path),
			question: "save: " + termsafe.String(path) + " exists; overwrite it? [y/N]",
			do:       func() tea.Cmd { return m.saveLog(v, path, true) }}
	case err != nil:
		m.setFlash("", err)
	default:
		m.setFlash(fmt.Sprintf("saved %d lines of %s's console log to %s", len(v.raw), v.zone, termsafe.String(path)), nil)
	}
	return nil
}

func (m *Model) logKey(v *logView, msg tea.KeyPressMsg) (tea.Cmd, bool) {
	page := max(m.bodyHeight()-2, 1)
	switch msg.String() {
	case "up", "k":
		v.follow, v.scroll = false, v.scroll-1
	case "down", "j":
		v.scroll++
	case "pgup", "ctrl+b":
		v.follow, v.scroll = false, v.scroll-page
	case "pgdown", "ctrl+f", "space":
		v.scroll += page
	case "home", "g":
		v.follow, v.scroll = false, 0
	case "end", "G":
		v.follow = true
	case "f", "F":
		v.follow = !v.follow
	case "/":
		return m.openInput(inputLogSearch, "/", v.query), true
	case "n", "N":
		d := 1
		if msg.String() == "N" {
			d = -1
		}
		if !v.next(d) {
			m.setFlash("", fmt.Errorf("no match for /%s/", v.query))
		}
	case "w", "ctrl+s":
		return m.openInput(inputLogSave, "save to file: ", v.zone+".console.log"), true
	default:
		return nil, false
	}
	v.scroll = max(v.scroll, 0)
	return nil, true
}

// logBody draws the log in w×h: a title with where the view is and
// whether it follows, then the lines, the current match marked.
func (m *Model) logBody(v *logView, w, h int) string {
	st := m.c.styles
	title := st.Title.Render("Console log · " + termsafe.String(v.zone))
	switch {
	case !v.loaded:
		return title + "\n" + st.Empty.Render("reading the log…")
	case v.err != nil:
		return title + "\n" + st.StatusError.Render(termsafe.String(v.err.Error()))
	}
	room := max(h-1, 1)
	bottom := max(len(v.lines)-room, 0)
	if v.follow || v.scroll >= bottom {
		v.scroll = bottom
	}
	end := min(v.scroll+room, len(v.lines))
	state := "following"
	if !v.follow {
		state = "paused (G follows)"
	}
	info := fmt.Sprintf("  lines %d–%d of %d · %s", min(v.scroll+1, end), end, len(v.lines), state)
	if v.query != "" {
		info += fmt.Sprintf(" · /%s %d matches", termsafe.String(v.query), len(v.matches))
	}
	out := []string{title + st.HeaderKey.Render(info)}
	cur := -1
	if len(v.matches) > 0 {
		cur = v.matches[v.cur]
	}
	lq := strings.ToLower(v.query)
	for i := v.scroll; i < end; i++ {
		l := v.lines[i]
		switch {
		case i == cur:
			l = st.Selected.Render(fit(l, w, false))
		case lq != "" && strings.Contains(strings.ToLower(v.raw[i]), lq):
			l = st.Warn.Render(l)
		}
		out = append(out, l)
	}
	return clip(strings.Join(out, "\n"), w)
}
