package ui

import (
	"context"
	"io"
	"time"
	"zonetop/api"
)

// Backend is the part of the engine API the console uses, in api's types
// only, so the console links none of the engine: cmd/zonetop adapts the
// engine (and the delegated service, and a zone's socket) to it, and tests
// substitute a fake. What other parts of the engine
// provide (usage, console attach, login ptys) the console finds through the
// optional interfaces below, so it works, with those views marked as not
// available, before they exist.
type Backend interface {
	List(ctx context.Context, p api.Principal, opts api.ListOptions) ([]api.ZoneInfo, error)
	Host() api.HostInfo

	// CheckNewZone lists what is wrong with a zone the new-zone form
	// describes, for the form to show beside each field as it is typed. It
	// is called on every keystroke, so it must not block; it decides
	// nothing, and CreateZone checks again.
	CheckNewZone(z api.NewZone) []api.FieldProblem
	CreateZone(ctx context.Context, p api.Principal, z api.NewZone) error
	DeleteZone(ctx context.Context, p api.Principal, name string) error
	ZoneConfig(ctx context.Context, p api.Principal, name string) (info, export string, err error)
	ApplyZonecfg(ctx context.Context, p api.Principal, name, file, script string) (string, error)
	InstallZone(ctx context.Context, p api.Principal, name, archive string, progress func(api.Progress)) error
	UninstallZone(ctx context.Context, p api.Principal, name string, force bool) error
	ReadyZone(ctx context.Context, p api.Principal, name string) (api.ZoneStatus, error)
	BootZone(ctx context.Context, p api.Principal, name string, args []string) (api.ZoneStatus, error)
	HaltZone(ctx context.Context, p api.Principal, name string) (api.ZoneStatus, error)
	ShutdownZone(ctx context.Context, p api.Principal, name string, timeout time.Duration) (api.ZoneStatus, error)
	RebootZone(ctx context.Context, p api.Principal, name string, args []string) (api.ZoneStatus, error)
	Events(p api.Principal, zone string) []api.Event
	Processes(ctx context.Context, p api.Principal, zone string) ([]api.Process, error)
}

// ActionScope says which actions a principal other than the global
// administrator may take on one zone (a delegated host user's auths). The
// console offers only those keys while that zone is selected; without an
// ActionScope such a principal is offered none. The engine decides again
// whatever the console offers.
type ActionScope interface {
	ActionAllowed(p api.Principal, zone string, action api.Action) bool
}

// UsageBackend reports a zone's live usage against its caps. The caps and
// projects work provides it as engine.Usage; cmd/zonetop adapts that to
// these plain types.
type UsageBackend interface {
	Usage(ctx context.Context, p api.Principal, zone string) (ZoneUsage, error)
}

// UsageManyBackend is UsageBackend for the zones of one refresh at once:
// us[i] and errs[i] are zones[i]'s. A backend that can ask zones together
// provides it, and the console's refresh, which samples every ready or
// running zone each tick, asks it instead of one zone after another.
type UsageManyBackend interface {
	UsageMany(ctx context.Context, p api.Principal, zones []string) (us []ZoneUsage, errs []error)
}

// HostUsageBackend reports the host as a whole, for the header's meters
// and the global zone's row (the host less the zones). Only a principal of
// the global zone is asked.
type HostUsageBackend interface {
	HostUsage(ctx context.Context, p api.Principal) (api.HostUsage, error)
}

// ZoneUsage is one sample of a zone's usage.
type ZoneUsage struct {
	// CPU is the CPU the zone used since the previous sample, in CPUs
	// (1.5 = one and a half CPUs busy); CPUCap its capped-cpu ncpus, 0
	// when uncapped.
	CPU, CPUCap float64
	// Memory and MemoryCap in bytes; LWPs and LWPCap counts. A cap of 0
	// means none.
	Memory, MemoryCap uint64
	LWPs, LWPCap      uint64
	// Caps are every zone cap with its usage, for the Caps tab.
	Caps []CapUsage
	// Projects are the zone's projects with their limits and usage.
	Projects []ProjectUsage
}

// CapUsage is one limit and how much of it is in use.
type CapUsage struct {
	Name  string // zone.max-lwps, project.max-shm-memory, ...
	Unit  string // "count", "bytes" or "cpu" (hundredths of a CPU)
	Used  uint64
	Limit uint64 // 0: no limit
	// Effective is the limit that applies (the lower of the project limit
	// and what the zone cap allows); CappedByZone marks where the zone wins.
	Effective    uint64
	CappedByZone bool
}

// ProjectUsage is one project of a zone.
type ProjectUsage struct {
	Name   string
	ID     int
	Limits []CapUsage
}

// ConsoleBackend attaches to a zone's console (zlogin -C). The console Hub
// work provides it; reads return console output, writes are keystrokes,
// Close detaches.
type ConsoleBackend interface {
	AttachConsole(ctx context.Context, p api.Principal, zone string) (io.ReadWriteCloser, error)
}

// LoginBackend opens an interactive login in a zone on a new pty (zlogin).
type LoginBackend interface {
	OpenLogin(ctx context.Context, p api.Principal, zone string, rows, cols int) (LoginSession, error)
}

// LoginSession is a login's pty: reads and writes go to the pty master,
// Resize tells the program in the zone its new size.
type LoginSession interface {
	io.ReadWriteCloser
	Resize(rows, cols int) error
}

// CapEditor changes one zone cap (an rctl name such as zone.max-lwps,
// zone.max-physical-memory, zone.cpu-cap) of a zone. value is a limit as
// prctl -v takes it, with the rctl's unit suffixes ("50", "64M", "0.5"
// where the unit is CPUs); "" removes the cap. A ready or running zone
// takes it at once; persist also writes it to the zone's configuration.
// Only the global administrator may; the engine refuses anyone else and
// changes nothing.
type CapEditor interface {
	SetZoneCap(ctx context.Context, p api.Principal, zone, rctl, value string, persist bool) error
}

// ProjectEditor adds, changes and removes a zone's projects and their
// limits. Every change is written to the zone's /etc/project and applied
// live to a ready or running zone's project cgroups. The global
// administrator and the zone's own administrator may.
type ProjectEditor interface {
	AddProject(ctx context.Context, p api.Principal, zone string, proj ProjectSpec) error
	// SetProjectLimit sets one project.* rctl of a project; value as for
	// CapEditor, "" removes the limit.
	SetProjectLimit(ctx context.Context, p api.Principal, zone, project, rctl, value string) error
	DeleteProject(ctx context.Context, p api.Principal, zone, project string) error
}

// ProjectSpec is a new project.
type ProjectSpec struct {
	Name    string
	ID      int // 0: the next free id from 100 on
	Comment string
	// Limits are project.* rctl name → value as for SetProjectLimit.
	Limits map[string]string
}
