package engine

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"zonetop/api"
)

// The new-zone form's checks moved here from the console; these are what
// the form showed, field by field, before they moved, so an operator reads
// the same words in the same places. The memory cap's "below the minimum"
// lands on the net's physical when that is free: Verify names both
// "physical", and the form has always put such a problem on the first.
func TestNewZoneConfigAsTheFormShowedIt(t *testing.T) {
	for _, c := range []struct {
		in   api.NewZone
		want []api.FieldProblem
	}{
		{api.NewZone{Name: "web02", Zonepath: "/zones/web02", Brand: "sparse", IPType: "shared"},
			nil},
		{api.NewZone{Brand: "sparse", IPType: "shared"},
			[]api.FieldProblem{{Field: api.FieldName, Problem: "zone name is empty"}, {Field: api.FieldZonepath, Problem: "not set; every zone needs a zonepath (set zonepath=/zones/NAME)"}, {Problem: "zone : zonename: zone name is empty"}}},
		{api.NewZone{Name: "-bad", Zonepath: "/zones/-bad", Brand: "sparse", IPType: "shared"},
			[]api.FieldProblem{{Field: api.FieldName, Problem: "zone name \"-bad\" must begin with a letter or digit"}, {Problem: "zone -bad: zonename: zone name \"-bad\" must begin with a letter or digit"}}},
		{api.NewZone{Name: "global", Zonepath: "/zones/global", Brand: "sparse", IPType: "shared"},
			[]api.FieldProblem{{Field: api.FieldName, Problem: "zone name \"global\" is reserved for the global zone"}, {Field: api.FieldZonepath, Problem: "cannot be set for the global zone"}, {Field: api.FieldBrand, Problem: "cannot be set for the global zone"}, {Field: api.FieldIPType, Problem: "cannot be set for the global zone"}}},
		{api.NewZone{Name: "web02", Zonepath: "relative", Brand: "busybox", IPType: "shared"},
			[]api.FieldProblem{{Field: api.FieldZonepath, Problem: "\"relative\" is not an absolute path"}}},
		{api.NewZone{Name: "web02", Zonepath: "/zones/web02", Brand: "sparse", IPType: "shared", MaxLWPs: "12x"},
			[]api.FieldProblem{{Field: api.FieldMaxLWPs, Problem: "max-lwps \"12x\" is not a whole number"}}},
		{api.NewZone{Name: "web02", Zonepath: "/zones/web02", Brand: "sparse", IPType: "shared", MaxLWPs: "0"},
			nil},
		{api.NewZone{Name: "web02", Zonepath: "/zones/web02", Brand: "sparse", IPType: "shared", MaxLWPs: "-1"},
			[]api.FieldProblem{{Field: api.FieldMaxLWPs, Problem: "max-lwps \"-1\" is not a whole number"}}},
		{api.NewZone{Name: "web02", Zonepath: "/zones/web02", Brand: "sparse", IPType: "shared", Memory: "1q"},
			[]api.FieldProblem{{Field: api.FieldMemory, Problem: "size \"1q\" is not a number with an optional k, m, g or t scale"}}},
		{api.NewZone{Name: "web02", Zonepath: "/zones/web02", Brand: "sparse", IPType: "shared", Memory: "1k"},
			[]api.FieldProblem{{Field: api.FieldPhysical, Problem: "1K is below the 1M minimum"}}},
		{api.NewZone{Name: "web02", Zonepath: "/zones/web02", Brand: "sparse", IPType: "shared", Memory: "0"},
			[]api.FieldProblem{{Problem: "zone web02: capped-memory: set at least one of physical, swap, locked"}}},
		{api.NewZone{Name: "web02", Zonepath: "/zones/web02", Brand: "sparse", IPType: "shared", MaxLWPs: "200", Memory: "512m", CPU: "1.5"},
			nil},
		{api.NewZone{Name: "web02", Zonepath: "/zones/web02", Brand: "sparse", IPType: "shared", CPU: "x"},
			[]api.FieldProblem{{Field: api.FieldCPU, Problem: "cpu cap \"x\" is not a number of CPUs"}}},
		{api.NewZone{Name: "web02", Zonepath: "/zones/web02", Brand: "sparse", IPType: "shared", CPU: "0"},
			[]api.FieldProblem{{Field: api.FieldCPU, Problem: "not set or not positive; give a decimal number of CPUs such as 1.5"}}},
		{api.NewZone{Name: "web02", Zonepath: "/zones/web02", Brand: "sparse", IPType: "shared", CPU: "-2"},
			[]api.FieldProblem{{Field: api.FieldCPU, Problem: "not set or not positive; give a decimal number of CPUs such as 1.5"}}},
		{api.NewZone{Name: "web02", Zonepath: "/zones/web02", Brand: "sparse", IPType: "shared", CPU: "1000000"},
			nil},
		{api.NewZone{Name: "web02", Zonepath: "/zones/web02", Brand: "sparse", IPType: "shared", Address: "198.18.0.10/24"},
			[]api.FieldProblem{{Field: api.FieldPhysical, Problem: "not set; every net resource needs a physical interface"}}},
		{api.NewZone{Name: "web02", Zonepath: "/zones/web02", Brand: "sparse", IPType: "shared", Address: "bad", Physical: "eth0"},
			[]api.FieldProblem{{Field: api.FieldAddress, Problem: "\"bad\" is not an IPv4 or IPv6 address"}}},
		{api.NewZone{Name: "web02", Zonepath: "/zones/web02", Brand: "sparse", IPType: "shared", Physical: "eth0"},
			[]api.FieldProblem{{Field: api.FieldAddress, Problem: "not set; a shared-IP zone needs an address for each net resource"}}},
		{api.NewZone{Name: "web02", Zonepath: "/zones/web02", Brand: "sparse", IPType: "shared", Address: "198.18.0.10/24", Physical: "eth0"},
			nil},
		{api.NewZone{Name: "web02", Zonepath: "/zones/web02", Brand: "tarball", IPType: "exclusive"},
			nil},
		{api.NewZone{Name: "web02", Zonepath: "/zones/web02", Brand: "sparse", IPType: "exclusive", Address: "198.18.0.10/24"},
			[]api.FieldProblem{{Field: api.FieldPhysical, Problem: "not set; every net resource needs a physical interface"}}},
		{api.NewZone{Name: "web02", Zonepath: "/zones/web02", Brand: "sparse", IPType: "exclusive", Physical: "eth0"},
			nil},
		{api.NewZone{Name: "web02", Zonepath: "/zones/web02", Brand: "sparse", IPType: "exclusive", Address: "x", Physical: "bad name!"},
			[]api.FieldProblem{{Field: api.FieldPhysical, Problem: "interface name \"bad name!\" may not contain '/', ':' or whitespace"}, {Problem: "zone web02: net physical=bad name!: allowed-address: \"x\" is not an IPv4 or IPv6 address"}}},
		{api.NewZone{Name: "web02", Zonepath: "/zones/web02", Brand: "sparse", IPType: "exclusive", Address: "198.18.0.10/24", Physical: "eth0", Memory: "1k"},
			[]api.FieldProblem{{Field: api.FieldPhysical, Problem: "1K is below the 1M minimum"}}},
		{api.NewZone{Name: "web02", Zonepath: "/zones/web02", Brand: "sparse", IPType: "exclusive", Physical: "bad name!", Memory: "1k"},
			[]api.FieldProblem{{Field: api.FieldPhysical, Problem: "interface name \"bad name!\" may not contain '/', ':' or whitespace"}, {Field: api.FieldMemory, Problem: "1K is below the 1M minimum"}}},
		{api.NewZone{Name: "web 02", Zonepath: "/", Brand: "busybox", IPType: "exclusive", Address: "1.2.3.4", Physical: "/x", MaxLWPs: "x", Memory: "y", CPU: "z"},
			[]api.FieldProblem{{Field: api.FieldName, Problem: "zone name \"web 02\" contains \" \": only letters, digits, '-', '_' and '.' are allowed"}, {Field: api.FieldZonepath, Problem: "the zonepath cannot be /"}, {Field: api.FieldPhysical, Problem: "interface name \"/x\" may not contain '/', ':' or whitespace"}, {Field: api.FieldMaxLWPs, Problem: "max-lwps \"x\" is not a whole number"}, {Field: api.FieldMemory, Problem: "size \"y\" is not a number with an optional k, m, g or t scale"}, {Field: api.FieldCPU, Problem: "cpu cap \"z\" is not a number of CPUs"}, {Problem: "zone web 02: zonename: zone name \"web 02\" contains \" \": only letters, digits, '-', '_' and '.' are allowed"}}},
		{api.NewZone{Name: "a-very-long-name-that-goes-on-and-on-and-on-and-on-and-on-and-on-and-on", Zonepath: "/zones/a", Brand: "sparse", IPType: "shared"},
			[]api.FieldProblem{{Field: api.FieldName, Problem: "zone name \"a-very-long-name-that-goes-on-and-on-and-on-and-on-and-on-and-on-and-on\" is longer than 64 characters"}, {Problem: "zone a-very-long-name-that-goes-on-and-on-and-on-and-on-and-on-and-on-and-on: zonename: zone name \"a-very-long-name-that-goes-on-and-on-and-on-and-on-and-on-and-on-and-on\" is longer than 64 characters"}}},
		{api.NewZone{Name: "web02", Zonepath: "/zones/../etc", Brand: "sparse", IPType: "shared"},
			[]api.FieldProblem{{Field: api.FieldZonepath, Problem: "\"/zones/../etc\" contains a \"..\" element"}}},
		{api.NewZone{Name: "web02", Zonepath: "/zones/web02/", Brand: "sparse", IPType: "shared", MaxLWPs: "99999999999999999999"},
			[]api.FieldProblem{{Field: api.FieldMaxLWPs, Problem: "max-lwps \"99999999999999999999\" is not a whole number"}}},
		{api.NewZone{Name: "web02", Zonepath: "/zones/web02", Brand: "sparse", IPType: "shared", MaxLWPs: "5"},
			nil},
	} {
		_, got := NewZoneConfig(c.in)
		if !slices.Equal(got, c.want) {
			t.Errorf("%+v:\n got  %q\n want %q", c.in, got, c.want)
		}
	}
}

