package engine

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"os"
	"time"
	"zonetop/api"
	"zonetop/internal/configs"
	"zonetop/internal/wire"
	"zonetop/internal/zoneadmd"
)

// The zonetop service: a root process (`zonetop serve`, started by the
// system unit) with a socket at ROOT/run/zonetop/zonetop.sock that any host
// user may connect to. It does the two things a delegated user cannot do
// with zoneadmd alone: list the zones the user may see (the store is
// root's), and start a zone's zoneadmd when none runs (booting an installed
// zone), after which the user talks to that zoneadmd, which authorizes
// every operation itself. No setuid binary is involved.

// Any host user may connect to the service: one uid other than root holds
// at most servePerUID connections at once (a zonecfg session holds one
// for as long as it lasts), all of them together serveMaxConn minus
// serveRootReserve, so no user can lock the global administrator (or the
// other users) out by holding connections open.
const (
	serveMaxConn     = 256
	servePerUID      = 16
	serveRootReserve = 16
)

// Serve runs the zonetop service until ctx ends.
func (e *Engine) Serve(ctx context.Context) error {
	if err := os.MkdirAll(configs.RunBase(e.Root), 0o755); err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	sock := configs.ServeSock(e.Root)
	_ = os.Remove(sock)
	lis, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: sock, Net: "unixpacket"})
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	if err := os.Chmod(sock, 0o666); err != nil {
		lis.Close()
		return fmt.Errorf("serve: %w", err)
	}
	go func() {
		<-ctx.Done()
		lis.Close()
	}()
	conns := zoneadmd.NewConnLimiter("zonetop service", serveMaxConn, servePerUID, serveRootReserve)
	for {
		c, err := lis.AcceptUnix()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		uid, err := zoneadmd.PeerUID(c)
		why := ""
		if err != nil {
			why = "zonetop service: peer credentials: " + err.Error()
		} else {
			why = conns.Admit(uid)
		}
		if why != "" {
			_ = c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
			_ = (&wire.Conn{C: c}).Send(wire.Response{Error: why, Code: api.CodeBusy})
			c.Close()
			continue
		}
		go func() {
			defer conns.Leave(uid)
			e.serveOne(&wire.Conn{C: c})
		}()
	}
}

func (e *Engine) serveOne(c *wire.Conn) {
	defer c.Close()
	_ = c.C.SetDeadline(time.Now().Add(time.Minute))
	p, err := zoneadmd.HostPeer(c.C)
	if err != nil {
		_ = c.Send(wire.Response{Error: "zonetop service: " + err.Error(), Code: api.CodeOf(err)})
		return
	}
	e.serveRequest(c, p)
}

// serveRequest answers one request of p, who the socket says is calling.
func (e *Engine) serveRequest(c *wire.Conn, p api.Principal) {
	var req wire.Request
	files, err := c.Recv(&req)
	if err == nil {
		err = wire.WantFDs(req.Op, files, 0)
	}
	wire.CloseAll(files)
	if err != nil {
		_ = c.Send(wire.Response{Error: "zonetop service: " + err.Error(), Code: api.CodeOf(err)})
		return
	}
	switch req.Op {
	case "zonecfg":
		_ = c.C.SetDeadline(time.Time{})
		e.serveZonecfg(c, p, req)
	case "list":
		var opts api.ListOptions
		for _, a := range req.Args {
			switch a {
			case "-c":
				opts.Configured = true
			case "-i":
				opts.Installed = true
			}
		}
		zs, err := e.List(context.Background(), p, opts)
		if err != nil {
			_ = c.Send(wire.Response{Error: err.Error(), Code: api.CodeOf(err)})
			return
		}
		_ = c.Send(wire.Response{OK: true, Zones: zs})
	case "start":
		if len(req.Args) != 1 || configs.CheckZoneName(req.Args[0]) != nil {
			_ = c.Send(wire.Response{Error: "start: one zone name", Code: api.CodeInvalid})
			return
		}
		name := req.Args[0]
		// Starting a supervisor changes nothing by itself, but only
		// for someone who may do something with the zone.
		if err := e.authorize(p, name, api.ActInfo); err != nil {
			_ = c.Send(wire.Response{Error: err.Error(), Code: api.CodeOf(err)})
			return
		}
		if _, err := e.store.State(name); err != nil {
			_ = c.Send(wire.Response{Error: err.Error(), Code: api.CodeOf(err)})
			return
		}
		if err := zoneadmd.StartZoneadmd(e.Root, name); err != nil {
			log.Printf("serve: %v", err)
			_ = c.Send(wire.Response{Error: err.Error(), Code: api.CodeOf(err)})
			return
		}
		_ = c.Send(wire.Response{OK: true})
	default:
		_ = c.Send(wire.Response{Error: fmt.Sprintf("zonetop service: unknown request %q", req.Op), Code: api.CodeInvalid})
	}
}
