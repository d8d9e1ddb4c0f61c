package main

import (
	"fmt"
	"io"
	"strings"
	"syscall"

	"zonetop/client"
)

// reboot, halt, poweroff and init 0|5|6 inside a zone: the zone's
// administrator taking their own zone down or round, as illumos lets zone
// root do. They signal the zone's PID 1 (zsched) the way busybox's
// commands signal busybox init: SIGTERM reboots, SIGUSR1 and SIGUSR2 halt.
// zsched has the zone's init shut down (its inittab's shutdown entries)
// and zoneadmd, seeing init end, reboots or halts the zone. A sparse
// zone's own /sbin/reboot is the host's systemctl, which cannot work
// there; these come first on the zone's PATH.

const zoneDownUsage = `usage:	reboot | halt | poweroff
	init 0 | 5 | 6
Inside a zone: shut the zone's init down (its inittab's shutdown
entries), then reboot the zone (reboot, init 6) or halt it (halt,
poweroff, init 0, init 5). From the global zone use zoneadm -z ZONE
reboot, halt or shutdown.
`

func init() {
	for name, c := range map[string]command{
		"reboot":   {zoneDown("reboot"), "inside a zone: reboot the zone", zoneDownUsage},
		"halt":     {zoneDown("halt"), "inside a zone: halt the zone", zoneDownUsage},
		"poweroff": {zoneDown("poweroff"), "inside a zone: halt the zone", zoneDownUsage},
		"init":     {zoneDown("init"), "inside a zone: init 6 reboots the zone, init 0 or 5 halts it", zoneDownUsage},
	} {
		commands[name] = c
	}
}

// zoneDown is the command called name.
func zoneDown(name string) func(*globals, []string, io.Reader, io.Writer, io.Writer) int {
	return func(_ *globals, args []string, _ io.Reader, _, stderr io.Writer) int {
		return runZoneDown(name, args, stderr)
	}
}

func runZoneDown(name string, args []string, stderr io.Writer) int {
	sig := syscall.SIGTERM
	switch name {
	case "halt":
		sig = syscall.SIGUSR1
	case "poweroff":
		sig = syscall.SIGUSR2
	}
	if name == "init" {
		if len(args) != 1 {
			fmt.Fprint(stderr, "init: a run level is needed (0, 5 or 6)\n", zoneDownUsage)
			return 2
		}
		switch args[0] {
		case "6":
		case "0", "5":
			sig = syscall.SIGUSR2
		default:
			fmt.Fprintf(stderr, "init: run level %q: a zone is taken to 0, 5 (halt) or 6 (reboot)\n", args[0])
			return 2
		}
		args = nil
	}
	if len(args) > 0 {
		what := "takes no arguments: " + args[0]
		if strings.HasPrefix(args[0], "-") {
			what = "unknown option " + args[0]
		}
		fmt.Fprintf(stderr, "%s: %s\n%s", name, what, zoneDownUsage)
		return 2
	}
	if !client.InZone() {
		fmt.Fprintf(stderr, "%s: only inside a zone; from the global zone use zoneadm -z ZONE reboot, halt or shutdown\n", name)
		return 1
	}
	if err := syscall.Kill(1, sig); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return 1
	}
	return 0
}
