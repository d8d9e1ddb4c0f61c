package ui

import (
	"strings"
	"testing"
	"zonetop/api"
	"zonetop/internal/authz"
)

// scopedFake answers ActionAllowed from each zone's Auths, as the
// delegated console's backend does with the service's list.
type scopedFake struct{ *fakeBackend }

func (s scopedFake) ActionAllowed(p api.Principal, zone string, a api.Action) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, z := range s.zones {
		if z.Name == zone {
			return authz.AuthorizeAuths(p, zone, z.Auths, a) == nil
		}
	}
	return false
}

// A delegated host user is offered, on each zone, the keys its auths on
// that zone allow, and never new or delete.
func TestDelegatedKeys(t *testing.T) {
	alice := api.Principal{UID: 1000, GID: 1000, User: "alice", Zone: "global"}
	zs := fixtureZones()[:2]
	zs[0].Auths = []string{"login"}
	zs[1].Auths = []string{"config", "login", "manage"}
	fb := &fakeBackend{zones: zs}
	h := newHarness(t, scopedFake{fb}, alice, 80, 24)
	h.send("2 running")
	helpText := func() string {
		h.m.scopeKeys()
		return h.m.help.View(h.m.c.keys)
	}
	// The table is sorted by name: db01 (config, login, manage) first.
	got := helpText()
	if !strings.Contains(got, "boot") || !strings.Contains(got, "halt") || strings.Contains(got, "new zone") {
		t.Fatalf("help on a zone with manage:\n%s", got)
	}
	full := h.m.c.keys
	if !full.Edit.Enabled() || full.Delete.Enabled() || full.Install.Enabled() || full.Uninstall.Enabled() {
		t.Fatalf("config/manage zone: edit %v delete %v install %v uninstall %v",
			full.Edit.Enabled(), full.Delete.Enabled(), full.Install.Enabled(), full.Uninstall.Enabled())
	}
	h.send("", keys("j")...)
	got = helpText()
	if !strings.Contains(got, "login") || strings.Contains(got, "boot") || strings.Contains(got, "new zone") {
		t.Fatalf("help on a login-only zone:\n%s", got)
	}
	if full.Edit.Enabled() || full.Boot.Enabled() {
		t.Fatal("login-only zone offers edit or boot")
	}
}
