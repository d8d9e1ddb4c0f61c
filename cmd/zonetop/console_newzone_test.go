package main

import (
	"context"
	"errors"
	"slices"
	"testing"
	"zonetop/api"

	"zonetop/engine"
	"zonetop/ui"
)

// The console's new-zone form reaches the engine's checks and creation
// through each backend; ui's own tests use a fake with a few of the rules.
func TestConsoleNewZoneBackends(t *testing.T) {
	e, err := engine.New(t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	root := api.Principal{Zone: "global"}
	var b ui.Backend = newHostConsole(e)
	if !slices.Equal(b.Host().Brands, []string{"sparse", "busybox", "tarball"}) {
		t.Errorf("brands %q", b.Host().Brands)
	}
	z := api.NewZone{Name: "formweb", Zonepath: "/zones/formweb", Brand: "busybox", IPType: "shared", MaxLWPs: "12x"}
	if got := b.CheckNewZone(z); len(got) != 1 || got[0] != (api.FieldProblem{Field: api.FieldMaxLWPs, Problem: `max-lwps "12x" is not a whole number`}) {
		t.Errorf("CheckNewZone %q", got)
	}
	if err := b.CreateZone(ctx, root, z); err == nil {
		t.Error("a zone with max-lwps 12x was created")
	}
	z.MaxLWPs = "50"
	must(t, b.CreateZone(ctx, root, z))
	zs, err := b.List(ctx, root, api.ListOptions{Configured: true})
	if err != nil || !slices.ContainsFunc(zs, func(i api.ZoneInfo) bool { return i.Name == "formweb" && i.Brand == "busybox" }) {
		t.Errorf("list after create: %v %v", zs, err)
	}

	alice := api.Principal{UID: 1000, GID: 1000, User: "alice", Zone: "global"}
	d := newDelegBackend(e)
	if err := d.CreateZone(ctx, alice, api.NewZone{Name: "x"}); !errors.Is(err, api.ErrPermission) {
		t.Errorf("a delegated user's create gave %v", err)
	}
	zb := newZoneConsole(nil)
	if err := zb.CreateZone(ctx, api.Principal{Zone: "z1"}, api.NewZone{Name: "x"}); !errors.Is(err, api.ErrPermission) {
		t.Errorf("a zone's create gave %v", err)
	}
	if got := zb.CheckNewZone(api.NewZone{Name: "-x", Zonepath: "/zones/x"}); len(got) == 0 || got[0].Field != api.FieldName {
		t.Errorf("zone backend CheckNewZone %q", got)
	}
}

// The delegated console offers keys by the engine's own rules; ui's scope
// test carries a copy of them, checked against the real ones here.
func TestDelegatedActionAllowed(t *testing.T) {
	alice := api.Principal{UID: 1000, GID: 1000, User: "alice", Zone: "global"}
	d := &delegServer{auths: map[string][]string{"db01": {"config", "login", "manage"}, "web01": {"login"}}}
	for _, c := range []struct {
		zone string
		act  api.Action
		want bool
	}{
		{"db01", api.ActBoot, true}, {"db01", api.ActConfigure, true}, {"db01", api.ActInstall, false},
		{"db01", api.ActConfigureCaps, false}, {"web01", api.ActLogin, true}, {"web01", api.ActBoot, false},
		{"web01", api.ActConfigure, false}, {"other", api.ActLogin, false},
	} {
		if got := d.ActionAllowed(alice, c.zone, c.act); got != c.want {
			t.Errorf("%s on %s: %v, want %v", c.act, c.zone, got, c.want)
		}
	}
}
