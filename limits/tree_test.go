package limits

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"zonetop/rctl"

	"golang.org/x/sys/unix"
)

const shm rctl.Resource = "max-shm-memory"

var deny = rctl.Action{Deny: true}

func child(t testing.TB, n *Node, name string) *Node {
	t.Helper()
	c, err := n.Child(name)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func request(t testing.TB, n *Node, res rctl.Resource, amount uint64) Grant {
	t.Helper()
	g, err := n.Request(res, amount)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// Fig. 4, first example: zone 100, project 10. The project gets at most
// 10, whatever is left in the zone.
func TestFig4ProjectBelowZone(t *testing.T) {
	tr := NewTree()
	z := tr.Zone("z")
	z.SetLimit("r", 100, deny)
	p := child(t, z, "p")
	p.SetLimit("r", 10, deny)
	if g := request(t, p, "r", 10); !g.OK() {
		t.Fatalf("10 of 10 refused: %+v", g)
	}
	if g := request(t, p, "r", 1); g.OK() || g.Granted != 0 || g.By != p {
		t.Fatalf("11th unit: %+v, want denied by the project", g)
	}
	if lim, by, _ := p.EffectiveLimit("r"); lim != 10 || by != p {
		t.Errorf("effective limit %d by %v, want 10 by project", lim, by)
	}
	if p.CappedByZone("r") {
		t.Error("project below its zone reported capped by zone")
	}
}

// Fig. 4, second example: zone 100, project 1000. The zone wins.
func TestFig4ZoneWins(t *testing.T) {
	tr := NewTree()
	z := tr.Zone("z")
	z.SetLimit("r", 100, deny)
	p := child(t, z, "p")
	p.SetLimit("r", 1000, deny)
	if g := request(t, p, "r", 101); g.OK() || g.By != z {
		t.Fatalf("101 in a zone of 100: %+v, want denied by the zone", g)
	}
	if g := request(t, p, "r", 100); !g.OK() {
		t.Fatalf("100: %+v", g)
	}
	if g := request(t, p, "r", 1); g.OK() || g.By != z {
		t.Fatalf("101st unit: %+v, want denied by the zone", g)
	}
	if lim, by, _ := p.EffectiveLimit("r"); lim != 100 || by != z {
		t.Errorf("effective limit %d by %v, want 100 by zone", lim, by)
	}
	if !p.CappedByZone("r") {
		t.Error("project at 1000 in a zone of 100 not reported capped by zone")
	}
}

// Fig. 6: zone A 20000 bytes, project P1 10000 with 10000 allocated; one
// more byte is denied by the project.
func TestFig6ProjectFull(t *testing.T) {
	tr := NewTree()
	a := tr.Zone("A")
	a.SetLimit(shm, 20000, deny)
	p1 := child(t, a, "P1")
	p1.SetLimit(shm, 10000, deny)
	if g := request(t, p1, shm, 10000); !g.OK() {
		t.Fatal(g)
	}
	g := request(t, p1, shm, 1)
	if g.Granted != 0 || g.By != p1 || g.Available != 0 {
		t.Fatalf("1 byte: %+v, want denied by P1 with 0 available", g)
	}
	if u := a.Usage(shm); u.Used != 10000 {
		t.Errorf("zone total %d, want 10000", u.Used)
	}
}

// Fig. 7: zone B 20000, P2 and P3 at 10000 each, 5000 allocated to each.
// P2 asks for one byte: project has 5000 left, zone 10000, the lower is
// 5000, the byte is granted.
func TestFig7Granted(t *testing.T) {
	tr := NewTree()
	b := tr.Zone("B")
	b.SetLimit(shm, 20000, deny)
	p2, p3 := child(t, b, "P2"), child(t, b, "P3")
	p2.SetLimit(shm, 10000, deny)
	p3.SetLimit(shm, 10000, deny)
	request(t, p2, shm, 5000)
	request(t, p3, shm, 5000)
	if avail, by := p2.Available(shm); avail != 5000 || by != p2 {
		t.Fatalf("P2 available %d by %v, want 5000 by P2", avail, by)
	}
	if avail, by := b.Available(shm); avail != 10000 || by != b {
		t.Fatalf("zone available %d by %v, want 10000", avail, by)
	}
	g := request(t, p2, shm, 1)
	if !g.OK() || g.Available != 5000 {
		t.Fatalf("1 byte: %+v, want granted with 5000 available", g)
	}
	if u := b.Usage(shm); u.Used != 10001 {
		t.Errorf("zone total %d, want 10001", u.Used)
	}
}

// Paragraph 0051: P3 at 15000 of a 15000 limit fills the zone (5000 +
// 15000 = 20000); P2's byte is denied by the zone though P2 is under its
// own limit.
func TestFig7ZoneFull(t *testing.T) {
	tr := NewTree()
	b := tr.Zone("B")
	b.SetLimit(shm, 20000, deny)
	p2, p3 := child(t, b, "P2"), child(t, b, "P3")
	p2.SetLimit(shm, 10000, deny)
	p3.SetLimit(shm, 15000, deny)
	request(t, p2, shm, 5000)
	if g := request(t, p3, shm, 15000); !g.OK() {
		t.Fatal(g)
	}
	g := request(t, p2, shm, 1)
	if g.Granted != 0 || g.By != b {
		t.Fatalf("1 byte: %+v, want denied by the zone", g)
	}
	if u := p2.Usage(shm); u.Used != 5000 || u.Limit != 10000 {
		t.Errorf("P2 %+v, want 5000 of 10000", u)
	}
}

// The partial action grants what is left where the binding limit asks.
func TestPartialGrant(t *testing.T) {
	tr := NewTree()
	b := tr.Zone("B")
	b.SetLimit(shm, 20000, deny)
	p2 := child(t, b, "P2")
	p2.SetLimit(shm, 10000, rctl.Action{Partial: true})
	request(t, p2, shm, 5000)
	g := request(t, p2, shm, 6000)
	if !g.Partial() || g.Granted != 5000 || g.By != p2 {
		t.Fatalf("6000 with 5000 left: %+v, want partial 5000", g)
	}
	// Now the zone binds (deny): a further request is refused whole.
	p3 := child(t, b, "P3")
	p3.SetLimit(shm, 50000, rctl.Action{Partial: true})
	request(t, p3, shm, 9000)
	g = request(t, p3, shm, 2000)
	if g.Granted != 0 || g.By != b {
		t.Fatalf("2000 with the zone at 19000/20000: %+v, want denied by the zone", g)
	}
}

// none and signal values are thresholds: never refused, reported.
func TestThresholdsDoNotDeny(t *testing.T) {
	tr := NewTree()
	z := tr.Zone("z")
	p := child(t, z, "p")
	p.SetLimit("r", 5, rctl.Action{Signal: unix.SIGTERM})
	z.SetLimit("r", 3, rctl.Action{})
	g := request(t, p, "r", 10)
	if !g.OK() {
		t.Fatalf("threshold denied: %+v", g)
	}
	if len(g.Signals) != 1 || g.Signals[0].Node != p || g.Signals[0].Action.Signal != unix.SIGTERM {
		t.Errorf("signals %+v, want SIGTERM from the project", g.Signals)
	}
	if _, _, ok := p.EffectiveLimit("r"); ok {
		t.Error("a non-enforcing threshold reported as an effective limit")
	}
}

func TestReleaseAndRemove(t *testing.T) {
	tr := NewTree()
	z := tr.Zone("z")
	z.SetLimit("r", 10, deny)
	p := child(t, z, "p")
	task := child(t, p, "1")
	proc := child(t, task, "42")
	if _, err := proc.Child("x"); err == nil {
		t.Error("a process got a child")
	}
	request(t, proc, "r", 10)
	if g := request(t, task, "r", 1); g.OK() {
		t.Fatal("zone full but granted")
	}
	if err := proc.Release("r", 11); err == nil {
		t.Error("released more than held")
	}
	if err := proc.Release("r", 4); err != nil {
		t.Fatal(err)
	}
	for _, n := range []*Node{z, p, task, proc} {
		if u := n.Usage("r"); u.Used != 6 {
			t.Errorf("%v used %d, want 6", n, u.Used)
		}
	}
	task.Remove()
	if u := z.Usage("r"); u.Used != 0 {
		t.Errorf("zone used %d after the task went, want 0", u.Used)
	}
	if _, ok := p.Lookup("1"); ok {
		t.Error("removed task still listed")
	}
	if _, err := proc.Request("r", 1); err == nil {
		t.Error("request on a removed process succeeded")
	}
	p.Charge("r", 3)
	if u := z.Usage("r"); u.Used != 3 {
		t.Errorf("charge: zone used %d, want 3", u.Used)
	}
	if got := proc.Path(); got != "z/p/1/42" {
		t.Errorf("path %q", got)
	}
}

// Many goroutines in many projects race for one zone limit: the total
// granted must be exactly the limit, never more.
func TestRaceNoOvershoot(t *testing.T) {
	const limit, workers, tries = 1000, 16, 500
	tr := NewTree()
	z := tr.Zone("z")
	z.SetLimit(shm, limit, deny)
	var projects []*Node
	for i := range 4 {
		p := child(t, z, fmt.Sprintf("p%d", i))
		p.SetLimit(shm, 400, deny)
		projects = append(projects, p)
	}
	var granted atomic.Uint64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := projects[w%len(projects)]
			for i := range tries {
				amount := uint64(1 + (w+i)%3)
				g, err := p.Request(shm, amount)
				if err != nil {
					t.Error(err)
					return
				}
				granted.Add(g.Granted)
				if i%7 == 0 && g.Granted > 0 {
					if err := p.Release(shm, g.Granted); err != nil {
						t.Error(err)
						return
					}
					granted.Add(^(g.Granted - 1))
				}
			}
		}()
	}
	wg.Wait()
	used := z.Usage(shm).Used
	if used > limit {
		t.Fatalf("zone overshot: %d > %d", used, limit)
	}
	if used != granted.Load() {
		t.Fatalf("zone total %d, granted %d", used, granted.Load())
	}
	var sum uint64
	for _, p := range projects {
		u := p.Usage(shm).Used
		if u > 400 {
			t.Errorf("%v overshot: %d", p, u)
		}
		sum += u
	}
	if sum != used {
		t.Errorf("projects sum %d, zone %d", sum, used)
	}
}

