package zoneadmd

import (
	"regexp"
	"testing"
	"zonetop/internal/configs"
)

// Scope names are valid unit names, the zone's own under root /, and
// differ for one zone name under two root prefixes.
func TestScopeUnitName(t *testing.T) {
	if got := scopeUnitName("/", "web"); got != "zonetop-web.scope" {
		t.Errorf("root /: %q", got)
	}
	if got := scopeUnitName("//", "web"); got != "zonetop-web.scope" {
		t.Errorf("root //: %q", got)
	}
	a, b := scopeUnitName("/tmp/a", "web"), scopeUnitName("/tmp/b", "web")
	if a == b {
		t.Errorf("two roots, one scope name: %q", a)
	}
	if scopeUnitName("/tmp/a/", "web") != a {
		t.Errorf("root /tmp/a/ and /tmp/a differ")
	}
	valid := regexp.MustCompile(`^[A-Za-z0-9:_.\\-]{1,255}$`)
	for _, n := range []string{a, b, scopeUnitName("/x", "a.b_c-d"), scopeUnitName("/", "keeper")} {
		if !valid.MatchString(n) {
			t.Errorf("%q is not a valid unit name", n)
		}
	}
}

// Away from systemd (these machines: cgroup v1, no systemd as PID 1)
// a zoneadmd stays where it is and the zone's parent is left alone.
func TestSettleSupervisorNoSystemd(t *testing.T) {
	if systemdScopeHost() {
		t.Skip("a systemd cgroup v2 host: the v2 ring covers it")
	}
	d := &zoneadmd{root: t.TempDir(), name: "ztv2settle"}
	spec := &configs.PlatformSpec{Name: "ztv2settle"}
	if err := d.settleSupervisor(spec); err != nil || spec.CgroupParent != "" || spec.SupervisorCgroup != "" {
		t.Errorf("settle: %v, spec %+v", err, spec)
	}
}

func TestInZoneScope(t *testing.T) {
	unit := "zonetop-web.scope"
	for cur, want := range map[string]bool{
		"/zonetop.slice/zonetop-web.scope/supervisor":         true,
		"/zonetop.slice/zonetop-web-4242.scope/supervisor":    true,
		"/zonetop.slice/zonetop-web.scope":                    false,
		"/zonetop.slice/zonetop-db.scope/supervisor":          false,
		"/zonetop.slice/zonetop-web-x.scope/supervisor":       false,
		"/zonetop.slice/zonetop-webx.scope/supervisor":        false,
		"/user.slice/user-0.slice/session-3.scope":            false,
		"/zonetop.slice/zonetop-web.scope/zonetop/web/system": false,
	} {
		if got := inZoneScope(cur, unit); got != want {
			t.Errorf("inZoneScope(%q) = %v, want %v", cur, got, want)
		}
	}
}
