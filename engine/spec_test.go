package engine

import (
	"slices"
	"testing"
	"zonetop/internal/platform"
	"zonetop/internal/ztest"
	"zonetop/zones"
)

// limitpriv's zonetop_userns is no capability: the bounding set is the
// same with it, and it reaches the spec (and so zsched's filter) apart.
func TestLimitprivUserns(t *testing.T) {
	e := &Engine{Root: t.TempDir()}
	base, err := ResolveLimitpriv("default", "shared")
	ztest.Must(t, err)
	for _, c := range []struct {
		limitpriv string
		userns    bool
		caps      []string
		mountAPI  bool
	}{
		{"", false, base, false},
		{"default", false, base, false},
		{"default,zonetop_userns", true, base, true},
		{"default, ZONETOP_USERNS", true, base, true},
		{"default,zonetop_userns,!zonetop_userns", false, base, false},
		{"default,zonetop_userns,-zonetop_userns", false, base, false},
		{"zonetop_userns,none", false, []string{}, false},
		{"default,sys_admin", false, append(slices.Clone(base), "sys_admin"), true},
	} {
		s, err := e.platformSpec(&zones.Config{Name: "xs1", Zonepath: "/zones/xs1", Limitpriv: c.limitpriv})
		if err != nil {
			t.Errorf("%q: %v", c.limitpriv, err)
			continue
		}
		slices.Sort(c.caps)
		if s.NestedUserns != c.userns || !slices.Equal(s.Caps, c.caps) {
			t.Errorf("%q: nested userns %v caps %v, want %v %v", c.limitpriv, s.NestedUserns, s.Caps, c.userns, c.caps)
		}
		if pol := platform.ZoneFilterPolicyFor(&s); pol.NestedUserns != c.userns || pol.MountAPI != c.mountAPI {
			t.Errorf("%q: filter policy %+v", c.limitpriv, pol)
		}
	}
	if _, err := ResolveLimitpriv("default,cap_zonetop_userns", "shared"); err == nil {
		t.Error("cap_zonetop_userns taken for a capability")
	}
}