func BenchmarkCheckUncontended(b *testing.B) {
	tr := NewTree()
	z := tr.Zone("z")
	z.SetLimit(shm, 1<<40, deny)
	p := child(b, z, "p")
	p.SetLimit(shm, 1<<30, deny)
	task := child(b, p, "1")
	proc := child(b, task, "1")
	b.ReportAllocs()
	for b.Loop() {
		g, _ := proc.Request(shm, 4096)
		_ = proc.Release(shm, g.Granted)
	}
}

// All cores contend for one zone's lock, each from its own project.
func BenchmarkCheckContended(b *testing.B) {
	tr := NewTree()
	z := tr.Zone("z")
	z.SetLimit(shm, 1<<40, deny)
	var next atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		p, err := z.Child(fmt.Sprintf("p%d", next.Add(1)))
		if err != nil {
			b.Error(err)
			return
		}
		p.SetLimit(shm, 1<<30, deny)
		for pb.Next() {
			g, _ := p.Request(shm, 4096)
			_ = p.Release(shm, g.Granted)
		}
	})
}

func TestSetRctl(t *testing.T) {
	tr := NewTree()
	z := tr.Zone("z")
	p := child(t, z, "p")
	vs, err := rctl.ParseValues("(privileged,500,none),(privileged,2000,deny),(privileged,1000,deny)")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.SetRctl("project.max-lwps", vs); err != nil {
		t.Fatal(err)
	}
	if u := p.Usage("max-lwps"); !u.Limited || u.Limit != 1000 || !u.Action.Deny {
		t.Errorf("usage %+v, want deny at 1000", u)
	}
	if err := z.SetRctl("project.max-lwps", vs); err == nil {
		t.Error("project control set on a zone")
	}
	bad, _ := rctl.ParseValues("(privileged,5,none)")
	if err := p.SetRctl("project.max-shm-ids", bad); err == nil {
		t.Error("non-deny shm-ids value accepted")
	}
	if err := p.SetRctl("project.max-lwps", nil); err != nil || p.Usage("max-lwps").Limited {
		t.Errorf("clearing: %v %+v", err, p.Usage("max-lwps"))
	}
}
