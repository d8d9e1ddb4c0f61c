package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
	"zonetop/api"
	"zonetop/client"

	"zonetop/engine"
)

// Front ends run by a host user who is not root (a delegated zone
// administrator) or inside a zone do not touch zonetop's state directly:
// they ask the zonetop service, the zone's zoneadmd or the zone socket,
// which know the caller from the socket's peer credentials.

// delegatedUser reports whether this front end runs as a host user other
// than root.
func delegatedUser() bool { return os.Geteuid() != 0 && !client.InZone() }

// listZones is the zone listing as the caller may see it.
func listZones(e *engine.Engine, opts api.ListOptions) ([]api.ZoneInfo, error) {
	switch {
	case client.InZone():
		return zoneSelfList()
	case os.Geteuid() != 0:
		return client.DelegatedList(e.Root, opts)
	}
	return e.List(context.Background(), engine.CurrentPrincipal(), opts)
}

// zoneSelfList is `zoneadm list` inside a zone: the zone itself.
func zoneSelfList() ([]api.ZoneInfo, error) {
	zs, err := client.DialZoneServer(api.ZoneSockPath)
	if err != nil {
		return nil, err
	}
	return zs.List(context.Background(), api.Principal{}, api.ListOptions{})
}

// delegatedZoneadm runs a life-cycle subcommand for a delegated user.
func delegatedZoneadm(g *globals, zone, sub string, args []string, stderr io.Writer) int {
	timeout := time.Duration(0)
	switch sub {
	case "ready", "halt":
		if len(args) > 0 {
			fmt.Fprintf(stderr, "zoneadm: %s takes no arguments\n%s", sub, zoneadmUsage)
			return 2
		}
	case "boot":
		if len(args) > 0 && args[0] == "--" {
			args = args[1:]
		}
	case "reboot":
		if len(args) > 0 && args[0] == "--" {
			args = args[1:]
		}
		if _, err := client.DelegatedOp(g.root, zone, "halt", nil, 0); err != nil {
			fmt.Fprintf(stderr, "zoneadm: %v\n", err)
			return 1
		}
		sub = "boot"
	case "shutdown":
		sa, err := parseShutdown(args)
		if err != nil {
			fmt.Fprintf(stderr, "zoneadm: %v\n%s", err, zoneadmUsage)
			return 2
		}
		if _, err := client.DelegatedOp(g.root, zone, sub, nil, sa.timeout); err != nil {
			fmt.Fprintf(stderr, "zoneadm: %v\n", err)
			return 1
		}
		if !sa.reboot {
			return 0
		}
		sub, args = "boot", sa.bootArgs
	default:
		fmt.Fprintf(stderr, "zoneadm: %s %s: permission denied: only the global administrator may do this\n", sub, zone)
		return 1
	}
	if _, err := client.DelegatedOp(g.root, zone, sub, args, timeout); err != nil {
		fmt.Fprintf(stderr, "zoneadm: %v\n", err)
		return 1
	}
	return 0
}

const serveUsage = "usage: zonetop serve   (as root, from a system unit)\n"

// runServe is the zonetop service for delegated users.
func runServe(g *globals, args []string, _ io.Reader, _, stderr io.Writer) int {
	if len(args) > 0 {
		fmt.Fprint(stderr, serveUsage)
		return 2
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(stderr, "serve: must run as root")
		return 1
	}
	e, err := engine.New(g.root, g.cgroupParent)
	if err != nil {
		fmt.Fprintf(stderr, "serve: %v\n", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := e.Serve(ctx); err != nil {
		fmt.Fprintf(stderr, "serve: %v\n", err)
		return 1
	}
	return 0
}
