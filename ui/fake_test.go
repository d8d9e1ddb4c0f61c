package ui

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"zonetop/api"
)

// fakeBackend is a Backend with a fixed host and whatever zones a test
// puts in it; block makes List wait until released, to test dropped ticks.
type fakeBackend struct {
	mu    sync.Mutex
	zones []api.ZoneInfo
	err   error
	calls int
	block chan struct{}

	actErr  error
	log     []string
	created []api.NewZone
	scripts []string
}

func (f *fakeBackend) List(ctx context.Context, _ api.Principal, _ api.ListOptions) ([]api.ZoneInfo, error) {
	f.mu.Lock()
	f.calls++
	block := f.block
	f.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	return append([]api.ZoneInfo(nil), f.zones...), nil
}

func (f *fakeBackend) Host() api.HostInfo {
	return api.HostInfo{Hostname: "testhost", Kernel: "6.12.0-test-amd64", CgroupMode: "v2",
		Brands: []string{"sparse", "busybox", "tarball"}}
}

var fixedNow = time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)

func fixedClock() time.Time { return fixedNow }

// fixtureZones is one zone in every state, including a down zone with the
// reason its halt could not finish.
func fixtureZones() []api.ZoneInfo {
	z := func(id int, name, state, brand, ip string) api.ZoneInfo {
		return api.ZoneInfo{ID: id, Name: name, State: state, Path: "/zones/" + name,
			UUID: fmt.Sprintf("00000000-0000-0000-0000-%012d", len(name)), Brand: brand, IPType: ip}
	}
	down := z(-1, "legacy", "down", "sparse", "shared")
	down.Reason = "umount /zones/legacy/root/proc: device or resource busy"
	return []api.ZoneInfo{
		z(1, "web01", "running", "sparse", "exclusive"),
		z(2, "db01", "running", "tarball", "exclusive"),
		z(3, "batch", "ready", "busybox", "shared"),
		z(-1, "build", "installed", "sparse", "shared"),
		z(-1, "scratch", "configured", "sparse", "shared"),
		z(-1, "half", "incomplete", "tarball", "exclusive"),
		down,
	}
}

func manyZones(n int) []api.ZoneInfo {
	states := []string{"running", "installed", "configured", "ready", "down"}
	zs := make([]api.ZoneInfo, n)
	for i := range zs {
		name := fmt.Sprintf("zone%04d", i)
		zs[i] = api.ZoneInfo{ID: i + 1, Name: name, State: states[i%len(states)],
			Path: "/zones/" + name, Brand: "sparse", IPType: "shared"}
		if zs[i].State == "down" {
			zs[i].Reason = "halt timed out"
		}
	}
	return zs
}

var globalAdmin = api.Principal{UID: 0, GID: 0, Zone: "global"}

// The actions of the fake: each records its call and moves the zone the
// way the engine would, so a test can watch the table follow.

func (f *fakeBackend) setState(name, state string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log = append(f.log, state+" "+name)
	for i := range f.zones {
		if f.zones[i].Name == name {
			f.zones[i].State = state
			return f.actErr
		}
	}
	return fmt.Errorf("zone %s: no such zone configured", name)
}

// CheckNewZone knows a few of the engine's rules, in its words, enough for
// the form's tests; the engine's own are tested in engine and with the real
// engine in cmd/zonetop.
func (f *fakeBackend) CheckNewZone(z api.NewZone) []api.FieldProblem {
	var ps []api.FieldProblem
	if z.Name == "" || !unicode.IsLetter(rune(z.Name[0])) && !unicode.IsDigit(rune(z.Name[0])) {
		ps = append(ps, api.FieldProblem{Field: api.FieldName, Problem: fmt.Sprintf("zone name %q must begin with a letter or digit", z.Name)})
	}
	if z.Zonepath == "" {
		ps = append(ps, api.FieldProblem{Field: api.FieldZonepath, Problem: "not set; every zone needs a zonepath (set zonepath=/zones/NAME)"})
	}
	if _, err := strconv.ParseUint(z.MaxLWPs, 10, 64); z.MaxLWPs != "" && err != nil {
		ps = append(ps, api.FieldProblem{Field: api.FieldMaxLWPs, Problem: fmt.Sprintf("max-lwps %q is not a whole number", z.MaxLWPs)})
	}
	if m := strings.TrimRight(strings.ToLower(z.Memory), "kmgt"); z.Memory != "" && (m == "" || strings.Trim(m, "0123456789") != "") {
		ps = append(ps, api.FieldProblem{Field: api.FieldMemory, Problem: fmt.Sprintf("size %q is not a number with an optional k, m, g or t scale", z.Memory)})
	}
	if _, err := strconv.ParseFloat(z.CPU, 64); z.CPU != "" && err != nil {
		ps = append(ps, api.FieldProblem{Field: api.FieldCPU, Problem: fmt.Sprintf("cpu cap %q is not a number of CPUs", z.CPU)})
	}
	return ps
}

