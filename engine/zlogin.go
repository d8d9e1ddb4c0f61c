package engine

import (
	"context"
	"fmt"
	"io"
	"os"

	"zonetop/zones"
)

// ExecInZone runs one command inside a ready or running zone with its
// stdio copied through pipes, and returns the command's exit status. It is
// what non-interactive zlogin does.
func (e *Engine) ExecInZone(ctx context.Context, p Principal, name string, req ExecRequest, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	if os.Geteuid() != 0 && p.Zone == "global" {
		// A delegated user cannot read the store; the zone's zoneadmd
		// authorizes the login from this process's credentials.
		return Exec(e.Root, name, req, stdin, stdout, stderr)
	}
	if err := e.authorize(p, name, ActLogin); err != nil {
		return 1, err
	}
	_, ent, err := e.load(name)
	if err != nil {
		return 1, fmt.Errorf("zlogin %s: %w", name, err)
	}
	if err := zones.CheckOp(name, e.liveState(name, ent), "zlogin"); err != nil {
		return 1, err
	}
	return Exec(e.Root, name, req, stdin, stdout, stderr)
}
