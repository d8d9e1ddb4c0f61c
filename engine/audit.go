package engine

import (
	"io"
	"strings"
	"zonetop/api"
	"zonetop/internal/audit"
	"zonetop/zones"
)

// auditOp snapshots a zone's state before a life-cycle operation and
// returns what records the outcome once it is known:
//
//	defer e.auditOp(p, name, "boot")(&err)
func (e *Engine) auditOp(p api.Principal, zone, what string) func(*error) {
	a := e.auditLater(p, zone, what)
	a.sawState(zones.State(e.stateForAudit(zone)))
	return a.done
}

// opAudit is an audit record whose "before" the operation fills in from
// the live state it reads anyway, sparing a second status round trip to
// zoneadmd. An operation that failed before reading it changed nothing,
// so done reads it then.
type opAudit struct {
	e                       *Engine
	p                       api.Principal
	zone, what              string
	before, after           string
	beforeKnown, afterKnown bool
}

func (e *Engine) auditLater(p api.Principal, zone, what string) *opAudit {
	return &opAudit{e: e, p: p, zone: zone, what: what}
}

// sawState records the zone's state before the operation acts.
func (a *opAudit) sawState(s zones.State) { a.before, a.beforeKnown = string(s), true }

// endedIn records the state zoneadmd answered the operation with, so the
// record needs no status round trip of its own.
func (a *opAudit) endedIn(st api.ZoneStatus) {
	if st.State != "" {
		a.after, a.afterKnown = st.State, true
	}
}

func (a *opAudit) done(errp *error) {
	if !a.beforeKnown {
		a.before = a.e.stateForAudit(a.zone)
	}
	rec := audit.AuditRecord{Principal: audit.AuditPrincipalOf(a.p), Zone: a.zone, What: a.what, Before: a.before, Result: "ok"}
	if errp != nil && *errp != nil {
		rec.Result = (*errp).Error()
	}
	rec.After = a.after
	if !a.afterKnown || rec.Result != "ok" {
		rec.After = a.e.stateForAudit(a.zone)
	}
	// The audit log is best effort for the caller: a front end run by a
	// user who cannot write it must still work; zoneadmd, which runs
	// every delegated operation, always can.
	_ = audit.AppendAudit(a.e.Root, rec)
}

func (e *Engine) stateForAudit(zone string) string {
	ent, err := e.store.State(zone)
	if err != nil {
		return ""
	}
	return string(e.liveState(zone, ent))
}

// Zonecfg runs the zonecfg front end on the engine's store and audits
// every configuration it changed (created, modified or deleted zones). The
// zonecfg language itself stays in zones/, which knows nothing of audit.
func (e *Engine) Zonecfg(p api.Principal, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return e.ZonecfgWith(p, args, stdin, stdout, stderr, zones.Options{})
}

// ZonecfgWith is Zonecfg with the session restricted by opts (a
// delegated user's, served by the zonetop service).
func (e *Engine) ZonecfgWith(p api.Principal, args []string, stdin io.Reader, stdout, stderr io.Writer, opts zones.Options) int {
	before := e.snapshotConfigs()
	code := zones.RunZonecfgWith(e.store, args, stdin, stdout, stderr, opts)
	after := e.snapshotConfigs()
	names := map[string]bool{}
	for n := range before {
		names[n] = true
	}
	for n := range after {
		names[n] = true
	}
	for n := range names {
		b, a := before[n], after[n]
		if b != nil && a != nil && strings.Join(audit.ConfigStatements(b), "\n") == strings.Join(audit.ConfigStatements(a), "\n") {
			continue
		}
		rm, ad := audit.ConfigDiff(b, a)
		what := "zonecfg"
		switch {
		case b == nil:
			what = "zonecfg create"
		case a == nil:
			what = "zonecfg delete"
		}
		_ = audit.AppendAudit(e.Root, audit.AuditRecord{Principal: audit.AuditPrincipalOf(p), Zone: n, What: what, Before: rm, After: ad, Result: "ok"})
	}
	return code
}

func (e *Engine) snapshotConfigs() map[string]*zones.Config {
	out := map[string]*zones.Config{}
	ents, err := e.store.List()
	if err != nil {
		return out
	}
	for _, ent := range ents {
		if c, _, err := e.store.Load(ent.Name); err == nil {
			out[ent.Name] = c
		}
	}
	if c, _, err := e.store.Load("global"); err == nil && c != nil {
		out["global"] = c
	}
	return out
}
