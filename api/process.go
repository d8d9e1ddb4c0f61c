package api

import (
	"time"
)

// Event is one thing that happened to a zone through this engine, for the
// console's events log. The audit log replaces this in-memory list later;
// the shape (time, zone, who, what, outcome) is meant to carry over.
type Event struct {
	Time   time.Time
	Zone   string
	UID    int
	Op     string // create, delete, zonecfg, install, boot, ...
	Result string // "ok" or the error text
	Failed bool
}

// Process is one process of a zone, as the console's Processes tab lists it.
type Process struct {
	PID     int // host pid
	Project string
	Task    int // the newtask task it runs in, -1 for none
	User    string
	CPU     time.Duration // user+system time so far; the console turns two samples into a rate
	RSS     uint64        // resident bytes
	Command string

	NsPID int // the pid in the zone's namespace

	// PPID is the parent's pid, in the same pid view as PID (0 where the
	// parent is outside that view), for the console's tree.
	PPID int
	// State is the one-letter state of /proc/PID/stat (R, S, D, Z, T, ...).
	State string
	// Start is when the process started, in clock ticks after boot
	// (/proc/PID/stat field 22). With PID it names one process: a
	// SignalRequest carries it, so a signal meant for a process that
	// exited never reaches one that took over its pid.
	Start uint64
}

// SignalRequest asks the engine (or, from inside a zone, its zoneadmd) to
// send a signal to one process of a zone. PID is as the asker sees it: a
// host pid from the host, the zone's own pid from inside the zone.
type SignalRequest struct {
	Zone   string `json:"zone"`
	PID    int    `json:"pid"`
	Start  uint64 `json:"start,omitempty"` // from the listing; 0 skips the check
	Signal string `json:"signal"`          // a name from Signals, e.g. TERM
}

// Signals are the signals a console or CLI may send to a zone's process,
// by name, as kill -l lists them, most used first. Others (SIGXRES has no
// Linux counterpart; SIGSYS, SIGSEGV and friends are the kernel's to send)
// are refused.
var Signals = []string{"TERM", "KILL", "HUP", "INT", "QUIT", "USR1", "USR2", "STOP", "CONT"}
