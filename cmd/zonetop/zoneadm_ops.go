package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"zonetop/api"
	"zonetop/engine"
)

// zoneadmOp runs one zoneadm subcommand on one zone. Interrupting it
// cancels what can be cancelled (an install) and leaves the zone in a state
// the next command understands.
func zoneadmOp(g *globals, e *engine.Engine, zone, sub string, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	ctx := context.Background()
	if sub == "install" || sub == "clone" || sub == "uninstall" {
		// Interrupted, these clean up after themselves (install goes
		// back to configured) rather than die half-way. The others are
		// one request to zoneadmd, which finishes it whatever becomes of
		// this process; catching signals would cost each of them a
		// thread start (~0.2 ms) for nothing.
		var stop context.CancelFunc
		ctx, stop = signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
		defer stop()
	}
	p := engine.CurrentPrincipal()
	fail := func(err error) int {
		fmt.Fprintf(stderr, "zoneadm: %v\n", err)
		return 1
	}
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "zoneadm: "+format+"\n%s", append(a, zoneadmUsage)...)
		return 2
	}
	if delegatedUser() {
		return delegatedZoneadm(g, zone, sub, args, stderr)
	}
	switch sub {
	case "verify":
		if len(args) > 0 {
			return usageErr("verify takes no arguments")
		}
		code := 0
		for _, err := range e.VerifyZone(ctx, p, zone) {
			fmt.Fprintf(stderr, "zoneadm: %s: %v\n", zone, err)
			if !errors.As(err, new(engine.Warning)) {
				code = 1
			}
		}
		return code
	case "install":
		var archive string
		for len(args) > 0 {
			switch {
			case args[0] == "-a" && len(args) >= 2:
				archive, args = args[1], args[2:]
			default:
				return usageErr("install: unexpected argument %q (usage: install [-a ARCHIVE])", args[0])
			}
		}
		prog := newProgress(stderr)
		err := e.InstallZone(ctx, p, zone, archive, prog.update)
		prog.done()
		if err != nil {
			return fail(err)
		}
		return 0
	case "clone":
		var source string
		for len(args) > 0 {
			switch {
			case args[0] == "-m" && len(args) >= 2:
				if args[1] != "copy" {
					return usageErr("clone -m %s: the one method is copy", args[1])
				}
				args = args[2:]
			case args[0] == "-s":
				return usageErr("clone -s: zonetop clones by copy; there are no snapshots to name")
			case strings.HasPrefix(args[0], "-") || source != "":
				return usageErr("clone: unexpected argument %q (usage: clone [-m copy] SOURCE)", args[0])
			default:
				source, args = args[0], args[1:]
			}
		}
		if source == "" {
			return usageErr("clone: name the source zone (usage: clone [-m copy] SOURCE)")
		}
		prog := newProgress(stderr)
		err := e.CloneZone(ctx, p, zone, source, prog.update)
		prog.done()
		if err != nil {
			return fail(err)
		}
		return 0
	case "uninstall":
		force := false
		for _, a := range args {
			if a != "-F" {
				return usageErr("uninstall: unexpected argument %q (usage: uninstall [-F])", a)
			}
			force = true
		}
		if !force {
			if !confirm(os.Stdin, stderr, fmt.Sprintf("Are you sure you want to uninstall zone %s (y/[n])? ", zone)) {
				return 1
			}
		}
		if err := e.UninstallZone(ctx, p, zone, force); err != nil {
			return fail(err)
		}
		return 0
	case "ready":
		if len(args) > 0 {
			return usageErr("ready takes no arguments")
		}
		if _, err := e.ReadyZone(ctx, p, zone); err != nil {
			return fail(err)
		}
		return 0
	case "boot", "reboot":
		// Options are options: boot arguments come after "--", so a
		// misspelt option is refused instead of booting with it.
		if len(args) > 0 && args[0] != "--" {
			return usageErr(fmt.Sprintf("%s: unexpected argument %q; boot arguments go after -- (%s -- BOOTARGS)", sub, args[0], sub))
		}
		if len(args) > 0 {
			args = args[1:]
		}
		var err error
		if sub == "boot" {
			_, err = e.BootZone(ctx, p, zone, args)
		} else {
			_, err = e.RebootZone(ctx, p, zone, args)
		}
		if err != nil {
			return fail(err)
		}
		return 0
	case "halt":
		if len(args) > 0 {
			return usageErr("halt takes no arguments")
		}
		if _, err := e.HaltZone(ctx, p, zone); err != nil {
			return fail(err)
		}
		return 0
	case "shutdown":
		sa, err := parseShutdown(args)
		if err != nil {
			return usageErr("%v", err)
		}
		if _, err := e.ShutdownZone(ctx, p, zone, sa.timeout); err != nil {
			return fail(err)
		}
		if sa.reboot {
			if _, err := e.BootZone(ctx, p, zone, sa.bootArgs); err != nil {
				return fail(err)
			}
		}
		return 0
	default:
		return usageErr("unknown subcommand %q", sub)
	}
}

