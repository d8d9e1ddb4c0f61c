package zoneadmd

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"
	"zonetop/internal/audit"
	"zonetop/termsafe"
)

// What a zone can make zoneadmd write (its log, the audit log, the
// console log, state.json) is bounded: a zone is allowed to be wrong,
// not to fill the host's disk or burn its CPU by being wrong quickly.
// Repeats are reported once per change, floods are rate-limited with a
// count of what was left out, and every record of zone text is cut to a
// length and shown escaped.

const (
	// maxWarnings bounds the bad /etc/project lines kept in state.json
	// and shown on the console; the rest are counted.
	MaxWarnings = 20
	// maxWarningLen bounds one reported line (bytes, after escaping).
	MaxWarningLen = 256
	// zoneadmd's own log rotates at this size, one old file kept.
	ZoneadmdLogSize = 1 << 20
	zoneadmdLogKeep = 1
	// zoneadmdLogLine bounds one line of zoneadmd's log.
	ZoneadmdLogLine = 2048

	// Audit records a zone drives: per peer uid a burst of auditBurstUID
	// then one every auditEveryUID; per zone a burst of auditBurstZone
	// then one every auditEveryZone. A summary of what was dropped is
	// written at most every auditSummaryEvery.
	auditBurstUID     = 10
	auditEveryUID     = 5 * time.Second
	auditBurstZone    = 30
	auditEveryZone    = time.Second
	auditSummaryEvery = 5 * time.Second
	auditSummaryUIDs  = 8

	// The IPC check answers a burst of ipcPaceBurst calls, then
	// ipcPaceRate a second: at the 40-60 us a granted call costs
	// zoneadmd (DECISIONS.md), at most about a fifth of a CPU per zone.
	// A zone with a cpu-cap below one CPU gets that share of the rate
	// (at least ipcPaceMinRate): zoneadmd spends on a zone's calls in
	// proportion to what the zone itself may spend.
	ipcPaceBurst   = 1000
	ipcPaceRate    = 4000
	ipcPaceMinRate = 200
)

// ipcPaceEvery is the pace of a zone's IPC calls for its zone.cpu-cap
// (percent of one CPU; 0: none).
func ipcPaceEvery(cpuCapPct uint64) time.Duration {
	rate := uint64(ipcPaceRate)
	if cpuCapPct > 0 && cpuCapPct < 100 {
		rate = max(ipcPaceMinRate, ipcPaceRate*cpuCapPct/100)
	}
	return time.Second / time.Duration(rate)
}

// tokenBucket allows a burst, then one event per every.
type tokenBucket struct {
	tokens float64
	burst  float64
	every  time.Duration
	last   time.Time
}

func newBucket(burst int, every time.Duration) *tokenBucket {
	return &tokenBucket{tokens: float64(burst), burst: float64(burst), every: every}
}

