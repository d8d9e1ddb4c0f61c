package main

import (
	"context"
	"fmt"
	"strings"
	"zonetop/api"
	"zonetop/internal/fanout"
	"zonetop/rctl"

	"zonetop/ui"
)

// Usage adapts a server's usage sample to the console's plain rows.
// Zones without a platform have no usage; the console shows "-" for them.
// A zone's console has no host meters (HostUsage is hostConsole's), as the
// host is not a zone administrator's to see.
func (b consoleUI) Usage(ctx context.Context, p api.Principal, zone string) (ui.ZoneUsage, error) {
	u, err := b.Server.Usage(ctx, p, zone)
	if err != nil {
		return ui.ZoneUsage{}, err
	}
	return usageForConsole(u), nil
}

func usageForConsole(u api.ZoneUsage) ui.ZoneUsage {
	out := ui.ZoneUsage{CPU: u.CPUPct / 100}
	if c, ok := u.Caps[rctl.ZoneCPUCap]; ok {
		out.CPUCap = float64(c) / 100
	}
	for _, r := range u.Rctls {
		cu := capUsage(r)
		switch r.Name {
		case rctl.ZoneMaxLwps:
			out.LWPs, out.LWPCap = r.Usage, cu.Effective
		case rctl.ZoneMaxPhysicalMemory:
			out.Memory, out.MemoryCap = r.Usage, cu.Effective
		}
		out.Caps = append(out.Caps, cu)
	}
	for _, p := range u.Projects {
		pu := ui.ProjectUsage{Name: p.Name, ID: p.ID}
		for _, r := range p.Rctls {
			pu.Limits = append(pu.Limits, capUsage(r))
		}
		out.Projects = append(out.Projects, pu)
	}
	return out
}

func capUsage(r api.RctlUsage) ui.CapUsage {
	c := ui.CapUsage{Name: r.Name, Used: r.Usage, CappedByZone: r.CappedByZone}
	switch {
	case strings.HasSuffix(r.Name, "-memory") || strings.HasSuffix(r.Name, "-swap"):
		c.Unit = "bytes"
	case strings.HasSuffix(r.Name, "cpu-cap"):
		c.Unit = "cpu"
	default:
		c.Unit = "count"
	}
	if r.Limited {
		c.Limit = r.Limit
	}
	if r.EffectiveLimited {
		c.Effective = r.Effective
	} else {
		c.Effective = c.Limit
	}
	return c
}

var _ ui.UsageManyBackend = consoleUI{}

// UsageMany samples the zones of one console refresh fanout.Workers at a
// time: a refresh of 1,000 running zones asked them one after another. A
// delegated user's zoneadmds answer by the caller's credentials, as
// Usage's do.
func (b consoleUI) UsageMany(ctx context.Context, p api.Principal, zones []string) ([]ui.ZoneUsage, []error) {
	return usageMany(ctx, b, p, zones)
}

// usageMany asks ub for each zone through the fanout pool; a zone not
// asked before ctx ended gets ctx's error.
func usageMany(ctx context.Context, ub ui.UsageBackend, p api.Principal, zones []string) ([]ui.ZoneUsage, []error) {
	us, errs := make([]ui.ZoneUsage, len(zones)), make([]error, len(zones))
	asked := make([]bool, len(zones))
	if err := fanout.Each(ctx, len(zones), fanout.Workers, func(i int) {
		asked[i] = true
		us[i], errs[i] = ub.Usage(ctx, p, zones[i])
	}); err != nil {
		for i := range zones {
			if !asked[i] {
				errs[i] = fmt.Errorf("usage of %s: %w", zones[i], err)
			}
		}
	}
	return us, errs
}
