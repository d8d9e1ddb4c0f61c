package platform

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
	"zonetop/internal/pathrs"
	"zonetop/limits"

	"golang.org/x/sys/unix"
)

// zinit is the init zsched starts at boot when the zone names no init of
// its own. It reads the zone's /etc/inittab in busybox syntax,
// id:runlevels:action:process, and runs each process as busybox does
// (itself, or with /bin/sh -c when it has shell syntax):
// sysinit and wait entries one after the other to completion, then once
// entries, then respawn entries, restarted with a growing delay when they
// keep dying. On SIGUSR2 (zoneadm shutdown; SIGTERM and SIGUSR1 alike) it
// stops respawning, runs the shutdown entries to completion and ends its
// other children.
//
// Busybox ignores the runlevels field; a zone's inittab may put
// project=NAME there to run the entry in that project instead of default
// (illumos gives a service its project through its method context; a
// zone's init has only this file). Such an entry runs through newtask,
// which asks zoneadmd over the zone socket to move it, so a project the
// zone lacks fails the entry with newtask's message, like any command that
// does not start.

type inittabEntry struct {
	id, action, process string
	project             string
	line                int
}

var inittabActions = map[string]bool{"sysinit": true, "wait": true, "once": true, "respawn": true,
	"shutdown": true, "askfirst": true, "ctrlaltdel": true, "restart": true}

// parseInittab reads inittab text. Bad lines are reported and skipped, as
// an init must still boot the zone.
func parseInittab(text string) ([]inittabEntry, []string) {
	var out []inittabEntry
	var warnings []string
	for i, raw := range strings.Split(text, "\n") {
		line := strings.TrimSpace(raw)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		parts := strings.SplitN(line, ":", 4)
		if len(parts) != 4 {
			warnings = append(warnings, fmt.Sprintf("inittab line %d: want id:runlevels:action:process", i+1))
			continue
		}
		action := strings.TrimSpace(parts[2])
		if !inittabActions[action] {
			warnings = append(warnings, fmt.Sprintf("inittab line %d: unknown action %q", i+1, action))
			continue
		}
		if strings.TrimSpace(parts[3]) == "" {
			warnings = append(warnings, fmt.Sprintf("inittab line %d: no process", i+1))
			continue
		}
		e := inittabEntry{id: strings.TrimSpace(parts[0]), action: action, process: strings.TrimSpace(parts[3]), line: i + 1}
		if rl := strings.TrimSpace(parts[1]); strings.HasPrefix(rl, "project=") {
			e.project = strings.TrimPrefix(rl, "project=")
			if err := limits.ValidProjectName(e.project); err != nil {
				warnings = append(warnings, fmt.Sprintf("inittab line %d: %v", i+1, err))
				continue
			}
		}
		out = append(out, e)
	}
	return out, warnings
}

type zinit struct {
	mu       sync.Mutex
	stopping bool
	children map[int]*inittabEntry // running respawn and once entries
	waiting  map[int]chan struct{} // entries run to completion
	// wake tells the main loop that reap scheduled a respawn.
	wake chan struct{}
}

