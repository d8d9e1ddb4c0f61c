package engine

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"zonetop/limits"
	"zonetop/zones"
)

// Event is one thing that happened to a zone through this engine, for the
// console's events log. The audit log replaces this in-memory list later;
// the shape (time, zone, who, what, outcome) is meant to carry over.
type Event struct {
	Time   time.Time
	Zone   string
	UID    int
	Op     string // create, delete, zonecfg, install, boot, ...
	Result string // "ok" or the error text
	Failed bool
}

// eventLog keeps the newest events of each zone. The zero value is ready.
type eventLog struct {
	mu     sync.Mutex
	byZone map[string][]Event
}

// maxEvents bounds each zone's list so a flapping zone cannot grow memory.
const maxEvents = 200

func (l *eventLog) add(ev Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.byZone == nil {
		l.byZone = map[string][]Event{}
	}
	list := append(l.byZone[ev.Zone], ev)
	if len(list) > maxEvents {
		list = append([]Event(nil), list[len(list)-maxEvents:]...)
	}
	l.byZone[ev.Zone] = list
}

// note records the outcome of op on zone by p.
func (e *Engine) note(p Principal, zone, op string, err error) {
	ev := Event{Time: time.Now(), Zone: zone, UID: p.UID, Op: op, Result: "ok"}
	if err != nil {
		ev.Result, ev.Failed = err.Error(), true
	}
	e.events.add(ev)
}

// Events returns what happened to zone through this engine, newest first.
// A zone administrator sees only the events of its own zone.
func (e *Engine) Events(p Principal, zone string) []Event {
	if p.Zone != "global" && p.Zone != zone {
		return nil
	}
	e.events.mu.Lock()
	defer e.events.mu.Unlock()
	src := e.events.byZone[zone]
	out := make([]Event, len(src))
	for i, ev := range src {
		out[len(src)-1-i] = ev
	}
	return out
}

// others loads every configured zone except name, for the checks that span
// zones (unique zonepaths).
func (e *Engine) others(name string) []*zones.Config {
	var out []*zones.Config
	list, err := e.store.List()
	if err != nil {
		return nil
	}
	for _, o := range list {
		if o.Name == name {
			continue
		}
		if oc, _, err := e.store.Load(o.Name); err == nil {
			out = append(out, oc)
		}
	}
	return out
}

// CreateZone verifies a new zone's configuration and commits it. It is the
// only way the console creates a zone, so the same checks apply whatever
// form produced cfg.
func (e *Engine) CreateZone(ctx context.Context, p Principal, cfg *zones.Config) (err error) {
	if cfg == nil {
		return errors.New("create zone: no configuration")
	}
	defer func() { e.note(p, cfg.Name, "create", err) }()
	defer e.auditOp(p, cfg.Name, "zonecfg create")(&err)
	if err := requireGlobal(p, "create", cfg.Name); err != nil {
		return err
	}
	if err := zones.ValidateName(cfg.Name); err != nil {
		return fmt.Errorf("create zone: %w", err)
	}
	if _, err := e.store.State(cfg.Name); err == nil {
		return fmt.Errorf("create zone %s: a zone of that name is already configured", cfg.Name)
	}
	if errs := zones.Verify(cfg, e.others(cfg.Name)); len(errs) > 0 {
		return fmt.Errorf("create zone %s: %w", cfg.Name, errors.Join(errs...))
	}
	if _, err := e.store.Commit(cfg.Clone(), zones.Revision{}); err != nil {
		return fmt.Errorf("create zone %s: %w", cfg.Name, err)
	}
	return nil
}

// DeleteZone removes a configured zone's configuration, as `zonecfg delete`.
func (e *Engine) DeleteZone(ctx context.Context, p Principal, name string) (err error) {
	defer func() { e.note(p, name, "delete", err) }()
	defer e.auditOp(p, name, "zonecfg delete")(&err)
	if err := requireGlobal(p, "delete", name); err != nil {
		return err
	}
	return e.store.Delete(name)
}

// ZoneConfig returns a zone's configuration as `zonecfg info` shows it
// (text) and as an editable zonecfg script (export).
func (e *Engine) ZoneConfig(ctx context.Context, p Principal, name string) (info, export string, err error) {
	if p.Zone != "global" && p.Zone != name {
		return "", "", fmt.Errorf("zone %s: %w: not your zone", name, ErrPermission)
	}
	cfg, _, err := e.store.Load(name)
	if err != nil {
		return "", "", fmt.Errorf("zone %s: %w", name, err)
	}
	var out, errOut bytes.Buffer
	if zones.RunZonecfg(e.store, []string{"-z", name, "info"}, strings.NewReader(""), &out, &errOut) != 0 {
		return "", "", fmt.Errorf("zone %s: info: %s", name, strings.TrimSpace(errOut.String()))
	}
	return out.String(), zones.Export(cfg), nil
}

