package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"zonetop/api"

	"zonetop/engine"
	"zonetop/ui"
)

// zoneCgroupWith is the zone's cgroup directory of the hierarchy that has
// file (pids.max, memory.limit_in_bytes, ...).
func zoneCgroupWith(t *testing.T, zone, file string) string {
	t.Helper()
	for _, d := range zoneCgroups(zone) {
		if _, err := os.Stat(filepath.Join(d, file)); err == nil {
			return d
		}
	}
	t.Fatalf("zone %s has no cgroup with %s (cgroups %v)", zone, file, zoneCgroups(zone))
	return ""
}

func readCgroupNum(t *testing.T, path string) uint64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		t.Fatalf("%s: %q: %v", path, b, err)
	}
	return n
}

// TestConsoleEditsCapsAndProjects drives the host console backend's cap
// and project editing against a ready zone: each change must be in the
// kernel at once, and in the configuration or /etc/project as promised.
func TestConsoleEditsCapsAndProjects(t *testing.T) {
	l := newLab(t)
	z := l.newZone("", "set max-lwps=100")
	l.ok("zoneadm", "-z", z, "install")
	l.ok("zoneadm", "-z", z, "ready")
	e, err := engine.New(l.root, "")
	if err != nil {
		t.Fatal(err)
	}
	b := newHostConsole(e)
	ctx, p := context.Background(), engine.CurrentPrincipal()
	pids := zoneCgroupWith(t, z, "pids.max")
	if got := readCgroupNum(t, filepath.Join(pids, "pids.max")); got != 100 {
		t.Fatalf("zone pids.max = %d before any edit, want 100", got)
	}

	// Live only: the kernel changes, the configuration does not.
	must(t, b.SetZoneCap(ctx, p, z, "zone.max-lwps", "77", false))
	if got := readCgroupNum(t, filepath.Join(pids, "pids.max")); got != 77 {
		t.Errorf("after SetZoneCap 77: pids.max = %d", got)
	}
	if info := l.ok("zonecfg", "-z", z, "info"); !strings.Contains(info, "limit=100,") || strings.Contains(info, "limit=77,") {
		t.Errorf("a live-only cap reached the configuration:\n%s", info)
	}
	// Persisted: both.
	must(t, b.SetZoneCap(ctx, p, z, "zone.max-lwps", "88", true))
	if got := readCgroupNum(t, filepath.Join(pids, "pids.max")); got != 88 {
		t.Errorf("after SetZoneCap 88 persist: pids.max = %d", got)
	}
	if info := l.ok("zonecfg", "-z", z, "info"); !strings.Contains(info, "limit=88,") {
		t.Errorf("a persisted cap is not in the configuration:\n%s", info)
	}
	// A zone administrator is refused and nothing changes.
	za := api.Principal{UID: 0, Zone: z}
	if err := b.SetZoneCap(ctx, za, z, "zone.max-lwps", "5000", false); !errors.Is(err, api.ErrPermission) {
		t.Errorf("zone administrator's SetZoneCap: %v, want permission denied", err)
	}
	if got := readCgroupNum(t, filepath.Join(pids, "pids.max")); got != 88 {
		t.Errorf("after a refused SetZoneCap: pids.max = %d, want 88", got)
	}
	if err := b.SetZoneCap(ctx, p, z, "project.max-lwps", "5", false); err == nil {
		t.Error("a project control was taken as a zone cap")
	}

	// Projects: added, its limit changed, and deleted, by the zone's own
	// administrator, each live and in /etc/project.
	etcProject := filepath.Join(l.zonepath(z), "root", "etc", "project")
	must(t, b.AddProject(ctx, za, z, ui.ProjectSpec{Name: "batch", Comment: "nightly jobs",
		Limits: map[string]string{"project.max-lwps": "30", "project.max-memory": "64M"}}))
	// Its cgroup, and the limits in it, come with its first process.
	projPids := filepath.Join(pids, "batch", "pids.max")
	if _, err := os.Stat(filepath.Dir(projPids)); !os.IsNotExist(err) {
		t.Errorf("batch has a cgroup before any process joined it: %v", err)
	}
	l.ok("newtask", "-z", z, "-p", "batch", "true")
	waitNum(t, projPids, 30)
	file, _ := os.ReadFile(etcProject)
	if !strings.Contains(string(file), "batch:100:nightly jobs:::project.max-lwps=(privileged,30,deny);project.max-memory=(privileged,67108864,deny)") {
		t.Errorf("/etc/project after AddProject:\n%s", file)
	}
	must(t, b.SetProjectLimit(ctx, za, z, "batch", "project.max-lwps", "12"))
	waitNum(t, projPids, 12)
	file, _ = os.ReadFile(etcProject)
	if !strings.Contains(string(file), "project.max-lwps=(privileged,12,deny)") {
		t.Errorf("/etc/project after SetProjectLimit:\n%s", file)
	}
	must(t, b.SetProjectLimit(ctx, p, z, "batch", "project.max-lwps", ""))
	file, _ = os.ReadFile(etcProject)
	if strings.Contains(string(file), "project.max-lwps") {
		t.Errorf("/etc/project after removing the limit:\n%s", file)
	}
	if err := b.DeleteProject(ctx, p, z, "default"); err == nil || !strings.Contains(err.Error(), "cannot be deleted") {
		t.Errorf("DeleteProject default: %v", err)
	}
	must(t, b.DeleteProject(ctx, p, z, "batch"))
	file, _ = os.ReadFile(etcProject)
	if strings.Contains(string(file), "batch:") {
		t.Errorf("/etc/project after DeleteProject:\n%s", file)
	}
	for i := 0; i < 100; i++ {
		if _, err := os.Stat(filepath.Dir(projPids)); os.IsNotExist(err) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := os.Stat(filepath.Dir(projPids)); !os.IsNotExist(err) {
		t.Errorf("the deleted project's cgroup is still there: %v", err)
	}
}

// waitNum waits for a cgroup file to read want: a zone applies a changed
// /etc/project when it has read it back.
func waitNum(t *testing.T, path string, want uint64) {
	t.Helper()
	var got uint64
	for i := 0; i < 100; i++ {
		if b, err := os.ReadFile(path); err == nil {
			if got, err = strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64); err == nil && got == want {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Errorf("%s = %d, want %d", path, got, want)
}

// TestDemoProjectsRun makes one demo zone as `zonetop --demo` does and
// checks each of its projects has its limits and a load of its own.
func TestDemoProjectsRun(t *testing.T) {
	l := newLab(t)
	dz := demoZones[1] // db: one project capped by the zone
	dz.name = l.tag + "db"
	l.zones = append(l.zones, dz.name)
	e, err := engine.New(l.root, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx, p := context.Background(), engine.CurrentPrincipal()
	// makeDemoZone's steps, with the boot through the binary: this test
	// binary cannot be re-executed as zoneadmd.
	cfg := demoConfig(dz)
	must(t, e.CreateZone(ctx, p, cfg))
	must(t, e.InstallZone(ctx, p, dz.name, "", func(api.Progress) {}))
	must(t, writeDemoFiles(filepath.Join(l.zonepath(dz.name), "root"), dz))
	l.ok("zoneadm", "-z", dz.name, "boot")
	want := map[string]bool{}
	for _, pr := range dz.projects {
		want[pr.name] = true
	}
	var u api.ZoneUsage
	for i := 0; i < 100; i++ {
		u, err = e.Usage(ctx, p, dz.name)
		if err == nil && projectsBusy(u, want) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	if !projectsBusy(u, want) {
		t.Fatalf("demo projects without load: %+v", u.Projects)
	}
	cu := usageForConsole(u)
	for _, pr := range cu.Projects {
		if pr.Name == "reports" {
			for _, c := range pr.Limits {
				if c.Name == "project.max-memory" && !c.CappedByZone {
					t.Errorf("reports' max-memory above the zone cap is not marked capped by zone: %+v", c)
				}
			}
		}
	}
}

// projectsBusy reports whether every project in want runs something and
// holds memory.
func projectsBusy(u api.ZoneUsage, want map[string]bool) bool {
	seen := 0
	for _, pu := range u.Projects {
		if !want[pu.Name] {
			continue
		}
		for _, r := range pu.Rctls {
			if (r.Name == "project.max-lwps" || r.Name == "project.max-memory") && r.Usage == 0 {
				return false
			}
		}
		seen++
	}
	return seen == len(want)
}
