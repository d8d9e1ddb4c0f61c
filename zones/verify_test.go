package zones

import (
	"strings"
	"testing"
	"zonetop/rctl"
)

func TestVerifyReportsEverything(t *testing.T) {
	c := &Config{
		Name:           "web01",
		Brand:          "busybox",
		IPType:         "exclusive",
		Pool:           "pool1",
		Hostid:         "zz",
		FS:             []FS{{Dir: "relative", Type: "lofs"}, {Dir: "/a", Special: "/x", Type: "lofs"}, {Dir: "/a", Special: "/y", Type: "lofs"}},
		InheritPkgDirs: []InheritPkgDir{{Dir: "/opt"}},
		Nets: []Net{{Physical: "eth0", Address: "198.18.0.1/24", Defrouter: "198.18.0.254"},
			{Physical: "eth1", AllowedAddress: "2001:db8::1"}},
		Devices: []Device{{}},
		Rctls: []Rctl{{Name: "zone.cpu-shares", Values: []RctlValue{{Priv: "privileged", Limit: 10, Action: "none"}}},
			{Name: "zone.nope", Values: []RctlValue{{Priv: "privileged", Limit: 1, Action: "deny"}}},
			{Name: "zone.max-lwps", Values: []RctlValue{{Priv: "basic", Limit: 1 << 40, Action: "deny"}}}},
		Attrs:        []Attr{{Name: "n", Type: "uint", Value: "-1"}},
		CappedMemory: &CappedMemory{Physical: 512, Locked: 1 << 30},
		DedicatedCPU: &DedicatedCPU{NCPUs: "3-1"},
		Admins:       []Admin{{User: "bob", Auths: []string{"root"}}},
	}
	other := &Config{Name: "web02", Zonepath: "/zones/web01"}
	c2 := c.Clone()
	c2.Zonepath = "/zones/web01"
	errs := Verify(c, []*Config{other})
	text := ""
	for _, e := range errs {
		text += e.Error() + "\n"
	}
	for _, want := range []string{
		"zone web01: zonepath: not set",
		"hostid",
		"fs dir=relative: dir:",
		"fs dir=relative: special: not set",
		"fs dir=/a: dir: another fs resource",
		"inherit-pkg-dir dir=/opt: only the sparse brand",
		"net physical=eth0: address: cannot be set in an exclusive-IP zone",
		"net physical=eth0: defrouter: needs allowed-address",
		"net physical=eth1: allowed-address:",
		"device #1: match: not set",
		"rctl name=zone.nope: name:",
		"rctl name=zone.max-lwps: value #1: priv=basic is not allowed",
		"rctl name=zone.max-lwps: value #1: limit",
		"attr name=n: value:",
		"capped-memory: locked:",
		"capped-memory: physical:",
		"dedicated-cpu: ncpus:",
		"dedicated-cpu: incompatible with cpu-shares",
		"dedicated-cpu: incompatible with the pool property",
		"admin user=bob: auths:",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("verify output lacks %q", want)
		}
	}
	if len(errs) < 20 {
		t.Errorf("only %d problems reported:\n%s", len(errs), text)
	}
	// Duplicate zonepath across zones.
	errs = Verify(c2, []*Config{other})
	found := false
	for _, e := range errs {
		if strings.Contains(e.Error(), "already the zonepath of zone web02") {
			found = true
		}
	}
	if !found {
		t.Error("duplicate zonepath not reported")
	}
	// A good configuration verifies clean.
	good := &Config{Name: "ok", Zonepath: "/zones/ok", Brand: "sparse", IPType: "shared",
		Nets:   []Net{{Physical: "eth0", Address: "198.18.0.2/15", Defrouter: "198.18.0.1"}},
		Rctls:  []Rctl{{Name: "zone.max-processes", Values: []RctlValue{{Priv: "privileged", Limit: 100, Action: "deny"}}}},
		Admins: []Admin{{User: "alice", Auths: []string{"login", "config"}}}}
	if errs := Verify(good, []*Config{other}); len(errs) != 0 {
		t.Errorf("good config: %v", errs)
	}
}

func TestNames(t *testing.T) {
	for _, ok := range []string{"web01", "1zone", "a.b_c-d", strings.Repeat("a", 64)} {
		if err := ValidateName(ok); err != nil {
			t.Errorf("ValidateName(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "global", "SUNWdefault", "-a", "_a", ".a", "a/b", "a b", strings.Repeat("a", 65), "zöne"} {
		if ValidateName(bad) == nil {
			t.Errorf("ValidateName(%q) accepted", bad)
		}
	}
}

func TestParseSize(t *testing.T) {
	cases := map[string]uint64{"2048": 2048, "512m": 512 << 20, "1G": 1 << 30, "1g": 1 << 30, "2T": 2 << 40, "4k": 4096, "10kb": 10240}
	for in, want := range cases {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "m", "-1", "1.5g", "1x", "99999999999t", "+5"} {
		if _, err := ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q) accepted", bad)
		}
	}
	for _, n := range []uint64{0, 1, 1023, 1024, 50 << 20, 3 << 40, 1<<30 + 1} {
		if got, err := ParseSize(FormatSize(n)); err != nil || got != n {
			t.Errorf("FormatSize(%d) = %q does not parse back", n, FormatSize(n))
		}
	}
}

