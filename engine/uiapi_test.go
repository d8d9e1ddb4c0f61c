package engine

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"zonetop/api"
	"zonetop/internal/configs"
	"zonetop/internal/zoneadmd"
	"zonetop/zones"
)

func TestCreateEditDeleteZone(t *testing.T) {
	e, err := New(t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	root := api.Principal{Zone: "global"}
	cfg := &zones.Config{Name: "uiweb", Zonepath: "/zones/uiweb", Brand: "busybox", IPType: "shared",
		CappedMemory: &zones.CappedMemory{Physical: 64 << 20}}

	if err := e.CreateZone(ctx, api.Principal{UID: 1000, Zone: "global"}, cfg); !errors.Is(err, api.ErrPermission) {
		t.Fatalf("a non-root user created a zone: %v", err)
	}
	if err := e.CreateZone(ctx, root, &zones.Config{Name: "bad", Zonepath: "relative"}); err == nil {
		t.Fatal("a zone with a relative zonepath was created")
	}
	if err := e.CreateZone(ctx, root, cfg); err != nil {
		t.Fatal(err)
	}
	if err := e.CreateZone(ctx, root, cfg); err == nil {
		t.Fatal("the same zone was created twice")
	}
	info, export, err := e.ZoneConfig(ctx, root, "uiweb")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(info, "zonepath: /zones/uiweb") || !strings.Contains(export, "set brand=busybox") {
		t.Fatalf("info/export lack the zone's settings:\n%s\n%s", info, export)
	}
	_, err = e.ApplyZonecfg(ctx, root, "uiweb", "edit", "set autoboot=true\nset bogus=1\n")
	if err == nil || !strings.HasPrefix(err.Error(), "edit:2:") {
		t.Fatalf("a bad script gave %v, want an edit:2:COL error", err)
	}
	if _, err := e.ApplyZonecfg(ctx, root, "uiweb", "edit", "set autoboot=true\n"); err != nil {
		t.Fatal(err)
	}
	if c, _, _ := e.store.Load("uiweb"); !c.Autoboot {
		t.Fatal("the script did not reach the store")
	}
	evs := e.Events(root, "uiweb")
	if len(evs) != 5 || evs[0].Op != "zonecfg" || evs[0].Failed || !evs[1].Failed || evs[3].Op != "create" || evs[3].Failed {
		t.Fatalf("events newest first = %+v", evs)
	}
	if got := e.Events(api.Principal{UID: 0, Zone: "other"}, "uiweb"); got != nil {
		t.Fatal("another zone's administrator sees this zone's events")
	}
	if err := e.DeleteZone(ctx, root, "uiweb"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.State("uiweb"); !errors.Is(err, zones.ErrNoZone) {
		t.Fatalf("after delete: %v", err)
	}
}

func TestProjectOf(t *testing.T) {
	cg := "12:pids:/user.slice/zonetop/web/batch\n0::/user.slice/zonetop/web\n"
	if got := zoneadmd.ProjectOf(cg, "web"); got != "batch" {
		t.Fatalf("projectOf = %q", got)
	}
	if got := zoneadmd.ProjectOf("0::/x/zonetop/web\n", "web"); got != "-" {
		t.Fatalf("projectOf without a project = %q", got)
	}
	if got := zoneadmd.TaskOf("4:memory:/zonetop/web/batch/task.7\n", "web"); got != 7 {
		t.Fatalf("taskOf = %d", got)
	}
	if got := zoneadmd.TaskOf(cg, "web"); got != -1 {
		t.Fatalf("taskOf without a task = %d", got)
	}
}

func TestReadProcessSelf(t *testing.T) {
	pr, ok := zoneadmd.ReadProcess(os.Getpid(), "none", map[int]string{os.Getuid(): "me"})
	if !ok || pr.User != "me" || pr.RSS == 0 || pr.Command == "" {
		t.Fatalf("readProcess(self) = %+v, %v", pr, ok)
	}
}

// Signals are the global administrator's from the host: a zone's
// administrator naming another zone, a host user the zone delegates
// everything to, and a plain host user are all refused before any pid is
// looked at; the global administrator is told the zone is not running.
func TestSignalProcessAuthorized(t *testing.T) {
	e, err := New(t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	root := api.Principal{Zone: "global"}
	for _, name := range []string{"zcsiga", "zcsigb"} {
		cfg := &zones.Config{Name: name, Zonepath: "/zones/" + name, Brand: "busybox", IPType: "shared",
			Admins: []zones.Admin{{User: "1234", Auths: []string{"login", "manage", "config", "clonefrom"}}}}
		if err := e.CreateZone(ctx, root, cfg); err != nil {
			t.Fatal(err)
		}
	}
	req := api.SignalRequest{Zone: "zcsiga", PID: os.Getpid(), Signal: "KILL"}
	for _, p := range []api.Principal{
		{UID: 0, Zone: "zcsigb"},                  // root of another zone
		{UID: 1234, Zone: "global", User: "1234"}, // delegated every auth
		{UID: 1000, Zone: "global"},               // a host user
		{UID: 5, Zone: "zcsiga"},                  // a user of the zone, not its root
	} {
		if err := e.SignalProcess(ctx, p, req); !errors.Is(err, api.ErrPermission) {
			t.Errorf("%+v signalled a process of zcsiga: %v", p, err)
		}
	}
	if err := e.SignalProcess(ctx, root, req); !errors.Is(err, api.ErrNotFound) {
		t.Errorf("a signal to a zone that is not running: %v", err)
	}
	if err := e.SignalProcess(ctx, root, api.SignalRequest{Zone: "../zcsiga", PID: 1, Signal: "TERM"}); err == nil {
		t.Error("a zone name with a path in it was accepted")
	}
}

// The console log goes to whom read-console-log allows: the global
// administrator, root of that zone, a host user with the login auth; root
// of another zone, a plain user of the zone and any other host user get
// permission denied and nothing of it.
func TestConsoleLogAuthorized(t *testing.T) {
	dir := t.TempDir()
	e, err := New(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	global := api.Principal{Zone: "global"}
	for _, name := range []string{"logweb", "logdb"} {
		cfg := &zones.Config{Name: name, Zonepath: "/zones/" + name, Brand: "busybox", IPType: "shared",
			Admins: []zones.Admin{{User: "alice", Auths: []string{"login"}}, {User: "bob", Auths: []string{"manage"}}}}
		if err := e.CreateZone(ctx, global, cfg); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(configs.LogDir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(configs.LogDir(dir), "logweb.console"), []byte("logweb booted\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		who string
		p   api.Principal
		ok  bool
	}{
		{"the global administrator", global, true},
		{"root of the zone", api.Principal{UID: 0, Zone: "logweb"}, true},
		{"a login user", api.Principal{UID: 1001, User: "alice", Zone: "global"}, true},
		{"root of another zone", api.Principal{UID: 0, Zone: "logdb"}, false},
		{"a user of the zone", api.Principal{UID: 1000, Zone: "logweb"}, false},
		{"a manage user", api.Principal{UID: 1002, User: "bob", Zone: "global"}, false},
	} {
		text, err := e.ConsoleLog(ctx, c.p, "logweb")
		if c.ok && (err != nil || text != "logweb booted\n") {
			t.Errorf("%s: %q %v", c.who, text, err)
		}
		if !c.ok && (!errors.Is(err, api.ErrPermission) || text != "") {
			t.Errorf("%s: %q %v, want permission denied", c.who, text, err)
		}
	}
}
