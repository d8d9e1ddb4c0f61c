package zoneadmd

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"zonetop/api"
	"zonetop/internal/ztest"
	"zonetop/limits"
)

func TestProjectRequestApply(t *testing.T) {
	ps := limits.DefaultProjects()
	steps := []struct {
		req  api.ProjectRequest
		want string // a line the file then has; "" for an expected error
		err  string
	}{
		{req: api.ProjectRequest{Op: "add", Name: "web", Users: []string{"nobody"}, Attrs: []string{"project.max-lwps=(privileged,7,deny)"}},
			want: "web:100::nobody::project.max-lwps=(privileged,7,deny)"},
		{req: api.ProjectRequest{Op: "add", Name: "web"}, err: "already exists"},
		{req: api.ProjectRequest{Op: "add", Name: "low", ID: new(5)}, err: "reserved"},
		{req: api.ProjectRequest{Op: "add", Name: "bad", Attrs: []string{"project.max-lwps=(privileged,lots,deny)"}}, err: "project.max-lwps"},
		{req: api.ProjectRequest{Op: "mod", Name: "web", Mode: "substitute", SetAttrs: true, Attrs: []string{"project.max-lwps=(privileged,9,deny)"}},
			want: "web:100::nobody::project.max-lwps=(privileged,9,deny)"},
		{req: api.ProjectRequest{Op: "mod", Name: "web", Mode: "add", SetUsers: true, Users: []string{"daemon"}},
			want: "web:100::nobody,daemon::project.max-lwps=(privileged,9,deny)"},
		{req: api.ProjectRequest{Op: "mod", Name: "web", Mode: "sideways"}, err: "mode"},
		{req: api.ProjectRequest{Op: "set-limit", Name: "web", Limits: map[string]string{"project.max-lwps": "(privileged,11,deny)", "project.cpu-shares": "(privileged,5,none)"}},
			want: "web:100::nobody,daemon::project.cpu-shares=(privileged,5,none);project.max-lwps=(privileged,11,deny)"},
		{req: api.ProjectRequest{Op: "set-limit", Name: "web", Limits: map[string]string{"project.cpu-shares": ""}},
			want: "web:100::nobody,daemon::project.max-lwps=(privileged,11,deny)"},
		{req: api.ProjectRequest{Op: "set-limit", Name: "web", Limits: map[string]string{"zone.max-lwps": "(privileged,1,deny)"}}, err: "zone caps are set by the global administrator"},
		{req: api.ProjectRequest{Op: "set-limit", Name: "nope", Limits: map[string]string{"project.max-lwps": "(privileged,1,deny)"}}, err: "does not exist"},
		{req: api.ProjectRequest{Op: "set-limit", Name: "web", Limits: map[string]string{"project.max-lwps": "(privileged,-3,deny)"}}, err: "project.max-lwps"},
		{req: api.ProjectRequest{Op: "del", Name: "web"}},
		{req: api.ProjectRequest{Op: "del", Name: "web"}, err: "does not exist"},
	}
	for i, s := range steps {
		before := string(ps.Format())
		err := ApplyProject(s.req, &ps)
		if s.err != "" {
			if err == nil || !strings.Contains(err.Error(), s.err) {
				t.Fatalf("step %d %+v: error %v, want %q", i, s.req, err, s.err)
			}
			if string(ps.Format()) != before {
				t.Fatalf("step %d: a refused change altered the projects", i)
			}
			continue
		}
		if err != nil {
			t.Fatalf("step %d %+v: %v", i, s.req, err)
		}
		if s.want != "" && !strings.Contains(string(ps.Format()), s.want+"\n") {
			t.Fatalf("step %d: file\n%s\nlacks %q", i, ps.Format(), s.want)
		}
	}
	if strings.Contains(string(ps.Format()), "web:") {
		t.Error("web still there after del")
	}
	if err := ApplyProject(api.ProjectRequest{Op: "set-limit", Name: "x", Limits: map[string]string{"zone.max-lwps": "(privileged,1,deny)"}}, &ps); !errors.Is(err, api.ErrPermission) {
		t.Errorf("zone cap through set-limit: %v, want a permission refusal", err)
	}
}

// editProjectsFile refuses a file with bad lines, naming file:line, and
// leaves it as it was.
func TestEditProjectsFileBadLines(t *testing.T) {
	root := t.TempDir()
	ztest.Must(t, os.MkdirAll(filepath.Join(root, "etc"), 0o755))
	orig := "system:0::::\nweb:100::::\nbroken line\n"
	ztest.Must(t, os.WriteFile(filepath.Join(root, "etc", "project"), []byte(orig), 0o644))
	_, err := EditProjectsFile(t.TempDir(), root, "z", func(ps *limits.Projects) error { return ApplyProject(api.ProjectRequest{Op: "del", Name: "web"}, ps) })
	if err == nil || !strings.Contains(err.Error(), "/etc/project:3") {
		t.Fatalf("edit of a file with a bad line: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "etc", "project")); string(b) != orig {
		t.Errorf("file changed: %q", b)
	}
	ztest.Must(t, os.WriteFile(filepath.Join(root, "etc", "project"), []byte("system:0::::\nweb:100::::\n"), 0o644))
	if _, err := EditProjectsFile(t.TempDir(), root, "z", func(ps *limits.Projects) error { return ApplyProject(api.ProjectRequest{Op: "del", Name: "web"}, ps) }); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "etc", "project")); string(b) != "system:0::::\n" {
		t.Errorf("after del: %q", b)
	}
}

