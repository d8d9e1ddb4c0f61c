package rctl

import (
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestParseValueForms(t *testing.T) {
	cases := []struct {
		in   string
		want []Value
	}{
		{"(privileged,100,deny)", []Value{{Privileged, 100, Action{Deny: true}}}},
		{"(priv,1000,signal=KILL)", []Value{{Privileged, 1000, Action{Signal: unix.SIGKILL}}}},
		{"(basic,10,deny),(privileged,100,deny)", []Value{{Basic, 10, Action{Deny: true}}, {Privileged, 100, Action{Deny: true}}}},
		{" ( priv , 5 , deny , signal=SIGTERM ) ", []Value{{Privileged, 5, Action{Deny: true, Signal: unix.SIGTERM}}}},
		{"(priv=privileged,limit=300,action=none)", []Value{{Privileged, 300, Action{}}}},
		{"(priv=privileged,limit=300,action=deny)", []Value{{Privileged, 300, Action{Deny: true}}}},
		{"(privileged,20000,partial)", []Value{{Privileged, 20000, Action{Partial: true}}}},
	}
	for _, c := range cases {
		got, err := ParseValues(c.in)
		if err != nil {
			t.Errorf("ParseValues(%q): %v", c.in, err)
			continue
		}
		if len(got) != len(c.want) {
			t.Errorf("ParseValues(%q) = %v, want %v", c.in, got, c.want)
			continue
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Errorf("ParseValues(%q)[%d] = %+v, want %+v", c.in, i, got[i], c.want[i])
			}
		}
	}
}

func TestParseValueErrors(t *testing.T) {
	bad := map[string]string{
		"":                                    "empty",
		"privileged,100,deny":                 "expected '('",
		"(privileged,100,deny":                "missing ')'",
		"(privileged,100)":                    "want (privilege,limit,action)",
		"(root,100,deny)":                     "unknown privilege",
		"(privileged,10K,deny)":               "command line only",
		"(privileged,-1,deny)":                "whole number",
		"(privileged,100,kill)":               "unknown action",
		"(privileged,100,signal=FOO)":         "not one an rctl may send",
		"(privileged,100,signal=XRES)":        "no SIGXRES",
		"(privileged,1,deny)x":                "expected ','",
		"(privileged,1,deny),":                "trailing",
		"(priv=privileged,limit=3)":           "want priv=, limit= and action=",
		"(priv=privileged,lim=3,action=deny)": "unknown key",
	}
	for in, want := range bad {
		_, err := ParseValues(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseValues(%q) err = %v, want containing %q", in, err, want)
		}
	}
	if _, err := ParseValue("(basic,1,deny),(basic,2,deny)"); err == nil {
		t.Error("ParseValue accepted two values")
	}
}

