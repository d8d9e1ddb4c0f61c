package main

import (
	"fmt"
	"io"

	"zonetop/zones"
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
	return zones.RunZonecfg(zones.NewStore(g.root), args, stdin, stdout, stderr)
}
