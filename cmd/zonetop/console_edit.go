package main

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"zonetop/api"
	"zonetop/engine"
	"zonetop/rctl"

	"zonetop/limits"
	"zonetop/ui"
)

// The console's Caps and Projects editing on the host: values as the
// console takes them become privileged thresholds (ui.RctlValues), zone
// caps go through the engine's SetRctl and projects through EditProjects,
// which writes the zone's /etc/project and has a live zone apply it. The
// engine checks who may; nothing here widens that.

// engineEditing is that editing, on the engine in this process.
type engineEditing struct {
	e *engine.Engine
}

var (
	_ ui.CapEditor     = engineEditing{}
	_ ui.ProjectEditor = engineEditing{}
)

// rctlAt parses value for rctl, refusing a control of another level, so a
// project limit cannot be passed off as a zone cap or the other way round.
func rctlAt(name, value string, level rctl.Level) (string, error) {
	r, err := rctl.Lookup(name)
	if err != nil {
		return "", err
	}
	if r.Level != level {
		return "", fmt.Errorf("%s is a %s control, not a %s one", name, r.Level, level)
	}
	return ui.RctlValues(name, value)
}

// SetZoneCap changes a zone cap live, and with persist in the zone's
// configuration too.
func (b engineEditing) SetZoneCap(ctx context.Context, p api.Principal, zone, name, value string, persist bool) error {
	vals, err := rctlAt(name, value, rctl.LevelZone)
	if err != nil {
		return err
	}
	return b.e.SetRctl(ctx, p, zone, api.RctlChange{Name: name, Values: vals}, persist)
}

// AddProject is projadd with -K for each limit.
func (b engineEditing) AddProject(ctx context.Context, p api.Principal, zone string, proj ui.ProjectSpec) error {
	var attrs []limits.Attr
	// Sorted, so the line in /etc/project does not depend on map order.
	for _, name := range slices.Sorted(maps.Keys(proj.Limits)) {
		vals, err := rctlAt(name, proj.Limits[name], rctl.LevelProject)
		if err != nil {
			return fmt.Errorf("project %s: %w", proj.Name, err)
		}
		if vals != "" {
			attrs = append(attrs, limits.Attr{Name: name, Value: vals, HasValue: true})
		}
	}
	id := proj.ID
	if id == 0 {
		id = -1 // the next free id
	}
	return b.e.EditProjects(ctx, p, zone, func(ps *limits.Projects) error {
		return ps.Add(proj.Name, id, proj.Comment, nil, nil, attrs)
	})
}

// SetProjectLimit is projmod -s -K (or -r -K to remove the limit).
func (b engineEditing) SetProjectLimit(ctx context.Context, p api.Principal, zone, project, name, value string) error {
	vals, err := rctlAt(name, value, rctl.LevelProject)
	if err != nil {
		return err
	}
	return b.e.EditProjects(ctx, p, zone, func(ps *limits.Projects) error {
		pr, ok := ps.Lookup(project)
		if !ok {
			return fmt.Errorf("project %q does not exist in zone %s", project, zone)
		}
		if vals == "" {
			if _, set := pr.Attr(name); !set {
				return nil // removing what is not there leaves the file as it is
			}
			return ps.Modify(project, limits.Mod{Mode: limits.ModRemove, Attrs: []limits.Attr{{Name: name}}})
		}
		return ps.Modify(project, limits.Mod{Mode: limits.ModSubstitute,
			Attrs: []limits.Attr{{Name: name, Value: vals, HasValue: true}}})
	})
}

// DeleteProject is projdel, except for the system's own projects.
func (b engineEditing) DeleteProject(ctx context.Context, p api.Principal, zone, project string) error {
	if ui.SystemProject(project) {
		return ui.ErrSystemProject(project)
	}
	return b.e.EditProjects(ctx, p, zone, func(ps *limits.Projects) error {
		return ps.Delete(project)
	})
}
