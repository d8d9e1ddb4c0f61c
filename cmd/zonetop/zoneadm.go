package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"zonetop/api"
	"zonetop/client"

	"zonetop/engine"
	"zonetop/termsafe"
)

// zoneadmUsage follows a usage error; zoneadmHelp answers help.
const zoneadmUsage = `usage:	zoneadm [-R ROOT] [-z NAME] list [-c|-i] [-n] [-v|-p|-o json]
	zoneadm [-R ROOT] -z NAME SUBCOMMAND [ARGS]   (zoneadm help lists them)
`

const zoneadmHelp = `usage:	zoneadm [-R ROOT] [-z NAME] list [-c|-i] [-n] [-v|-p|-o json]
	zoneadm [-R ROOT] -z NAME SUBCOMMAND [ARGS]
subcommands:
  list [-c|-i] [-n] [-v|-p|-o json]
                         running zones; -i adds installed ones, -c configured
                         ones too; -n leaves the global zone out; -v a table,
                         -p colon-separated fields, -o json one JSON array
  verify                 check what install needs
  install [-a ARCHIVE]   fill the zone's root by its brand (tarball: -a)
  clone [-m copy] SOURCE install the zone as a copy of installed zone SOURCE
  uninstall [-F]         remove the zone's root; -F without asking
  ready                  build the zone's platform without starting init
  boot [-- BOOTARGS]     ready, then start the zone's init
  halt                   kill the zone's processes, take its platform down
  reboot [-- BOOTARGS]   halt, then boot (the zone gets a new ID)
  shutdown [-r] [-t DURATION] [-- BOOTARGS]
                         run inittab's shutdown entries for at most DURATION
                         (60s), then halt; with -r boot again
`

// runZoneadm is zoneadm(8): `list` works without -z; every other
// subcommand names its zone with -z.
func runZoneadm(g *globals, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var zone string
	for len(args) > 0 && len(args[0]) > 1 && args[0][0] == '-' {
		// -zNAME and -RROOT, attached as getopt allows, are -z NAME and
		// -R ROOT.
		if a := args[0]; len(a) > 2 && (a[:2] == "-z" || a[:2] == "-R") {
			args = append([]string{a[:2], a[2:]}, args[1:]...)
		}
		switch args[0] {
		case "-z":
			if len(args) < 2 {
				fmt.Fprint(stderr, "zoneadm: -z needs a zone name\n", zoneadmUsage)
				return 2
			}
			zone, args = args[1], args[2:]
		case "-R":
			if len(args) < 2 {
				fmt.Fprint(stderr, "zoneadm: -R needs a root directory\n", zoneadmUsage)
				return 2
			}
			g.root, args = args[1], args[2:]
		default:
			fmt.Fprintf(stderr, "zoneadm: unknown option %s\n%s", args[0], zoneadmUsage)
			return 2
		}
	}
	if len(args) == 0 {
		fmt.Fprint(stderr, zoneadmHelp)
		return 2
	}
	if args[0] == "help" {
		fmt.Fprint(stdout, zoneadmHelp)
		return 0
	}
	if args[0] != "list" && client.InZone() {
		// As on illumos, a zone lists itself; the rest acts on the host.
		fmt.Fprintf(stderr, "zoneadm: %s can only be run from the global zone\n", args[0])
		return 1
	}
	e, err := engine.New(g.root, g.cgroupParent)
	if err != nil {
		fmt.Fprintf(stderr, "zoneadm: %v\n", err)
		return 1
	}
	sub, args := args[0], args[1:]
	if sub == "list" {
		return zoneadmList(e, zone, args, stdout, stderr)
	}
	if zone == "" {
		fmt.Fprintf(stderr, "zoneadm: %s: a zone must be named with -z\n%s", sub, zoneadmUsage)
		return 2
	}
	return zoneadmOp(g, e, zone, sub, args, stdin, stdout, stderr)
}