// Edits made at the same moment (a host projadd, and projadd through
// the zone's socket in zoneadmd) each hold the zone's project lock, so
// none is lost.
func TestEditProjectsFileConcurrent(t *testing.T) {
	prefix, root := t.TempDir(), t.TempDir()
	ztest.Must(t, os.MkdirAll(filepath.Join(root, "etc"), 0o755))
	ztest.Must(t, os.WriteFile(filepath.Join(root, "etc", "project"), []byte("system:0::::\n"), 0o644))
	const n = 40
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := api.ProjectRequest{Op: "add", Name: fmt.Sprintf("p%d", i)}
			if _, err := EditProjectsFile(prefix, root, "z", func(ps *limits.Projects) error { return ApplyProject(req, ps) }); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	ps, bad, err := ReadZoneProjects(root)
	if err != nil || len(bad) > 0 {
		t.Fatalf("read back: %v %v", err, bad)
	}
	for i := 0; i < n; i++ {
		if _, ok := ps.Lookup(fmt.Sprintf("p%d", i)); !ok {
			t.Errorf("project p%d was lost", i)
		}
	}
}

func TestCappedNotes(t *testing.T) {
	p, err := limits.ParseProjectLine("big:100::::project.max-lwps=(privileged,1000,deny);project.max-memory=(privileged,1073741824,deny);project.cpu-shares=(privileged,50,none)")
	if err != nil {
		t.Fatal(err)
	}
	notes := cappedNotes(&p, map[string]uint64{"zone.max-lwps": 50, "zone.max-physical-memory": 2 << 30, "zone.cpu-shares": 1})
	if len(notes) != 1 || !strings.Contains(notes[0], "project.max-lwps") || !strings.Contains(notes[0], "capped by zone (zone.max-lwps=50)") {
		t.Errorf("notes: %q", notes)
	}
}

// The watch calls back once per burst, for in-place writes, renames over
// the file and deletes, survives its directory going away and coming
// back, and leaves no goroutine behind.
func TestProjectWatch(t *testing.T) {
	base := runtime.NumGoroutine()
	root := t.TempDir()
	etc := filepath.Join(root, "etc")
	ztest.Must(t, os.MkdirAll(etc, 0o755))
	var calls atomic.Int32
	w, err := WatchProjects(root, func() { calls.Add(1) })
	ztest.Must(t, err)
	wait := func(what string, want int32) {
		t.Helper()
		for i := 0; i < 100 && calls.Load() < want; i++ {
			time.Sleep(20 * time.Millisecond)
		}
		if got := calls.Load(); got != want {
			t.Fatalf("%s: %d calls, want %d", what, got, want)
		}
		// Nothing more arrives for this burst.
		time.Sleep(3 * projWatchDebounce)
		if got := calls.Load(); got != want {
			t.Fatalf("%s: %d calls after the burst, want %d", what, got, want)
		}
	}
	time.Sleep(50 * time.Millisecond)
	f, err := os.OpenFile(filepath.Join(etc, "project"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	ztest.Must(t, err)
	for i := 0; i < 5; i++ {
		f.WriteString("system:0::::\n")
	}
	f.Close()
	wait("in-place writes", 1)
	ztest.Must(t, os.WriteFile(filepath.Join(etc, "other"), []byte("x"), 0o644))
	time.Sleep(3 * projWatchDebounce)
	if calls.Load() != 1 {
		t.Fatal("another file of etc counted")
	}
	ztest.Must(t, os.WriteFile(filepath.Join(etc, "project.new"), []byte("default:3::::\n"), 0o644))
	ztest.Must(t, os.Rename(filepath.Join(etc, "project.new"), filepath.Join(etc, "project")))
	wait("rename over", 2)
	ztest.Must(t, os.Remove(filepath.Join(etc, "project")))
	wait("delete", 3)
	ztest.Must(t, os.RemoveAll(etc))
	wait("etc removed", 4)
	ztest.Must(t, os.MkdirAll(etc, 0o755))
	time.Sleep(projWatchRetry + 200*time.Millisecond)
	ztest.Must(t, os.WriteFile(filepath.Join(etc, "project"), []byte("system:0::::\n"), 0o644))
	for i := 0; i < 100 && calls.Load() < 6; i++ {
		time.Sleep(20 * time.Millisecond)
	}
	if got := calls.Load(); got < 5 {
		t.Fatalf("after etc came back: %d calls", got)
	}
	w.Close()
	for i := 0; i < 100 && runtime.NumGoroutine() > base; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > base {
		t.Errorf("%d goroutines after close, %d before", n, base)
	}
}

func TestParseProjectEvents(t *testing.T) {
	ev := func(wd int32, mask uint32, name string) []byte {
		n := (len(name) + 1 + 15) / 16 * 16
		b := make([]byte, 16+n)
		putU32 := func(off int, v uint32) { binary.NativeEndian.PutUint32(b[off:], v) }
		putU32(0, uint32(wd))
		putU32(4, mask)
		putU32(12, uint32(n))
		copy(b[16:], name)
		return b
	}
	buf := append(ev(1, 0x2, "passwd"), ev(2, 0x8, "project")...)
	if hit, lost := parseProjectEvents(buf, 1); hit || lost {
		t.Errorf("other file, other watch: hit %v lost %v", hit, lost)
	}
	buf = append(buf, ev(1, 0x8, "project")...)
	if hit, lost := parseProjectEvents(buf, 1); !hit || lost {
		t.Errorf("project written: hit %v lost %v", hit, lost)
	}
	if _, lost := parseProjectEvents(ev(1, 0x400, ""), 1); !lost {
		t.Error("IN_DELETE_SELF not seen")
	}
	if hit, _ := parseProjectEvents(ev(1, 0x8, "project")[:20], 1); hit {
		t.Error("a truncated event was read")
	}
}
