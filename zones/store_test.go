package zones

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestCorruptFileNamesItselfAndSparesOthers(t *testing.T) {
	st := newTestStore(t)
	mustZcfg(t, st, "-z", "good", "create; set zonepath=/zones/good")
	mustZcfg(t, st, "-z", "bad", "create; set zonepath=/zones/bad")
	badFile := filepath.Join(st.Dir(), "bad.xml")
	if err := os.WriteFile(badFile, []byte("<zone name=\"bad\" autoboot=\"false\"><filesystem"), 0o644); err != nil {
		t.Fatal(err)
	}
	ents, err := st.List()
	if err != nil || len(ents) != 2 {
		t.Fatalf("List with a corrupt file: %v %+v", err, ents)
	}
	if _, _, err := st.Load("bad"); err == nil || !strings.Contains(err.Error(), badFile) {
		t.Errorf("Load(bad) error %v does not name %s", err, badFile)
	}
	load(t, st, "good")
	mustZcfg(t, st, "-z", "good", "set autoboot=true; verify")
	code, _, errs := zcfg(t, st, "", "-z", "bad", "info")
	if code != 1 || !strings.Contains(errs, badFile) {
		t.Errorf("zonecfg on corrupt zone: %d %q", code, errs)
	}
	// A file naming another zone is corrupt too.
	if err := os.WriteFile(badFile, []byte(`<zone name="other" autoboot="false"/>`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.Load("bad"); err == nil || !strings.Contains(err.Error(), "other") {
		t.Errorf("mismatched name accepted: %v", err)
	}
}

func TestConcurrentCommitsRefusedNotLost(t *testing.T) {
	st := newTestStore(t)
	mustZcfg(t, st, "-z", "web01", "create; set zonepath=/zones/web01")
	a, revA, _ := st.Load("web01")
	b, revB, _ := st.Load("web01")
	a.Bootargs = "from-a"
	b.Pool = "from-b"
	if _, err := st.Commit(a, revA); err != nil {
		t.Fatalf("first commit: %v", err)
	}
	_, err := st.Commit(b, revB)
	if !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "another session") {
		t.Fatalf("second commit: %v, want a conflict naming another session", err)
	}
	if c := load(t, st, "web01"); c.Bootargs != "from-a" || c.Pool != "" {
		t.Errorf("stored config %+v", c)
	}
	// A new zone created twice: the later creator is refused.
	n1 := &Config{Name: "n", Zonepath: "/zones/n"}
	n2 := &Config{Name: "n", Zonepath: "/zones/n"}
	if _, err := st.Commit(n1, Revision{}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Commit(n2, Revision{}); !errors.Is(err, ErrConflict) {
		t.Errorf("second create: %v", err)
	}

	// Many zonecfg sessions at once, each retrying on conflict: every
	// change arrives.
	const writers = 8
	var wg sync.WaitGroup
	for i := 0; i < writers; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for try := 0; try < 200; try++ {
				code, _, errs := zcfg(t, st, "", "-z", "web01", fmt.Sprintf("add attr; set name=w%d; set type=int; set value=%d; end", i, i))
				if code == 0 {
					return
				}
				if !strings.Contains(errs, "another session") {
					t.Errorf("writer %d: %s", i, errs)
					return
				}
			}
			t.Errorf("writer %d never got through", i)
		}(i)
	}
	wg.Wait()
	if c := load(t, st, "web01"); len(c.Attrs) != writers {
		t.Errorf("%d attrs survived, want %d: %+v", len(c.Attrs), writers, c.Attrs)
	}
}

// TestCrashChild is the process the crash test kills; it does nothing in a
// normal run.
func TestCrashChild(t *testing.T) {
	root, stage := os.Getenv("ZONES_CRASH_ROOT"), os.Getenv("ZONES_CRASH_STAGE")
	if root == "" {
		t.Skip("helper process for TestCrashMidCommit")
	}
	commitHook = func(s string) {
		if s == stage {
			os.WriteFile(filepath.Join(root, "reached"), nil, 0o644)
			time.Sleep(time.Hour)
		}
	}
	st := NewStore(root)
	c, rev, err := st.Load("web01")
	if err != nil {
		t.Fatal(err)
	}
	c.Bootargs = "new"
	c.Zonepath = "/zones/moved"
	if os.Getenv("ZONES_CRASH_RENAME") != "" {
		c.Name = "web02"
	}
	st.Commit(c, rev)
}