// ApplyZonecfg runs script as `zonecfg -z name -f FILE` would: syntax
// first, then the commands; the first error stops it and is reported as
// FILE:LINE:COL with nothing written. file names the script in errors.
func (e *Engine) ApplyZonecfg(ctx context.Context, p Principal, name, file, script string) (out string, err error) {
	defer func() { e.note(p, name, "zonecfg", err) }()
	if err := requireGlobal(p, "zonecfg", name); err != nil {
		return "", err
	}
	if file == "" {
		file = "script"
	}
	// RunZonecfg reads "-" as stdin and names it so; give it a real name
	// through a private file so errors read FILE:LINE:COL.
	dir, err := os.MkdirTemp("", "zonetop-zonecfg-")
	if err != nil {
		return "", fmt.Errorf("zonecfg %s: %w", name, err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, filepath.Base(file))
	if err := os.WriteFile(path, []byte(script), 0o600); err != nil {
		return "", fmt.Errorf("zonecfg %s: %w", name, err)
	}
	var stdout, stderr bytes.Buffer
	code := e.Zonecfg(p, []string{"-z", name, "-f", path}, strings.NewReader(""), &stdout, &stderr)
	msg := strings.ReplaceAll(strings.TrimSpace(stderr.String()), path, file)
	if code != 0 {
		if msg == "" {
			msg = fmt.Sprintf("exit status %d", code)
		}
		return stdout.String(), errors.New(msg)
	}
	return stdout.String(), nil
}

// Process is one process of a zone, as the console's Processes tab lists it.
type Process struct {
	PID     int // host pid
	Project string
	Task    int // the newtask task it runs in, -1 for none
	User    string
	CPU     time.Duration // user+system time so far; the console turns two samples into a rate
	RSS     uint64        // resident bytes
	Command string

	nsPID int // the pid in the zone's namespace
}

// Processes lists the processes of a ready or running zone: every host
// process in the pid namespace of the zone's zsched.
func (e *Engine) Processes(ctx context.Context, p Principal, name string) ([]Process, error) {
	if p.Zone != "global" && p.Zone != name {
		return nil, fmt.Errorf("processes of %s: %w: not your zone", name, ErrPermission)
	}
	cfg, _, err := e.store.Load(name)
	if err != nil {
		return nil, fmt.Errorf("processes of %s: %w", name, err)
	}
	if !RuntimePresent(e.Root, name) {
		return nil, nil
	}
	st, err := Status(e.Root, name)
	if err != nil {
		return nil, fmt.Errorf("processes of %s: %w", name, err)
	}
	if st.ZschedPid <= 0 {
		return nil, nil
	}
	users := zonePasswd(filepath.Join(e.hostPath(cfg.Zonepath), "root"))
	return processesOf(ctx, name, st.ZschedPid, users, false)
}

// zoneProcesses lists the zone's processes for the zone itself: pids as
// the zone sees them, users from the zone's own passwd.
func (d *zoneadmd) zoneProcesses(ctx context.Context) ([]Process, error) {
	d.mu.Lock()
	zp := d.st.ZschedPid
	d.mu.Unlock()
	if zp <= 0 {
		return nil, fmt.Errorf("zone %s is not ready or running", d.name)
	}
	return processesOf(ctx, d.name, zp, zonePasswd(fmt.Sprintf("/proc/%d/root", zp)), true)
}

// processesOf lists every host process in the pid namespace of zone's
// zsched; zoneView gives their pids as the zone sees them instead of the
// host's.
func processesOf(ctx context.Context, name string, zschedPid int, users map[int]string, zoneView bool) ([]Process, error) {
	want, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", zschedPid))
	if err != nil {
		return nil, fmt.Errorf("processes of %s: pid namespace of zsched: %w", name, err)
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("processes of %s: %w", name, err)
	}
	var out []Process
	for _, ent := range ents {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		pid, err := strconv.Atoi(ent.Name())
		if err != nil {
			continue
		}
		// A process may exit between the listing and these reads; it is
		// then simply not shown.
		ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pid))
		if err != nil || ns != want {
			continue
		}
		pr, ok := readProcess(pid, name, users)
		if !ok {
			continue
		}
		if zoneView {
			if pr.PID = pr.nsPID; pr.PID == 0 {
				continue
			}
		}
		out = append(out, pr)
	}
	return out, nil
}