// The configuration carries what the form described, in zonecfg's terms.
func TestNewZoneConfigBuilds(t *testing.T) {
	cfg, probs := NewZoneConfig(api.NewZone{Name: " web02 ", Zonepath: "/zones/web02", Brand: "sparse", IPType: "exclusive",
		Address: "198.18.0.10/24", Physical: "eth0", MaxLWPs: "200", Memory: "512m", CPU: "1.5"})
	if probs != nil {
		t.Fatal(probs)
	}
	if cfg.Name != "web02" || len(cfg.Nets) != 1 || cfg.Nets[0].AllowedAddress != "198.18.0.10/24" || cfg.Nets[0].Address != "" ||
		len(cfg.Rctls) != 1 || cfg.Rctls[0].Values[0].Limit != 200 ||
		cfg.CappedMemory == nil || cfg.CappedMemory.Physical != 512<<20 || cfg.CappedCPU == nil || cfg.CappedCPU.NCPUs != 1.5 {
		t.Fatalf("%+v", cfg)
	}
}

// A form's zone is authorized and verified as CreateZone's configuration
// is, and a cap that did not parse refuses the zone rather than being
// dropped from it.
func TestCreateNewZone(t *testing.T) {
	e, err := New(t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	root := api.Principal{Zone: "global"}
	z := api.NewZone{Name: "formweb", Zonepath: "/zones/formweb", Brand: "busybox", IPType: "shared", Memory: "64m"}

	bad := z
	bad.MaxLWPs = "12x"
	if err := e.CreateNewZone(ctx, api.Principal{UID: 1000, Zone: "global"}, bad); !errors.Is(err, api.ErrPermission) {
		t.Fatalf("a non-root user's bad form gave %v, want a refusal", err)
	}
	if err := e.CreateNewZone(ctx, root, bad); err == nil || err.Error() != `create zone formweb: max-lwps "12x" is not a whole number` {
		t.Fatalf("a bad max-lwps gave %v", err)
	}
	if err := e.CreateNewZone(ctx, root, api.NewZone{Name: "-bad", Zonepath: "/zones/x"}); err == nil ||
		err.Error() != `create zone: zone name "-bad" must begin with a letter or digit` {
		t.Fatalf("a bad name gave %v", err)
	}
	if err := e.CreateNewZone(ctx, root, z); err != nil {
		t.Fatal(err)
	}
	info, _, err := e.ZoneConfig(ctx, root, "formweb")
	if err != nil || !strings.Contains(info, "physical: 64M") {
		t.Fatalf("info %q, %v", info, err)
	}
	other := z
	other.Name = "formweb2"
	if err := e.CreateNewZone(ctx, root, other); err == nil || !strings.Contains(err.Error(), "already the zonepath of zone formweb") {
		t.Fatalf("a second zone on the same zonepath gave %v", err)
	}
	if got := e.CheckNewZone(bad); len(got) != 1 || got[0].Field != api.FieldMaxLWPs {
		t.Fatalf("CheckNewZone %q", got)
	}
}
