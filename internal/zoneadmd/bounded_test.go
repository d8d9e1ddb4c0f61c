package zoneadmd

import (
	"strings"
	"sync"
	"testing"
	"time"
	"zonetop/internal/audit"
)

// A flood of records from one uid is cut to its burst and summed up in
// one record saying how many were left out; another uid of the zone
// still gets its records written.
func TestAuditLimiterSummary(t *testing.T) {
	var mu sync.Mutex
	var got []audit.AuditRecord
	a := newAuditLimiter("xb1", func(r audit.AuditRecord) { mu.Lock(); got = append(got, r); mu.Unlock() })
	now := time.Unix(1000, 0)
	a.now = func() time.Time { return now }
	for i := 0; i < 1000; i++ {
		a.record(audit.AuditRecord{Principal: audit.AuditPrincipal{UID: 1000, Zone: "xb1"}, Zone: "xb1", What: "set-zone-cap", Result: "denied"})
	}
	a.record(audit.AuditRecord{Principal: audit.AuditPrincipal{UID: 0, Zone: "xb1"}, Zone: "xb1", What: "project add web", Result: "ok"})
	a.close()
	mu.Lock()
	defer mu.Unlock()
	if len(got) != auditBurstUID+2 {
		t.Fatalf("%d records written, want %d", len(got), auditBurstUID+2)
	}
	if got[auditBurstUID].Principal.UID != 0 {
		t.Errorf("the zone root's record was dropped: %+v", got[auditBurstUID])
	}
	sum := got[len(got)-1]
	if want := "990 similar records from uid 1000 suppressed"; sum.Result != want || sum.What != "audit suppressed" {
		t.Errorf("summary %+v, want result %q", sum, want)
	}
	// Time brings tokens back.
	now = now.Add(2 * auditEveryUID)
	a.closed = false
	n := len(got)
	mu.Unlock()
	a.record(audit.AuditRecord{Principal: audit.AuditPrincipal{UID: 1000, Zone: "xb1"}, Zone: "xb1", What: "x", Result: "denied"})
	mu.Lock()
	if len(got) != n+1 {
		t.Errorf("no record after the bucket refilled")
	}
}

func TestBoundWarnings(t *testing.T) {
	var ws []string
	for i := 0; i < 100; i++ {
		ws = append(ws, strings.Repeat("\x1b", 1000))
	}
	out := boundWarnings(ws)
	if len(out) != MaxWarnings+1 || out[MaxWarnings] != "... and 80 more" {
		t.Fatalf("%d warnings, last %q", len(out), out[len(out)-1])
	}
	for _, w := range out {
		if len(w) > MaxWarningLen || strings.Contains(w, "\x1b") {
			t.Fatalf("warning %q", w)
		}
	}
}

// One uid holds at most its share; the rest of the socket stays open to
// root, and to other users up to the reserve.
func TestConnLimiter(t *testing.T) {
	l := NewConnLimiter("zone socket", 64, 8, 8)
	for i := 0; i < 8; i++ {
		if why := l.Admit(1000); why != "" {
			t.Fatalf("connection %d of uid 1000 refused: %s", i+1, why)
		}
	}
	if why := l.Admit(1000); why != "zone socket: too many connections from uid 1000 (limit 8)" {
		t.Errorf("9th connection of uid 1000: %q", why)
	}
	for u := uint32(1001); u < 1006; u++ {
		for i := 0; i < 8; i++ {
			if why := l.Admit(u); why != "" && u < 1006 {
				t.Fatalf("uid %d: %s", u, why)
			}
		}
	}
	// 48 held by users: 8 more fit, then only root.
	for i := 0; i < 8; i++ {
		_ = l.Admit(2000 + uint32(i))
	}
	if why := l.Admit(3000); !strings.Contains(why, "other than root (limit 56)") {
		t.Errorf("57th user connection: %q", why)
	}
	for i := 0; i < 8; i++ {
		if why := l.Admit(0); why != "" {
			t.Fatalf("root's connection %d refused: %s", i+1, why)
		}
	}
	if why := l.Admit(0); !strings.Contains(why, "(limit 64)") {
		t.Errorf("65th connection: %q", why)
	}
	l.Leave(1000)
	if why := l.Admit(1000); why != "" {
		t.Errorf("uid 1000 after one left: %s", why)
	}
}

// New connections of one uid are paced; root's are not.
func TestZoneSockPaceConn(t *testing.T) {
	s := &ZoneSockServer{}
	refused := 0
	for i := 0; i < 2*zoneSockConnBurst; i++ {
		if why := s.paceConn(1000); why != "" {
			refused++
			if !strings.Contains(why, "slow down") || !strings.Contains(why, "uid 1000") {
				t.Fatalf("refusal %q", why)
			}
		}
		if why := s.paceConn(0); why != "" {
			t.Fatalf("root paced: %s", why)
		}
	}
	if refused < zoneSockConnBurst-2 {
		t.Errorf("%d of %d connections at once refused, want about %d", refused, 2*zoneSockConnBurst, zoneSockConnBurst)
	}
}

// zoneadmd's log escapes what it quotes, keeps a message's own lines
// indented under it, and bounds them.
func TestLogWriter(t *testing.T) {
	var out strings.Builder
	w := &logWriter{w: &out}
	msg := "zoneadmd xb1: bad \x1b]0;t\x07 line\nzoneadmd xb1: forged\n" + strings.Repeat("x", 3*ZoneadmdLogLine) + "\n"
	if n, err := w.Write([]byte(msg)); err != nil || n != len(msg) {
		t.Fatalf("write: %d %v", n, err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[1], "\tzoneadmd xb1: forged") || strings.ContainsAny(out.String(), "\x1b\x07") {
		t.Errorf("log:\n%q", out.String())
	}
	for _, l := range lines {
		if len(l) > ZoneadmdLogLine+1 {
			t.Errorf("line of %d bytes", len(l))
		}
	}
}

// zoneadmd's work on a zone's IPC calls is paced in proportion to the
// zone's own CPU cap: a zone held to a tenth of a CPU cannot have its
// supervisor spend more on it than a zone held to a whole one.
func TestIPCPaceFollowsCPUCap(t *testing.T) {
	for _, c := range []struct {
		capPct uint64
		rate   int
	}{{0, ipcPaceRate}, {100, ipcPaceRate}, {400, ipcPaceRate}, {50, ipcPaceRate / 2}, {10, ipcPaceRate / 10}, {1, ipcPaceMinRate}} {
		if got := int(time.Second / ipcPaceEvery(c.capPct)); got != c.rate {
			t.Errorf("cpu-cap %d%%: %d calls a second, want %d", c.capPct, got, c.rate)
		}
	}
}
