package api

import (
	"time"
)

// ZoneStatus is what zoneadmd knows about its zone.
type ZoneStatus struct {
	State     string // ready, running, shutting_down, down, or installed when no platform exists
	ZoneID    int
	Since     time.Time
	Reason    string // why the zone is down
	InitPid   int    // host pid of the zone's init, 0 before boot
	ZschedPid int    // host pid of zsched
	// Warnings are what the zone runs without: bad /etc/project lines
	// (file:line: why), caps the kernel could not take.
	Warnings []string `json:",omitempty"`
}

// ExecRequest describes a command to run inside a zone.
type ExecRequest struct {
	Argv, Env  []string
	User       string // login name in the zone's /etc/passwd; empty = root
	Dir        string // working directory inside the zone; empty = the user's home
	TTY        bool   // run on a new pty of the zone's devpts instead of pipes
	Rows, Cols uint16
	// Project is the project (of the zone's /etc/project) the command
	// joins before it runs; empty: the user's project (user.NAME) if the
	// zone has one, else default.
	Project string
	// NewTask starts the command as a new task of its project (newtask):
	// a task cgroup of its own, capped by the project's task.* rctls.
	NewTask bool
	// Login starts the user's login shell (from the zone's passwd, argv[0]
	// "-sh" style) instead of Argv; Safe starts a plain /bin/sh with no
	// login files and a minimal environment (zlogin -S). Either may come
	// with an empty Argv.
	Login, Safe bool
}

// ConsoleOptions choose how a console attacher joins (zlogin -C).
type ConsoleOptions struct {
	Replay bool // send the buffered output first (-r)
}
