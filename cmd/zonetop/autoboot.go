package main

import (
	"context"
	"fmt"
	"io"
	"time"
	"zonetop/api"

	"zonetop/engine"
)

const autobootUsage = "usage: zonetop autoboot [--shutdown]\n"

// runAutoboot boots every installed zone with autoboot=true (at host boot),
// or with --shutdown shuts every running zone down (at host shutdown). It
// goes on past a zone that fails and exits 1 if any did.
func runAutoboot(g *globals, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	shutdown := false
	for _, a := range args {
		if a != "--shutdown" {
			fmt.Fprintf(stderr, "zonetop autoboot: unexpected argument %q\n%s", a, autobootUsage)
			return 2
		}
		shutdown = true
	}
	e, err := engine.New(g.root, g.cgroupParent)
	if err != nil {
		fmt.Fprintf(stderr, "zonetop autoboot: %v\n", err)
		return 1
	}
	ctx := context.Background()
	p := engine.CurrentPrincipal()
	list, err := e.List(ctx, p, api.ListOptions{Configured: true})
	if err != nil {
		fmt.Fprintf(stderr, "zonetop autoboot: %v\n", err)
		return 1
	}
	status := 0
	for _, z := range list {
		if z.Name == "global" {
			continue
		}
		switch {
		case shutdown && (z.State == "running" || z.State == "ready"):
			fmt.Fprintf(stdout, "shutting down %s\n", z.Name)
			if _, err := e.ShutdownZone(ctx, p, z.Name, 60*time.Second); err != nil {
				fmt.Fprintf(stderr, "zonetop autoboot: %v\n", err)
				status = 1
			}
		case !shutdown && z.Autoboot && (z.State == "installed" || z.State == "ready"):
			fmt.Fprintf(stdout, "booting %s\n", z.Name)
			if _, err := e.BootZone(ctx, p, z.Name, nil); err != nil {
				fmt.Fprintf(stderr, "zonetop autoboot: %v\n", err)
				status = 1
			}
		}
	}
	return status
}
