package zones

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// zcfg runs the zonecfg front end against st and returns its status and
// output.
func zcfg(t *testing.T, st *Store, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := RunZonecfg(st, args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func mustZcfg(t *testing.T, st *Store, args ...string) string {
	t.Helper()
	code, out, errs := zcfg(t, st, "", args...)
	if code != 0 {
		t.Fatalf("zonecfg %q: exit %d\nstdout: %s\nstderr: %s", args, code, out, errs)
	}
	return out
}

func newTestStore(t *testing.T) *Store {
	t.Helper()
	return NewStore(t.TempDir())
}

func load(t *testing.T, st *Store, name string) *Config {
	t.Helper()
	c, _, err := st.Load(name)
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	return c
}

// roundTrip exports c, feeds the script to a fresh zone and checks that the
// result equals c (the UUID belongs to the zone, not the configuration).
func roundTrip(t *testing.T, c *Config) {
	t.Helper()
	st := newTestStore(t)
	script := filepath.Join(t.TempDir(), "export.cfg")
	if err := os.WriteFile(script, []byte(Export(c)), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errs := zcfg(t, st, "", "-z", c.Name, "-f", script)
	if code != 0 {
		t.Fatalf("re-import of export failed (%d): %s\n%s", code, errs, Export(c))
	}
	got := load(t, st, c.Name)
	want := c.Clone()
	got.UUID, want.UUID = "", ""
	normalizeConfig(want)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("round trip differs:\n got %#v\nwant %#v\nscript:\n%s", got, want, Export(c))
	}
	// And through the XML form.
	data, err := MarshalConfig(c)
	if err != nil {
		t.Fatal(err)
	}
	back, err := UnmarshalConfig(data)
	if err != nil {
		t.Fatalf("unmarshal: %v\n%s", err, data)
	}
	if !reflect.DeepEqual(back, func() *Config { x := c.Clone(); normalizeConfig(x); return x }()) {
		t.Fatalf("XML round trip differs:\n got %#v\nwant %#v", back, c)
	}
}

func TestManPageExamples(t *testing.T) {
	dir := filepath.Join("testdata", "man")
	base := "create; set zonepath=/zones/myzone; add net; set physical=eth0; set address=198.18.0.2/24; end"
	cases := []struct {
		file, zone string
		setup      string // run first (nil: zone does not exist yet)
		ok         bool
		check      func(t *testing.T, st *Store)
	}{
		{file: "example1.cfg", zone: "myzone3", ok: true, check: func(t *testing.T, st *Store) {
			c := load(t, st, "myzone3")
			if len(c.FS) != 2 || len(c.Nets) != 3 || !c.Autoboot || c.FS[0].Options[1] != "nodevices" {
				t.Errorf("example 1 config wrong: %+v", c)
			}
			if v, ok := c.ZoneRctl("cpu-shares"); !ok || v.Limit != 5 || v.Action != "none" {
				t.Errorf("cpu-shares = %+v %v", v, ok)
			}
			if c.CappedMemory == nil || c.CappedMemory.Physical != 50<<20 || c.CappedMemory.Swap != 100<<20 {
				t.Errorf("capped-memory = %+v", c.CappedMemory)
			}
			if v, ok := c.ZoneRctl("zone.max-swap"); !ok || v.Limit != 100<<20 {
				t.Errorf("zone.max-swap = %+v %v", v, ok)
			}
		}},
		{file: "example2.cfg", zone: "lxzone", ok: false},
		{file: "example3.cfg", zone: "excl", ok: true, check: func(t *testing.T, st *Store) {
			c := load(t, st, "excl")
			if c.IPType != "exclusive" || len(c.Nets) != 2 || c.Nets[1].Physical != "bge33000" {
				t.Errorf("example 3 config wrong: %+v", c)
			}
		}},
		{file: "example4.cfg", zone: "myzone", setup: base, ok: true, check: func(t *testing.T, st *Store) {
			if c := load(t, st, "myzone"); c.Pool != "mypool" {
				t.Errorf("pool = %q", c.Pool)
			}
		}},
		{file: "example5.cfg", zone: "myzone", setup: base, ok: true, check: func(t *testing.T, st *Store) {
			if _, _, err := st.Load("myzone"); err == nil {
				t.Error("old name still loads after rename")
			}
			load(t, st, "myzone2")
		}},
		{file: "example6.cfg", zone: "myzone", setup: base, ok: true, check: func(t *testing.T, st *Store) {
			if c := load(t, st, "myzone"); c.Limitpriv != "default,sys_time" {
				t.Errorf("limitpriv = %q", c.Limitpriv)
			}
		}},
		{file: "example7.cfg", zone: "global", ok: true, check: func(t *testing.T, st *Store) {
			c := load(t, st, "global")
			if v, ok := c.ZoneRctl("zone.cpu-shares"); !ok || v.Limit != 5 {
				t.Errorf("global cpu-shares = %+v %v", v, ok)
			}
			if ents, _ := st.List(); len(ents) != 0 {
				t.Errorf("global zone appeared in the index: %+v", ents)
			}
		}},
		{file: "example8.cfg", zone: "flexlm", setup: strings.ReplaceAll(base, "myzone", "flexlm"), ok: true, check: func(t *testing.T, st *Store) {
			if c := load(t, st, "flexlm"); len(c.Devices) != 1 || c.Devices[0].Match != "/dev/cua/a00[2-5]" {
				t.Errorf("devices = %+v", c.Devices)
			}
		}},
		{file: "example9a.cfg", zone: "myzone", setup: base, ok: true, check: func(t *testing.T, st *Store) {
			if v, ok := load(t, st, "myzone").ZoneRctl("zone.cpu-cap"); !ok || v.Limit != 300 {
				t.Errorf("cpu-cap = %+v %v", v, ok)
			}
		}},
		{file: "example9b.cfg", zone: "myzone", setup: base, ok: true, check: func(t *testing.T, st *Store) {
			if v, ok := load(t, st, "myzone").ZoneRctl("zone.cpu-cap"); !ok || v.Limit != 300 {
				t.Errorf("cpu-cap = %+v %v", v, ok)
			}
		}},
		{file: "synopsis.cfg", zone: "myzone", setup: "create; set zonepath=/zones/myzone; set ip-type=exclusive", ok: true},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			st := newTestStore(t)
			if tc.setup != "" {
				mustZcfg(t, st, "-z", tc.zone, tc.setup)
			}
			code, out, errs := zcfg(t, st, "", "-z", tc.zone, "-f", filepath.Join(dir, tc.file))
			if (code == 0) != tc.ok {
				t.Fatalf("exit %d, want ok=%v\nstdout: %s\nstderr: %s", code, tc.ok, out, errs)
			}
			if !tc.ok {
				if !strings.Contains(errs, tc.file+":") {
					t.Errorf("error does not name the file: %s", errs)
				}
				return
			}
			if tc.check != nil {
				tc.check(t, st)
			}
			ents, err := st.List()
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range ents {
				roundTrip(t, load(t, st, e.Name))
			}
		})
	}
}

