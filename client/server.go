package client

import (
	"context"
	"time"
	"zonetop/api"
	"zonetop/limits"
	"zonetop/rctl"
)

// Zones is what a front end asks of zonetop about the zones it may see,
// whichever way it reaches zonetop: the engine in its own process (the
// global administrator's; cmd/zonetop adapts it, as client may not link
// the engine) or the zone socket (a zone's administrator, ZoneServer). The
// console's views and prctl, projects, projadd/projmod/projdel and
// zonestat are each written once against it.
//
// Every call names its principal, as the engine's calls do. A socket's
// server takes the caller from the socket's peer credentials instead and
// ignores p: what a client claims decides nothing.
type Zones interface {
	// List is the zones opts selects that the caller may see; inside a
	// zone, the zone itself.
	List(ctx context.Context, p api.Principal, opts api.ListOptions) ([]api.ZoneInfo, error)
	// Usage samples a ready or running zone against its caps.
	Usage(ctx context.Context, p api.Principal, zone string) (api.ZoneUsage, error)
	// ZoneRctls are the zone caps of zone as prctl lists them.
	ZoneRctls(ctx context.Context, p api.Principal, zone string) (map[string][]rctl.Value, error)
	// Projects are the zone's projects, and its /etc/project lines that
	// do not apply (file:line: why).
	Projects(ctx context.Context, p api.Principal, zone string) (limits.Projects, []string, error)
	// Processes lists the zone's processes.
	Processes(ctx context.Context, p api.Principal, zone string) ([]api.Process, error)
	// ConsoleLog is the end of the zone's console log.
	ConsoleLog(ctx context.Context, p api.Principal, zone string) (string, error)
	// SignalProcess signals one process of a zone.
	SignalProcess(ctx context.Context, p api.Principal, req api.SignalRequest) error
	// SetRctl changes a zone cap, a project limit or a task's rctl; a
	// zone's administrator asking for a zone cap is refused.
	SetRctl(ctx context.Context, p api.Principal, zone string, ch api.RctlChange, persist bool) error
	// EditProjects is projadd, projmod, projdel or a project's set-limit;
	// notes are limits accepted above the zone's caps.
	EditProjects(ctx context.Context, p api.Principal, zone string, req api.ProjectRequest) (notes []string, err error)
}

// Server is Zones with the rest of what the console asks: the host it
// runs on, configuration, install and life cycle, and the engine's notes.
// The engine in process serves all of it to the global administrator;
// for a delegated host user the zonetop service and each zone's zoneadmd
// carry the configuration and life cycle (Service); the zone socket
// carries none of it, and a zone's administrator gets the engine's
// refusal without a request being made.
type Server interface {
	Zones
	Host() api.HostInfo
	ZoneConfig(ctx context.Context, p api.Principal, name string) (info, export string, err error)
	ApplyZonecfg(ctx context.Context, p api.Principal, name, file, script string) (string, error)
	CreateZone(ctx context.Context, p api.Principal, z api.NewZone) error
	DeleteZone(ctx context.Context, p api.Principal, name string) error
	InstallZone(ctx context.Context, p api.Principal, name, archive string, progress func(api.Progress)) error
	UninstallZone(ctx context.Context, p api.Principal, name string, force bool) error
	ReadyZone(ctx context.Context, p api.Principal, name string) (api.ZoneStatus, error)
	BootZone(ctx context.Context, p api.Principal, name string, args []string) (api.ZoneStatus, error)
	HaltZone(ctx context.Context, p api.Principal, name string) (api.ZoneStatus, error)
	ShutdownZone(ctx context.Context, p api.Principal, name string, timeout time.Duration) (api.ZoneStatus, error)
	RebootZone(ctx context.Context, p api.Principal, name string, args []string) (api.ZoneStatus, error)
	// Events are what happened to zone through this server, newest first.
	Events(p api.Principal, zone string) []api.Event
}
