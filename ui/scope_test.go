package ui

import (
	"github.com/charmbracelet/x/ansi"
	"slices"
	"strings"
	"testing"
	"zonetop/api"
)

// scopedFake answers ActionAllowed from each zone's Auths, as the
// delegated console's backend does with the service's list. The console
// must not link the engine's authorizer, so the fake carries the part of
// its rules a delegated host user meets; cmd/zonetop tests the real
// backend against the real rules.
type scopedFake struct{ *fakeBackend }

// delegatedAuth is the auth a delegated host user needs for an action;
// the actions missing here are never delegated.
var delegatedAuth = map[api.Action]string{
	api.ActLogin: "login", api.ActConsole: "login",
	api.ActReady: "manage", api.ActBoot: "manage", api.ActHalt: "manage", api.ActReboot: "manage", api.ActShutdown: "manage",
	api.ActCloneFrom: "clonefrom",
	api.ActConfigure: "config", api.ActSetProjectLimit: "config", api.ActCreateProject: "config", api.ActDeleteProject: "config",
}

func (s scopedFake) ActionAllowed(p api.Principal, zone string, a api.Action) bool {
	if p.GlobalAdmin() {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, z := range s.zones {
		if z.Name == zone {
			switch a {
			case api.ActList, api.ActInfo, api.ActReadUsage:
				return len(z.Auths) > 0
			}
			need, ok := delegatedAuth[a]
			return ok && slices.Contains(z.Auths, need)
		}
	}
	return false
}

func full0(m *Model) *KeyMap { return m.c.keys }

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
		return ansi.Strip(h.m.help.View(h.m.c.keys))
	}
	// The table is sorted by name: db01 (config, login, manage) first.
	got := helpText()
	if !strings.Contains(got, "b boot") || !full0(h.m).Halt.Enabled() || strings.Contains(got, "n new") {
		t.Fatalf("help on a zone with manage:\n%s", got)
	}
	full := h.m.c.keys
	if !full.Edit.Enabled() || full.Delete.Enabled() || full.Install.Enabled() || full.Uninstall.Enabled() {
		t.Fatalf("config/manage zone: edit %v delete %v install %v uninstall %v",
			full.Edit.Enabled(), full.Delete.Enabled(), full.Install.Enabled(), full.Uninstall.Enabled())
	}
	h.send("", keys("j")...)
	got = helpText()
	if !strings.Contains(got, "login") || strings.Contains(got, "boot") || strings.Contains(got, "n new") {
		t.Fatalf("help on a login-only zone:\n%s", got)
	}
	if full.Edit.Enabled() || full.Boot.Enabled() {
		t.Fatal("login-only zone offers edit or boot")
	}
}
