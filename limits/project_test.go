package limits

import (
	"errors"
	"strings"
	"testing"
	"zonetop/rctl"
)

const sampleProject = `system:0::::
user.root:1::::
noproject:2::::
default:3::::
group.staff:10::::
# a comment, then a blank line

salesaudit:111:Auditing Project::sales,finance:process.max-file-size=(priv,52428800,deny);task.max-lwps=(priv,100,deny)
db:200:database:oracle,postgres:dba:project.max-shm-memory=(privileged,20000,deny);project.pool=pool_db
`

func TestParseProjectsGood(t *testing.T) {
	ps, errs := ParseProjects(strings.NewReader(sampleProject), "/etc/project")
	if len(errs) != 0 {
		t.Fatalf("errors: %v", errs)
	}
	if len(ps) != 7 {
		t.Fatalf("got %d projects, want 7", len(ps))
	}
	sa, ok := ps.Lookup("salesaudit")
	if !ok || sa.ID != 111 || sa.Comment != "Auditing Project" || len(sa.Users) != 0 || strings.Join(sa.Groups, ",") != "sales,finance" {
		t.Fatalf("salesaudit = %+v", sa)
	}
	rc, err := sa.Rctls()
	if err != nil {
		t.Fatal(err)
	}
	if v := rc["task.max-lwps"]; len(v) != 1 || v[0].Limit != 100 || !v[0].Action.Deny || v[0].Privilege != rctl.Privileged {
		t.Errorf("task.max-lwps = %v", v)
	}
	db, _ := ps.ByID(200)
	if a, ok := db.Attr("project.pool"); !ok || a.Value != "pool_db" {
		t.Errorf("project.pool = %+v", a)
	}
	// Round trip: what was read is written back unchanged (comments and
	// blank lines aside).
	var want []string
	for _, l := range strings.Split(sampleProject, "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			want = append(want, l)
		}
	}
	if got := string(ps.Format()); got != strings.Join(want, "\n")+"\n" {
		t.Errorf("round trip:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
}

func TestParseProjectsBadLinesReported(t *testing.T) {
	in := `system:0::::
bad line without fields
9lives:150::::
ok1:150::::
dup:150::::
ok1:151::::
reserved:42::::
neg:-1::::
huge:2147483648::::
rc:160::::task.max-lwps=(priv,lots,deny)
rc2:161::::project.max-lwps=(basic,10,deny)
zonecap:162::::zone.max-lwps=(privileged,10,deny)
unknown:163::::project.max-frobs=(privileged,10,deny)
ok2:170:fine:alice:staff:
`
	ps, errs := ParseProjects(strings.NewReader(in), "zones/z1/root/etc/project")
	var names []string
	for _, p := range ps {
		names = append(names, p.Name)
	}
	if got := strings.Join(names, ","); got != "system,ok1,ok2" {
		t.Errorf("good projects %s, want system,ok1,ok2", got)
	}
	wantLines := []int{2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13}
	if len(errs) != len(wantLines) {
		t.Fatalf("got %d errors, want %d: %v", len(errs), len(wantLines), errs)
	}
	for i, e := range errs {
		var le *LineError
		if !errors.As(e, &le) || le.Line != wantLines[i] || le.File != "zones/z1/root/etc/project" {
			t.Errorf("error %d = %v, want line %d", i, e, wantLines[i])
		}
		if !strings.HasPrefix(e.Error(), "zones/z1/root/etc/project:") {
			t.Errorf("error %q does not name the file", e)
		}
	}
}

func TestDefaultProjects(t *testing.T) {
	ps := DefaultProjects()
	want := "system:0::::\nuser.root:1::::\nnoproject:2::::\ndefault:3::::\ngroup.staff:10::::\n"
	if got := string(ps.Format()); got != want {
		t.Errorf("defaults:\n%s", got)
	}
	again, errs := ParseProjects(strings.NewReader(want), "x")
	if len(errs) != 0 || len(again) != 5 {
		t.Errorf("defaults do not parse back: %v", errs)
	}
}

func TestProjaddModDel(t *testing.T) {
	ps := DefaultProjects()
	attrs, err := ParseAttrs("task.max-lwps=(priv,1000,signal=KILL)")
	if err != nil {
		t.Fatal(err)
	}
	if err := ps.Add("salesaudit", -1, "Auditing", nil, []string{"sales"}, attrs); err != nil {
		t.Fatal(err)
	}
	if p, _ := ps.Lookup("salesaudit"); p.ID != 100 {
		t.Errorf("auto id %d, want 100", p.ID)
	}
	if err := ps.Add("web", -1, "", nil, nil, nil); err != nil {
		t.Fatal(err)
	}
	if p, _ := ps.Lookup("web"); p.ID != 101 {
		t.Errorf("second auto id %d, want 101", p.ID)
	}
	for _, bad := range []struct {
		name string
		id   int
	}{{"salesaudit", -1}, {"x", 100}, {"1x", -1}, {"low", 50}, {"a:b", -1}} {
		if err := ps.Add(bad.name, bad.id, "", nil, nil, nil); err == nil {
			t.Errorf("projadd %s %d accepted", bad.name, bad.id)
		}
	}
	if err := ps.Add("badrc", -1, "", nil, nil, []Attr{{Name: "project.max-lwps", Value: "(basic,1,deny)", HasValue: true}}); err == nil {
		t.Error("projadd with a basic project.max-lwps accepted")
	}

	// projmod -a -K adds a value (Example 1 of projmod(8)).
	add, _ := ParseAttrs("task.max-lwps=(priv,100,deny)")
	if err := ps.Modify("salesaudit", Mod{Mode: ModAdd, Attrs: add}); err != nil {
		t.Fatal(err)
	}
	p, _ := ps.Lookup("salesaudit")
	if a, _ := p.Attr("task.max-lwps"); a.Value != "(privileged,100,deny),(privileged,1000,signal=KILL)" {
		t.Errorf("after -a: %s", a.Value)
	}
	// projmod -r -K removes it again (Example 3).
	if err := ps.Modify("salesaudit", Mod{Mode: ModRemove, Attrs: add}); err != nil {
		t.Fatal(err)
	}
	if a, _ := p.Attr("task.max-lwps"); a.Value != "(privileged,1000,signal=KILL)" {
		t.Errorf("after -r: %s", a.Value)
	}
	// projmod -s -K substitutes (Example 2) and keeps other attributes.
	sub, _ := ParseAttrs("task.max-lwps=(priv,500,signal=SIGSTOP);project.max-shm-ids=(privileged,64,deny)")
	if err := ps.Modify("salesaudit", Mod{Mode: ModSubstitute, Attrs: sub}); err != nil {
		t.Fatal(err)
	}
	if got := p.String(); got != "salesaudit:100:Auditing::sales:task.max-lwps=(priv,500,signal=SIGSTOP);project.max-shm-ids=(privileged,64,deny)" {
		t.Errorf("after -s: %s", got)
	}
	// Plain -K replaces the whole list; -U replaces, -a -U adds, -r -U removes.
	only, _ := ParseAttrs("project.max-shm-ids=(privileged,32,deny)")
	comment := "new comment"
	id := 300
	if err := ps.Modify("salesaudit", Mod{Attrs: only, Users: []string{"alice", "bob"}, SetUsers: true, Comment: &comment, ID: &id, NewName: "audit"}); err != nil {
		t.Fatal(err)
	}
	if err := ps.Modify("audit", Mod{Mode: ModAdd, Users: []string{"carol", "alice"}, SetUsers: true}); err != nil {
		t.Fatal(err)
	}
	if err := ps.Modify("audit", Mod{Mode: ModRemove, Users: []string{"bob"}, SetUsers: true}); err != nil {
		t.Fatal(err)
	}
	p, _ = ps.Lookup("audit")
	if got := p.String(); got != "audit:300:new comment:alice,carol:sales:project.max-shm-ids=(privileged,32,deny)" {
		t.Errorf("after replace: %s", got)
	}
	// A failed modify changes nothing.
	before := string(ps.Format())
	badVal := []Attr{{Name: "project.max-shm-ids", Value: "(privileged,32,none)", HasValue: true}}
	if err := ps.Modify("audit", Mod{Attrs: badVal}); err == nil {
		t.Error("projmod with a non-deny shm-ids value accepted")
	}
	dupID := 3
	if err := ps.Modify("audit", Mod{ID: &dupID}); err == nil {
		t.Error("projmod to a used id accepted")
	}
	if string(ps.Format()) != before {
		t.Error("failed projmod changed the list")
	}
	if err := ps.Delete("audit"); err != nil {
		t.Fatal(err)
	}
	if err := ps.Delete("audit"); err == nil {
		t.Error("projdel of a missing project succeeded")
	}
}

func FuzzParseProjects(f *testing.F) {
	f.Add(sampleProject)
	f.Add("a:100::::x=1;y\n")
	f.Add("::::::\n")
	f.Fuzz(func(t *testing.T, s string) {
		ps, _ := ParseProjects(strings.NewReader(s), "fuzz")
		again, errs := ParseProjects(strings.NewReader(string(ps.Format())), "fuzz")
		if len(errs) != 0 {
			t.Fatalf("formatted good lines do not parse: %v", errs)
		}
		if string(again.Format()) != string(ps.Format()) {
			t.Fatalf("round trip changed:\n%s\n%s", ps.Format(), again.Format())
		}
	})
}