// take spends a token if there is one.
func (b *tokenBucket) take(now time.Time) bool {
	if !b.last.IsZero() && now.After(b.last) {
		b.tokens += float64(now.Sub(b.last)) / float64(b.every)
		if b.tokens > b.burst {
			b.tokens = b.burst
		}
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// boundWarnings keeps at most maxWarnings warnings, each escaped and cut
// to maxWarningLen, and says how many more there were.
func boundWarnings(ws []string) []string {
	if len(ws) == 0 {
		return nil
	}
	n := min(len(ws), MaxWarnings)
	out := make([]string, 0, n+1)
	for _, w := range ws[:n] {
		out = append(out, boundLine(w, MaxWarningLen))
	}
	if len(ws) > n {
		out = append(out, fmt.Sprintf("... and %d more", len(ws)-n))
	}
	return out
}

// boundLine escapes s for a log and cuts it to max bytes, marking the cut.
func boundLine(s string, max int) string {
	if len(s) > 4*max {
		// Escaping can only lengthen it: no need to escape what is cut.
		s = s[:4*max]
	}
	s = termsafe.String(s)
	if len(s) <= max {
		return s
	}
	// The escaped text is ASCII-safe at any \ boundary; cut before a
	// partial escape or rune.
	cut := max - len("…")
	for cut > 0 && (s[cut]&0xc0 == 0x80) {
		cut--
	}
	if i := strings.LastIndexByte(s[:cut], '\\'); i >= 0 && cut-i < 10 {
		cut = i
	}
	return s[:cut] + "…"
}

// warningsHash names a set of warnings, to report it once.
func warningsHash(ws []string) [32]byte {
	return sha256.Sum256([]byte(strings.Join(ws, "\x00")))
}

// logWriter is zoneadmd's log output: each line escaped (the log quotes
// what the zone wrote) and cut to zoneadmdLogLine, written to a rotating
// file so the log's size is bounded whatever a zone does.
type logWriter struct {
	mu sync.Mutex
	w  io.Writer
}

// zoneadmdLogLines bounds the lines of one message (a trace zsched wrote).
const zoneadmdLogLines = 64

func (l *logWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	// The log package writes one message per call, ending in a newline.
	// A message of several lines (zsched's stderr) keeps them, indented
	// by a tab, so no text can pass for an entry of its own.
	lines := strings.Split(string(bytes.TrimSuffix(p, []byte("\n"))), "\n")
	var b strings.Builder
	for i, line := range lines {
		if i == zoneadmdLogLines {
			fmt.Fprintf(&b, "\t(%d more lines)\n", len(lines)-i)
			break
		}
		if i > 0 {
			b.WriteByte('\t')
		}
		b.WriteString(boundLine(line, ZoneadmdLogLine))
		b.WriteByte('\n')
	}
	if _, err := io.WriteString(l.w, b.String()); err != nil {
		return 0, err
	}
	return len(p), nil
}

// logLimiter rate-limits one kind of message a zone can cause at will
// (a refused IPC call), counting what it drops.
type logLimiter struct {
	mu      sync.Mutex
	b       *tokenBucket
	dropped int
	logf    func(string, ...any)
	now     func() time.Time
}

func newLogLimiter(burst int, every time.Duration, logf func(string, ...any)) *logLimiter {
	return &logLimiter{b: newBucket(burst, every), logf: logf, now: time.Now}
}

func (l *logLimiter) printf(format string, args ...any) {
	l.mu.Lock()
	ok := l.b.take(l.now())
	dropped := 0
	if ok {
		dropped, l.dropped = l.dropped, 0
	} else {
		l.dropped++
	}
	l.mu.Unlock()
	if !ok {
		return
	}
	if dropped > 0 {
		l.logf("(%d similar messages suppressed)", dropped)
	}
	l.logf(format, args...)
}

// auditLimiter rate-limits the audit records a zone drives, per zone
// and per peer uid. Dropped records are counted and summed up in
// "N similar records from uid U suppressed" records, so the log keeps
// the facts without letting one zone flood it.
type auditLimiter struct {
	mu         sync.Mutex
	zone       string
	now        func() time.Time
	write      func(audit.AuditRecord)
	zoneBucket *tokenBucket
	uids       map[int]*tokenBucket
	suppressed map[int]int
	timer      *time.Timer
	closed     bool
}

func newAuditLimiter(zone string, write func(audit.AuditRecord)) *auditLimiter {
	return &auditLimiter{zone: zone, now: time.Now, write: write,
		zoneBucket: newBucket(auditBurstZone, auditEveryZone),
		uids:       map[int]*tokenBucket{}, suppressed: map[int]int{}}
}

// record writes rec unless its zone or its peer is over its rate.
func (a *auditLimiter) record(rec audit.AuditRecord) {
	uid := rec.Principal.UID
	a.mu.Lock()
	now := a.now()
	b := a.uids[uid]
	if b == nil {
		if len(a.uids) >= 4096 {
			// A zone root cycling through uids: the zone's bucket
			// still bounds them all, so the map need not grow.
			a.uids = map[int]*tokenBucket{}
		}
		b = newBucket(auditBurstUID, auditEveryUID)
		a.uids[uid] = b
	}
	ok := b.take(now) && a.zoneBucket.take(now)
	if !ok {
		a.suppressed[uid]++
		if a.timer == nil && !a.closed {
			a.timer = time.AfterFunc(auditSummaryEvery, a.flush)
		}
	}
	a.mu.Unlock()
	if ok {
		a.write(rec)
	}
}

// flush writes the summaries of what was dropped since the last one.
func (a *auditLimiter) flush() {
	a.mu.Lock()
	a.timer = nil
	sup := a.suppressed
	a.suppressed = map[int]int{}
	a.mu.Unlock()
	if len(sup) == 0 {
		return
	}
	uids := make([]int, 0, len(sup))
	for u := range sup {
		uids = append(uids, u)
	}
	// The biggest floods first; the rest summed up in one record.
	sort.Slice(uids, func(i, j int) bool {
		return sup[uids[i]] > sup[uids[j]] || sup[uids[i]] == sup[uids[j]] && uids[i] < uids[j]
	})
	rest, restUIDs := 0, 0
	for i, u := range uids {
		if i >= auditSummaryUIDs {
			rest += sup[u]
			restUIDs++
			continue
		}
		a.write(audit.AuditRecord{Principal: audit.AuditPrincipal{UID: u, Zone: a.zone}, Zone: a.zone, What: "audit suppressed",
			Result: fmt.Sprintf("%d similar records from uid %d suppressed", sup[u], u)})
	}
	if rest > 0 {
		a.write(audit.AuditRecord{Principal: audit.AuditPrincipal{UID: -1, Zone: a.zone}, Zone: a.zone, What: "audit suppressed",
			Result: fmt.Sprintf("%d similar records from %d other uids suppressed", rest, restUIDs)})
	}
}

// close writes what is still to be summed up; later drops are lost with
// the zone's supervisor.
func (a *auditLimiter) close() {
	a.mu.Lock()
	a.closed = true
	if a.timer != nil {
		a.timer.Stop()
		a.timer = nil
	}
	a.mu.Unlock()
	a.flush()
}

// connLimiter shares a socket's connections out by peer uid: root (uid 0
// where the socket is) may hold up to max, any other uid perUID, and the
// other uids together max-reserve, so no user can lock root out.
type connLimiter struct {
	mu                   sync.Mutex
	what                 string
	max, perUID, reserve int
	byUID                map[uint32]int
	total, nonRoot       int
}

func NewConnLimiter(what string, max, perUID, reserve int) *connLimiter {
	return &connLimiter{what: what, max: max, perUID: perUID, reserve: reserve, byUID: map[uint32]int{}}
}

// admit counts a new connection of uid in, or says why it is refused.
func (l *connLimiter) Admit(uid uint32) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.total >= l.max:
		return fmt.Sprintf("%s: too many connections (limit %d)", l.what, l.max)
	case uid != 0 && l.byUID[uid] >= l.perUID:
		return fmt.Sprintf("%s: too many connections from uid %d (limit %d)", l.what, uid, l.perUID)
	case uid != 0 && l.nonRoot >= l.max-l.reserve:
		return fmt.Sprintf("%s: too many connections from users other than root (limit %d)", l.what, l.max-l.reserve)
	}
	l.byUID[uid]++
	l.total++
	if uid != 0 {
		l.nonRoot++
	}
	return ""
}

// leave counts a connection of uid out.
func (l *connLimiter) Leave(uid uint32) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.byUID[uid]--; l.byUID[uid] <= 0 {
		delete(l.byUID, uid)
	}
	l.total--
	if uid != 0 {
		l.nonRoot--
	}
}
