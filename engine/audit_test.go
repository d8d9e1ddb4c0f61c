package engine

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"zonetop/api"
	"zonetop/internal/audit"
	"zonetop/zones"
)

func TestAuditAppendRead(t *testing.T) {
	root := t.TempDir()
	p := audit.AuditPrincipal{UID: 1001, User: "alice", Zone: "global"}
	for i := 0; i < 5; i++ {
		zone := "a"
		if i%2 == 1 {
			zone = "b"
		}
		if err := audit.AppendAudit(root, audit.AuditRecord{Principal: p, Zone: zone, What: fmt.Sprintf("op%d", i), Result: "ok"}); err != nil {
			t.Fatal(err)
		}
	}
	// A foreign line in the middle is skipped and counted.
	f, err := os.OpenFile(audit.AuditPath(root), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("not json\n")
	f.Close()
	if err := audit.AppendAudit(root, audit.AuditRecord{Principal: p, Zone: "a", What: "op5", Result: "ok"}); err != nil {
		t.Fatal(err)
	}
	all, bad, err := audit.ReadAudit(root, audit.AuditQuery{})
	if err != nil || bad != 1 || len(all) != 6 {
		t.Fatalf("all: %d records, %d bad, %v", len(all), bad, err)
	}
	as, _, _ := audit.ReadAudit(root, audit.AuditQuery{Zone: "a", Last: 2})
	if len(as) != 2 || as[0].What != "op4" || as[1].What != "op5" {
		t.Errorf("zone a last 2: %+v", as)
	}
	if as[0].Principal != p || as[0].Time.IsZero() {
		t.Errorf("record: %+v", as[0])
	}
}

func TestAuditRecordBounded(t *testing.T) {
	long := strings.Repeat("add fs; set dir=/x\"y\\z; end\n", 1000) + strings.Repeat("é", 3000)
	line, err := audit.EncodeAudit(audit.AuditRecord{Zone: "z", What: "zonecfg", Before: long, After: long, Result: long})
	if err != nil {
		t.Fatal(err)
	}
	if len(line) > audit.AuditMax {
		t.Fatalf("record of %d bytes exceeds %d", len(line), audit.AuditMax)
	}
	var rec audit.AuditRecord
	if err := json.Unmarshal(line, &rec); err != nil {
		t.Fatalf("shortened record is not JSON: %v", err)
	}
	if !strings.HasSuffix(rec.Before, "…") {
		t.Errorf("before not marked as cut: %q", rec.Before[len(rec.Before)-10:])
	}
}

// Concurrent writers never interleave records: every line parses.
func TestAuditConcurrent(t *testing.T) {
	root := t.TempDir()
	var wg sync.WaitGroup
	const writers, each = 8, 50
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				_ = audit.AppendAudit(root, audit.AuditRecord{Zone: "z", What: "op", Before: strings.Repeat("x", 3000), Result: fmt.Sprint(w, i)})
			}
		}(w)
	}
	wg.Wait()
	recs, bad, err := audit.ReadAudit(root, audit.AuditQuery{})
	if err != nil || bad != 0 || len(recs) != writers*each {
		t.Fatalf("%d records, %d bad, %v", len(recs), bad, err)
	}
}

func TestConfigDiff(t *testing.T) {
	a := &zones.Config{Name: "z", Zonepath: "/zones/z", Brand: "sparse", IPType: "shared"}
	b := a.Clone()
	b.Autoboot = true
	b.FS = []zones.FS{{Dir: "/mnt", Special: "/srv", Type: "lofs"}}
	rm, ad := audit.ConfigDiff(a, b)
	if !strings.Contains(rm, "autoboot=false") || !strings.Contains(ad, "autoboot=true") || !strings.Contains(ad, "add fs; ") {
		t.Errorf("diff: removed %q added %q", rm, ad)
	}
	if rm, ad := audit.ConfigDiff(a, a.Clone()); rm != "" || ad != "" {
		t.Errorf("no change: %q %q", rm, ad)
	}
}

