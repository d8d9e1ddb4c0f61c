package engine

import (
	"errors"
	"io"
	"strings"
	"testing"
	"zonetop/api"
	"zonetop/internal/authz"
	"zonetop/zones"
)

func TestCheckDelegatedCommand(t *testing.T) {
	for _, c := range []struct {
		ch   zones.Change
		deny string // "" allowed; else a word the refusal names
	}{
		{zones.Change{Op: "set", Property: "autoboot"}, ""},
		{zones.Change{Op: "clear", Property: "bootargs"}, "what runs as the zone's root"},
		{zones.Change{Op: "set", Property: "init"}, "what runs as the zone's root"},
		{zones.Change{Op: "set", Property: "bootargs"}, "bootargs"},
		{zones.Change{Op: "add", Resource: "attr"}, ""},
		{zones.Change{Op: "set", Resource: "attr", Property: "value"}, ""},
		{zones.Change{Op: "set"}, ""},
		{zones.Change{Op: "set", Property: "max-lwps"}, "max-lwps is a zone cap"},
		{zones.Change{Op: "clear", Property: "cpu-shares"}, "cpu-shares is a zone cap"},
		{zones.Change{Op: "add", Resource: "capped-memory"}, "capped-memory is a zone cap"},
		{zones.Change{Op: "set", Resource: "capped-cpu", Property: "ncpus"}, "capped-cpu is a zone cap"},
		{zones.Change{Op: "remove", Resource: "rctl"}, "rctl is a zone cap"},
		{zones.Change{Op: "add", Resource: "dedicated-cpu"}, "zone cap"},
		{zones.Change{Op: "add", Resource: "admin"}, "who administers the zone"},
		{zones.Change{Op: "set", Resource: "admin", Property: "auths"}, "admin"},
		{zones.Change{Op: "set", Property: "limitpriv"}, "privileges of the zone's root"},
		{zones.Change{Op: "set", Property: "user-namespace"}, "host root"},
		{zones.Change{Op: "set", Property: "zonepath"}, "zonepath"},
		{zones.Change{Op: "add", Resource: "fs"}, "host file systems"},
		{zones.Change{Op: "add", Resource: "net"}, "network"},
		{zones.Change{Op: "add", Resource: "device"}, "host devices"},
		{zones.Change{Op: "set", Property: "zonename"}, "zonename"},
		{zones.Change{Op: "create", Args: []string{"-F"}}, "creates zones"},
		{zones.Change{Op: "delete", Args: []string{"-F"}}, "deletes zones"},
	} {
		err := authz.CheckDelegatedCommand("web01", c.ch)
		switch {
		case c.deny == "" && err != nil:
			t.Errorf("%+v refused: %v", c.ch, err)
		case c.deny != "" && (err == nil || !errors.Is(err, api.ErrPermission) || !strings.Contains(err.Error(), c.deny)):
			t.Errorf("%+v: %v, want a permission denied naming %q", c.ch, err, c.deny)
		}
	}
}

func TestCheckConfigChangeNamesRctls(t *testing.T) {
	p := api.Principal{UID: 1000, User: "alice", Zone: "global"}
	b := &zones.Config{Name: "web01"}
	a := b.Clone()
	a.Rctls = []zones.Rctl{{Name: "zone.max-lwps", Values: []zones.RctlValue{{Priv: "privileged", Limit: 500, Action: "deny"}}}}
	err := authz.CheckConfigChange(p, b, a)
	if err == nil || !strings.Contains(err.Error(), "zone.max-lwps") {
		t.Errorf("rctl change: %v", err)
	}
}

// A session restricted by Options: a refused command changes nothing,
// and the commit check has the last word on what reaches the store.
// init and bootargs are code run as the zone's root at its next boot:
// the commit check refuses them even when the command check is bypassed.
func TestCheckConfigChangeRefusesCode(t *testing.T) {
	p := api.Principal{UID: 1000, User: "alice", Zone: "global"}
	b := &zones.Config{Name: "web01"}
	for _, set := range []func(*zones.Config){
		func(c *zones.Config) { c.Init = "/bin/sh" },
		func(c *zones.Config) { c.Bootargs = "-c id" },
	} {
		a := b.Clone()
		set(a)
		err := authz.CheckConfigChange(p, b, a)
		if err == nil || !errors.Is(err, api.ErrPermission) || !strings.Contains(err.Error(), "what runs as the zone's root") {
			t.Errorf("%+v: %v, want a permission denied saying why", a, err)
		}
	}
	a := b.Clone()
	a.Autoboot = true
	a.Attrs = []zones.Attr{{Name: "owner", Type: "string", Value: "ops"}}
	if err := authz.CheckConfigChange(p, b, a); err != nil {
		t.Errorf("autoboot and attr: %v", err)
	}
}

func TestZonecfgOptions(t *testing.T) {
	root := t.TempDir()
	st := zones.NewStore(root)
	if code := zones.RunZonecfg(st, []string{"-z", "web01", "create -b; set zonepath=/zones/web01; set brand=busybox"}, nil, io.Discard, io.Discard); code != 0 {
		t.Fatalf("create: exit %d", code)
	}
	p := api.Principal{UID: 1000, User: "alice", Zone: "global"}
	var committed int
	opts := zones.Options{
		Check: func(ch zones.Change) error { return authz.CheckDelegatedCommand("web01", ch) },
		Commit: func(before, after *zones.Config) error {
			committed++
			return authz.CheckConfigChange(p, before, after)
		},
		NoFiles: true,
	}
	var errOut strings.Builder
	if code := zones.RunZonecfgWith(st, []string{"-z", "web01", "set autoboot=true; set max-lwps=5"}, nil, io.Discard, &errOut, opts); code != 1 ||
		!strings.Contains(errOut.String(), "command line:1:20: set max-lwps: permission denied") {
		t.Errorf("cap in a script: exit %d %q", code, errOut.String())
	}
	if cfg, _, _ := st.Load("web01"); cfg.Autoboot || committed != 0 {
		t.Errorf("a refused script stored something (autoboot %v, %d commits asked)", cfg.Autoboot, committed)
	}
	if code := zones.RunZonecfgWith(st, []string{"-z", "web01", "set autoboot=true"}, nil, io.Discard, io.Discard, opts); code != 0 {
		t.Fatalf("autoboot: exit %d", code)
	}
	if cfg, _, _ := st.Load("web01"); !cfg.Autoboot {
		t.Error("autoboot not stored")
	}
	// Without the command check, the commit check still refuses.
	opts.Check = nil
	errOut.Reset()
	if code := zones.RunZonecfgWith(st, []string{"-z", "web01", "set max-lwps=5"}, nil, io.Discard, &errOut, opts); code != 1 || !strings.Contains(errOut.String(), "zone.max-lwps") {
		t.Errorf("commit check: exit %d %q", code, errOut.String())
	}
	if cfg, _, _ := st.Load("web01"); len(cfg.Rctls) != 0 {
		t.Errorf("refused commit stored rctls %+v", cfg.Rctls)
	}
}