func TestCrashMidCommit(t *testing.T) {
	for _, stage := range []string{"pending-before-rename", "xml-before-rename", "index-before-rename"} {
		t.Run(stage, func(t *testing.T) {
			root := t.TempDir()
			st := NewStore(root)
			mustZcfg(t, st, "-z", "web01", "create; set zonepath=/zones/web01; set bootargs=old")
			before := load(t, st, "web01")

			cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$")
			cmd.Env = append(os.Environ(), "ZONES_CRASH_ROOT="+root, "ZONES_CRASH_STAGE="+stage)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
			reached := filepath.Join(root, "reached")
			for i := 0; ; i++ {
				if _, err := os.Stat(reached); err == nil {
					break
				}
				if i > 3000 {
					t.Fatal("child never reached the commit stage")
				}
				time.Sleep(10 * time.Millisecond)
			}
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			cmd.Wait()

			after, _, err := st.Load("web01")
			if err != nil {
				t.Fatalf("after kill -9: %v", err)
			}
			newer := before.Clone()
			newer.Bootargs, newer.Zonepath = "new", "/zones/moved"
			if !reflect.DeepEqual(after, before) && !reflect.DeepEqual(after, newer) {
				t.Fatalf("torn configuration after crash: %+v", after)
			}
			ent, err := st.State("web01")
			if err != nil || ent.State != StateConfigured || ent.UUID != before.UUID || ent.Zonepath != after.Zonepath {
				t.Fatalf("index after crash: %+v %v", ent, err)
			}
			// The store stays usable: the next session commits normally.
			mustZcfg(t, st, "-z", "web01", "set bootargs=again")
			if c := load(t, st, "web01"); c.Bootargs != "again" {
				t.Errorf("commit after crash: %+v", c)
			}
		})
	}
}

func TestCrashMidRename(t *testing.T) {
	for _, stage := range []string{"xml-before-rename", "index-before-rename"} {
		t.Run(stage, func(t *testing.T) {
			root := t.TempDir()
			st := NewStore(root)
			mustZcfg(t, st, "-z", "web01", "create; set zonepath=/zones/web01")
			cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$")
			cmd.Env = append(os.Environ(), "ZONES_CRASH_ROOT="+root, "ZONES_CRASH_STAGE="+stage, "ZONES_CRASH_RENAME=1")
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
			for i := 0; ; i++ {
				if _, err := os.Stat(filepath.Join(root, "reached")); err == nil {
					break
				}
				if i > 3000 {
					t.Fatal("child never reached the commit stage")
				}
				time.Sleep(10 * time.Millisecond)
			}
			cmd.Process.Kill()
			cmd.Wait()
			ents, err := st.List()
			if err != nil || len(ents) != 1 {
				t.Fatalf("index after crash: %+v %v", ents, err)
			}
			c := load(t, st, ents[0].Name)
			if c.Zonepath != ents[0].Zonepath {
				t.Errorf("index zonepath %s, file %s", ents[0].Zonepath, c.Zonepath)
			}
			other := map[string]string{"web01": "web02", "web02": "web01"}[ents[0].Name]
			if _, _, err := st.Load(other); err == nil {
				t.Errorf("both names load after a crashed rename")
			}
		})
	}
}

