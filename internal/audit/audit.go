package audit

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
	"zonetop/api"
	"zonetop/internal/configs"
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
const AuditMax = 4096

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
func AuditPath(rootPrefix string) string {
	return filepath.Join(configs.LogDir(rootPrefix), "audit.log")
}

// auditPrincipal turns an engine principal into its audit form.
func AuditPrincipalOf(p api.Principal) AuditPrincipal {
	return AuditPrincipal{UID: p.UID, User: p.User, Zone: p.Zone}
}

// encodeAudit renders rec as one line of at most auditMax bytes: the
// before and after texts, then the result, are shortened (marked with an
// ellipsis) until it fits.
func EncodeAudit(rec AuditRecord) ([]byte, error) {
	for i := 0; i < 64; i++ {
		b, err := json.Marshal(rec)
		if err != nil {
			return nil, fmt.Errorf("audit record: %w", err)
		}
		// A record keeps what a zone sent as it was, but the file is
		// read with cat and less too: runes JSON leaves raw that a
		// terminal would act on are written as \u escapes.
		b = termsafe.JSON(b)
		if len(b)+1 <= AuditMax {
			return append(b, '\n'), nil
		}
		over := len(b) + 1 - AuditMax
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
	line, err := EncodeAudit(rec)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(configs.LogDir(rootPrefix), 0o755); err != nil {
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
	sc.Buffer(make([]byte, 0, AuditMax), 1<<20)
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

// configStatements renders a configuration as the zonecfg statements that
// make it, one resource per statement, for before/after comparisons. A
// resource's own "add" lines (an rctl's values) stay in its statement,
// after the name that says which rctl they belong to.
func ConfigStatements(c *zones.Config) []string {
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
	b, a := ConfigStatements(before), ConfigStatements(after)
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