// clockTicks is USER_HZ; Linux reports /proc times in it and it has been
// 100 on every architecture Go supports.
const clockTicks = 100

func readProcess(pid int, zone string, users map[int]string) (Process, bool) {
	pr := Process{PID: pid, Project: "-", Task: -1}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return pr, false
	}
	// comm may hold spaces and parentheses; the fields resume after the
	// last ')'.
	rp := bytes.LastIndexByte(stat, ')')
	if rp < 0 {
		return pr, false
	}
	if lp := bytes.IndexByte(stat, '('); lp >= 0 && lp < rp {
		pr.Command = string(stat[lp+1 : rp])
	}
	f := strings.Fields(string(stat[rp+1:]))
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) > 22 {
		ut, _ := strconv.ParseUint(f[11], 10, 64)
		stime, _ := strconv.ParseUint(f[12], 10, 64)
		pr.CPU = time.Duration(ut+stime) * time.Second / clockTicks
		rss, _ := strconv.ParseUint(f[21], 10, 64)
		pr.RSS = rss * uint64(os.Getpagesize())
	}
	if cl, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err == nil && len(cl) > 0 {
		pr.Command = strings.TrimSpace(strings.ReplaceAll(string(cl), "\x00", " "))
	}
	if status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
		if fs := statusFields(string(status), "Uid"); len(fs) > 0 {
			uid, _ := strconv.Atoi(fs[0])
			pr.User = users[uid]
			if pr.User == "" {
				pr.User = strconv.Itoa(uid)
			}
		}
		// NSpid's last field is the pid in the innermost namespace: the
		// zone's.
		if fs := statusFields(string(status), "NSpid"); len(fs) > 0 {
			pr.nsPID, _ = strconv.Atoi(fs[len(fs)-1])
		}
	}
	if cg, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid)); err == nil {
		pr.Project, pr.Task = projectOf(string(cg), zone), taskOf(string(cg), zone)
	}
	return pr, true
}

// CgroupPlace reads where a process is from its /proc/PID/cgroup text:
// the zone, project and task (-1: none) of its cgroup path
// (…/zonetop/ZONE[/PROJECT[/task.N]]); zone "" when it is in no zone.
// The memory hierarchy decides where there is one, since zsched leaves its
// zone's pids cgroup but stays in the zone everywhere else.
func CgroupPlace(cgroup string) (zone, project string, task int) {
	task = -1
	best := ""
	for _, l := range strings.Split(cgroup, "\n") {
		parts := strings.SplitN(l, ":", 3)
		if len(parts) != 3 || !strings.Contains(parts[2], "/"+limits.DefaultParentName+"/") {
			continue
		}
		if best == "" || strings.Contains(","+parts[1]+",", ",memory,") {
			best = parts[2]
		}
	}
	if best == "" {
		return "", "", -1
	}
	ps := strings.Split(best, "/")
	for i, s := range ps {
		if s != limits.DefaultParentName || i+1 >= len(ps) {
			continue
		}
		zone = ps[i+1]
		if i+2 < len(ps) {
			project = ps[i+2]
		}
		if i+3 < len(ps) {
			if n, ok := strings.CutPrefix(ps[i+3], "task."); ok {
				if t, err := strconv.Atoi(n); err == nil {
					task = t
				}
			}
		}
		return zone, project, task
	}
	return "", "", -1
}

// projectOf is the project of a process of zone in its cgroup text, "-"
// for none.
func projectOf(cgroup, zone string) string {
	if z, p, _ := CgroupPlace(cgroup); z == zone && p != "" {
		return p
	}
	return "-"
}

// taskOf is the task of a process of zone in its cgroup text, -1 for none.
func taskOf(cgroup, zone string) int {
	if z, _, t := CgroupPlace(cgroup); z == zone {
		return t
	}
	return -1
}

// zonePasswd maps uids to login names from the zone's own passwd file,
// read inside the zone's root so a link there cannot point zoneadmd or
// the console at a host file.
func zonePasswd(zoneRoot string) map[int]string {
	m := map[int]string{}
	b, err := ReadZoneFile(zoneRoot, "/etc/passwd", zoneDBMax)
	if err != nil {
		return m
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		fs := strings.Split(sc.Text(), ":")
		if len(fs) < 3 {
			continue
		}
		if uid, err := strconv.Atoi(fs[2]); err == nil {
			if _, dup := m[uid]; !dup {
				m[uid] = fs[0]
			}
		}
	}
	return m
}
