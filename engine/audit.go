package engine

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	"zonetop/termsafe"
	"zonetop/zones"
)

// The audit log: every change to a zone (configuration, state, cap,
// project limit) and every refused attempt at one is appended to
// ROOT/var/log/zonetop/audit.log as one JSON object per line. Each record
// is one write(2) on a file opened O_APPEND and is kept under PIPE_BUF
// bytes, so records of concurrent writers (front ends, every zone's
// zoneadmd) never interleave and a reader never sees half of one.

// auditMax bounds one record, newline included: PIPE_BUF on Linux.
const auditMax = 4096

// AuditPrincipal is who made a change, as the audit log records it.
type AuditPrincipal struct {
	UID  int    `json:"uid"`
	User string `json:"user,omitempty"`
	Zone string `json:"zone"`
}

// AuditRecord is one line of the audit log.
type AuditRecord struct {
	Time      time.Time      `json:"time"`
	Principal AuditPrincipal `json:"principal"`
	Zone      string         `json:"zone"`
	What      string         `json:"what"`
	Before    string         `json:"before,omitempty"`
	After     string         `json:"after,omitempty"`
	Result    string         `json:"result"` // "ok", or the error
}

// AuditPath is the audit log under a root prefix.
func AuditPath(rootPrefix string) string { return filepath.Join(logDir(rootPrefix), "audit.log") }

// auditPrincipal turns an engine principal into its audit form.
func auditPrincipal(p Principal) AuditPrincipal {
	return AuditPrincipal{UID: p.UID, User: p.User, Zone: p.Zone}
}

// encodeAudit renders rec as one line of at most auditMax bytes: the
// before and after texts, then the result, are shortened (marked with an
// ellipsis) until it fits.
func encodeAudit(rec AuditRecord) ([]byte, error) {
	for i := 0; i < 64; i++ {
		b, err := json.Marshal(rec)
		if err != nil {
			return nil, fmt.Errorf("audit record: %w", err)
		}
		// A record keeps what a zone sent as it was, but the file is
		// read with cat and less too: runes JSON leaves raw that a
		// terminal would act on are written as \u escapes.
		b = termsafe.JSON(b)
		if len(b)+1 <= auditMax {
			return append(b, '\n'), nil
		}
		over := len(b) + 1 - auditMax
		switch {
		case len(rec.Before) > 0 && len(rec.Before) >= len(rec.After) && len(rec.Before) > 64:
			rec.Before = shorten(rec.Before, over)
		case len(rec.After) > 64:
			rec.After = shorten(rec.After, over)
		case len(rec.Result) > 64:
			rec.Result = shorten(rec.Result, over)
		default:
			rec.Before, rec.After = shorten(rec.Before, over), shorten(rec.After, over)
			rec.What = shorten(rec.What, over)
		}
	}
	return nil, errors.New("audit record: cannot be made to fit")
}

// shorten cuts at least over bytes (JSON escaping may make a byte count
// several times) off s, on a rune boundary, and marks the cut.
func shorten(s string, over int) string {
	keep := len(s) - over - 8
	if keep < 0 {
		keep = 0
	}
	if keep > len(s)/2+1 && over < len(s)/4 {
		// Escapes inflate the JSON; cut faster than byte for byte.
		keep = len(s) * 3 / 4
	}
	for keep > 0 && !utf8.RuneStart(s[keep]) {
		keep--
	}
	if keep >= len(s) {
		return s
	}
	return s[:keep] + "…"
}

// AppendAudit appends one record to the audit log under rootPrefix.
func AppendAudit(rootPrefix string, rec AuditRecord) error {
	if rec.Time.IsZero() {
		rec.Time = time.Now()
	}
	rec.Time = rec.Time.UTC()
	line, err := encodeAudit(rec)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(logDir(rootPrefix), 0o755); err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	f, err := os.OpenFile(AuditPath(rootPrefix), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	// One write: with O_APPEND the kernel places it at the end as a whole.
	_, werr := f.Write(line)
	cerr := f.Close()
	if werr != nil {
		return fmt.Errorf("audit log: %w", werr)
	}
	if cerr != nil {
		return fmt.Errorf("audit log: %w", cerr)
	}
	return nil
}

// AuditQuery selects records for ReadAudit.
type AuditQuery struct {
	Zone string // only this zone's records; empty = all
	Last int    // only the last N matching records; 0 = all
}

// ReadAudit returns the matching records, oldest first, and how many lines
// could not be read (a corrupt or foreign line never hides the others).
func ReadAudit(rootPrefix string, q AuditQuery) ([]AuditRecord, int, error) {
	f, err := os.Open(AuditPath(rootPrefix))
	if errors.Is(err, os.ErrNotExist) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("audit log: %w", err)
	}
	defer f.Close()
	return readAudit(f, q)
}