func TestZonecfgAudited(t *testing.T) {
	root := t.TempDir()
	e, err := New(root, "")
	if err != nil {
		t.Fatal(err)
	}
	var out, errb strings.Builder
	p := api.Principal{UID: 0, Zone: "global"}
	if code := e.Zonecfg(p, []string{"-z", "aud1", "create; set zonepath=/zones/aud1"}, strings.NewReader(""), &out, &errb); code != 0 {
		t.Fatalf("zonecfg: %d %s", code, errb.String())
	}
	if code := e.Zonecfg(p, []string{"-z", "aud1", "set autoboot=true"}, strings.NewReader(""), &out, &errb); code != 0 {
		t.Fatalf("zonecfg: %d %s", code, errb.String())
	}
	recs, _, _ := audit.ReadAudit(root, audit.AuditQuery{Zone: "aud1"})
	if len(recs) != 2 || recs[0].What != "zonecfg create" || recs[1].What != "zonecfg" ||
		!strings.Contains(recs[1].After, "autoboot=true") {
		t.Fatalf("audit: %+v", recs)
	}
	// A failed op is audited with its error.
	if _, err := e.BootZone(t.Context(), api.Principal{UID: 7, User: "nobody7", Zone: "global"}, "aud1", nil); err == nil {
		t.Fatal("boot by a stranger allowed")
	}
	recs, _, _ = audit.ReadAudit(root, audit.AuditQuery{Zone: "aud1", Last: 1})
	if len(recs) != 1 || recs[0].What != "boot" || !strings.Contains(recs[0].Result, "permission denied") || recs[0].Principal.UID != 7 {
		t.Fatalf("denied boot audit: %+v", recs)
	}
}

// A zonecfg session that stays open while another session changes another
// zone is audited for its own change only: the other change is the other
// principal's, recorded once.
func TestZonecfgAuditedPerSession(t *testing.T) {
	root := t.TempDir()
	e, err := New(root, "")
	if err != nil {
		t.Fatal(err)
	}
	alice := api.Principal{UID: 0, User: "alice", Zone: "global"}
	bob := api.Principal{UID: 0, User: "bob", Zone: "global"}
	for _, z := range []string{"auda", "audb"} {
		var errb strings.Builder
		if code := e.Zonecfg(alice, []string{"-z", z, "create; set zonepath=/zones/" + z}, strings.NewReader(""), io.Discard, &errb); code != 0 {
			t.Fatalf("zonecfg %s: %d %s", z, code, errb.String())
		}
	}
	in, feed := io.Pipe()
	done := make(chan int)
	var errA strings.Builder
	go func() { done <- e.Zonecfg(alice, []string{"-z", "auda"}, in, io.Discard, &errA) }()
	// Once the line is taken, alice's session has loaded auda.
	if _, err := io.WriteString(feed, "set autoboot=true\n"); err != nil {
		t.Fatal(err)
	}
	var errB strings.Builder
	if code := e.Zonecfg(bob, []string{"-z", "audb", "set autoboot=true"}, strings.NewReader(""), io.Discard, &errB); code != 0 {
		t.Fatalf("bob's zonecfg: %d %s", code, errB.String())
	}
	feed.Close()
	if code := <-done; code != 0 {
		t.Fatalf("alice's zonecfg: %d %s", code, errA.String())
	}
	for zone, who := range map[string]string{"auda": "alice", "audb": "bob"} {
		recs, _, _ := audit.ReadAudit(root, audit.AuditQuery{Zone: zone})
		var changes []audit.AuditRecord
		for _, r := range recs {
			if r.What == "zonecfg" {
				changes = append(changes, r)
			}
		}
		if len(changes) != 1 || changes[0].Principal.User != who || !strings.Contains(changes[0].After, "autoboot=true") {
			t.Errorf("%s: want one change by %s, got %+v", zone, who, changes)
		}
	}
}
