package engine

import (
	"errors"
	"strings"
	"testing"
	"zonetop/api"
	"zonetop/internal/authz"
	"zonetop/zones"
)

func TestAuthorizeMatrix(t *testing.T) {
	cfg := &zones.Config{Name: "web", Admins: []zones.Admin{
		{User: "alice", Auths: []string{"login"}},
		{User: "bob", Auths: []string{"login", "manage"}},
		{User: "1234", Auths: []string{"clonefrom,config"}},
	}}
	global := api.Principal{UID: 0, Zone: "global"}
	zroot := api.Principal{UID: 0, Zone: "web"}
	zuser := api.Principal{UID: 1000, Zone: "web"}
	otherRoot := api.Principal{UID: 0, Zone: "db"}
	alice := api.Principal{UID: 1001, User: "alice", Zone: "global"}
	bob := api.Principal{UID: 1002, User: "bob", Zone: "global"}
	carol := api.Principal{UID: 1234, User: "carol", Zone: "global"}
	mallory := api.Principal{UID: 1003, User: "mallory", Zone: "global"}
	// allowed[principal] lists the actions it may take on zone web.
	allowed := map[string][]api.Action{
		"global":    authz.Actions,
		"zoneroot":  {api.ActList, api.ActInfo, api.ActReadUsage, api.ActSetProjectLimit, api.ActCreateProject, api.ActDeleteProject, api.ActSignal, api.ActReadConsoleLog},
		"zoneuser":  {api.ActList, api.ActInfo, api.ActReadUsage},
		"otherroot": {api.ActList},
		"alice":     {api.ActList, api.ActInfo, api.ActReadUsage, api.ActLogin, api.ActConsole, api.ActReadConsoleLog},
		"bob":       {api.ActList, api.ActInfo, api.ActReadUsage, api.ActLogin, api.ActConsole, api.ActReadConsoleLog, api.ActReady, api.ActBoot, api.ActHalt, api.ActReboot, api.ActShutdown, api.ActVerify},
		"carol":     {api.ActList, api.ActInfo, api.ActReadUsage, api.ActCloneFrom, api.ActConfigure, api.ActSetProjectLimit, api.ActCreateProject, api.ActDeleteProject},
		"mallory":   {api.ActList},
	}
	ps := map[string]api.Principal{"global": global, "zoneroot": zroot, "zoneuser": zuser, "otherroot": otherRoot,
		"alice": alice, "bob": bob, "carol": carol, "mallory": mallory}
	for name, p := range ps {
		ok := map[api.Action]bool{}
		for _, a := range allowed[name] {
			ok[a] = true
		}
		for _, a := range authz.Actions {
			err := authz.Authorize(p, "web", a, cfg)
			if ok[a] && err != nil {
				t.Errorf("%s %s: refused: %v", name, a, err)
			}
			if !ok[a] {
				if err == nil {
					t.Errorf("%s %s: allowed, want refused", name, a)
				} else if !errors.Is(err, api.ErrPermission) {
					t.Errorf("%s %s: error %v does not wrap ErrPermission", name, a, err)
				}
			}
		}
	}
}

func TestAuthorizeMessages(t *testing.T) {
	err := authz.Authorize(api.Principal{UID: 0, Zone: "web"}, "web", api.ActSetZoneCap, nil)
	if err == nil || !strings.Contains(err.Error(), "permission denied: zone caps are set by the global administrator") {
		t.Errorf("zone cap by zone admin: %v", err)
	}
	err = authz.Authorize(api.Principal{UID: 5, User: "eve", Zone: "global"}, "web", api.ActBoot, &zones.Config{Name: "web"})
	if err == nil || !strings.Contains(err.Error(), "eve is not an administrator") {
		t.Errorf("stranger: %v", err)
	}
	err = authz.Authorize(api.Principal{UID: 5, User: "eve", Zone: "global"}, "web", api.ActBoot,
		&zones.Config{Name: "web", Admins: []zones.Admin{{User: "eve", Auths: []string{"login"}}}})
	if err == nil || !strings.Contains(err.Error(), `lacks the "manage" auth`) {
		t.Errorf("login-only boot: %v", err)
	}
	if err := authz.Authorize(api.Principal{UID: 0, Zone: "global"}, "web", api.Action("format-disk"), nil); err == nil {
		t.Error("unknown action allowed")
	}
	// No configuration (a zone that is gone) delegates nothing.
	if err := authz.Authorize(api.Principal{UID: 5, User: "eve", Zone: "global"}, "web", api.ActLogin, nil); err == nil {
		t.Error("no config: login allowed")
	}
	// A zone principal with no zone name is nobody's administrator.
	if err := authz.Authorize(api.Principal{UID: 0, Zone: ""}, "", api.ActInfo, nil); err == nil {
		t.Error("empty zone principal allowed")
	}
}