func readAudit(r io.Reader, q AuditQuery) ([]AuditRecord, int, error) {
	var out []AuditRecord
	bad := 0
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, auditMax), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if len(strings.TrimSpace(string(line))) == 0 {
			continue
		}
		var rec AuditRecord
		if err := json.Unmarshal(line, &rec); err != nil || rec.What == "" {
			bad++
			continue
		}
		if q.Zone != "" && rec.Zone != q.Zone {
			continue
		}
		out = append(out, rec)
		if q.Last > 0 && len(out) > 2*q.Last+64 {
			out = append(out[:0], out[len(out)-q.Last:]...)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, bad, fmt.Errorf("audit log: %w", err)
	}
	if q.Last > 0 && len(out) > q.Last {
		out = out[len(out)-q.Last:]
	}
	return out, bad, nil
}

// auditOp snapshots a zone's state before a life-cycle operation and
// returns what records the outcome once it is known:
//
//	defer e.auditOp(p, name, "boot")(&err)
func (e *Engine) auditOp(p Principal, zone, what string) func(*error) {
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
	p                       Principal
	zone, what              string
	before, after           string
	beforeKnown, afterKnown bool
}

func (e *Engine) auditLater(p Principal, zone, what string) *opAudit {
	return &opAudit{e: e, p: p, zone: zone, what: what}
}

// sawState records the zone's state before the operation acts.
func (a *opAudit) sawState(s zones.State) { a.before, a.beforeKnown = string(s), true }

// endedIn records the state zoneadmd answered the operation with, so the
// record needs no status round trip of its own.
func (a *opAudit) endedIn(st ZoneStatus) {
	if st.State != "" {
		a.after, a.afterKnown = st.State, true
	}
}

func (a *opAudit) done(errp *error) {
	if !a.beforeKnown {
		a.before = a.e.stateForAudit(a.zone)
	}
	rec := AuditRecord{Principal: auditPrincipal(a.p), Zone: a.zone, What: a.what, Before: a.before, Result: "ok"}
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
	_ = AppendAudit(a.e.Root, rec)
}

func (e *Engine) stateForAudit(zone string) string {
	ent, err := e.store.State(zone)
	if err != nil {
		return ""
	}
	return string(e.liveState(zone, ent))
}

// configStatements renders a configuration as the zonecfg statements that
// make it, one resource per statement, for before/after comparisons. A
// resource's own "add" lines (an rctl's values) stay in its statement,
// after the name that says which rctl they belong to.
func configStatements(c *zones.Config) []string {
	if c == nil {
		return nil
	}
	var out []string
	var block []string
	for _, line := range strings.Split(zones.Export(c), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#") || line == "create -b":
		case strings.HasPrefix(line, "add ") && block == nil:
			block = []string{line}
		case line == "end" && block != nil:
			out = append(out, strings.Join(append(block, "end"), "; "))
			block = nil
		case block != nil:
			block = append(block, line)
		default:
			out = append(out, line)
		}
	}
	return out
}

// ConfigDiff says what changed between two configurations: the statements
// only before has, and those only after has, each joined by newlines.
func ConfigDiff(before, after *zones.Config) (removed, added string) {
	b, a := configStatements(before), configStatements(after)
	inA := map[string]int{}
	for _, s := range a {
		inA[s]++
	}
	inB := map[string]int{}
	for _, s := range b {
		inB[s]++
	}
	var rm, ad []string
	for _, s := range b {
		if inA[s] > 0 {
			inA[s]--
			continue
		}
		rm = append(rm, s)
	}
	for _, s := range a {
		if inB[s] > 0 {
			inB[s]--
			continue
		}
		ad = append(ad, s)
	}
	return strings.Join(rm, "\n"), strings.Join(ad, "\n")
}

// Zonecfg runs the zonecfg front end on the engine's store and audits
// every configuration it changed (created, modified or deleted zones). The
// zonecfg language itself stays in zones/, which knows nothing of audit.
func (e *Engine) Zonecfg(p Principal, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return e.ZonecfgWith(p, args, stdin, stdout, stderr, zones.Options{})
}

// ZonecfgWith is Zonecfg with the session restricted by opts (a
// delegated user's, served by the zonetop service).
func (e *Engine) ZonecfgWith(p Principal, args []string, stdin io.Reader, stdout, stderr io.Writer, opts zones.Options) int {
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
		if b != nil && a != nil && strings.Join(configStatements(b), "\n") == strings.Join(configStatements(a), "\n") {
			continue
		}
		rm, ad := ConfigDiff(b, a)
		what := "zonecfg"
		switch {
		case b == nil:
			what = "zonecfg create"
		case a == nil:
			what = "zonecfg delete"
		}
		_ = AppendAudit(e.Root, AuditRecord{Principal: auditPrincipal(p), Zone: n, What: what, Before: rm, After: ad, Result: "ok"})
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
