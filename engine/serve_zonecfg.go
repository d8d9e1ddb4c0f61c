package engine

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
	"zonetop/api"
	"zonetop/internal/audit"
	"zonetop/internal/authz"
	"zonetop/internal/configs"
	"zonetop/internal/wire"
	"zonetop/zones"
)

// zonecfg for delegated host users. The store is root's, so a user with
// the config auth runs zonecfg through the zonetop service: the front end
// sends the command line and streams its standard input (the interactive
// session's lines, or a -f file it read itself, as the user), the service
// runs the zonecfg session as that principal and streams the output back,
// prompts and error messages included, then the exit status. The service
// never opens a file the user names: -f must come as standard input, and
// export -f is refused.

// zonecfgIdle bounds how long an interactive session may wait for its
// user's next line.
const zonecfgIdle = time.Hour

// streamWriter sends what a session writes as output messages.
type streamWriter struct {
	c      *wire.Conn
	mu     *sync.Mutex
	stream int
}

func (w streamWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for off := 0; off < len(p); off += wire.OutChunk {
		end := min(off+wire.OutChunk, len(p))
		if err := w.c.Send(wire.Response{OK: true, Stream: w.stream, Data: p[off:end]}); err != nil {
			return off, err
		}
	}
	return len(p), nil
}

// serveZonecfg runs one zonecfg session for p on the service's socket.
func (e *Engine) serveZonecfg(c *wire.Conn, p api.Principal, req wire.Request) {
	var mu sync.Mutex
	stdout := streamWriter{c: c, mu: &mu, stream: 1}
	stderr := streamWriter{c: c, mu: &mu, stream: 2}
	finish := func(code int) {
		mu.Lock()
		defer mu.Unlock()
		_ = c.Send(wire.Response{OK: code == 0, Exit: &code})
	}
	fail := func(code int, format string, a ...any) {
		fmt.Fprintf(stderr, "zonecfg: "+format+"\n", a...)
		finish(code)
	}
	inv, err := zones.ParseArgs(req.Args)
	switch {
	case err != nil || inv.Help || (inv.Zone == "" && inv.UUID == ""):
		// Usage and help touch no zone.
		finish(zones.RunZonecfg(nil, req.Args, nil, stdout, stderr))
		return
	case inv.UUID != "":
		fail(1, "-u %s: %v: only the global administrator looks zones up by uuid; use -z", inv.UUID, api.ErrPermission)
		return
	case inv.HaveFile && inv.File != "-":
		fail(2, "-f %s: the zonetop service reads command files only from standard input", inv.File)
		return
	}
	if err := configs.CheckZoneName(inv.Zone); err != nil && inv.Zone != "global" {
		fail(1, "%v", err)
		return
	}
	if err := e.authorize(p, inv.Zone, api.ActConfigure); err != nil {
		_ = audit.AppendAudit(e.Root, audit.AuditRecord{Principal: audit.AuditPrincipalOf(p), Zone: inv.Zone, What: "zonecfg", Result: err.Error()})
		fail(1, "%v", err)
		return
	}

	// Standard input comes in messages; a client that goes away ends it
	// with an error, and then nothing of the session is stored: an
	// interrupted zonecfg commits nothing.
	var gone atomic.Bool
	inR, inW := io.Pipe()
	go func() {
		for {
			_ = c.C.SetReadDeadline(time.Now().Add(zonecfgIdle))
			var m wire.Request
			files, err := c.Recv(&m)
			if err == nil {
				err = wire.WantFDs("zonecfg input", files, 0)
			}
			wire.CloseAll(files)
			switch {
			case err != nil:
				gone.Store(true)
				inW.CloseWithError(fmt.Errorf("zonecfg client: %w", err))
				return
			case m.EOF:
				inW.Close()
				// Keep reading: a hang-up before the end still means
				// the user is gone.
			case len(m.Data) > 0:
				if _, err := inW.Write(m.Data); err != nil {
					return
				}
			}
		}
	}()
	opts := zones.Options{NoFiles: true, Prompt: req.Prompt}
	if !p.GlobalAdmin() {
		opts.Check = func(ch zones.Change) error {
			err := authz.CheckDelegatedCommand(inv.Zone, ch)
			if err != nil {
				what := "zonecfg " + ch.Op
				if ch.Resource != "" {
					what += " " + ch.Resource
				}
				if ch.Property != "" {
					what += " " + ch.Property
				}
				_ = audit.AppendAudit(e.Root, audit.AuditRecord{Principal: audit.AuditPrincipalOf(p), Zone: inv.Zone, What: what, Result: err.Error()})
			}
			return err
		}
	}
	opts.Commit = func(before, after *zones.Config) error {
		if gone.Load() {
			return errors.New("the user's zonecfg went away before the session ended; nothing was committed")
		}
		err := authz.CheckConfigChange(p, before, after)
		if err != nil {
			rm, ad := audit.ConfigDiff(before, after)
			_ = audit.AppendAudit(e.Root, audit.AuditRecord{Principal: audit.AuditPrincipalOf(p), Zone: inv.Zone, What: "zonecfg", Before: rm, After: ad, Result: err.Error()})
		}
		return err
	}
	code := e.ZonecfgWith(p, req.Args, inR, stdout, stderr, opts)
	inR.Close()
	finish(code)
}