func (f *fakeBackend) CreateZone(_ context.Context, p api.Principal, z api.NewZone) error {
	if !p.GlobalAdmin() {
		return fmt.Errorf("create %s: permission denied: only the global administrator may do this", z.Name)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.created = append(f.created, z)
	f.zones = append(f.zones, api.ZoneInfo{ID: -1, Name: z.Name, State: "configured", Path: z.Zonepath, Brand: z.Brand, IPType: z.IPType})
	return nil
}

func (f *fakeBackend) DeleteZone(_ context.Context, _ api.Principal, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log = append(f.log, "delete "+name)
	f.zones = slices.DeleteFunc(f.zones, func(z api.ZoneInfo) bool { return z.Name == name })
	return nil
}

func (f *fakeBackend) ZoneConfig(_ context.Context, _ api.Principal, name string) (string, string, error) {
	info := "zonename: " + name + "\nzonepath: /zones/" + name + "\nbrand: sparse\nautoboot: false\nip-type: shared\n[max-lwps: 200]\ncapped-memory:\n\tphysical: 512M\n"
	export := "create -b\nset zonepath=/zones/" + name + "\nset brand=sparse\n"
	return info, export, nil
}

func (f *fakeBackend) ApplyZonecfg(_ context.Context, p api.Principal, name, file, script string) (string, error) {
	if !p.GlobalAdmin() {
		return "", fmt.Errorf("zonecfg %s: permission denied: only the global administrator may do this", name)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.scripts = append(f.scripts, script)
	if strings.Contains(script, "bogus") {
		return "", fmt.Errorf("%s:2:1: set: \"bogus\" is not a global property", file)
	}
	return "", nil
}

func (f *fakeBackend) InstallZone(_ context.Context, _ api.Principal, name, _ string, progress func(api.Progress)) error {
	for i := int64(0); i <= 4; i++ {
		progress(api.Progress{Step: "copy", Done: i, Total: 4})
	}
	return f.setState(name, "installed")
}

func (f *fakeBackend) UninstallZone(_ context.Context, _ api.Principal, name string, _ bool) error {
	return f.setState(name, "configured")
}

func (f *fakeBackend) ReadyZone(_ context.Context, _ api.Principal, name string) (api.ZoneStatus, error) {
	return api.ZoneStatus{}, f.setState(name, "ready")
}

func (f *fakeBackend) BootZone(_ context.Context, p api.Principal, name string, _ []string) (api.ZoneStatus, error) {
	if !p.GlobalAdmin() {
		return api.ZoneStatus{}, fmt.Errorf("boot %s: permission denied: only the global administrator may do this", name)
	}
	return api.ZoneStatus{}, f.setState(name, "running")
}

func (f *fakeBackend) HaltZone(_ context.Context, _ api.Principal, name string) (api.ZoneStatus, error) {
	return api.ZoneStatus{}, f.setState(name, "installed")
}

func (f *fakeBackend) ShutdownZone(_ context.Context, _ api.Principal, name string, _ time.Duration) (api.ZoneStatus, error) {
	return api.ZoneStatus{}, f.setState(name, "installed")
}

func (f *fakeBackend) RebootZone(_ context.Context, _ api.Principal, name string, _ []string) (api.ZoneStatus, error) {
	return api.ZoneStatus{}, f.setState(name, "running")
}

func (f *fakeBackend) Events(_ api.Principal, zone string) []api.Event {
	return []api.Event{
		{Time: fixedNow, Zone: zone, Op: "boot", Result: "ok"},
		{Time: fixedNow.Add(-time.Minute), Zone: zone, Op: "halt", Result: "halt " + zone + ": umount busy", Failed: true},
	}
}

func (f *fakeBackend) Processes(_ context.Context, _ api.Principal, zone string) ([]api.Process, error) {
	return []api.Process{
		{PID: 4242, Project: "default", User: "root", CPU: time.Second, RSS: 4 << 20, Command: "/sbin/init", PPID: 4241, State: "S", Start: 100},
		{PID: 4250, Project: "batch", User: "daemon", CPU: 3 * time.Second, RSS: 64 << 20, Command: "sh -c load", PPID: 4242, State: "R", Start: 200},
		{PID: 4251, Project: "batch", User: "daemon", CPU: 2 * time.Second, RSS: 8 << 20, Command: "sleep 60", PPID: 4250, State: "S", Start: 201},
	}, nil
}

// SignalProcess refuses as the engine does: only the global
// administrator from the host, only a pid the zone's listing has, with
// its start time.
func (f *fakeBackend) SignalProcess(ctx context.Context, p api.Principal, req api.SignalRequest) error {
	if !p.GlobalAdmin() && !(p.Zone == req.Zone && p.UID == 0) {
		return fmt.Errorf("signal %s: %w: not your zone", req.Zone, api.ErrPermission)
	}
	ps, _ := f.Processes(ctx, p, req.Zone)
	if !slices.ContainsFunc(ps, func(x api.Process) bool { return x.PID == req.PID && x.Start == req.Start }) {
		return fmt.Errorf("signal pid %d: %w: not a process of zone %s", req.PID, api.ErrPermission, req.Zone)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log = append(f.log, fmt.Sprintf("signal %s %s %d", req.Zone, req.Signal, req.PID))
	return nil
}

// ConsoleLog is a boot's worth of console, the same for every zone.
func (f *fakeBackend) ConsoleLog(_ context.Context, _ api.Principal, zone string) (string, error) {
	var b strings.Builder
	for i := range 60 {
		fmt.Fprintf(&b, "[%3d] %s: service %d started\n", i, zone, i)
	}
	b.WriteString("login: error: disk quota exceeded\n")
	return b.String(), nil
}

// usageFake adds the usage interface, with fixed samples that cross both
// thresholds.
type usageFake struct{ *fakeBackend }

func (u usageFake) Usage(_ context.Context, _ api.Principal, zone string) (ZoneUsage, error) {
	switch zone {
	case "web01":
		return ZoneUsage{CPU: 0.95, CPUCap: 1, Memory: 400 << 20, MemoryCap: 512 << 20, LWPs: 40, LWPCap: 200,
			Caps: []CapUsage{
				{Name: "zone.cpu-cap", Unit: "cpu", Used: 95, Limit: 100},
				{Name: "zone.max-lwps", Unit: "count", Used: 40, Limit: 200},
				{Name: "zone.max-physical-memory", Unit: "bytes", Used: 400 << 20, Limit: 512 << 20},
			},
			Projects: []ProjectUsage{{Name: "default", ID: 3, Limits: []CapUsage{
				{Name: "project.max-lwps", Unit: "count", Used: 12, Limit: 500, Effective: 200, CappedByZone: true},
			}}}}, nil
	case "db01":
		return ZoneUsage{CPU: 0.3, CPUCap: 2, Memory: 1500 << 20, MemoryCap: 2 << 30, LWPs: 12}, nil
	}
	return ZoneUsage{CPU: 0.05, Memory: 8 << 20, LWPs: 3}, nil
}

// editFake adds cap and project editing to usageFake, refusing like the
// engine: zone caps for the global administrator only, projects also for
// the zone's own administrator.
type editFake struct {
	usageFake
	edits *[]string
}

func newEditFake() editFake {
	return editFake{usageFake{&fakeBackend{zones: fixtureZones()}}, new([]string)}
}

func (e editFake) record(s string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	*e.edits = append(*e.edits, s)
}

func (e editFake) calls() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(*e.edits)
}

func (e editFake) SetZoneCap(_ context.Context, p api.Principal, zone, rctl, value string, persist bool) error {
	if !p.GlobalAdmin() {
		return fmt.Errorf("%s: %w: zone caps are set by the global administrator", rctl, api.ErrPermission)
	}
	if _, err := RctlValues(rctl, value); err != nil {
		return err
	}
	e.record(fmt.Sprintf("cap %s %s=%s persist=%v", zone, rctl, value, persist))
	return nil
}

func (e editFake) mayProjects(p api.Principal, zone string) error {
	if p.GlobalAdmin() || p.Zone == zone && p.UID == 0 {
		return nil
	}
	return fmt.Errorf("%w: projects of zone %s are set by its zone administrator or the global administrator", api.ErrPermission, zone)
}

func (e editFake) AddProject(_ context.Context, p api.Principal, zone string, proj ProjectSpec) error {
	if err := e.mayProjects(p, zone); err != nil {
		return err
	}
	keys := slices.Sorted(maps.Keys(proj.Limits))
	var ls []string
	for _, k := range keys {
		ls = append(ls, k+"="+proj.Limits[k])
	}
	e.record(fmt.Sprintf("projadd %s %s id=%d comment=%q %s", zone, proj.Name, proj.ID, proj.Comment, strings.Join(ls, ",")))
	return nil
}

func (e editFake) SetProjectLimit(_ context.Context, p api.Principal, zone, project, rctl, value string) error {
	if err := e.mayProjects(p, zone); err != nil {
		return err
	}
	e.record(fmt.Sprintf("limit %s:%s %s=%s", zone, project, rctl, value))
	return nil
}

func (e editFake) DeleteProject(_ context.Context, p api.Principal, zone, project string) error {
	if err := e.mayProjects(p, zone); err != nil {
		return err
	}
	e.record(fmt.Sprintf("projdel %s:%s", zone, project))
	return nil
}

// Usage gives web01 a project of its own beside default, with limits
// below the zone's caps.
func (e editFake) Usage(ctx context.Context, p api.Principal, zone string) (ZoneUsage, error) {
	u, err := e.usageFake.Usage(ctx, p, zone)
	if zone == "web01" {
		u.Projects = append(u.Projects, ProjectUsage{Name: "frontend", ID: 100, Limits: []CapUsage{
			{Name: "project.max-lwps", Unit: "count", Used: 20, Limit: 50, Effective: 50},
			{Name: "project.max-memory", Unit: "bytes", Used: 100 << 20, Limit: 256 << 20, Effective: 256 << 20},
			{Name: "project.cpu-cap", Unit: "cpu", Used: 30, Limit: 50, Effective: 50},
		}})
	}
	return u, err
}
