package client

import (
	"context"
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
