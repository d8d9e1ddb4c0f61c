package main

import (
	"os"
	"strings"
	"testing"
	"zonetop/api"
	"zonetop/internal/audit"

	"zonetop/limits"
)

// forged is what an unprivileged zone user sent as a project name: an
// OSC retitling the terminal, and a line of its own making.
const forged = "x\x1b]0;owned\x07\r\n2026-01-01 00:00:00  root  xb1  halt  ok\u202e\u009b"

// rawControls are what must never reach the administrator's terminal.
func rawControls(t *testing.T, what, out string) {
	t.Helper()
	for _, bad := range []string{"\x1b", "\x07", "\r", "\u202e", "\u009b", "\x7f"} {
		if strings.Contains(out, bad) {
			t.Errorf("%s: output holds %q raw:\n%q", what, bad, out)
		}
	}
}

func TestAuditShownEscaped(t *testing.T) {
	root := t.TempDir()
	rec := audit.AuditRecord{Principal: audit.AuditPrincipal{UID: 1000, User: "u\x1b[8m", Zone: "xb1"}, Zone: "xb1",
		What: "project add " + forged, After: `{"name":"` + forged + `"}`, Result: "permission denied: " + forged + "\x7f"}
	if err := audit.AppendAudit(root, rec); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := zt(t, root, "", "audit")
	if code != 0 {
		t.Fatalf("audit: exit %d: %s", code, errOut)
	}
	rawControls(t, "zonetop audit", out)
	if !strings.Contains(out, `project add x\x1b]0;owned\x07\x0d\x0a2026-01-01`) {
		t.Errorf("zonetop audit: the name is not shown escaped:\n%s", out)
	}
	if n := strings.Count(out, "\n"); n != 2 {
		t.Errorf("zonetop audit: %d lines for one record:\n%s", n, out)
	}
	code, out, errOut = zt(t, root, "", "audit", "-o", "json")
	if code != 0 {
		t.Fatalf("audit -o json: exit %d: %s", code, errOut)
	}
	rawControls(t, "zonetop audit -o json", out)
	// The file itself is read with cat too.
	b, err := readFileString(audit.AuditPath(root))
	if err != nil {
		t.Fatal(err)
	}
	rawControls(t, "audit.log", b)
	// And the record keeps the facts.
	recs, _, err := audit.ReadAudit(root, audit.AuditQuery{})
	if err != nil || len(recs) != 1 || recs[0].What != rec.What || recs[0].Principal.User != rec.Principal.User {
		t.Errorf("record read back: %v %+v", err, recs)
	}
}

func readFileString(path string) (string, error) {
	b, err := os.ReadFile(path)
	return string(b), err
}

// prctl, projects -l and zonestat show names and comments from a zone's
// own /etc/project escaped.
func TestZoneNamesShownEscaped(t *testing.T) {
	var b strings.Builder
	formatProjectLong(&b, limits.Project{Name: forged, ID: 100, Comment: forged, Users: []string{forged}, Groups: []string{"g\x1b[2J"}})
	formatPrctl(&b, []prctlEntity{{Kind: "project", ID: "100", Name: forged}})
	formatZonestat(&b, []api.ZoneUsage{{Zone: "xb1", Projects: []api.ProjectUsage{{Name: forged}}}})
	rawControls(t, "projects -l, prctl, zonestat", b.String())
	if !strings.Contains(b.String(), `x\x1b]0;owned\x07`) {
		t.Errorf("names not shown escaped:\n%s", b.String())
	}
}
