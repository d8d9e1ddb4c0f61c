package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"syscall"
	"time"

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
	shutdown [-y] [-g SECONDS] [-i 0|5|6]    (illumos)
	shutdown [-r|-h|-P] [now|+MINUTES]       (Linux)
Inside a zone: shut the zone's init down (its inittab's shutdown
entries), then reboot the zone (reboot, init 6, shutdown -i6, -r) or
halt it (halt, poweroff, init 0 or 5, shutdown -i0, -i5, -h, -P; the
default). shutdown waits its grace period first (none unless given).
From the global zone use zoneadm -z ZONE reboot, halt or shutdown.
`

func init() {
	for name, c := range map[string]command{
		"reboot":   {zoneDown("reboot"), "inside a zone: reboot the zone", zoneDownUsage},
		"halt":     {zoneDown("halt"), "inside a zone: halt the zone", zoneDownUsage},
		"poweroff": {zoneDown("poweroff"), "inside a zone: halt the zone", zoneDownUsage},
		"init":     {zoneDown("init"), "inside a zone: init 6 reboots the zone, init 0 or 5 halts it", zoneDownUsage},
		"shutdown": {zoneDown("shutdown"), "inside a zone: shut down and halt or reboot the zone", zoneDownUsage},
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
	if name == "shutdown" {
		var grace time.Duration
		var code int
		if sig, grace, code = parseZoneShutdown(args, stderr); code != 0 {
			return code
		}
		args = nil
		if client.InZone() && grace > 0 {
			fmt.Fprintf(stderr, "shutdown: the zone goes down in %s\n", grace)
			time.Sleep(grace)
		}
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

// parseZoneShutdown reads shutdown's options in illumos' form (-y, -g
// SECONDS, -i STATE) or Linux's (-r, -h, -P, then now or +MINUTES), and
// returns the signal for PID 1 and the grace period; code is non-zero
// after a usage error. illumos waits 60 seconds and asks for
// confirmation without -y; inside a zone nobody else is logged in to be
// warned, so there is no wait unless one is given, and no question.
func parseZoneShutdown(args []string, stderr io.Writer) (syscall.Signal, time.Duration, int) {
	sig, grace := syscall.SIGUSR2, time.Duration(0)
	bad := func(format string, a ...any) (syscall.Signal, time.Duration, int) {
		fmt.Fprintf(stderr, "shutdown: "+format+"\n%s", append(a, zoneDownUsage)...)
		return 0, 0, 2
	}
	for len(args) > 0 {
		a := args[0]
		args = args[1:]
		switch {
		case a == "-y":
		case a == "-r":
			sig = syscall.SIGTERM
		case a == "-h" || a == "-P":
			sig = syscall.SIGUSR2
		case a == "now":
		case strings.HasPrefix(a, "+"):
			m, err := strconv.Atoi(a[1:])
			if err != nil || m < 0 || m > 24*60 {
				return bad("bad time %q", a)
			}
			grace = time.Duration(m) * time.Minute
		case strings.HasPrefix(a, "-g") || strings.HasPrefix(a, "-i"):
			v := a[2:]
			if v == "" {
				if len(args) == 0 {
					return bad("%s needs a value", a)
				}
				v, args = args[0], args[1:]
			}
			if a[1] == 'g' {
				n, err := strconv.Atoi(v)
				if err != nil || n < 0 || n > 24*3600 {
					return bad("bad grace period %q", v)
				}
				grace = time.Duration(n) * time.Second
				continue
			}
			switch v {
			case "6":
				sig = syscall.SIGTERM
			case "0", "5":
				sig = syscall.SIGUSR2
			default:
				return bad("init state %q: a zone is taken to 0, 5 (halt) or 6 (reboot)", v)
			}
		case strings.HasPrefix(a, "-"):
			return bad("unknown option %s", a)
		default:
			return bad("unexpected argument %q", a)
		}
	}
	return sig, grace, 0
}