func TestCheckConfigChange(t *testing.T) {
	base := &zones.Config{Name: "web", Zonepath: "/zones/web", Brand: "sparse", IPType: "shared",
		Admins: []zones.Admin{{User: "carol", Auths: []string{"config"}}}}
	carol := api.Principal{UID: 1234, User: "carol", Zone: "global"}
	cases := []struct {
		name   string
		change func(c *zones.Config)
		ok     bool
		msg    string
	}{
		{"autoboot", func(c *zones.Config) { c.Autoboot = true }, true, ""},
		{"bootargs", func(c *zones.Config) { c.Bootargs = "-v" }, false, "what runs as the zone's root"},
		{"attr", func(c *zones.Config) { c.Attrs = []zones.Attr{{Name: "comment", Type: "string", Value: "x"}} }, true, ""},
		{"init", func(c *zones.Config) { c.Init = "/sbin/init" }, false, "what runs as the zone's root"},
		{"rctl", func(c *zones.Config) { c.Rctls = []zones.Rctl{{Name: "zone.max-lwps"}} }, false, "zone caps"},
		{"capped-memory", func(c *zones.Config) { c.CappedMemory = &zones.CappedMemory{Physical: 1} }, false, "zone caps"},
		{"capped-cpu", func(c *zones.Config) { c.CappedCPU = &zones.CappedCPU{NCPUs: 4} }, false, "zone caps"},
		{"dedicated-cpu", func(c *zones.Config) { c.DedicatedCPU = &zones.DedicatedCPU{NCPUs: "2"} }, false, "zone caps"},
		{"fs", func(c *zones.Config) { c.FS = []zones.FS{{Dir: "/mnt", Special: "/etc", Type: "lofs"}} }, false, "fs"},
		{"ipd", func(c *zones.Config) { c.InheritPkgDirs = []zones.InheritPkgDir{{Dir: "/root"}} }, false, "inherit-pkg-dir"},
		{"device", func(c *zones.Config) { c.Devices = []zones.Device{{Match: "/dev/sda*"}} }, false, "device"},
		{"limitpriv", func(c *zones.Config) { c.Limitpriv = "default,sys_admin" }, false, "limitpriv"},
		{"user-namespace", func(c *zones.Config) { c.UserNamespace = "none" }, false, "user-namespace"},
		{"zonepath", func(c *zones.Config) { c.Zonepath = "/" }, false, "zonepath"},
		{"net", func(c *zones.Config) { c.Nets = []zones.Net{{Address: "198.18.0.1", Physical: "eth0"}} }, false, "net"},
		{"admin", func(c *zones.Config) { c.Admins[0].Auths = []string{"config", "manage"} }, false, "admin"},
		{"sched", func(c *zones.Config) { c.SchedulingClass = "RT" }, false, "scheduling-class"},
	}
	for _, tc := range cases {
		after := base.Clone()
		tc.change(after)
		err := authz.CheckConfigChange(carol, base, after)
		if tc.ok != (err == nil) {
			t.Errorf("%s: err = %v, want ok=%v", tc.name, err, tc.ok)
			continue
		}
		if err != nil && (!errors.Is(err, api.ErrPermission) || !strings.Contains(err.Error(), tc.msg)) {
			t.Errorf("%s: err = %v, want ErrPermission mentioning %q", tc.name, err, tc.msg)
		}
		if err := authz.CheckConfigChange(api.Principal{Zone: "global"}, base, after); err != nil {
			t.Errorf("%s: global admin refused: %v", tc.name, err)
		}
	}
	if err := authz.CheckConfigChange(carol, nil, base); err == nil {
		t.Error("delegated create allowed")
	}
	if err := authz.CheckConfigChange(carol, base, nil); err == nil {
		t.Error("delegated delete allowed")
	}
}
