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
	"zonetop/internal/configs"
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
	"attach-console": api.ActConsole, "usage": api.ActReadUsage, "console-log": api.ActReadConsoleLog,
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
		if act != api.ActInfo && act != api.ActLogin && act != api.ActConsole && act != api.ActReadUsage && act != api.ActReadConsoleLog {
			_ = audit.AppendAudit(d.root, audit.AuditRecord{Principal: audit.AuditPrincipalOf(p), Zone: d.name, What: req.Op,
				Before: d.status().State, After: d.status().State, Result: err.Error()})
		}
		st := d.status()
		_ = c.Send(wire.Response{Error: err.Error(), Code: api.CodeOf(err), Status: &st})
		return true
	}
	switch req.Op {
	case "status", "exec", "attach-console", "usage", "console-log":
		return false
	}
	// zoneadmd must not exit (after a halt) before this answer is sent.
	d.inflight.Add(1)
	defer d.inflight.Done()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	st, err := DelegatedLifecycle(ctx, d.root, p, d.name, req.Op, req.Args, req.Timeout, localOps{d})
	if err != nil {
		log.Printf("%s by %s: %v", req.Op, p.Describe(), err)
		_ = c.Send(wire.Response{Error: err.Error(), Code: api.CodeOf(err), Status: &st})
	} else {
		_ = c.Send(wire.Response{OK: true, Status: &st})
	}
	// As after a global administrator's step: a zone with nothing left
	// needs no zoneadmd (stop only asks; the exit waits for this answer).
	d.exitIfGone()
	return true
}

// Ops carries out a zone's life-cycle steps. The engine drives a zone
// through it after authorizing and preparing the call: over the zone's
// socket (Remote), or, for a delegated user's request zoneadmd received
// itself, in zoneadmd's own process, so that it never calls its own
// socket.
type Ops interface {
	Ready(spec configs.PlatformSpec) (api.ZoneStatus, error)
	Boot(name string, args []string) (api.ZoneStatus, error)
	Halt(name string) (api.ZoneStatus, error)
	Shutdown(name string, timeout time.Duration) (api.ZoneStatus, error)
}

// Remote is Ops over the zoneadmd sockets under a root prefix, starting
// the zone's zoneadmd when none runs.
type Remote struct{ Root string }

func (r Remote) Ready(spec configs.PlatformSpec) (api.ZoneStatus, error) { return Ready(r.Root, spec) }
func (r Remote) Boot(name string, args []string) (api.ZoneStatus, error) {
	return Boot(r.Root, name, args)
}
func (r Remote) Halt(name string) (api.ZoneStatus, error) { return Halt(r.Root, name) }
func (r Remote) Shutdown(name string, timeout time.Duration) (api.ZoneStatus, error) {
	return Shutdown(r.Root, name, timeout)
}

// localOps is Ops in this zoneadmd, as handle runs a step for a
// connection.
type localOps struct{ d *zoneadmd }

func (l localOps) run(name string, op func() error) (api.ZoneStatus, error) {
	if name != l.d.name {
		return l.d.status(), fmt.Errorf("zoneadmd of %s asked to act on zone %s", l.d.name, name)
	}
	l.d.opMu.Lock()
	err := op()
	l.d.opMu.Unlock()
	l.d.retireIfGone()
	return l.d.status(), err
}

func (l localOps) Ready(spec configs.PlatformSpec) (api.ZoneStatus, error) {
	return l.run(spec.Name, func() error { return l.d.ready(&spec) })
}
func (l localOps) Boot(name string, args []string) (api.ZoneStatus, error) {
	return l.run(name, func() error { return l.d.boot(args) })
}
func (l localOps) Halt(name string) (api.ZoneStatus, error) {
	return l.run(name, func() error { return l.d.halt("") })
}
func (l localOps) Shutdown(name string, timeout time.Duration) (api.ZoneStatus, error) {
	return l.run(name, func() error { return l.d.shutdown(timeout) })
}

// delegatedLifecycle carries out a delegated user's ready, boot, halt or
// shutdown the way a front end's call would (the spec is made from the
// stored configuration, the audit record written). The engine sets it: the
// supervisor sits below the front ends' API and must not import it.
var DelegatedLifecycle func(ctx context.Context, root string, p api.Principal, name, op string, args []string, timeout time.Duration, ops Ops) (api.ZoneStatus, error)

// waitInflight waits for wg, at most limit.
func waitInflight(wg *sync.WaitGroup, limit time.Duration) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(limit):
	}
}
