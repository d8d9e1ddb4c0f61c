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
}
