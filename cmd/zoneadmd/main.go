//go:debug updatemaxprocs=0

// Command zoneadmd is zonetop's per-zone binary: the supervisor
// (zoneadmd), the keeper, and what runs inside a zone from a sealed copy
// of it (zsched, the zhold stub, and newtask for zinit's inittab entries in
// a project). Every process it becomes is started once per zone and stays
// up, so it links only what they run: no console, no Charm stack. The
// operator's commands are the zonetop binary beside it, which starts it.
//
// GOMAXPROCS is set once at start, as in zonetop: the runtime's periodic
// re-reading of the cgroup CPU quota would wake every idle zoneadmd and
// zsched for nothing.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"zonetop/client"
	"zonetop/internal/zoneadmd"

	// A delegated host user's ready, boot or halt that reaches zoneadmd
	// is carried out by the engine's own call (zoneadmd.DelegatedLifecycle,
	// set by the engine's init): the supervisor stays below the API, and
	// the binary links it.
	_ "zonetop/engine"
)

func main() {
	// zinit (cmd/zinit) starts an inittab entry that names a project as
	// "newtask -p PROJECT COMMAND..." from this binary, which zsched
	// hands it sealed.
	if filepath.Base(os.Args[0]) == "newtask" {
		os.Exit(newtask(os.Args[1:]))
	}
	if handled, code := zoneadmd.HiddenMain(os.Args); handled {
		os.Exit(code)
	}
	fmt.Fprintln(os.Stderr, "zoneadmd: zonetop starts this binary for its zones' processes; use zonetop (zoneadm, zlogin, ...) instead")
	os.Exit(2)
}

// newtask takes exactly what zinit gives it: -p PROJECT COMMAND [ARG...].
// The zone administrator's newtask, with its options, is zonetop's.
func newtask(args []string) int {
	if len(args) < 3 || args[0] != "-p" {
		fmt.Fprintln(os.Stderr, "usage: newtask -p project command [argument...]")
		return 2
	}
	if err := client.NewTask(args[1], args[2:]); err != nil {
		fmt.Fprintf(os.Stderr, "newtask: %v\n", err)
	}
	return 1
}
