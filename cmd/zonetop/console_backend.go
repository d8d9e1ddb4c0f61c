package main

import (
	"context"
	"fmt"
	"io"
	"sync"

	"zonetop/engine"
	"zonetop/ui"
)

// consoleBackend is the engine as the console sees it. Until the console
// Hub work adds an engine call for interactive logins with resize, a login
// pane runs a shell through ExecInZone on a pty of the zone (the path
// non-interactive zlogin uses); it cannot follow resizes yet.
type consoleBackend struct {
	*engine.Engine
}

var _ ui.LoginBackend = consoleBackend{}

// execLogin is a login pane's session over ExecInZone: the pane writes
// keys into in, reads the pty's output from out.
type execLogin struct {
	in     *io.PipeWriter
	out    *io.PipeReader
	cancel context.CancelFunc
	once   sync.Once
}

func (l *execLogin) Read(p []byte) (int, error)  { return l.out.Read(p) }
func (l *execLogin) Write(p []byte) (int, error) { return l.in.Write(p) }

// Resize is not passed on: ExecInZone sets the size once, at start.
func (l *execLogin) Resize(rows, cols int) error { return nil }

func (l *execLogin) Close() error {
	l.once.Do(func() {
		// Closing the shell's input ends it (EOF on its terminal); the
		// cancel stops waiting for it.
		l.in.Close()
		l.cancel()
	})
	return nil
}

// OpenLogin starts a login shell in zone on a pty of rows×cols.
func (b consoleBackend) OpenLogin(ctx context.Context, p engine.Principal, zone string, rows, cols int) (ui.LoginSession, error) {
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	ctx, cancel := context.WithCancel(ctx)
	l := &execLogin{in: inW, out: outR, cancel: cancel}
	req := engine.ExecRequest{
		Argv: []string{"/bin/sh", "-l"},
		Env:  []string{"TERM=xterm-256color", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root"},
		Dir:  "/",
		TTY:  true, Rows: uint16(rows), Cols: uint16(cols),
	}
	go func() {
		code, err := b.ExecInZone(ctx, p, zone, req, inR, outW, outW)
		if err == nil && code != 0 {
			err = fmt.Errorf("shell exited with status %d", code)
		}
		if err != nil {
			outW.CloseWithError(err)
		} else {
			outW.Close()
		}
		inR.Close()
	}()
	return l, nil
}