func zoneadmList(e *engine.Engine, zone string, args []string, stdout, stderr io.Writer) int {
	var opts api.ListOptions
	var verbose, parsable, noGlobal bool
	var format string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if len(a) < 2 || a[0] != '-' {
			fmt.Fprintf(stderr, "zoneadm list: unexpected argument %q\n%s", a, zoneadmUsage)
			return 2
		}
		for j := 1; j < len(a); j++ {
			switch a[j] {
			case 'c':
				opts.Configured = true
			case 'i':
				opts.Installed = true
			case 'n':
				noGlobal = true
			case 'v':
				verbose = true
			case 'p':
				parsable = true
			case 'o':
				// -o FORMAT or -oFORMAT.
				switch {
				case j+1 < len(a):
					format = a[j+1:]
				case i+1 < len(args):
					i++
					format = args[i]
				default:
					fmt.Fprint(stderr, "zoneadm list: -o needs a format (json)\n", zoneadmUsage)
					return 2
				}
				j = len(a)
				if format != "json" {
					fmt.Fprintf(stderr, "zoneadm list: -o %s: the one format is json\n%s", format, zoneadmUsage)
					return 2
				}
			default:
				fmt.Fprintf(stderr, "zoneadm list: unknown option -%c\n%s", a[j], zoneadmUsage)
				return 2
			}
		}
	}
	if n := btoi(verbose) + btoi(parsable) + btoi(format != ""); n > 1 {
		fmt.Fprint(stderr, "zoneadm list: -v, -p and -o are one layout each; give one\n", zoneadmUsage)
		return 2
	}
	if zone != "" {
		// -z with list shows that zone whatever its state.
		opts.Configured = true
	}
	list, err := listZones(e, opts)
	if err != nil {
		fmt.Fprintf(stderr, "zoneadm: %v\n", err)
		return 1
	}
	if zone != "" {
		var one []api.ZoneInfo
		for _, z := range list {
			if z.Name == zone {
				one = append(one, z)
			}
		}
		if len(one) == 0 {
			fmt.Fprintf(stderr, "zoneadm: %s: No such zone configured\n", zone)
			return 1
		}
		list = one
	}
	if noGlobal {
		kept := list[:0]
		for _, z := range list {
			if z.Name != "global" {
				kept = append(kept, z)
			}
		}
		list = kept
	}
	if format == "json" {
		// Every field the verbose table shows and more, for scripts; the
		// state's reason rides along instead of being appended to it.
		if list == nil {
			list = []api.ZoneInfo{}
		}
		b, err := json.MarshalIndent(list, "", "  ")
		if err != nil {
			fmt.Fprintf(stderr, "zoneadm: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "%s\n", b)
		return 0
	}
	if !verbose {
		// Names and parsable lines keep their layout for scripts; why a
		// zone is broken goes to stderr.
		for _, z := range list {
			if z.Broken != "" {
				fmt.Fprintf(stderr, "zoneadm: zone %s is broken: %s\n", z.Name, z.Broken)
			}
		}
	}
	// A 1,000-zone listing is thousands of small writes; buffer them.
	bw := bufio.NewWriter(stdout)
	defer bw.Flush()
	stdout = bw
	// illumos prints the ip-type as "shared" or "excl" in both layouts;
	// scripts written for it parse that.
	ipType := func(z api.ZoneInfo) string {
		if z.IPType == "exclusive" {
			return "excl"
		}
		return z.IPType
	}
	switch {
	case parsable:
		for _, z := range list {
			fmt.Fprintf(stdout, "%s:%s:%s:%s:%s:%s:%s\n", zoneID(z), termsafe.String(z.Name), z.State, z.Path, z.UUID, z.Brand, ipType(z))
		}
	case verbose:
		tw := tabwriter.NewWriter(stdout, 0, 8, 1, ' ', 0)
		fmt.Fprintln(tw, "  ID\tNAME\tSTATUS\tPATH\tBRAND\tIP")
		for _, z := range list {
			state := z.State
			switch {
			case z.Broken != "":
				state += " (broken: " + termsafe.String(z.Broken) + ")"
			case z.Stale:
				state += " (as last recorded: zoneadmd does not answer)"
			case z.Reason != "" && (z.State == "down" || z.State == "incomplete"):
				// A reason may quote what the zone did (a mount, a process).
				state += " (" + termsafe.String(z.Reason) + ")"
			}
			fmt.Fprintf(tw, "%4s\t%s\t%s\t%s\t%s\t%s\n", zoneID(z), termsafe.String(z.Name), state, z.Path, z.Brand, ipType(z))
		}
		tw.Flush()
	default:
		for _, z := range list {
			fmt.Fprintln(stdout, termsafe.String(z.Name))
		}
	}
	return 0
}

func zoneID(z api.ZoneInfo) string {
	if z.ID < 0 {
		return "-"
	}
	return strconv.Itoa(z.ID)
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
