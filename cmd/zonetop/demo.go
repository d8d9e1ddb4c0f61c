package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"zonetop/api"
	"zonetop/rctl"

	"zonetop/engine"
	"zonetop/limits"
	"zonetop/ui"
	"zonetop/zones"
)

// demoZone is one of the three zones `zonetop --demo` makes: its caps,
// and its projects, each with limits and a small load running in it, so
// the console has numbers to show at both levels.
type demoZone struct {
	name     string
	lwps     uint64
	memory   uint64
	ncpus    float64
	projects []demoProject
}

// demoProject is a project of a demo zone: its limits as the console's
// Projects tab takes them, and the shell script that is its load.
type demoProject struct {
	name, comment string
	limits        map[string]string
	load          string
}

// The demo's zones are named demo-*: their cgroups, links and scopes are
// named after them on the real host, so they must not meet an operator's
// own web or db zone, whatever --root the demo runs under.
var demoZones = []demoZone{
	{name: "demo-web", lwps: 100, memory: 64 << 20, ncpus: 0.5, projects: []demoProject{
		{name: "frontend", comment: "the web tier", load: loadBursts(3000, 1),
			limits: map[string]string{rctl.ProjectMaxLwps: "40", rctl.ProjectMaxMemory: "32M", rctl.ProjectCPUShares: "20"}},
		{name: "backend", comment: "the API", load: loadBursts(1500, 1),
			limits: map[string]string{rctl.ProjectMaxLwps: "40", rctl.ProjectMaxMemory: "24M", rctl.ProjectCPUShares: "10"}},
	}},
	{name: "demo-db", lwps: 200, memory: 128 << 20, ncpus: 1, projects: []demoProject{
		{name: "primary", comment: "the database", load: loadCache(24000000),
			limits: map[string]string{rctl.ProjectMaxLwps: "100", rctl.ProjectMaxMemory: "96M", rctl.ProjectCPUShares: "30"}},
		// Its cpu-cap is above what it uses; max-memory above the zone's
		// cap shows "capped by zone".
		{name: "reports", comment: "nightly reports", load: loadBursts(8000, 2),
			limits: map[string]string{rctl.ProjectMaxLwps: "20", rctl.ProjectMaxMemory: "256M", rctl.ProjectCPUCap: "0.25"}},
	}},
	{name: "demo-batch", lwps: 50, memory: 32 << 20, ncpus: 0.25, projects: []demoProject{
		{name: "nightly", comment: "batch jobs", load: loadBursts(20000, 2),
			limits: map[string]string{rctl.ProjectMaxLwps: "30", rctl.ProjectCPUCap: "0.2"}},
		{name: "adhoc", comment: "one-off jobs", load: loadCache(4000000),
			limits: map[string]string{rctl.ProjectMaxLwps: "10", rctl.ProjectMaxMemory: "16M"}},
	}},
}

// loadBursts is a request loop: n shell iterations of CPU, then a pause.
func loadBursts(n, pause int) string {
	return fmt.Sprintf("while :; do i=0; while [ $i -lt %d ]; do i=$((i+1)); done; sleep %d; done\n", n, pause)
}

// loadCache holds about n bytes and touches them now and then.
func loadCache(n int) string {
	return fmt.Sprintf("x=$(head -c %d /dev/zero | tr '\\0' a)\nwhile :; do sleep 5; echo ${#x} >/dev/null; done\n", n)
}

// runDemo makes the demo zones under a scratch root (unless --root names
// one), opens the console on them, and removes everything on exit unless
// --keep.
func runDemo(g *globals, stdout, stderr io.Writer) int {
	if os.Geteuid() != 0 {
		fmt.Fprintln(stderr, "zonetop --demo: zones need root; run it with sudo")
		return 1
	}
	if g.root == "/" {
		dir, err := os.MkdirTemp("", "zonetop-demo-")
		if err != nil {
			fmt.Fprintf(stderr, "zonetop --demo: %v\n", err)
			return 1
		}
		g.root = dir
		if !g.keep {
			defer os.RemoveAll(dir)
		}
	}
	e, err := engine.New(g.root, g.cgroupParent)
	if err != nil {
		fmt.Fprintf(stderr, "zonetop --demo: %v\n", err)
		return 1
	}
	if err := os.MkdirAll(filepath.Join(g.root, "zones"), 0o700); err != nil {
		fmt.Fprintf(stderr, "zonetop --demo: %v\n", err)
		return 1
	}
	ctx := context.Background()
	p := engine.CurrentPrincipal()
	var made []string
	cleanup := func() {
		for _, name := range made {
			_, _ = e.HaltZone(ctx, p, name)
			_ = e.UninstallZone(ctx, p, name, true)
			_ = e.DeleteZone(ctx, p, name)
		}
	}
	fmt.Fprintf(stdout, "zonetop --demo: making zones demo-web, demo-db and demo-batch under %s\n", g.root)
	for _, dz := range demoZones {
		if err := makeDemoZone(ctx, e, p, g.root, dz); err != nil {
			fmt.Fprintf(stderr, "zonetop --demo: %v\n", err)
			made = append(made, dz.name)
			cleanup()
			return 1
		}
		made = append(made, dz.name)
	}
	opts := ui.Options{
		Principal: p,
		Command:   func(line string) (string, error) { return consoleCommand(g, line) },
		Complete:  func(words []string) []string { return consoleComplete(g, words) },
	}
	runErr := ui.Run(newHostConsole(e), opts)
	if g.keep {
		fmt.Fprintf(stdout, "zonetop --demo: zones kept under --root %s\n", g.root)
	} else {
		cleanup()
	}
	if runErr != nil {
		fmt.Fprintf(stderr, "zonetop: %v\n", runErr)
		return 1
	}
	return 0
}

