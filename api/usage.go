package api

import (
	"time"
)

// RctlUsage is one cap of a zone or project against what is in use. It is
// plain data, for zonestat, prctl and the console's Caps and Projects tabs.
type RctlUsage struct {
	Name    string // e.g. zone.max-lwps, project.cpu-cap
	Usage   uint64 // lwps, bytes, or percent of one CPU for cpu-cap
	Limit   uint64 // the entity's own limit, when Limited
	Limited bool
	// Effective is the limit that binds (the lower of the entity's and its
	// zone's), when EffectiveLimited.
	Effective        uint64
	EffectiveLimited bool
	// CappedByZone: the entity's own limit is above the zone's, which wins.
	CappedByZone bool
}

// ProjectUsage is one project of a zone.
type ProjectUsage struct {
	Name   string
	ID     int
	Procs  int
	CPUPct float64 // percent of one CPU since the previous sample
	Rctls  []RctlUsage
}

// TaskUsage is one task (newtask) of a zone's project.
type TaskUsage struct {
	ID      int
	Project string
	Procs   int
	Rctls   []RctlUsage
}

// ZoneUsage is a zone's usage against its caps, with a row per project.
type ZoneUsage struct {
	Zone        string
	State       string
	Procs       int
	CPUPct      float64
	NrPeriods   uint64 // CFS periods, and those in which the cap throttled the zone
	NrThrottled uint64
	Rctls       []RctlUsage
	Projects    []ProjectUsage
	Tasks       []TaskUsage
	Warnings    []string
	Sampled     time.Time
	// Caps are the zone caps in force (rctl -> privileged value).
	Caps map[string]uint64
}

// HostUsage is the host as a whole, as htop's meters show it: every zone
// and the global zone's own processes together. It is what the console's
// header shows and what the global zone's row is derived from.
type HostUsage struct {
	// CPUs is how many CPUs are online; CPUPct is the CPU time used since
	// the previous sample in percent of one CPU, as a zone's CPUPct, so a
	// host of 8 CPUs all busy reads 800.
	CPUs   int
	CPUPct float64
	// MemTotal is the host's memory; MemUsed what is not available to
	// new work (MemTotal - MemAvailable), bytes.
	MemTotal, MemUsed uint64
	// LWPs are every thread on the host, zones' included.
	LWPs    uint64
	Sampled time.Time
}