func ZinitMain(args []string) int {
	// Caught and dropped rather than ignored: an ignored disposition is
	// inherited through exec, and the inittab's processes (a console
	// shell) would be deaf to ctrl-C, ctrl-Z and hangups.
	drop := make(chan os.Signal, 16)
	signal.Notify(drop, syscall.SIGHUP, syscall.SIGINT, syscall.SIGPIPE, syscall.SIGTSTP, syscall.SIGTTIN, syscall.SIGTTOU, syscall.SIGQUIT)
	go func() {
		for range drop {
		}
	}()
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM, syscall.SIGUSR1, syscall.SIGUSR2)
	chld := make(chan os.Signal, 16)
	signal.Notify(chld, syscall.SIGCHLD)
	if len(args) > 2 {
		fmt.Printf("zinit: boot arguments: %s\n", strings.Join(args[2:], " "))
	}
	// Bounded and regular only: a FIFO here would stop the zone's init
	// before it starts anything.
	b, err := pathrs.ReadZoneFile("/", "/etc/inittab", pathrs.ZoneTextMax)
	if err != nil {
		fmt.Printf("zinit: %v; nothing to start\n", err)
	}
	entries, warnings := parseInittab(string(b))
	for _, w := range warnings {
		fmt.Println("zinit:", w)
	}
	if hint := consoleHint(entries); hint != "" {
		fmt.Println("zinit:", hint)
	}
	z := &zinit{children: map[int]*inittabEntry{}, waiting: map[int]chan struct{}{}, wake: make(chan struct{}, 1)}
	respawnAt := map[*inittabEntry]time.Time{}
	delay := map[*inittabEntry]time.Duration{}
	started := map[*inittabEntry]time.Time{}

	go func() {
		for range chld {
			z.reap(respawnAt, delay, started)
		}
	}()
	for _, action := range []string{"sysinit", "wait"} {
		for i := range entries {
			if entries[i].action == action {
				z.runWait(&entries[i])
			}
		}
	}
	for i := range entries {
		e := &entries[i]
		switch e.action {
		case "once":
			z.start(e)
		case "respawn":
			z.mu.Lock()
			respawnAt[e] = time.Now()
			z.mu.Unlock()
		case "askfirst", "ctrlaltdel", "restart":
			fmt.Printf("zinit: inittab line %d: %s is not used in a zone; ignored\n", e.line, e.action)
		}
	}
	for {
		// Sleep until the next respawn is due, a child's end schedules
		// one, or shutdown: the init of a zone at rest does not wake (a
		// 50 ms tick cost each zone about 0.35% of a core).
		z.mu.Lock()
		var next time.Time
		for _, at := range respawnAt {
			if !at.IsZero() && (next.IsZero() || at.Before(next)) {
				next = at
			}
		}
		z.mu.Unlock()
		var alarm <-chan time.Time
		var timer *time.Timer
		if !next.IsZero() {
			timer = time.NewTimer(time.Until(next))
			alarm = timer.C
		}
		select {
		case <-term:
			z.shutdown(entries)
			return 0
		case <-z.wake:
		case <-alarm:
		}
		if timer != nil {
			timer.Stop()
		}
		now := time.Now()
		z.mu.Lock()
		var due []*inittabEntry
		for e, at := range respawnAt {
			if !at.IsZero() && !now.Before(at) {
				due = append(due, e)
				respawnAt[e] = time.Time{}
			}
		}
		z.mu.Unlock()
		for _, e := range due {
			z.mu.Lock()
			started[e] = time.Now()
			z.mu.Unlock()
			if !z.start(e) {
				z.mu.Lock()
				respawnAt[e] = time.Now().Add(nextDelay(delay, e, 0))
				z.mu.Unlock()
			}
		}
	}
}

// consoleHint says plainly why the console will stay quiet when nothing in
// the inittab keeps a process on it, and how to get a shell: a blank
// console after boot otherwise looks like a hung zone.
func consoleHint(entries []inittabEntry) string {
	for _, e := range entries {
		if (e.action == "respawn" || e.action == "askfirst") && (e.id == "" || e.id == "console") {
			return ""
		}
	}
	return "nothing in /etc/inittab runs on this console; for a shell, zlogin to the zone from the global zone, " +
		"or add console::respawn:-/bin/sh to /etc/inittab"
}

// nextDelay grows a respawn entry's delay while it keeps dying soon after
// it starts, and resets it once it ran for a while.
func nextDelay(delay map[*inittabEntry]time.Duration, e *inittabEntry, ran time.Duration) time.Duration {
	d := delay[e]
	switch {
	case ran > 10*time.Second:
		d = 0
	case d == 0:
		d = 100 * time.Millisecond
	default:
		d *= 2
		if d > 10*time.Second {
			d = 10 * time.Second
		}
	}
	delay[e] = d
	return d
}

// shellChars are the characters for which busybox init hands a process
// field to /bin/sh -c. A field without any it splits on blanks and runs
// itself: one process fewer per entry (a shell's start is most of what a
// short sysinit entry costs the zone's boot).
const shellChars = "~`!$^&*()=|\\{}[];\"'<>?"

// entryArgv is the command an inittab process field names: run directly
// when busybox would, through /bin/sh -c otherwise (or when the command is
// not found, so the shell says so on the console as it always did).
func entryArgv(proc string) (string, []string) {
	if !strings.ContainsAny(proc, shellChars) {
		if f := strings.Fields(proc); len(f) > 0 {
			if path, err := exec.LookPath(f[0]); err == nil {
				return path, f
			}
		}
	}
	return "/bin/sh", []string{"sh", "-c", proc}
}

// command is how an entry starts: the path to run, its argv and its
// stdio (the tty the id field names, when it opens; the caller closes
// it). zinit is the sealed per-zone binary, which answers to newtask too
// (by its argv[0]).
func (z *zinit) command(e *inittabEntry) (string, []string, *syscall.ProcAttr, *os.File) {
	proc := strings.TrimPrefix(e.process, "-")
	login := proc != e.process
	fds := []uintptr{0, 1, 2}
	var tty *os.File
	if e.id != "" && !strings.ContainsAny(e.id, "/.") {
		// O_NOCTTY: zinit, a session leader, would make it its own
		// controlling terminal, and a login shell could not take it.
		if f, err := os.OpenFile("/dev/"+e.id, os.O_RDWR|unix.O_NOCTTY, 0); err == nil {
			tty = f
			fds = []uintptr{f.Fd(), f.Fd(), f.Fd()}
		}
	}
	env := append(os.Environ(), "RUNLEVEL=S")
	attr := &syscall.ProcAttr{Dir: "/", Env: env, Files: fds, Sys: &syscall.SysProcAttr{Setsid: true}}
	path, argv := entryArgv(proc)
	if login {
		// busybox init's '-': a login shell (argv[0] "-sh" makes a shell
		// read /etc/profile) whose terminal is its controlling one, so
		// ctrl-C and job control work on it. zinit holds no controlling
		// terminal (zsched starts it without one) for it to take over.
		argv = append([]string{"-" + filepath.Base(argv[0])}, argv[1:]...)
		attr.Sys.Setctty, attr.Sys.Ctty = true, 0
	}
	if e.project != "" {
		if path != "/bin/sh" {
			argv = append([]string{path}, argv[1:]...)
		} else {
			argv = []string{"/bin/sh", "-c", proc}
		}
		return "/proc/self/exe", append([]string{"newtask", "-p", e.project}, argv...), attr, tty
	}
	return path, argv, attr, tty
}