func TestValueRoundTrip(t *testing.T) {
	for _, s := range []string{"(privileged,100,deny)", "(basic,10,deny,signal=TERM),(privileged,18446744073709551615,none)", "(privileged,5,partial)"} {
		vs, err := ParseValues(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := FormatValues(vs); got != s {
			t.Errorf("round trip %q -> %q", s, got)
		}
	}
}

func TestParseQuantity(t *testing.T) {
	cases := []struct {
		in   string
		u    Unit
		want uint64
	}{
		{"100", UnitBytes, 100},
		{"10B", UnitBytes, 10},
		{"1K", UnitBytes, 1024},
		{"1KB", UnitBytes, 1024},
		{"50MB", UnitBytes, 52428800},
		{"5G", UnitBytes, 5368709120},
		{"2tb", UnitBytes, 2 << 40},
		{"0.5GB", UnitBytes, 1 << 29},
		{"1K", UnitCount, 1000},
		{"1.5K", UnitCount, 1500},
		{"2M", UnitCount, 2000000},
		{"3G", UnitShares, 3000000000},
		{"10s", UnitSeconds, 10},
		{"5Ks", UnitSeconds, 5000},
		{"1Ms", UnitSeconds, 1000000},
		{"7", UnitSeconds, 7},
		{"16EB", UnitBytes, 0}, // overflow checked below
	}
	for _, c := range cases[:len(cases)-1] {
		got, err := ParseQuantity(c.in, c.u)
		if err != nil || got != c.want {
			t.Errorf("ParseQuantity(%q, %v) = %d, %v; want %d", c.in, c.u, got, err, c.want)
		}
	}
	for _, in := range []string{"16EB", "", "K", "1.0001K", "-5", "1e3", "10X", "10KB"} {
		u := UnitBytes
		if in == "1.0001K" || in == "10KB" {
			u = UnitCount
		}
		if v, err := ParseQuantity(in, u); err == nil {
			t.Errorf("ParseQuantity(%q, %v) = %d, want error", in, u, v)
		}
	}
}

func TestFormatQuantity(t *testing.T) {
	cases := []struct {
		v    uint64
		u    Unit
		want string
	}{
		{100, UnitCount, "100"},
		{65536, UnitCount, "65.5K"},
		{2147483647, UnitCount, "2.15G"},
		{Unlimited, UnitCount, "18.4E"},
		{Unlimited, UnitBytes, "16.0EB"},
		{Unlimited, UnitSeconds, "18.4Es"},
		{10 << 20, UnitBytes, "10.0MB"},
		{8 << 20, UnitBytes, "8.00MB"},
		{512, UnitBytes, "512B"},
		{20000, UnitBytes, "19.5KB"},
		{30, UnitSeconds, "30s"},
		{1, UnitShares, "1"},
	}
	for _, c := range cases {
		if got := FormatQuantity(c.v, c.u); got != c.want {
			t.Errorf("FormatQuantity(%d, %v) = %q, want %q", c.v, c.u, got, c.want)
		}
	}
}

func TestRctlTable(t *testing.T) {
	want := []string{
		"zone.cpu-shares", "zone.cpu-cap", "zone.max-lwps", "zone.max-processes", "zone.max-locked-memory",
		"zone.max-swap", "zone.max-shm-memory", "zone.max-shm-ids", "zone.max-sem-ids", "zone.max-msg-ids",
		"zone.max-physical-memory",
		"project.cpu-shares", "project.cpu-cap", "project.max-lwps", "project.max-processes", "project.max-memory",
		"project.max-shm-memory", "project.max-shm-ids", "project.max-sem-ids", "project.max-msg-ids",
		"project.max-locked-memory", "project.max-tasks",
		"task.max-lwps", "task.max-processes", "task.max-cpu-time",
		"process.max-file-descriptor", "process.max-address-space", "process.max-stack-size",
		"process.max-core-size", "process.max-cpu-time", "process.max-data-size", "process.max-file-size",
	}
	for _, n := range want {
		r, err := Lookup(n)
		if err != nil {
			t.Errorf("missing %s", n)
			continue
		}
		if r.Enforcement == "" || r.Description == "" {
			t.Errorf("%s: no enforcement or description", n)
		}
		if !strings.HasPrefix(n, r.Level.String()+".") {
			t.Errorf("%s: level %v", n, r.Level)
		}
	}
	if len(Rctls()) != len(want) {
		t.Errorf("table has %d controls, test knows %d", len(Rctls()), len(want))
	}
	defaults := map[string]uint64{"project.max-shm-ids": 128, "project.max-sem-ids": 128, "project.max-msg-ids": 128,
		"project.cpu-shares": 1, "zone.cpu-shares": 1}
	for n, v := range defaults {
		r, _ := Lookup(n)
		if d, ok := r.Default(); !ok || d != v {
			t.Errorf("%s default = %d, %v; want %d", n, d, ok, v)
		}
	}
	r, _ := Lookup("project.max-shm-memory")
	var si unix.Sysinfo_t
	if err := unix.Sysinfo(&si); err != nil {
		t.Fatal(err)
	}
	if d, _ := r.Default(); d != uint64(si.Totalram)*uint64(si.Unit)/4 {
		t.Errorf("project.max-shm-memory default %d is not a quarter of RAM", d)
	}
	if r.Resource() != "max-shm-memory" {
		t.Errorf("resource = %q", r.Resource())
	}
	if _, err := Lookup("project.nonsense"); err == nil {
		t.Error("Lookup accepted an unknown name")
	}
}

func TestValidate(t *testing.T) {
	ok := map[string]string{
		"project.max-lwps":       "(privileged,100,deny)",
		"process.max-cpu-time":   "(basic,10,signal=XCPU)",
		"process.max-file-size":  "(privileged,5,deny,signal=XFSZ)",
		"project.max-shm-memory": "(privileged,10000,partial)",
		"project.cpu-shares":     "(privileged,10,none)",
		"task.max-lwps":          "(basic,10,deny)",
	}
	for n, s := range ok {
		r, _ := Lookup(n)
		v, err := ParseValue(s)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Validate(v); err != nil {
			t.Errorf("%s=%s: %v", n, s, err)
		}
	}
	bad := [][2]string{
		{"project.cpu-shares", "(privileged,10,deny)"},       // no-deny
		{"project.max-lwps", "(basic,10,deny)"},              // no-basic
		{"project.max-shm-ids", "(privileged,10,none)"},      // deny-always
		{"process.max-cpu-time", "(privileged,10,deny)"},     // no-deny
		{"project.max-lwps", "(privileged,10,partial)"},      // partial only on byte quantities
		{"process.max-stack-size", "(basic,10,signal=XCPU)"}, // XCPU only on cpu time
		{"zone.cpu-cap", "(privileged,10,deny,signal=TERM)"}, // no-signal
		{"zone.max-lwps", "(system,10,deny)"},                // system values are fixed
	}
	for _, b := range bad {
		n, s := b[0], b[1]
		r, _ := Lookup(n)
		v, err := ParseValue(s)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Validate(v); err == nil {
			t.Errorf("%s=%s accepted", n, s)
		}
	}
	r, _ := Lookup("zone.cpu-shares")
	if err := r.Validate(Value{Privilege: Privileged, Limit: 70000}); err == nil {
		t.Error("cpu-shares above 65535 accepted")
	}
}

func FuzzParseValues(f *testing.F) {
	for _, s := range []string{"(privileged,100,deny)", "(basic,10,deny),(priv,1,signal=KILL)", "(priv=privileged,limit=3,action=none)", "((", "(,,)"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		vs, err := ParseValues(s)
		if err != nil {
			return
		}
		again, err := ParseValues(FormatValues(vs))
		if err != nil {
			t.Fatalf("formatted %q does not parse: %v", FormatValues(vs), err)
		}
		if len(again) != len(vs) {
			t.Fatalf("round trip changed %v to %v", vs, again)
		}
		for i := range vs {
			if vs[i] != again[i] {
				t.Fatalf("round trip changed %v to %v", vs, again)
			}
		}
	})
}