// shutdownArgs are shutdown's options: [-r] [-t DURATION] [-- BOOTARGS].
type shutdownArgs struct {
	timeout  time.Duration
	reboot   bool
	bootArgs []string
}

func parseShutdown(args []string) (shutdownArgs, error) {
	sa := shutdownArgs{timeout: 60 * time.Second}
	for len(args) > 0 {
		switch {
		case args[0] == "-r":
			sa.reboot, args = true, args[1:]
		case args[0] == "-t" && len(args) >= 2:
			d, err := time.ParseDuration(args[1])
			if err != nil || d < 0 {
				return sa, fmt.Errorf("shutdown -t %s: want a duration such as 30s or 2m", args[1])
			}
			sa.timeout, args = d, args[2:]
		case args[0] == "--" && sa.reboot:
			sa.bootArgs, args = args[1:], nil
		case args[0] == "--":
			return sa, errors.New("shutdown: boot arguments go with -r (shutdown -r -- BOOTARGS)")
		default:
			return sa, fmt.Errorf("shutdown: unexpected argument %q (usage: shutdown [-r] [-t DURATION] [-- BOOTARGS])", args[0])
		}
	}
	return sa, nil
}

// confirm asks a yes/no question; only an explicit y or yes says yes.
func confirm(in io.Reader, out io.Writer, q string) bool {
	fmt.Fprint(out, q)
	var b [64]byte
	n, _ := in.Read(b[:])
	a := strings.ToLower(strings.TrimSpace(string(b[:n])))
	return a == "y" || a == "yes"
}

// progress draws a one-line progress report on stderr when it is a
// terminal, and at most one line per step otherwise.
type progress struct {
	w        io.Writer
	tty      bool
	lastStep string
	last     time.Time
}

func newProgress(w io.Writer) *progress {
	p := &progress{w: w}
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	return p
}

func (p *progress) update(pr api.Progress) {
	if !p.tty {
		if pr.Step != p.lastStep {
			fmt.Fprintf(p.w, "%s\n", pr.Step)
			p.lastStep = pr.Step
		}
		return
	}
	if pr.Step == p.lastStep && time.Since(p.last) < 100*time.Millisecond && pr.Done != pr.Total {
		return
	}
	p.lastStep, p.last = pr.Step, time.Now()
	if pr.Total > 0 {
		pct := float64(pr.Done) * 100 / float64(pr.Total)
		fmt.Fprintf(p.w, "\r\x1b[K%s %5.1f%% (%s of %s)", pr.Step, pct, humanBytes(pr.Done), humanBytes(pr.Total))
	} else {
		fmt.Fprintf(p.w, "\r\x1b[K%s", pr.Step)
	}
}

func (p *progress) done() {
	if p.tty && p.lastStep != "" {
		fmt.Fprint(p.w, "\r\x1b[K")
	}
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%dB", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f%ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
