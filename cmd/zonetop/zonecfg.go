package main

import (
	"fmt"
	"io"
	"os"
	"zonetop/client"
	"zonetop/zones"

	"zonetop/console"
	"zonetop/engine"
)

// runZonecfg hands the whole command line to the zonecfg language in zones/,
// after taking illumos' -R root option, which moves the store like --root.
func runZonecfg(g *globals, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) >= 2 && args[0] == "-R" {
		g.root, args = args[1], args[2:]
	}
	if len(args) == 1 && args[0] == "-R" {
		fmt.Fprintln(stderr, "zonecfg: -R needs a root directory")
		return 2
	}
	if delegatedUser() {
		// The store is root's: the zonetop service runs the session as
		// this user, within the config auth.
		f, ok := stdin.(*os.File)
		code, err := client.DelegatedZonecfg(g.root, args, ok && console.IsTerminal(f), stdin, stdout, stderr)
		if err != nil {
			fmt.Fprintf(stderr, "zonecfg: %v\n", err)
			return 1
		}
		return code
	}
	e, err := engine.New(g.root, g.cgroupParent)
	if err != nil {
		fmt.Fprintf(stderr, "zonecfg: %v\n", err)
		return 1
	}
	// At a terminal an interactive session gets a line editor.
	var opts zones.Options
	in, inOK := stdin.(*os.File)
	out, outOK := stdout.(*os.File)
	if inOK && outOK && console.IsTerminal(in) && console.IsTerminal(out) && interactiveZonecfg(args) {
		lines, restore, err := newTermLines(in, out)
		if err == nil {
			defer restore()
			opts.Lines = lines
			stdout = lines
			if f, ok := stderr.(*os.File); ok && console.IsTerminal(f) {
				stderr = lines
			}
		}
	}
	// Through the engine, so that every committed change is audited.
	return e.ZonecfgWith(engine.CurrentPrincipal(), args, stdin, stdout, stderr, opts)
}

// interactiveZonecfg reports whether args start a session that reads
// commands from the terminal: a zone named, and no subcommands or -f.
func interactiveZonecfg(args []string) bool {
	inv, err := zones.ParseArgs(args)
	if err != nil || inv.Help || inv.HaveFile || (inv.Zone == "" && inv.UUID == "") {
		return false
	}
	return len(inv.Rest) == 0
}