func TestIndexAndStates(t *testing.T) {
	st := newTestStore(t)
	mustZcfg(t, st, "-z", "web01", "create; set zonepath=/zones/web01")
	if err := st.SetState("web01", []State{StateInstalled}, StateReady, ""); err == nil {
		t.Error("SetState from the wrong state accepted")
	}
	if err := st.SetState("web01", []State{StateConfigured}, StateIncomplete, "install: disk full: no space"); err != nil {
		t.Fatal(err)
	}
	ent, _ := st.State("web01")
	if ent.State != StateIncomplete || ent.Reason != "install: disk full: no space" {
		t.Errorf("entry %+v", ent)
	}
	data, _ := os.ReadFile(filepath.Join(st.Dir(), "index"))
	if !strings.HasPrefix(string(data), "#") || !strings.Contains(string(data), "web01:incomplete:/zones/web01:"+ent.UUID+":install: disk full") {
		t.Errorf("index text:\n%s", data)
	}
	if err := st.SetState("web01", nil, StateRunning, ""); err != nil {
		t.Fatal(err)
	}
	// Recording the state the index already holds leaves the file as it
	// is (a rewrite would be a new inode through the atomic rename).
	idx := filepath.Join(st.Dir(), "index")
	before, err := os.Stat(idx)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SetState("web01", nil, StateRunning, ""); err != nil {
		t.Fatal(err)
	}
	if after, err := os.Stat(idx); err != nil || !os.SameFile(before, after) {
		t.Errorf("SetState to the same state rewrote the index (%v)", err)
	}
	// A running zone cannot be deleted, renamed or moved.
	for script, want := range map[string]string{
		"delete -F":                   "zone web01 is running; halt and uninstall it first",
		"set zonename=web02":          "halt it first",
		"set zonepath=/zones/another": "cannot change the zonepath",
	} {
		code, _, errs := zcfg(t, st, "", "-z", "web01", script)
		if code != 1 || !strings.Contains(errs, want) {
			t.Errorf("%s on running zone: %d %q, want %q", script, code, errs, want)
		}
	}
	// The runtime's word counts for a zone the index holds as installed.
	if err := st.SetState("web01", nil, StateInstalled, ""); err != nil {
		t.Fatal(err)
	}
	st.SetLive(func(name string) (State, bool) { return StateRunning, name == "web01" })
	if code, _, errs := zcfg(t, st, "", "-z", "web01", "set zonename=web02"); code != 1 || !strings.Contains(errs, "halt it first") {
		t.Errorf("rename of a zone the runtime holds as running: %d %q", code, errs)
	}
	st.SetLive(nil)
	if _, err := st.State("nosuch"); !errors.Is(err, ErrNoZone) {
		t.Errorf("State(nosuch) = %v", err)
	}
	if err := os.WriteFile(filepath.Join(st.Dir(), "index"), []byte("web01:flying:/z:u\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := st.List(); err == nil || !strings.Contains(err.Error(), "index:1") {
		t.Errorf("bad index line: %v", err)
	}
}

func TestCheckOp(t *testing.T) {
	cases := []struct {
		s   State
		op  string
		err string
	}{
		{StateRunning, "install", "zone web01 is running; halt it first"},
		{StateRunning, "delete", "halt and uninstall it first"},
		{StateConfigured, "boot", "install it first"},
		{StateInstalled, "zlogin", "boot or ready it first"},
		{StateDown, "boot", "resolve the recorded problem"},
		{StateInstalled, "boot", ""},
		{StateReady, "boot", ""},
		{StateRunning, "zlogin", ""},
		{StateInstalled, "attach-console", ""},
		{StateIncomplete, "uninstall", ""},
		{StateDown, "halt", ""},
	}
	for _, c := range cases {
		err := CheckOp("web01", c.s, c.op)
		if c.err == "" && err != nil || c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)) {
			t.Errorf("CheckOp(%s, %s) = %v, want %q", c.s, c.op, err, c.err)
		}
	}
	if CheckOp("web01", StateRunning, "fly") == nil {
		t.Error("unknown op accepted")
	}
	if !CanTransition(StateInstalled, StateReady) || CanTransition(StateConfigured, StateRunning) {
		t.Error("transition table wrong")
	}
}

