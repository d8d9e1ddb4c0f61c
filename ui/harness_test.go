package ui

import (
	"strings"
	"testing"
	"time"
	"zonetop/api"

	tea "charm.land/bubbletea/v2"
)

// harness drives a Model the way the bubbletea runtime does, but in the
// test's goroutine: commands run in goroutines and their messages come
// back through one channel, so a test can wait for what the screen shows
// without racing the model. (Diffing renderers write only changed cells,
// so waiting on a terminal's byte stream for a whole phrase is fragile.)
type harness struct {
	t  *testing.T
	m  *Model
	ch chan tea.Msg
}

func newHarness(t *testing.T, b Backend, p api.Principal, w, h int) *harness {
	t.Helper()
	hs := &harness{t: t, ch: make(chan tea.Msg, 64)}
	// An hour's refresh: the only refreshes are the first and those
	// actions ask for, so screens are deterministic.
	hs.m = newModel(b, Options{Principal: p, Refresh: time.Hour, Now: fixedClock})
	t.Cleanup(hs.m.cancel)
	t.Cleanup(hs.m.closeAllPanes)
	hs.update(tea.WindowSizeMsg{Width: w, Height: h})
	hs.exec(hs.m.Init())
	return hs
}

func (h *harness) exec(cmd tea.Cmd) {
	if cmd == nil {
		return
	}
	go func() {
		if msg := cmd(); msg != nil {
			h.ch <- msg
		}
	}()
}

func (h *harness) update(msg tea.Msg) {
	if b, ok := msg.(tea.BatchMsg); ok {
		for _, c := range b {
			h.exec(c)
		}
		return
	}
	_, cmd := h.m.Update(msg)
	h.exec(cmd)
}

// send plays keys, then waits until want is on screen.
func (h *harness) send(want string, msgs ...tea.Msg) {
	h.t.Helper()
	for _, msg := range msgs {
		h.update(msg)
	}
	h.wait(want)
}

func (h *harness) wait(want string) {
	h.t.Helper()
	if want == "" {
		return
	}
	timeout := time.After(10 * time.Second)
	for !strings.Contains(plain(h.m), want) {
		select {
		case msg := <-h.ch:
			h.update(msg)
		case <-timeout:
			h.t.Fatalf("%q not on screen after 10s:\n%s", want, plain(h.m))
		}
	}
}