// demoConfig is a demo zone's configuration: a busybox zone with caps.
func demoConfig(dz demoZone) *zones.Config {
	return &zones.Config{
		Name: dz.name, Zonepath: "/zones/" + dz.name, Brand: "busybox", IPType: "shared",
		Rctls: []zones.Rctl{{Name: rctl.ZoneMaxLwps,
			Values: []zones.RctlValue{{Priv: "privileged", Limit: dz.lwps, Action: "deny"}}}},
		CappedMemory: &zones.CappedMemory{Physical: dz.memory},
		CappedCPU:    &zones.CappedCPU{NCPUs: dz.ncpus},
	}
}

func makeDemoZone(ctx context.Context, e *engine.Engine, p api.Principal, root string, dz demoZone) error {
	cfg := demoConfig(dz)
	// Asked as the caller, like every other front end question: the
	// configuration store is the engine's own.
	zs, err := e.List(ctx, p, api.ListOptions{Configured: true, Installed: true})
	if err != nil {
		return fmt.Errorf("demo zone %s: %w", dz.name, err)
	}
	if slices.ContainsFunc(zs, func(z api.ZoneInfo) bool { return z.Name == dz.name }) {
		// A kept demo: boot what is there; one already running has its
		// load still running.
		_, _ = e.BootZone(ctx, p, dz.name, nil)
		return nil
	}
	if err := e.CreateZone(ctx, p, cfg); err != nil {
		return err
	}
	if err := e.InstallZone(ctx, p, dz.name, "", func(api.Progress) {}); err != nil {
		return err
	}
	zroot := filepath.Join(root, cfg.Zonepath, "root")
	if err := writeDemoFiles(zroot, dz); err != nil {
		return fmt.Errorf("demo zone %s: %w", dz.name, err)
	}
	_, err = e.BootZone(ctx, p, dz.name, nil)
	return err
}

// writeDemoFiles gives a freshly installed demo zone its /etc/project, the
// load scripts of its projects and an inittab, before its first boot.
func writeDemoFiles(zroot string, dz demoZone) error {
	ps := limits.DefaultProjects()
	for _, pr := range dz.projects {
		var attrs []limits.Attr
		for _, name := range slices.Sorted(maps.Keys(pr.limits)) {
			v, err := ui.RctlValues(name, pr.limits[name])
			if err != nil {
				return fmt.Errorf("project %s: %w", pr.name, err)
			}
			attrs = append(attrs, limits.Attr{Name: name, Value: v, HasValue: true})
		}
		if err := ps.Add(pr.name, -1, pr.comment, nil, nil, attrs); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(zroot, "etc", "project"), ps.Format(), 0o644); err != nil {
		return fmt.Errorf("/etc/project: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(zroot, "etc", "demo"), 0o755); err != nil {
		return err
	}
	for _, pr := range dz.projects {
		script := "# demo load of project " + pr.name + "\n" + pr.load
		if err := os.WriteFile(filepath.Join(zroot, "etc", "demo", pr.name+".sh"), []byte(script), 0o755); err != nil {
			return fmt.Errorf("load of %s: %w", pr.name, err)
		}
	}
	// Each project's load is an inittab entry naming its project, so it
	// comes back with every boot, reboots from the console included.
	inittab := "# demo zone " + dz.name + "\n" +
		"::sysinit:/bin/touch /var/run/utmp\n"
	for _, pr := range dz.projects {
		inittab += pr.name + ":project=" + pr.name + ":respawn:/bin/sh /etc/demo/" + pr.name + ".sh\n"
	}
	inittab += "::shutdown:/bin/sync\n"
	if err := os.WriteFile(filepath.Join(zroot, "etc", "inittab"), []byte(inittab), 0o644); err != nil {
		return fmt.Errorf("inittab: %w", err)
	}
	return nil
}