// handEdit rewrites attribute attr="old" to attr="new" in a zone's file,
// as an operator with an editor would.
func handEdit(t *testing.T, st *Store, zone, from, to string) {
	t.Helper()
	file := filepath.Join(st.Dir(), zone+".xml")
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), from) {
		t.Fatalf("%s does not hold %q:\n%s", file, from, b)
	}
	if err := os.WriteFile(file, []byte(strings.Replace(string(b), from, to, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// A file edited by hand into something verify refuses is never handed
// out by Load: the error names the file and the rule. zonecfg still
// opens it, says what is wrong, and commits a repair.
func TestBrokenFileRefusedByLoad(t *testing.T) {
	for _, c := range []struct {
		name, setup, from, to, rule string
	}{
		{"dotdot", "", `zonepath="/zones/xcb"`, `zonepath="/zones/../../../tmp/victim"`, `contains a ".." element`},
		{"rctl", "add rctl; set name=zone.max-lwps; add value (priv=privileged,limit=100,action=deny); end",
			`limit="100"`, `limit="99999999999"`, "out of range"},
		{"dupnet", "add net; set physical=eth0; set address=198.18.0.5/24; end; add net; set physical=eth0; set address=198.18.0.6/24; end",
			`198.18.0.6/24`, `198.18.0.5/24`, "configured twice"},
		{"other", "", `zonepath="/zones/xcb"`, `zonepath="/zones/xco"`, "already the zonepath of zone xco"},
		{"moved", "", `zonepath="/zones/xcb"`, `zonepath="/etc"`, "changed by hand"},
	} {
		t.Run(c.name, func(t *testing.T) {
			st := newTestStore(t)
			mustZcfg(t, st, "-z", "xco", "create; set zonepath=/zones/xco")
			mustZcfg(t, st, "-z", "xcb", "create; set zonepath=/zones/xcb; "+c.setup)
			handEdit(t, st, "xcb", c.from, c.to)
			file := filepath.Join(st.Dir(), "xcb.xml")
			_, _, err := st.Load("xcb")
			if !errors.Is(err, ErrBroken) || !strings.Contains(err.Error(), file) || !strings.Contains(err.Error(), c.rule) {
				t.Fatalf("Load of a hand-broken file: %v, want ErrBroken naming %s and %q", err, file, c.rule)
			}
			load(t, st, "xco")
			code, out, errs := zcfg(t, st, "", "-z", "xcb", "info")
			if code != 0 || !strings.Contains(errs, c.rule) || !strings.Contains(out, "zonename: xcb") {
				t.Errorf("zonecfg info of the broken zone: exit %d\n%s%s", code, out, errs)
			}
		})
	}
	// Repairs: zonecfg sets it right and commits; an installed zone may
	// have its zonepath set back to the recorded one.
	st := newTestStore(t)
	mustZcfg(t, st, "-z", "xcb", "create; set zonepath=/zones/xcb")
	if err := st.SetState("xcb", nil, StateInstalled, ""); err != nil {
		t.Fatal(err)
	}
	handEdit(t, st, "xcb", `zonepath="/zones/xcb"`, `zonepath="/zones/../tmp"`)
	if code, _, errs := zcfg(t, st, "", "-z", "xcb", "set zonepath=/zones/other"); code == 0 {
		t.Errorf("an installed zone moved while repairing it: %s", errs)
	}
	mustZcfg(t, st, "-z", "xcb", "set zonepath=/zones/xcb")
	if c := load(t, st, "xcb"); c.Zonepath != "/zones/xcb" {
		t.Errorf("repaired zonepath %q", c.Zonepath)
	}
	// A broken configured zone may be deleted without a repair.
	mustZcfg(t, st, "-z", "xcd", "create; set zonepath=/zones/xcd")
	handEdit(t, st, "xcd", `zonepath="/zones/xcd"`, `zonepath="/zones/../../x"`)
	mustZcfg(t, st, "-z", "xcd", "delete -F")
}

// The store keeps parsed zone files between loads; what a caller does
// to its copy must never reach the next caller, and a file changed by
// any means (a commit, a hand edit in place that keeps its size) must be
// read again.
func TestLoadCacheCopiesAndNotices(t *testing.T) {
	st := newTestStore(t)
	mustZcfg(t, st, "-z", "cz", "create; set zonepath=/zones/cz; add fs; set dir=/data; set special=/srv/data; set type=lofs; add options ro; end; add capped-memory; set physical=64M; end")
	file := filepath.Join(st.Dir(), "cz.xml")
	aged := func() {
		// Older than the window in which a file is never cached.
		old := time.Now().Add(-time.Hour)
		if err := os.Chtimes(file, old, old); err != nil {
			t.Fatal(err)
		}
	}
	aged()
	load(t, st, "cz")
	if _, ok := st.zcache["cz"]; !ok {
		t.Fatal("a file at rest was not cached")
	}
	a := load(t, st, "cz")
	a.FS[0].Options[0] = "rw"
	a.FS = append(a.FS, FS{Dir: "/x"})
	a.CappedMemory.Physical = 1
	a.Zonepath = "/elsewhere"
	b := load(t, st, "cz")
	if len(b.FS) != 1 || b.FS[0].Options[0] != "ro" || b.CappedMemory.Physical != 64<<20 || b.Zonepath != "/zones/cz" {
		t.Fatalf("a caller's change to its copy reached the next load: %+v", b)
	}
	mustZcfg(t, st, "-z", "cz", "set autoboot=true")
	if c := load(t, st, "cz"); !c.Autoboot {
		t.Fatal("a commit was not seen by the next load")
	}
	// A hand edit in place that keeps the size, of a cached file.
	aged()
	load(t, st, "cz")
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(data), "/srv/data", "/srv/dat2", 1)
	if edited == string(data) {
		t.Fatalf("test file has no /srv/data: %s", data)
	}
	f, err := os.OpenFile(file, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte(edited), 0); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if c := load(t, st, "cz"); c.FS[0].Special != "/srv/dat2" {
		t.Fatalf("a same-size edit in place was not seen: special %q", c.FS[0].Special)
	}
}