func TestZoneRctlNames(t *testing.T) {
	names := map[string]bool{}
	for _, r := range ZoneRctlNames() {
		names[r.Name] = true
		if r.Min > r.Max {
			t.Errorf("%s: min > max", r.Name)
		}
	}
	for _, want := range []string{"zone.cpu-shares", "zone.cpu-cap", "zone.max-lwps", "zone.max-processes", "zone.max-locked-memory",
		"zone.max-swap", "zone.max-shm-memory", "zone.max-shm-ids", "zone.max-sem-ids", "zone.max-msg-ids"} {
		if !names[want] {
			t.Errorf("ZoneRctlNames lacks %s", want)
		}
	}
	// Every control zonecfg takes is the catalogue's, enforced; illumos'
	// controls Linux cannot enforce are not declared, and say why.
	for _, r := range ZoneRctlNames() {
		if !r.Enforced {
			t.Errorf("%s is declared but not enforced", r.Name)
		}
		if c, err := rctl.Lookup(r.Name); err != nil || c.Max != r.Max {
			t.Errorf("%s: not the catalogue's (%v), or another maximum", r.Name, err)
		}
	}
	for _, n := range []string{"zone.max-lofi", "zone.zfs-io-priority"} {
		c := &Config{Name: "z", Zonepath: "/zones/z", Rctls: []Rctl{{Name: n, Values: []RctlValue{{Priv: "privileged", Limit: 1, Action: "deny"}}}}}
		if errs := Verify(c, nil); len(errs) == 0 || !strings.Contains(errs[0].Error(), "not enforced on Linux") {
			t.Errorf("%s: %v", n, errs)
		}
	}
	c := &Config{CappedCPU: &CappedCPU{NCPUs: 1.25}, CappedMemory: &CappedMemory{Locked: 1 << 20}}
	if v, ok := c.ZoneRctl("zone.cpu-cap"); !ok || v.Limit != 125 {
		t.Errorf("cpu-cap from capped-cpu = %+v", v)
	}
	if v, ok := c.ZoneRctl("max-locked-memory"); !ok || v.Limit != 1<<20 {
		t.Errorf("max-locked-memory from capped-memory = %+v", v)
	}
	if _, ok := c.ZoneRctl("zone.max-swap"); ok {
		t.Error("unset max-swap reported")
	}
}

func TestParseErrorsHavePositions(t *testing.T) {
	cases := []struct{ src, pos, want string }{
		{"set a=\"unterminated\n", "1:7", "unterminated"},
		{"add value (priv=x,limit=1", "1:26", "expected"},
		{"add value (priv=x,,)", "1:19", "expected name=value"},
		{"set a=", "1:7", "expected a value"},
		{"create\n  = x", "2:3", "expected a subcommand"},
		{"add options [a,b", "1:17", "expected ',' or ']'"},
		{"add value (a=1,a=2)", "1:16", "twice"},
	}
	for _, c := range cases {
		_, err := Parse(c.src)
		if err == nil || !strings.HasPrefix(err.Error(), c.pos+": ") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Parse(%q) = %v, want %s: ...%s", c.src, err, c.pos, c.want)
		}
	}
	cmds, err := Parse("# comment\nset limitpriv=default,sys_time # trailing\nadd options [ro,\"a b\"]; end\n")
	if err != nil || len(cmds) != 3 || cmds[0].Args[0].Value.Str != "default,sys_time" || cmds[1].Args[1].Value.List[1].Str != "a b" {
		t.Errorf("Parse: %+v %v", cmds, err)
	}
}

// An exclusive-IP net takes defrouter with allowed-address, as illumos'
// zonecfg documents it ("valid if the address or allowed-address property
// is set").
func TestVerifyExclusiveDefrouter(t *testing.T) {
	c := &Config{Name: "x1", Zonepath: "/zones/x1", IPType: "exclusive",
		Nets: []Net{{Physical: "eth0", AllowedAddress: "198.18.0.10/24", Defrouter: "198.18.0.1"}}}
	if errs := Verify(c, nil); len(errs) != 0 {
		t.Errorf("allowed-address with defrouter refused: %v", errs)
	}
	c.Nets[0].AllowedAddress = ""
	if errs := Verify(c, nil); len(errs) != 1 || !strings.Contains(errs[0].Error(), "defrouter: needs allowed-address") {
		t.Errorf("defrouter without allowed-address: %v", errs)
	}
}
