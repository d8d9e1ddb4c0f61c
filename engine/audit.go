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
	// Each record is one change the store accepted from this session, as
	// the store had it and as the session left it.
	next := opts.Committed
	opts.Committed = func(before, after *zones.Config) {
		if next != nil {
			next(before, after)
		}
		if before != nil && after != nil && strings.Join(audit.ConfigStatements(before), "\n") == strings.Join(audit.ConfigStatements(after), "\n") {
			return
		}
		rm, ad := audit.ConfigDiff(before, after)
		what, zone := "zonecfg", ""
		switch {
		case before == nil:
			what, zone = "zonecfg create", after.Name
		case after == nil:
			what, zone = "zonecfg delete", before.Name
		default:
			zone = after.Name
		}
		_ = audit.AppendAudit(e.Root, audit.AuditRecord{Principal: audit.AuditPrincipalOf(p), Zone: zone, What: what, Before: rm, After: ad, Result: "ok"})
	}
	return zones.RunZonecfgWith(e.store, args, stdin, stdout, stderr, opts)
}
