package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
	"zonetop/api"

	"zonetop/console"
	"zonetop/engine"
)

const zloginUsage = `usage:	zlogin [-dEnSt] [-e C] [-l USER] ZONE [COMMAND [ARGS...]]
	zlogin -C [-dEr] [-e C] ZONE
`

// zloginOpts are zlogin's options.
type zloginOpts struct {
	console, noStdin, tty, drop, replay, safe bool
	esc                                       console.Escaper
	user                                      string
}

// runZlogin is zlogin(1): with a command it runs it inside the zone with
// pipes (a pty with -t) and returns its exit status; without one it logs
// into the zone on a new pty; with -C it attaches to the zone's console.
func runZlogin(g *globals, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var o zloginOpts
	for len(args) > 0 && len(args[0]) > 1 && args[0][0] == '-' {
		a := args[0]
		args = args[1:]
		if a == "--" {
			break
		}
		if strings.HasPrefix(a, "--") {
			fmt.Fprintf(stderr, "zlogin: unknown option %s\n%s", a, zloginUsage)
			return 2
		}
		for i := 1; i < len(a); i++ {
			switch a[i] {
			case 'C':
				o.console = true
			case 'n':
				o.noStdin = true
			case 't':
				o.tty = true
			case 'd':
				o.drop = true
			case 'r':
				o.replay = true
			case 'S':
				o.safe = true
			case 'E':
				o.esc.Disabled = true
			case 'l', 'e':
				if i != len(a)-1 || len(args) == 0 {
					fmt.Fprintf(stderr, "zlogin: -%c needs a value\n%s", a[i], zloginUsage)
					return 2
				}
				if a[i] == 'l' {
					o.user = args[0]
				} else {
					c, err := console.ParseEscapeChar(args[0])
					if err != nil {
						fmt.Fprintf(stderr, "zlogin: -e: %v\n%s", err, zloginUsage)
						return 2
					}
					o.esc.Char = c
				}
				args = args[1:]
			default:
				fmt.Fprintf(stderr, "zlogin: unknown option -%c\n%s", a[i], zloginUsage)
				return 2
			}
		}
	}
	if len(args) == 0 {
		fmt.Fprint(stderr, "zlogin: a zone name is needed\n", zloginUsage)
		return 2
	}
	zone, cmd := args[0], shellCommand(args[1:])
	if o.console && (len(cmd) > 0 || o.user != "" || o.safe || o.tty || o.noStdin) {
		fmt.Fprintf(stderr, "zlogin: -C takes only -d, -r, -e and -E, and no command\n%s", zloginUsage)
		return 2
	}
	e, err := engine.New(g.root, g.cgroupParent)
	if err != nil {
		zloginFail(stderr, err)
		return 1
	}
	if o.noStdin {
		stdin = nil
	}
	switch {
	case o.console:
		return zloginConsole(e, zone, &o, stdin, stdout, stderr)
	case len(cmd) == 0 || o.tty:
		return zloginSession(e, zone, cmd, &o, stdin, stdout, stderr)
	}
	req := api.ExecRequest{Argv: cmd, User: o.user}
	if t := os.Getenv("TERM"); t != "" {
		req.Env = append(req.Env, "TERM="+t)
	}
	code, err := e.ExecInZone(context.Background(), engine.CurrentPrincipal(), zone, req, stdin, stdout, stderr)
	if err != nil {
		zloginFail(stderr, err)
		return 1
	}
	return code
}

// userTerminal is the user's terminal when stdin is one: put in raw mode
// for the session so every key (ctrl-C included) goes to the zone.
type userTerminal struct {
	f     *os.File
	saved *console.TermState
}

func openUserTerminal(stdin io.Reader) *userTerminal {
	f, ok := stdin.(*os.File)
	if !ok || !console.IsTerminal(f) {
		return nil
	}
	return &userTerminal{f: f}
}

func (t *userTerminal) raw() error {
	if t == nil {
		return nil
	}
	st, err := console.MakeRaw(t.f)
	t.saved = st
	return err
}

func (t *userTerminal) restore() {
	if t != nil && t.saved != nil {
		_ = console.Restore(t.f, t.saved)
		t.saved = nil
	}
}

// relayInput copies what the user types to w through the escape filter
// until stdin ends, or closes detach when the user typed ~. .
func relayInput(stdin io.Reader, w io.Writer, esc *console.Escaper, detach chan<- struct{}) {
	if stdin == nil {
		return
	}
	buf := make([]byte, 32<<10)
	var out []byte
	for {
		n, err := stdin.Read(buf)
		if n > 0 {
			var quit bool
			out, quit = esc.Filter(out[:0], buf[:n])
			if len(out) > 0 {
				if _, werr := w.Write(out); werr != nil {
					return
				}
			}
			if quit {
				close(detach)
				return
			}
		}
		if err != nil {
			if out = esc.Flush(out[:0]); len(out) > 0 {
				_, _ = w.Write(out)
			}
			return
		}
	}
}