// spawn starts an entry's process. zinit reaps its children itself
// (reap), so a pid is all it keeps; syscall.ForkExec also spares the
// pidfd probe os.StartProcess makes at a process's first start.
func (z *zinit) spawn(e *inittabEntry) (int, error) {
	path, argv, attr, tty := z.command(e)
	if tty != nil {
		defer tty.Close()
	}
	// zinit is born with initSignals blocked, and its threads keep that
	// mask; a child gets the forking thread's. The zone's processes must
	// not start deaf to SIGUSR1 and SIGUSR2: this thread lets them through
	// for the fork (a pending one goes to zinit's handler, installed
	// before anything is spawned).
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	set, old := initSignalSet(), unix.Sigset_t{}
	if err := unix.PthreadSigmask(unix.SIG_UNBLOCK, &set, &old); err != nil {
		return 0, fmt.Errorf("unblock signals for the child: %w", err)
	}
	defer func() { _ = unix.PthreadSigmask(unix.SIG_SETMASK, &old, nil) }()
	pid, err := syscall.ForkExec(path, argv, attr)
	if errors.Is(err, syscall.EPERM) && attr.Sys.Setctty {
		// The terminal is another session's already (a second login
		// entry on the console): run this one without taking it, as
		// before, rather than not at all.
		attr.Sys.Setctty = false
		pid, err = syscall.ForkExec(path, argv, attr)
	}
	if err == nil {
		placeOOM(pid, false)
	}
	return pid, err
}

// start launches an entry without waiting for it.
func (z *zinit) start(e *inittabEntry) bool {
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.stopping {
		return true
	}
	pid, err := z.spawn(e)
	if err != nil {
		fmt.Printf("zinit: inittab line %d: %v\n", e.line, err)
		return false
	}
	z.children[pid] = e
	return true
}

// runWait runs an entry to completion.
func (z *zinit) runWait(e *inittabEntry) {
	z.mu.Lock()
	pid, err := z.spawn(e)
	if err != nil {
		z.mu.Unlock()
		fmt.Printf("zinit: inittab line %d: %v\n", e.line, err)
		return
	}
	done := make(chan struct{})
	z.waiting[pid] = done
	z.mu.Unlock()
	<-done
}

// reap collects children and schedules respawns. zinit is not the zone's
// PID 1 (zsched is), so orphans go there, not here.
func (z *zinit) reap(respawnAt map[*inittabEntry]time.Time, delay map[*inittabEntry]time.Duration, started map[*inittabEntry]time.Time) {
	reapChildren(func(pid, _ int) {
		z.mu.Lock()
		defer z.mu.Unlock()
		if done, ok := z.waiting[pid]; ok {
			delete(z.waiting, pid)
			close(done)
		}
		if e, ok := z.children[pid]; ok {
			delete(z.children, pid)
			if e.action == "respawn" && !z.stopping {
				respawnAt[e] = time.Now().Add(nextDelay(delay, e, time.Since(started[e])))
				select {
				case z.wake <- struct{}{}:
				default: // a wake-up is pending already
				}
			}
		}
	})
}

// shutdown runs the shutdown entries and ends the remaining children.
func (z *zinit) shutdown(entries []inittabEntry) {
	z.mu.Lock()
	z.stopping = true
	z.mu.Unlock()
	fmt.Println("zinit: shutting down")
	for i := range entries {
		if entries[i].action == "shutdown" {
			z.runWait(&entries[i])
		}
	}
	z.mu.Lock()
	var pids []int
	for pid := range z.children {
		pids = append(pids, pid)
	}
	z.mu.Unlock()
	for _, pid := range pids {
		// A hangup first: an interactive shell (the console's) ignores
		// SIGTERM, and a shutdown is its terminal going away.
		_ = syscall.Kill(-pid, syscall.SIGHUP)
		_ = syscall.Kill(-pid, syscall.SIGTERM)
		_ = syscall.Kill(pid, syscall.SIGTERM)
	}
}
