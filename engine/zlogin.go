package engine

import (
	"context"
	"fmt"
	"io"
	"os"
	"zonetop/api"
	"zonetop/client"
	"zonetop/internal/configs"
	"zonetop/internal/zoneadmd"
	"zonetop/zones"
)

// ExecInZone runs one command inside a ready or running zone with its
// stdio copied through pipes, and returns the command's exit status. It is
// what non-interactive zlogin does.
func (e *Engine) ExecInZone(ctx context.Context, p api.Principal, name string, req api.ExecRequest, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	if os.Geteuid() != 0 && p.Zone == "global" {
		// A delegated user cannot read the store; the zone's zoneadmd
		// authorizes the login from this process's credentials.
		return zoneadmd.Exec(e.Root, name, req, stdin, stdout, stderr)
	}
	if err := e.authorize(p, name, api.ActLogin); err != nil {
		return 1, err
	}
	if configs.CheckZoneName(name) == nil && zoneadmd.RuntimePresent(e.Root, name) {
		// The zone has a platform, so its zoneadmd (started to adopt
		// it if need be) checks the state and refuses what is not
		// ready or running; reading the store and asking for the state
		// first would cost every zlogin a round trip.
		return zoneadmd.Exec(e.Root, name, req, stdin, stdout, stderr)
	}
	ent, err := e.store.State(name)
	if err != nil {
		return 1, fmt.Errorf("zlogin %s: %w", name, err)
	}
	if err := zones.CheckOp(name, e.liveState(name, ent), "zlogin"); err != nil {
		return 1, err
	}
	return zoneadmd.Exec(e.Root, name, req, stdin, stdout, stderr)
}

// AttachConsole connects to a zone's console (zlogin -C). It works from
// installed on: the zone's zoneadmd is started if need be and holds the
// console across ready, boot, halt and reboot, so an operator can watch a
// whole boot. A zone that is only configured is refused.
func (e *Engine) AttachConsole(ctx context.Context, p api.Principal, name string, opts api.ConsoleOptions) (*ConsoleSession, error) {
	if os.Geteuid() != 0 && p.Zone == "global" {
		// A delegated user: the zonetop service starts zoneadmd if need
		// be, and zoneadmd authorizes the attach by the login auth.
		if err := configs.CheckZoneName(name); err != nil {
			return nil, err
		}
		if err := client.DelegatedStart(e.Root, name, "zlogin -C"); err != nil {
			return nil, err
		}
		return attachConsole(e.Root, name, opts)
	}
	if err := e.authorize(p, name, api.ActConsole); err != nil {
		return nil, err
	}
	ent, err := e.store.State(name)
	if err != nil {
		return nil, fmt.Errorf("zlogin -C %s: %w", name, err)
	}
	if err := zones.CheckOp(name, e.liveState(name, ent), "attach-console"); err != nil {
		return nil, err
	}
	return attachConsole(e.Root, name, opts)
}

// StartLogin starts an interactive session inside a ready or running zone
// on a new pty of the zone's devpts: the login shell of req.User (or
// req.Argv with a pty, for zlogin -t). The caller drives the pty through
// the session's Master.
func (e *Engine) StartLogin(ctx context.Context, p api.Principal, name string, req api.ExecRequest) (*LoginSession, error) {
	if os.Geteuid() != 0 && p.Zone == "global" {
		// As ExecInZone: zoneadmd authorizes a delegated user's login.
		return startLogin(e.Root, name, req)
	}
	if err := e.authorize(p, name, api.ActLogin); err != nil {
		return nil, err
	}
	ent, err := e.store.State(name)
	if err != nil {
		return nil, fmt.Errorf("zlogin %s: %w", name, err)
	}
	if err := zones.CheckOp(name, e.liveState(name, ent), "zlogin"); err != nil {
		return nil, err
	}
	return startLogin(e.Root, name, req)
}
