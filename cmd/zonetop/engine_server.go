package main

import (
	"context"
	"zonetop/api"
	"zonetop/client"
	"zonetop/engine"
	"zonetop/internal/zoneadmd"
	"zonetop/limits"
)

// engineServer is the engine in this process as client.Server: the global
// administrator's way in (client may not link the engine, so the adapter
// lives here). Every call goes to the engine with the caller's principal,
// and the engine authorizes it.
type engineServer struct {
	*engine.Engine
}

var _ client.Server = engineServer{}

// CreateZone creates the zone of the console's new-zone form; the engine's
// own CreateZone takes a configuration, which the console no longer builds.
func (e engineServer) CreateZone(ctx context.Context, p api.Principal, z api.NewZone) error {
	return e.CreateNewZone(ctx, p, z)
}

func (e engineServer) Projects(ctx context.Context, p api.Principal, zone string) (limits.Projects, []string, error) {
	ps, bad, err := e.ZoneProjects(ctx, p, zone)
	var out []string
	for _, b := range bad {
		out = append(out, b.Error())
	}
	return ps, out, err
}

// EditProjects applies req as zoneadmd applies it for a zone's own
// administrator, so both levels validate a change alike; a running
// zone's caps in force say which limits it overrides.
func (e engineServer) EditProjects(ctx context.Context, p api.Principal, zone string, req api.ProjectRequest) ([]string, error) {
	var edited *limits.Project
	err := e.Engine.EditProjects(ctx, p, zone, func(ps *limits.Projects) error {
		if err := zoneadmd.ApplyProject(req, ps); err != nil {
			return err
		}
		name := req.Name
		if req.NewName != "" {
			name = req.NewName
		}
		if p, ok := ps.Lookup(name); ok {
			cp := *p
			edited = &cp
		}
		return nil
	})
	if err != nil || edited == nil || zone == "global" || !zoneadmd.ZoneadmdRunning(e.Root, zone) {
		return nil, err
	}
	u, uerr := e.Usage(ctx, p, zone)
	if uerr != nil {
		return nil, nil
	}
	return zoneadmd.CappedByZone(edited, u.Caps), nil
}
