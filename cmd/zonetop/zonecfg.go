package main

import (
	"fmt"
	"io"
	"os"
	"zonetop/client"

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
	// Through the engine, so that every committed change is audited.
	return e.Zonecfg(engine.CurrentPrincipal(), args, stdin, stdout, stderr)
}
