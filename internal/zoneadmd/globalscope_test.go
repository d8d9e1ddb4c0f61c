package zoneadmd

import "testing"

// The global zone's scope has one name per root prefix, never a -PID
// one (prctl and projmod from anywhere must find it), and its D-Bus
// object path is escaped as systemd escapes it.
func TestGlobalScopeNames(t *testing.T) {
	if got := GlobalScope("/"); got != "/zonetop.slice/zonetop-global.scope" {
		t.Errorf("GlobalScope(/) = %q", got)
	}
	a, b := GlobalScope("/tmp/a"), GlobalScope("/tmp/b/")
	if a == b || a == GlobalScope("/") || GlobalScope("/tmp/a/") != a {
		t.Errorf("root prefixes share or split scopes: %q %q", a, b)
	}
	if got := busLabel("zonetop-global-0a1b.scope"); got != "zonetop_2dglobal_2d0a1b_2escope" {
		t.Errorf("busLabel = %q", got)
	}
	if GlobalScopeHost("/some/parent") {
		t.Error("--cgroup-parent given, yet the global zone's projects go to systemd")
	}
}