// zloginConsole attaches the user's terminal to the zone's console until
// ~. (exit 0), the zone halts under -d (exit 0), or zoneadmd goes away
// (exit 1).
func zloginConsole(e *engine.Engine, zone string, o *zloginOpts, stdin io.Reader, stdout, stderr io.Writer) int {
	s, err := e.AttachConsole(context.Background(), engine.CurrentPrincipal(), zone, api.ConsoleOptions{Replay: o.replay})
	if err != nil {
		zloginFail(stderr, err)
		return 1
	}
	defer s.Close()
	term := openUserTerminal(stdin)
	if err := term.raw(); err != nil {
		zloginFail(stderr, err)
		return 1
	}
	defer term.restore()
	fmt.Fprintf(stderr, "[Connected to zone '%s' console]\r\n", zone)
	outDone := make(chan struct{})
	go func() {
		_, _ = io.Copy(stdout, s.Conn)
		close(outDone)
	}()
	detach := make(chan struct{})
	go relayInput(stdin, s.Conn, &o.esc, detach)
	events := s.Events
	for {
		select {
		case <-detach:
			fmt.Fprintf(stderr, "\r\n[Connection to zone '%s' console closed]\r\n", zone)
			return 0
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			if ev.Event == "halted" && o.drop {
				// Let output written before the halt reach the user.
				waitQuiet(outDone, 200*time.Millisecond)
				fmt.Fprintf(stderr, "\r\n[Connection to zone '%s' console closed]\r\n", zone)
				return 0
			}
		case <-outDone:
			why := "zoneadmd went away"
			// zoneadmd says why it dropped us, if it did, right after.
			timeout := time.After(500 * time.Millisecond)
		wait:
			for events != nil {
				select {
				case ev, ok := <-events:
					if !ok {
						break wait
					}
					if ev.Event == "detached" && ev.Reason != "" {
						why = ev.Reason
						break wait
					}
				case <-timeout:
					break wait
				}
			}
			fmt.Fprintf(stderr, "\r\n[Connection to zone '%s' console closed: %s]\r\n", zone, why)
			return 1
		}
	}
}

func waitQuiet(ch <-chan struct{}, d time.Duration) {
	select {
	case <-ch:
	case <-time.After(d):
	}
}

// zloginSession runs a login shell (or, with -t, a command) on a new pty
// inside the zone; the user's terminal drives it in raw mode, its window
// size follows the user's, and its exit status is returned.
func zloginSession(e *engine.Engine, zone string, cmd []string, o *zloginOpts, stdin io.Reader, stdout, stderr io.Writer) int {
	term := openUserTerminal(stdin)
	req := api.ExecRequest{Argv: cmd, User: o.user, Safe: o.safe}
	if t := os.Getenv("TERM"); t != "" {
		req.Env = append(req.Env, "TERM="+t)
	}
	if term != nil {
		if rows, cols, err := console.GetSize(term.f); err == nil && rows > 0 && cols > 0 {
			req.Rows, req.Cols = uint16(rows), uint16(cols)
		}
	}
	s, err := e.StartLogin(context.Background(), engine.CurrentPrincipal(), zone, req)
	if err != nil {
		zloginFail(stderr, err)
		return 1
	}
	defer s.Close()
	if err := term.raw(); err != nil {
		zloginFail(stderr, err)
		return 1
	}
	defer term.restore()
	if term != nil {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		console.WatchResize(ctx, func() { _ = console.CopySize(s.Master, term.f) })
	}
	outDone := make(chan struct{})
	go func() {
		// Ends with EIO once every process holding the zone's side of
		// the pty is gone: all output has arrived.
		_, _ = io.Copy(stdout, s.Master)
		close(outDone)
	}()
	detach := make(chan struct{})
	go relayInput(stdin, s.Master, &o.esc, detach)
	type result struct {
		code int
		err  error
	}
	waited := make(chan result, 1)
	go func() {
		code, err := s.Wait()
		waited <- result{code, err}
	}()
	closed := func() { fmt.Fprintf(stderr, "\r\n[Connection to zone %s closed]\r\n", zone) }
	select {
	case <-detach:
		closed()
		return 0
	case r := <-waited:
		// Background jobs may keep the pty open; do not wait for them
		// for ever, but give the last output time to arrive.
		waitQuiet(outDone, 2*time.Second)
		if r.err != nil {
			if errors.Is(r.err, api.ErrZoneGone) {
				closed()
			} else {
				fmt.Fprintf(stderr, "\r\nzlogin: %v\r\n", r.err)
			}
			return 1
		}
		if len(cmd) == 0 {
			closed()
		}
		return r.code
	}
}

// zloginFail prints err after the command's name. The engine's errors
// start with what failed ("zlogin web01: ..."), which after "zlogin: "
// would say zlogin twice: that goes, and the zone's name too when the rest
// names it already.
func zloginFail(stderr io.Writer, err error) {
	msg := err.Error()
	if rest, ok := strings.CutPrefix(msg, "zlogin "); ok {
		msg = rest
		if zone, after, ok := strings.Cut(rest, ": "); ok && strings.Contains(after, zone) {
			msg = after
		}
	}
	fmt.Fprintf(stderr, "zlogin: %s\n", msg)
}

// shellCommand runs a one-word command that is shell syntax through the
// zone's /bin/sh, as illumos' zlogin runs its command through the zone's
// shell: `zlogin Z 'ps -ef | grep x'` and `zlogin Z 'ls /; exit 3'` (with
// its exit status) work as every admin script expects. Several words are
// run as given, each one argument, so a command line the caller's shell
// already split keeps its words.
func shellCommand(cmd []string) []string {
	if len(cmd) == 1 && strings.ContainsAny(cmd[0], " \t\n;|&<>()$`\\\"'*?[#~") {
		return []string{"/bin/sh", "-c", cmd[0]}
	}
	return cmd
}
