package engine

import (
	"context"
	"errors"
	"strings"
	"testing"
	"zonetop/api"
	"zonetop/zones"
)

// VerifyZone reads the zone's configuration and every other zone's (its
// overlap checks name them), so it is authorized like ready: a zone's root,
// another zone's root and a host user without manage get a permission
// error, and nothing about another zone in it.
func TestVerifyZoneIsAuthorized(t *testing.T) {
	e, err := New(t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	global := api.Principal{Zone: "global"}
	for _, c := range []*zones.Config{
		{Name: "vfweb", Zonepath: "/zones/vfweb", Brand: "busybox", IPType: "shared",
			Admins: []zones.Admin{{User: "1001", Auths: []string{"login"}}, {User: "1002", Auths: []string{"manage"}}}},
		{Name: "vfsecret", Zonepath: "/zones/vfsecret", Brand: "busybox", IPType: "shared"},
	} {
		if err := e.CreateZone(ctx, global, c); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []api.Principal{
		{UID: 0, Zone: "vfweb"},
		{UID: 0, Zone: "vfsecret"},
		{UID: 1001, User: "alice", Zone: "global"},
		{UID: 1003, User: "mallory", Zone: "global"},
	} {
		errs := e.VerifyZone(ctx, p, "vfweb")
		if len(errs) != 1 || !errors.Is(errs[0], api.ErrPermission) {
			t.Errorf("%+v verified vfweb: %v, want one permission error", p, errs)
		}
		var ae *api.Error
		if len(errs) == 1 && (!errors.As(errs[0], &ae) || ae.Code != api.CodeDenied) {
			t.Errorf("%+v: %v carries no denied code", p, errs[0])
		}
		for _, err := range errs {
			if p.Zone != "vfsecret" && strings.Contains(err.Error(), "vfsecret") {
				t.Errorf("%+v learnt of another zone: %v", p, err)
			}
		}
	}
	// The global administrator and a user with manage get the checks.
	for _, p := range []api.Principal{global, {UID: 1002, User: "bob", Zone: "global"}} {
		for _, err := range e.VerifyZone(ctx, p, "vfweb") {
			if errors.Is(err, api.ErrPermission) {
				t.Errorf("%+v refused verify: %v", p, err)
			}
		}
	}
}
