package main

import (
	"context"
	"io"
	"zonetop/api"
	"zonetop/client"

	"zonetop/console"
	"zonetop/engine"
	"zonetop/ui"
)

// consoleUI is the console's one adapter: ui.Backend and the views' other
// interfaces over client.Server, whichever transport serves it (the
// engine in process, the service for a delegated user, the zone socket).
// ui.Backend's calls are client.Server's own; what differs between
// consoles is the server's, or which views a console is given
// (hostConsole, delegConsole, zoneConsole).
type consoleUI struct {
	client.Server
	// eng holds the console and login panes' sessions and the host's
	// meters, which only a console on the host has.
	eng *engine.Engine
}

// CheckNewZone gives the engine's checks, which read nothing of the host
// (only the global administrator, never a zone, gets the form).
func (b consoleUI) CheckNewZone(z api.NewZone) []api.FieldProblem {
	_, probs := engine.NewZoneConfig(z)
	return probs
}

// hostConsole is the console on the host: the global administrator's,
// and under delegConsole a delegated user's. Zone caps and projects are
// edited through the engine in process (engineEditing).
type hostConsole struct {
	consoleUI
	engineEditing
}

var (
	_ ui.Backend          = hostConsole{}
	_ ui.UsageBackend     = hostConsole{}
	_ ui.HostUsageBackend = hostConsole{}
	_ ui.CapEditor        = hostConsole{}
	_ ui.ProjectEditor    = hostConsole{}
	_ ui.LoginBackend     = hostConsole{}
	_ ui.ConsoleBackend   = hostConsole{}
	_ ui.ProcessSignaler  = hostConsole{}
	_ ui.LogBackend       = hostConsole{}
)

// newHostConsole is the global administrator's console on e.
func newHostConsole(e *engine.Engine) hostConsole {
	return hostConsole{consoleUI: consoleUI{Server: engineServer{e}, eng: e}, engineEditing: engineEditing{e}}
}

// HostUsage is the host's meters for the header and the global zone's
// row, sampled by the engine (a delegated user reads the /proc any host
// user may).
func (b hostConsole) HostUsage(ctx context.Context, p api.Principal) (api.HostUsage, error) {
	return b.eng.HostUsage(ctx, p)
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
func (b hostConsole) OpenLogin(ctx context.Context, p api.Principal, zone string, rows, cols int) (ui.LoginSession, error) {
	s, err := b.eng.StartLogin(ctx, p, zone, api.ExecRequest{
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
func (b hostConsole) AttachConsole(ctx context.Context, p api.Principal, zone string) (io.ReadWriteCloser, error) {
	s, err := b.eng.AttachConsole(ctx, p, zone, api.ConsoleOptions{Replay: true})
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
