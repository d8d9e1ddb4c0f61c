package main

import (
	"testing"
	"zonetop/api"
)

func TestUsageForConsole(t *testing.T) {
	u := api.ZoneUsage{
		CPUPct: 150,
		Caps:   map[string]uint64{"zone.cpu-cap": 50},
		Rctls: []api.RctlUsage{
			{Name: "zone.max-lwps", Usage: 12, Limit: 50, Limited: true, Effective: 50, EffectiveLimited: true},
			{Name: "zone.max-physical-memory", Usage: 1 << 20, Limit: 64 << 20, Limited: true},
		},
		Projects: []api.ProjectUsage{{Name: "web", ID: 100, Rctls: []api.RctlUsage{
			{Name: "project.max-lwps", Usage: 3, Limit: 1000, Limited: true, Effective: 50, EffectiveLimited: true, CappedByZone: true},
		}}},
	}
	got := usageForConsole(u)
	if got.CPU != 1.5 || got.CPUCap != 0.5 {
		t.Errorf("cpu %v of %v, want 1.5 of 0.5", got.CPU, got.CPUCap)
	}
	if got.LWPs != 12 || got.LWPCap != 50 || got.Memory != 1<<20 || got.MemoryCap != 64<<20 {
		t.Errorf("lwps %d/%d memory %d/%d", got.LWPs, got.LWPCap, got.Memory, got.MemoryCap)
	}
	if len(got.Projects) != 1 || !got.Projects[0].Limits[0].CappedByZone || got.Projects[0].Limits[0].Effective != 50 {
		t.Errorf("project row: %+v", got.Projects)
	}
	if got.Caps[1].Unit != "bytes" || got.Caps[0].Unit != "count" {
		t.Errorf("units: %+v", got.Caps)
	}
}
