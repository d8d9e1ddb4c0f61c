package zoneadmd

import (
	"context"
	"fmt"
	"log"
	"net"
	"os"
	"sync"
	"time"
	"zonetop/api"
	"zonetop/internal/audit"
	"zonetop/internal/authz"
	"zonetop/internal/wire"
	"zonetop/zones"
)

// Delegated host users reach zoneadmd directly: its socket accepts any
// peer of the host, and who the peer is comes from SO_PEERCRED. Root in
// the host is the global administrator, as before; anyone else is a host
// user whose rights are the auths the zone's admin resource gives it,
// decided by Authorize against the configuration zoneadmd reads itself.
// A delegated user never hands zoneadmd a platform spec: zoneadmd runs the
// engine operation for it (which makes the spec from the stored
// configuration, records the state and audits), talking to itself as root.

// hostPeer identifies a peer of zoneadmd's socket. Only processes of the
// host's pid namespace (zoneadmd's own) are accepted: the socket is in the
// host's run directory, never in a zone, and a peer elsewhere is refused.
func HostPeer(c *net.UnixConn) (api.Principal, error) {
	cred, err := wire.PeerCred(c)
	if err != nil {
		return api.Principal{}, fmt.Errorf("peer credentials: %w", err)
	}
	if cred.Pid <= 0 {
		return api.Principal{}, fmt.Errorf("peer pid %d is outside this pid namespace", cred.Pid)
	}
	if same, err := sameNamespace(int(cred.Pid), os.Getpid(), "pid"); err != nil || !same {
		return api.Principal{}, fmt.Errorf("peer pid %d is not a host process", cred.Pid)
	}
	p := api.Principal{UID: int(cred.Uid), GID: int(cred.Gid), Zone: "global"}
	if p.UID != 0 {
		p.User = authz.HostUserName(p.UID)
	}
	return p, nil
}

// opAction is what Authorize decides for a zoneadmd request.
var opAction = map[string]api.Action{
	"ping": api.ActList, "status": api.ActInfo, "ready": api.ActReady, "boot": api.ActBoot,
	"halt": api.ActHalt, "shutdown": api.ActShutdown, "exec": api.ActLogin,
	"attach-console": api.ActConsole, "usage": api.ActReadUsage,
}

// delegated serves one request of a host user who is not root. It answers
// true when it handled the request; false lets the caller serve an
// authorized exec (which needs no spec and records nothing) as usual.
func (d *zoneadmd) delegated(c *wire.Conn, p api.Principal, req wire.Request) bool {
	act, ok := opAction[req.Op]
	if !ok {
		_ = c.Send(wire.Response{Error: fmt.Sprintf("unknown request %q", req.Op), Code: api.CodeInvalid})
		return true
	}
	cfg, _, err := zones.NewStore(d.root).Load(d.name)
	if err != nil {
		cfg = nil
	}
	if req.Op == "ping" {
		return false
	}
	if err := authz.Authorize(p, d.name, act, cfg); err != nil {
		if act != api.ActInfo && act != api.ActLogin && act != api.ActConsole && act != api.ActReadUsage {
			_ = audit.AppendAudit(d.root, audit.AuditRecord{Principal: audit.AuditPrincipalOf(p), Zone: d.name, What: req.Op,
				Before: d.status().State, After: d.status().State, Result: err.Error()})
		}
		st := d.status()
		_ = c.Send(wire.Response{Error: err.Error(), Code: api.CodeOf(err), Status: &st})
		return true
	}
	switch req.Op {
	case "status", "exec", "attach-console", "usage":
		return false
	}
	// zoneadmd must not exit (after a halt) before this answer is sent.
	d.inflight.Add(1)
	defer d.inflight.Done()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	st, err := DelegatedLifecycle(ctx, d.root, p, d.name, req.Op, req.Args, req.Timeout)
	if err != nil {
		log.Printf("%s by %s: %v", req.Op, p.Describe(), err)
		_ = c.Send(wire.Response{Error: err.Error(), Code: api.CodeOf(err), Status: &st})
		return true
	}
	_ = c.Send(wire.Response{OK: true, Status: &st})
	return true
}

// delegatedLifecycle carries out a delegated user's ready, boot, halt or
// shutdown the way a front end's call would (the spec is made from the
// stored configuration, the audit record written). The engine sets it: the
// supervisor sits below the front ends' API and must not import it.
var DelegatedLifecycle func(ctx context.Context, root string, p api.Principal, name, op string, args []string, timeout time.Duration) (api.ZoneStatus, error)

// waitInflight waits for wg, at most limit.
func waitInflight(wg *sync.WaitGroup, limit time.Duration) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(limit):
	}
}
