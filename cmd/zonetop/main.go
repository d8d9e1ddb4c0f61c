//go:debug updatemaxprocs=0

// Command zonetop is the operator's binary: the terminal console (no
// arguments) and the CLI front ends (zonecfg, zoneadm, zlogin, ...) as
// subcommands or through links named after them, on the host and, from
// /run/zonetop/bin, inside zones. The per-zone processes (zoneadmd, zsched)
// are the lean binary beside it, cmd/zoneadmd, and a zone's init the C
// program zinit (cmd/zinit) beside that.
//
// GOMAXPROCS is set once at start: the runtime's periodic re-reading of
// the cgroup CPU quota would only wake a long-running front end (serve,
// the console) for nothing.
package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"
	"zonetop/client"
)

func main() {
	os.Exit(run(os.Args, os.Stdin, os.Stdout, os.Stderr))
}

// globals are the options every front end shares.
type globals struct {
	root         string
	cgroupParent string
	demo, keep   bool
}

// command is one CLI front end.
type command struct {
	run     func(g *globals, args []string, stdin io.Reader, stdout, stderr io.Writer) int
	summary string
	// usage is printed for --help (and -h alone); "" when the command
	// answers help itself, as zonecfg does.
	usage string
}

// globalOnly are the commands that act on the host's zones and say so
// inside a zone (zoneadm, whose list works there too, decides by
// subcommand).
var globalOnly = map[string]bool{"zonecfg": true, "zlogin": true, "audit": true, "serve": true, "autoboot": true}

var commands map[string]command

func init() {
	commands = map[string]command{
		"zonecfg":  {runZonecfg, "configure zones (illumos zonecfg language)", ""},
		"zoneadm":  {runZoneadm, "install, clone, boot, halt and list zones", zoneadmHelp},
		"zlogin":   {runZlogin, "run a command or a shell inside a zone", zloginUsage},
		"help":     {runHelp, "this list", ""},
		"version":  {runVersion, "what build this is (also --version on every command)", versionUsage},
		"audit":    {runAudit, "show the audit log of zone changes", auditUsage},
		"serve":    {runServe, "run the zonetop service for delegated users (for a system unit, as root)", serveUsage},
		"autoboot": {runAutoboot, "boot zones with autoboot=true (for a system unit; --shutdown at host stop)", autobootUsage},
	}
}

const usageText = `usage: zonetop [--root DIR] [--cgroup-parent PATH] [COMMAND [ARGS...]]

With no command, zonetop opens the console.

Commands:
`

func usage(w io.Writer) {
	fmt.Fprint(w, usageText)
	for _, n := range sortedCommandNames() {
		if commands[n].summary != "" { // hidden: the shells' helper
			fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
		}
	}
	fmt.Fprint(w, "\nThe commands also answer to links named after them (zoneadm, zonecfg, zlogin, prctl, ...).\n"+
		"--root (or ZONETOP_ROOT) moves all of zonetop's state under DIR.\n")
}

func runHelp(_ *globals, _ []string, _ io.Reader, stdout, _ io.Writer) int {
	usage(stdout)
	return 0
}

// run dispatches on argv[0] first (a link named zoneadm is zoneadm), then on
// the first non-flag argument.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	g := &globals{root: os.Getenv("ZONETOP_ROOT")}
	if g.root == "" {
		g.root = "/"
	}
	self := filepath.Base(args[0])
	c, linked := commands[self]
	linked = linked && self != "help"
	rest, err := parseGlobals(g, args[1:], linked)
	if err == nil && !filepath.IsAbs(g.root) {
		err = fmt.Errorf("--root must be an absolute path, not %q", g.root)
	}
	if err != nil {
		fmt.Fprintf(stderr, "zonetop: %v\n", err)
		usage(stderr)
		return 2
	}
	name := self
	if !linked {
		if len(rest) == 0 {
			return runConsole(g, stdout, stderr)
		}
		var ok bool
		name = rest[0]
		if c, ok = commands[rest[0]]; !ok {
			fmt.Fprintf(stderr, "zonetop: unknown command %q\n", rest[0])
			usage(stderr)
			return 2
		}
		rest = rest[1:]
	}
	if len(rest) > 0 && rest[0] == "--version" {
		return runVersion(g, nil, stdin, stdout, stderr)
	}
	if c.usage != "" && asksHelp(rest) {
		fmt.Fprint(stdout, c.usage)
		return 0
	}
	if globalOnly[name] && client.InZone() {
		return globalZoneOnly(stderr, name)
	}
	return c.run(g, rest, stdin, stdout, stderr)
}

// globalZoneOnly is a global zone's command's answer inside a zone, in
// illumos' words: the zone's PATH has these commands too (as illumos
// ships them in every zone), and "no such zone configured" would send a
// zone administrator looking for a configuration that is not theirs.
func globalZoneOnly(stderr io.Writer, name string) int {
	if name == "zlogin" {
		fmt.Fprintf(stderr, "zlogin: 'zlogin' may only be used from the global zone\n")
	} else {
		fmt.Fprintf(stderr, "%s: %s can only be run from the global zone\n", name, name)
	}
	return 1
}

// asksHelp reports whether a command's arguments ask for its usage:
// --help first, or -h alone (prctl's -h with -n is its own option).
func asksHelp(args []string) bool {
	return len(args) > 0 && (args[0] == "--help" || (args[0] == "-h" && len(args) == 1))
}

// parseGlobals takes zonetop's own options from the front of args. Options
// after the command name belong to the command, and so does -h when zonetop
// runs through a link named after a command.
func parseGlobals(g *globals, args []string, linked bool) ([]string, error) {
	for len(args) > 0 {
		a := args[0]
		name, val, hasVal := strings.Cut(a, "=")
		takeVal := func() (string, error) {
			if hasVal {
				args = args[1:]
				return val, nil
			}
			if len(args) < 2 {
				return "", fmt.Errorf("%s needs a value", name)
			}
			v := args[1]
			args = args[2:]
			return v, nil
		}
		switch name {
		case "--root":
			v, err := takeVal()
			if err != nil {
				return nil, err
			}
			g.root = v
		case "--cgroup-parent":
			v, err := takeVal()
			if err != nil {
				return nil, err
			}
			g.cgroupParent = v
		case "--demo":
			g.demo = true
			args = args[1:]
		case "--keep":
			g.keep = true
			args = args[1:]
		case "-h", "--help":
			if linked {
				return args, nil
			}
			return []string{"help"}, nil
		case "--version":
			if linked {
				return args, nil
			}
			return []string{"version"}, nil
		default:
			if strings.HasPrefix(a, "--") && !linked {
				return nil, fmt.Errorf("unknown option %s", a)
			}
			return args, nil
		}
	}
	return args, nil
}

func sortedCommandNames() []string {
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

const versionUsage = `usage: zonetop version   (or COMMAND --version)
prints the commit the binary was built from, its time and the Go release
`

// runVersion prints the build: the module version, and the commit and its
// time when the binary was built from a checkout (Go stamps them).
func runVersion(_ *globals, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		fmt.Fprintf(stderr, "version: unexpected argument %q\n%s", args[0], versionUsage)
		return 2
	}
	fmt.Fprintln(stdout, versionString())
	return 0
}

func versionString() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "zonetop (no build information)"
	}
	var rev, when, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			when = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+changes"
			}
		}
	}
	v := "zonetop " + bi.Main.Version
	if rev != "" {
		v = "zonetop " + rev[:min(12, len(rev))] + dirty
		if when != "" {
			v += " " + when
		}
	}
	return v + " " + bi.GoVersion
}
