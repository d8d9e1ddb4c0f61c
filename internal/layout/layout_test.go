package layout

import (
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
)

type pkg struct {
	ImportPath string
	Deps       []string
}

// deps lists every package of the module with its non-test dependencies
// inside the module, as `go list -deps` sees them.
func deps(t *testing.T) map[string][]string {
	t.Helper()
	// go test puts its own go first on PATH.
	goTool, err := exec.LookPath("go")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("no go tool to list packages with")
		}
		t.Skip("no go tool to list packages with")
	}
	cmd := exec.Command(goTool, "list", "-json=ImportPath,Deps", "zonetop/...")
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	m := map[string][]string{}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		var own []string
		for _, d := range p.Deps {
			if d == "zonetop" || strings.HasPrefix(d, "zonetop/") {
				own = append(own, strings.TrimPrefix(d, "zonetop/"))
			}
		}
		m[strings.TrimPrefix(p.ImportPath, "zonetop/")] = own
	}
	return m
}

func under(p string, prefixes ...string) bool {
	for _, pre := range prefixes {
		if p == pre || strings.HasPrefix(p, pre+"/") {
			return true
		}
	}
	return false
}

// The rules, each with why. A package reaches what it imports and all that
// imports in turn, so they are checked on the whole dependency set.
func TestImportRules(t *testing.T) {
	all := deps(t)
	if len(all) < 10 {
		t.Fatalf("go list found only %d packages", len(all))
	}
	// Leaves: what every layer shares must not drag a layer in with it.
	leaves := map[string][]string{
		"api":               nil, // what crosses between front ends and engine
		"rctl":              nil,
		"termsafe":          nil,
		"console":           nil,
		"console/screen":    nil,
		"internal/pidfd":    nil,
		"internal/fanout":   nil,
		"internal/seal":     nil,
		"internal/pathrs":   nil,
		"internal/ztest":    {"internal/testhook"},
		"internal/testhook": nil,
		"zones":             {"api", "internal/pathrs", "rctl"},
		// Projects and the accounting tree are pure: the wire types and
		// the client carry rlimit settings from here without linking the
		// cgroup manager, which acts without authorization.
		"limits":             {"rctl", "api"},
		"limits/cgroups":     {"rctl", "internal/configs", "internal/pidfd", "internal/mountinfo", "internal/testhook"},
		"internal/mountinfo": nil,
		"internal/configs":   {"internal/testhook"},
	}
	for p, allowed := range leaves {
		d, ok := all[p]
		if !ok {
			t.Errorf("%s: no such package; update the rules with the tree", p)
			continue
		}
		for _, dep := range d {
			if !under(dep, allowed...) {
				t.Errorf("%s depends on %s; it may depend on %v only", p, dep, allowed)
			}
		}
	}
	for p, d := range all {
		for _, dep := range d {
			switch {
			// The console draws screens from the API's types; it must not
			// reach the model, the accounting or the engine's insides.
			case under(p, "ui") && !under(dep, "api", "rctl", "console", "termsafe"):
				t.Errorf("ui depends on %s; the console may use the API's types, rctl, console and termsafe only", dep)
			// The VT emulator is for panes; zoneadmd and the zone's
			// processes import console and must not carry it.
			case dep == "console/screen" && !under(p, "ui", "cmd/zonetop"):
				t.Errorf("%s depends on console/screen; only the console (ui) draws terminal screens", p)
			// The supervisor and the zone's runtime skip authorization:
			// only the engine, the hidden entry points and the runtime's
			// own packages may reach them.
			case under(dep, "internal/zoneadmd", "internal/platform", "internal/zonenet", "limits/cgroups") &&
				!under(p, "engine", "cmd", "internal"):
				t.Errorf("%s depends on %s, which does not authorize its callers", p, dep)
			// What runs inside the zone never calls up into its supervisor
			// or the front ends' API.
			case under(p, "internal/platform", "internal/configs", "internal/wire", "internal/zonenet", "limits/cgroups") &&
				under(dep, "internal/zoneadmd", "engine", "client", "ui", "cmd"):
				t.Errorf("%s depends on %s, a layer above it", p, dep)
			case under(p, "internal/zoneadmd", "internal/authz", "internal/audit", "client") && under(dep, "engine", "ui", "cmd"):
				t.Errorf("%s depends on %s, a layer above it", p, dep)
			// A client speaks the protocol; it decides nothing itself.
			case under(p, "client") && under(dep, "internal/zoneadmd", "internal/platform", "internal/authz", "internal/audit"):
				t.Errorf("client depends on %s; it may speak the wire protocol only", dep)
			}
		}
	}
}

// heavyForZones are the modules the per-zone binary must not link: the
// console's (bubbletea, lipgloss, the VT emulator and its terminal
// libraries, the clipboard). Each costs package init and memory in every
// zoneadmd and zsched, one of each per zone, neither of which draws a
// screen.
var heavyForZones = []string{
	"charm.land/", "github.com/charmbracelet/", "github.com/atotto/clipboard",
	"github.com/muesli/", "github.com/mattn/go-runewidth", "github.com/rivo/uniseg",
	"github.com/lucasb-eyer/", "github.com/xo/terminfo", "github.com/clipperhouse/",
	"zonetop/ui", "zonetop/console/screen", "zonetop/cmd/zonetop",
}

// The per-zone binary stays lean: an import edge that drags the console's
// stack into internal/zoneadmd, internal/platform, the engine or anything
// they import fails here, with or without the test hooks.
func TestPerZoneBinaryIsLean(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("no go tool to list packages with")
		}
		t.Skip("no go tool to list packages with")
	}
	for _, tags := range [][]string{nil, {"-tags", "zonetop_testhooks"}} {
		args := append(append([]string{"list", "-deps"}, tags...), "zonetop/cmd/zoneadmd")
		cmd := exec.Command(goTool, args...)
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go %s: %v", strings.Join(args, " "), err)
		}
		deps := strings.Fields(string(out))
		if len(deps) < 20 {
			t.Fatalf("go %s listed only %v", strings.Join(args, " "), deps)
		}
		for _, d := range deps {
			for _, h := range heavyForZones {
				if d == strings.TrimSuffix(h, "/") || strings.HasPrefix(d, h) || strings.HasPrefix(d, h+"/") {
					t.Errorf("the per-zone binary (cmd/zoneadmd, %v) links %s", tags, d)
				}
			}
		}
	}
}
