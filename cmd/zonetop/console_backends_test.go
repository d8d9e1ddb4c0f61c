package main

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"zonetop/api"
	"zonetop/engine"
	"zonetop/internal/configs"
	"zonetop/ui"
)

// Each console is the one adapter with a different set of the views'
// interfaces: a zone's console must never be handed the host's meters, a
// console or login pane, or the zone-cap editor, and only a delegated
// console limits keys by auths. The ui decides what to show by these
// type assertions, so they are the behaviour.
func TestConsoleOffers(t *testing.T) {
	e, err := engine.New(t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	offers := func(b ui.Backend) map[string]bool {
		m := map[string]bool{}
		_, m["usage"] = b.(ui.UsageBackend)
		_, m["host-usage"] = b.(ui.HostUsageBackend)
		_, m["caps"] = b.(ui.CapEditor)
		_, m["projects"] = b.(ui.ProjectEditor)
		_, m["signal"] = b.(ui.ProcessSignaler)
		_, m["log"] = b.(ui.LogBackend)
		_, m["console"] = b.(ui.ConsoleBackend)
		_, m["login"] = b.(ui.LoginBackend)
		_, m["scope"] = b.(ui.ActionScope)
		return m
	}
	all := []string{"usage", "host-usage", "caps", "projects", "signal", "log", "console", "login", "scope"}
	for _, c := range []struct {
		name string
		b    ui.Backend
		want []string
	}{
		{"host", newHostConsole(e), []string{"usage", "host-usage", "caps", "projects", "signal", "log", "console", "login"}},
		{"delegated", newDelegBackend(e), all},
		{"zone", newZoneConsole(nil), []string{"usage", "projects", "signal", "log"}},
	} {
		got := offers(c.b)
		want := map[string]bool{}
		for _, w := range c.want {
			want[w] = true
		}
		for _, k := range all {
			if got[k] != want[k] {
				t.Errorf("%s console: %s offered %v, want %v", c.name, k, got[k], want[k])
			}
		}
	}
}

// A delegated user's refusals come before any request: a user with login
// only who boots, halts, installs or reads another zone's log is refused
// in the engine's words, with the denied code, and neither the zonetop
// service nor the zone's zoneadmd hears of it.
func TestDelegatedRefusalsSendNothing(t *testing.T) {
	root := t.TempDir()
	var dials atomic.Int32
	for _, sock := range []string{configs.ServeSock(root), configs.ZoneadmdSock(root, "web01"), configs.ZoneadmdSock(root, "db01")} {
		if err := os.MkdirAll(filepath.Dir(sock), 0o755); err != nil {
			t.Fatal(err)
		}
		lis, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: sock, Net: "unixpacket"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { lis.Close() })
		go func() {
			for {
				c, err := lis.Accept()
				if err != nil {
					return
				}
				dials.Add(1)
				c.Close()
			}
		}()
	}
	e, err := engine.New(root, "")
	if err != nil {
		t.Fatal(err)
	}
	d := newDelegServer(e)
	d.auths = map[string][]string{"web01": {"login"}}
	alice := api.Principal{UID: 1000, GID: 1000, User: "alice", Zone: "global"}
	ctx := context.Background()
	calls := map[string]func() error{
		"boot web01":      func() error { _, err := d.BootZone(ctx, alice, "web01", nil); return err },
		"halt web01":      func() error { _, err := d.HaltZone(ctx, alice, "web01"); return err },
		"reboot web01":    func() error { _, err := d.RebootZone(ctx, alice, "web01", nil); return err },
		"install web01":   func() error { return d.InstallZone(ctx, alice, "web01", "", nil) },
		"uninstall web01": func() error { return d.UninstallZone(ctx, alice, "web01", false) },
		"create x":        func() error { return d.CreateZone(ctx, alice, api.NewZone{Name: "x"}) },
		"delete web01":    func() error { return d.DeleteZone(ctx, alice, "web01") },
		"log of db01":     func() error { _, err := d.ConsoleLog(ctx, alice, "db01"); return err },
		"processes web01": func() error { _, err := d.Processes(ctx, alice, "web01"); return err },
	}
	for name, call := range calls {
		err := call()
		var ae *api.Error
		if !errors.Is(err, api.ErrPermission) || !errors.As(err, &ae) || ae.Code != api.CodeDenied {
			t.Errorf("%s: %v, want permission denied with its code", name, err)
		}
	}
	if n := dials.Load(); n != 0 {
		t.Errorf("refused calls reached a server %d times", n)
	}
}
