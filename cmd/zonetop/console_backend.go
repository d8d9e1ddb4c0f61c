package main

import (
	"context"
	"io"
	"zonetop/api"

	"zonetop/console"
	"zonetop/engine"
	"zonetop/ui"
)

// consoleBackend is the engine as the console sees it: the engine's own
// calls, plus adapters from its sessions to the panes' plain interfaces.
type consoleBackend struct {
	*engine.Engine
}

var (
	_ ui.LoginBackend    = consoleBackend{}
	_ ui.ConsoleBackend  = consoleBackend{}
	_ ui.ProcessSignaler = consoleBackend{}
	_ ui.LogBackend      = consoleBackend{}
)

// CreateZone creates the zone of the console's new-zone form; the engine's
// own CreateZone takes a configuration, which the console no longer builds.
func (b consoleBackend) CreateZone(ctx context.Context, p api.Principal, z api.NewZone) error {
	return b.CreateNewZone(ctx, p, z)
}

// paneLogin is a login pane's session: the pty master of a shell inside
// the zone, held by the console, so a resize is a window-size change on it
// and the kernel tells the zone's foreground job.
type paneLogin struct {
	*engine.LoginSession
}

func (l paneLogin) Read(p []byte) (int, error)  { return l.Master.Read(p) }
func (l paneLogin) Write(p []byte) (int, error) { return l.Master.Write(p) }
func (l paneLogin) Resize(rows, cols int) error {
	return console.SetSize(l.Master, rows, cols)
}

// OpenLogin starts a login shell as the zone's root on a new pty of the
// zone, as interactive zlogin does.
func (b consoleBackend) OpenLogin(ctx context.Context, p api.Principal, zone string, rows, cols int) (ui.LoginSession, error) {
	s, err := b.StartLogin(ctx, p, zone, api.ExecRequest{
		Login: true, TTY: true,
		Env:  []string{"TERM=xterm-256color"},
		Rows: uint16(rows), Cols: uint16(cols),
	})
	if err != nil {
		return nil, err
	}
	// Reap the session's end so zoneadmd's side is released; the pane
	// sees the end as EOF or an error on the master.
	go func() { _, _ = s.Wait() }()
	return paneLogin{s}, nil
}

// paneConsole is a console pane's attachment: reads are console output,
// writes are keystrokes, Close detaches (zlogin -C's ~.).
type paneConsole struct {
	*engine.ConsoleSession
}

func (c paneConsole) Read(p []byte) (int, error)  { return c.Conn.Read(p) }
func (c paneConsole) Write(p []byte) (int, error) { return c.Conn.Write(p) }

// AttachConsole attaches to the zone's console with its recent output
// replayed, so the pane opens on what the zone last printed.
func (b consoleBackend) AttachConsole(ctx context.Context, p api.Principal, zone string) (io.ReadWriteCloser, error) {
	s, err := b.Engine.AttachConsole(ctx, p, zone, api.ConsoleOptions{Replay: true})
	if err != nil {
		return nil, err
	}
	go func() {
		// Events (ready, booting, halted) are shown by the console as
		// notices in the stream itself; drain them so zoneadmd never
		// waits on this attacher.
		for range s.Events {
		}
	}()
	return paneConsole{s}, nil
}