func TestInteractivePrompts(t *testing.T) {
	promptAlways = true
	t.Cleanup(func() { promptAlways = false })
	st := newTestStore(t)
	in := "create\nset zonepath=/zones/web01\nadd fs\nset dir=/data\nset special=/srv/data\nset type=lofs\nend\ninfo fs\nexit\n"
	code, out, errs := zcfg(t, st, in, "-z", "web01")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{"web01: No such zone configured", "zonecfg:web01> ", "zonecfg:web01:fs> ", "\tdir: /data\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if c := load(t, st, "web01"); len(c.FS) != 1 {
		t.Errorf("fs not committed: %+v", c)
	}
	promptAlways = false
	if _, out, _ := zcfg(t, st, "info zonepath\nexit\n", "-z", "web01"); strings.Contains(out, "zonecfg:web01>") {
		t.Errorf("prompt printed to a non-terminal:\n%s", out)
	}
	// An error at the prompt is reported and the session goes on.
	code, _, errs = zcfg(t, st, "set bogus=1\nset autoboot=true\n", "-z", "web01")
	if code != 0 || !strings.Contains(errs, "bogus") {
		t.Errorf("exit %d, stderr %q", code, errs)
	}
	if !load(t, st, "web01").Autoboot {
		t.Error("autoboot not committed at EOF")
	}
}

