package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"zonetop/engine"
	"zonetop/ui"
	"zonetop/zones"
)

// demoZone is one of the three zones `zonetop --demo` makes, with the
// small load its inittab keeps running so the console has numbers to show.
type demoZone struct {
	name   string
	lwps   uint64
	memory uint64
	ncpus  float64
	load   []string // inittab respawn commands
}

var demoZones = []demoZone{
	{name: "web", lwps: 100, memory: 64 << 20, ncpus: 0.5, load: []string{
		// A request loop: short bursts of CPU, then a pause.
		`/bin/sh -c 'while :; do i=0; while [ $i -lt 3000 ]; do i=$((i+1)); done; sleep 1; done'`,
	}},
	{name: "db", lwps: 200, memory: 128 << 20, ncpus: 1, load: []string{
		// A cache: holds some memory and touches it now and then.
		`/bin/sh -c 'x=$(head -c 24000000 /dev/zero | tr "\0" a); while :; do sleep 5; echo ${#x} >/dev/null; done'`,
	}},
	{name: "batch", lwps: 50, memory: 32 << 20, ncpus: 0.25, load: []string{
		`/bin/sh -c 'while :; do i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; sleep 2; done'`,
	}},
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
	fmt.Fprintf(stdout, "zonetop --demo: making zones web, db and batch under %s\n", g.root)
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
	}
	runErr := ui.Run(consoleBackend{e}, opts)
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

func makeDemoZone(ctx context.Context, e *engine.Engine, p engine.Principal, root string, dz demoZone) error {
	cfg := &zones.Config{
		Name: dz.name, Zonepath: "/zones/" + dz.name, Brand: "busybox", IPType: "shared",
		Rctls: []zones.Rctl{{Name: "zone.max-lwps",
			Values: []zones.RctlValue{{Priv: "privileged", Limit: dz.lwps, Action: "deny"}}}},
		CappedMemory: &zones.CappedMemory{Physical: dz.memory},
		CappedCPU:    &zones.CappedCPU{NCPUs: dz.ncpus},
	}
	if _, err := e.Store().State(dz.name); err == nil {
		// A kept demo: boot what is there; one already running stays so.
		_, _ = e.BootZone(ctx, p, dz.name, nil)
		return nil
	}
	if err := e.CreateZone(ctx, p, cfg); err != nil {
		return err
	}
	if err := e.InstallZone(ctx, p, dz.name, "", func(engine.Progress) {}); err != nil {
		return err
	}
	inittab := "# demo zone " + dz.name + ": a small load the console shows\n" +
		"::sysinit:/bin/touch /var/run/utmp\n"
	for _, l := range dz.load {
		inittab += "::respawn:" + l + "\n"
	}
	inittab += "::shutdown:/bin/sync\n"
	path := filepath.Join(root, cfg.Zonepath, "root", "etc", "inittab")
	if err := os.WriteFile(path, []byte(inittab), 0o644); err != nil {
		return fmt.Errorf("demo zone %s: inittab: %w", dz.name, err)
	}
	if _, err := e.BootZone(ctx, p, dz.name, nil); err != nil {
		return err
	}
	return nil
}