func TestScriptErrorsCommitNothing(t *testing.T) {
	st := newTestStore(t)
	file := filepath.Join(t.TempDir(), "bad.cfg")
	script := "create\nset zonepath=/zones/a\ncommit\nadd net\n  set address=300.1.2.3/24\nend\n"
	if err := os.WriteFile(file, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errs := zcfg(t, st, "", "-z", "a", "-f", file)
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	if !strings.HasPrefix(errs, file+":5:3: ") || !strings.Contains(errs, "300.1.2.3") {
		t.Errorf("stderr %q lacks FILE:5:3 and the bad value", errs)
	}
	if ents, _ := st.List(); len(ents) != 0 {
		t.Errorf("a failed script committed: %+v", ents)
	}
	// Syntax errors are found before anything runs.
	if err := os.WriteFile(file, []byte("create\nset zonepath=/zones/a\nadd value (priv=privileged,limit=1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errs = zcfg(t, st, "", "-z", "a", "-f", file)
	if code != 1 || !strings.Contains(errs, file+":3:") || !strings.Contains(errs, "expected") {
		t.Errorf("exit %d stderr %q", code, errs)
	}
}

func TestUsage(t *testing.T) {
	st := newTestStore(t)
	for _, args := range [][]string{{}, {"-q"}, {"-z"}, {"-z", "a", "-f", "x", "info"}} {
		if code, _, _ := zcfg(t, st, "", args...); code != 2 {
			t.Errorf("zonecfg %q: exit %d, want 2", args, code)
		}
	}
	if code, out, _ := zcfg(t, st, "", "help"); code != 0 || !strings.Contains(out, "create") {
		t.Errorf("help: %d %q", code, out)
	}
	if code, _, _ := zcfg(t, st, "", "-z", "SUNWfoo", "create"); code != 1 {
		t.Errorf("reserved name accepted: %d", code)
	}
	if code, _, errs := zcfg(t, st, "", "-z", "nosuch", "info"); code != 1 || !strings.Contains(errs, "create") {
		t.Errorf("info on missing zone: %d %q", code, errs)
	}
}

func TestLanguage(t *testing.T) {
	st := newTestStore(t)
	mustZcfg(t, st, "-z", "z1", `create; set zonepath=/zones/z1; set ip-type=exclusive
add net; set physical=veth0; set allowed-address=198.18.0.5/24; set mac-addr=02:00:00:00:00:01; set vlan-id=12; end
add rctl; set name=zone.max-swap; add value (priv=privileged,limit=1073741824,action=deny); end
add attr; set name=comment; set type=string; set value="a web zone; the first"; end
add admin; set user=alice; set auths=login,manage; end
add dedicated-cpu; set ncpus=1-2; set importance=10; end
add inherit-pkg-dir; set dir=/opt; end
set max-processes=100
set bootargs="-m verbose"
set hostid=0x1234abcd
set user-namespace=auto
set init=/sbin/init
set scheduling-class=FSS
set fs-allowed=-,ext4
set max-shm-memory=1g`)
	c := load(t, st, "z1")
	// As illumos' zonecfg: only what was set is stored; the platform
	// derives max-lwps at boot.
	if v, ok := c.ZoneRctl("max-lwps"); ok {
		t.Errorf("max-processes=100 stored a max-lwps %d too", v.Limit)
	}
	if v, _ := c.ZoneRctl("max-shm-memory"); v.Limit != 1<<30 {
		t.Errorf("max-shm-memory %d", v.Limit)
	}
	if c.UserNamespace != "auto" {
		t.Errorf("user-namespace %q", c.UserNamespace)
	}
	if c.Attrs[0].Value != "a web zone; the first" || c.Admins[0].Auths[1] != "manage" {
		t.Errorf("attr/admin wrong: %+v %+v", c.Attrs, c.Admins)
	}
	roundTrip(t, c)

	// max-lwps alone stores max-lwps alone, and clearing it leaves no
	// rctl behind.
	mustZcfg(t, st, "-z", "z2", "create; set zonepath=/zones/z2; set max-lwps=50")
	if v, ok := load(t, st, "z2").ZoneRctl("max-processes"); ok {
		t.Errorf("max-lwps=50 stored a max-processes %d too", v.Limit)
	}
	mustZcfg(t, st, "-z", "z2", "set max-lwps=100; clear max-lwps")
	if rs := load(t, st, "z2").Rctls; len(rs) != 0 {
		t.Errorf("set max-lwps; clear max-lwps left %+v", rs)
	}
	mustZcfg(t, st, "-z", "z2", "set max-lwps=50")

	// select, remove in scope, remove resource, clear.
	mustZcfg(t, st, "-z", "z2", `add fs; set dir=/a; set special=/srv/a; set type=lofs; add options [ro,nodev,nosuid]; end
add fs; set dir=/b; set special=/srv/b; set type=lofs; end
select fs dir=/a; remove options nodev; set special=/srv/aa; end
remove fs dir=/b
clear max-lwps`)
	c = load(t, st, "z2")
	if len(c.FS) != 1 || c.FS[0].Special != "/srv/aa" || !reflect.DeepEqual(c.FS[0].Options, []string{"ro", "nosuid"}) {
		t.Errorf("fs after edits: %+v", c.FS)
	}
	if _, ok := c.ZoneRctl("max-lwps"); ok {
		t.Error("clear max-lwps left the rctl")
	}
	// export -f, info, cancel, revert -F.
	exp := filepath.Join(t.TempDir(), "z2.cfg")
	mustZcfg(t, st, "-z", "z2", "add device; set match=/dev/null; cancel; set autoboot=true; revert -F; export -f "+exp)
	if load(t, st, "z2").Autoboot || len(load(t, st, "z2").Devices) != 0 {
		t.Error("cancel/revert did not drop changes")
	}
	if data, err := os.ReadFile(exp); err != nil || !strings.HasPrefix(string(data), "create -b\n") {
		t.Errorf("export -f: %v %q", err, data)
	}
	out := mustZcfg(t, st, "-z", "z2", "info fs dir=/a")
	if !strings.Contains(out, "special: /srv/aa") {
		t.Errorf("info fs: %q", out)
	}
	// delete needs -F in a script.
	if code, _, _ := zcfg(t, st, "", "-z", "z2", "delete"); code != 1 {
		t.Error("delete without -F accepted in a script")
	}
	mustZcfg(t, st, "-z", "z2", "delete -F")
	if _, _, err := st.Load("z2"); err == nil {
		t.Error("zone still there after delete -F")
	}

	bad := []struct{ script, want string }{
		{"create; set zonepath=relative", "absolute"},
		{"create; set zonepath=/zones/x; set brand=solaris", "sparse"},
		{"create; set zonepath=/zones/x; set autoboot=yes", "true or false"},
		{"create; set zonepath=/zones/x; add dataset", "ZFS"},
		{"create; set zonepath=/zones/x; add capped-memory; set physical=12q; end", "size"},
		{"create; set zonepath=/zones/x; add rctl; set name=zone.bogus", "not a zone rctl"},
		{"create; set zonepath=/zones/x; add rctl; set name=zone.cpu-shares; add value (priv=privileged,limit=70000,action=none); end", "out of range"},
		{"create; set zonepath=/zones/x; add rctl; set name=zone.cpu-shares; add value (priv=privileged,limit=7,action=deny); end", "action"},
		{"create; set zonepath=/zones/x; add admin; set user=bob; set auths=root; end", "auths"},
		{"create; set zonepath=/zones/x; add net; set address=198.18.0.1/24; end", "physical"},
		{"create; set zonepath=/zones/x; add capped-cpu; set ncpus=1; end; add capped-cpu", "select"},
		{"create; set zonepath=/zones/x; set cpu-shares=10; add dedicated-cpu; set ncpus=2; end; commit", "problem"},
		{"create; set zonepath=/zones/x; add net; set physical=eth0; set address=fe80::1; end", "prefix"},
		{"create; set zonepath=/zones/x; add net; set physical=eth0; set defrouter=198.18.0.1/24; end", "prefix"},
		{"create; set zonepath=/zones/x; set hostid=FFFFFFFF", "hostid"},
		{"create; set zonepath=/zones/x; set user-namespace=yes", "none"},
		{"create; set zonepath=/zones/x; add attr; set name=zonefoo", "reserved"},
		{"create; set zonepath=/zones/x; bogus", "unknown subcommand"},
		{"set zonepath=/zones/x", "create"},
		{"create; create", "-F"},
		{"create; add fs; exit", "still open"},
	}
	for _, b := range bad {
		code, _, errs := zcfg(t, st, "", "-z", "x", b.script)
		if code != 1 || !strings.Contains(errs, b.want) {
			t.Errorf("%q: exit %d, stderr %q, want 1 and %q", b.script, code, errs, b.want)
		}
	}
	if _, _, err := st.Load("x"); err == nil {
		t.Error("a failing script left zone x behind")
	}
}

func TestCreateTemplate(t *testing.T) {
	st := newTestStore(t)
	mustZcfg(t, st, "-z", "tmpl", "create; set zonepath=/zones/tmpl; add device; set match=/dev/fuse; end")
	mustZcfg(t, st, "-z", "copy", "create -t tmpl; set zonepath=/zones/copy")
	c := load(t, st, "copy")
	if len(c.Devices) != 1 || c.UUID == load(t, st, "tmpl").UUID {
		t.Errorf("create -t: %+v", c)
	}
	// Without a new zonepath the copy clashes with its template.
	code, _, errs := zcfg(t, st, "", "-z", "copy2", "create -t tmpl")
	if code != 1 || !strings.Contains(errs, "already the zonepath of zone tmpl") {
		t.Errorf("duplicate zonepath: %d %q", code, errs)
	}
	mustZcfg(t, st, "-z", "blank", "create -b; set zonepath=/zones/blank")
	if c := load(t, st, "blank"); c.Brand != "" || c.IPType != "" {
		t.Errorf("create -b set defaults: %+v", c)
	}
	if c := load(t, st, "tmpl"); c.Brand != "sparse" || c.IPType != "shared" {
		t.Errorf("create default template: %+v", c)
	}
}
