package zoneadmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"zonetop/api"
	"zonetop/internal/configs"
	"zonetop/internal/pathrs"
	"zonetop/internal/wire"
	"zonetop/limits"
	"zonetop/rctl"

	"golang.org/x/sys/unix"
)

// A zone's projects edited from inside the zone: the zone socket's
// "project" requests, served by zoneadmd on the zone's own /etc/project.
// The same ProjectRequest is what the host's projadd/projmod/projdel
// apply (Engine.EditProjects), so both levels validate a change the same
// way.

// ApplyProject makes the change r asks for on ps: projadd (add), projmod (mod),
// projdel (del) or one or more rctls of a project (set-limit). On error
// ps is unchanged.
func ApplyProject(r api.ProjectRequest, ps *limits.Projects) error {
	attrs, err := parseAttrList(r.Attrs)
	if err != nil {
		return err
	}
	switch r.Op {
	case "add":
		id := -1
		if r.ID != nil {
			id = *r.ID
		}
		comment := ""
		if r.Comment != nil {
			comment = *r.Comment
		}
		return ps.Add(r.Name, id, comment, r.Users, r.Groups, attrs)
	case "mod":
		m := limits.Mod{NewName: r.NewName, ID: r.ID, Comment: r.Comment,
			Users: r.Users, SetUsers: r.SetUsers, Groups: r.Groups, SetGroups: r.SetGroups}
		switch r.Mode {
		case "":
		case "add":
			m.Mode = limits.ModAdd
		case "remove":
			m.Mode = limits.ModRemove
		case "substitute":
			m.Mode = limits.ModSubstitute
		default:
			return fmt.Errorf("projmod: mode %q: want add, remove or substitute", r.Mode)
		}
		if r.SetAttrs {
			m.Attrs = attrs
			if m.Attrs == nil {
				m.Attrs = []limits.Attr{}
			}
		}
		return ps.Modify(r.Name, m)
	case "del":
		return ps.Delete(r.Name)
	case "set-limit":
		return setProjectLimits(*ps, r.Name, r.Limits)
	}
	return fmt.Errorf("project: unknown op %q", r.Op)
}

func parseAttrList(list []string) ([]limits.Attr, error) {
	var out []limits.Attr
	for _, k := range list {
		as, err := limits.ParseAttrs(k)
		if err != nil {
			return nil, fmt.Errorf("attribute %q: %w", k, err)
		}
		out = append(out, as...)
	}
	return out, nil
}

// setProjectLimits sets rctls of one project: name → values in project(5)
// form, "" removing the control. A zone cap is refused (it is the global
// administrator's); on error nothing changes.
func setProjectLimits(ps limits.Projects, project string, set map[string]string) error {
	if len(set) == 0 {
		return errors.New("set-limit: no limit given")
	}
	// A zone cap is refused whatever else the request says.
	for name := range set {
		if r, err := rctl.Lookup(name); err == nil && r.Level == rctl.LevelZone {
			return fmt.Errorf("%s: %w", name, ErrZoneCaps)
		}
	}
	p, ok := ps.Lookup(project)
	if !ok {
		return fmt.Errorf("project %q does not exist", project)
	}
	q := *p
	q.Attrs = append([]limits.Attr(nil), p.Attrs...)
	names := make([]string, 0, len(set))
	for n := range set {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		r, err := rctl.Lookup(name)
		if err != nil {
			return err
		}
		var vs []rctl.Value
		if v := set[name]; v != "" {
			if vs, err = rctl.ParseValues(v); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			for _, v := range vs {
				if err := r.Validate(v); err != nil {
					return fmt.Errorf("%s: %w", name, err)
				}
			}
		}
		SetProjectAttr(&q, name, vs)
	}
	chk, err := limits.ParseProjectLine(q.String())
	if err != nil {
		return err
	}
	*p = chk
	return nil
}

// editProjectsFile is the read-change-write of a zone's /etc/project under
// root (a host path of the zone's root, or the host's own root for the
// global zone). Like illumos' projmod, it refuses to rewrite a file with
// bad lines, naming each (file:line), so nothing the administrator wrote
// is silently dropped. The file is replaced atomically inside the root.
// The edit holds the zone's project lock (projectsLockPath under
// rootPrefix), so a host projadd and an edit through the zone's socket,
// made by different processes at the same moment, cannot lose one
// another's change.
func EditProjectsFile(rootPrefix, root, zone string, fn func(*limits.Projects) error) (limits.Projects, error) {
	unlock, err := lockProjects(rootPrefix, zone)
	if err != nil {
		return nil, fmt.Errorf("zone %s: /etc/project lock: %w", zone, err)
	}
	defer unlock()
	ps, bad, err := ReadZoneProjects(root)
	if err != nil {
		return nil, fmt.Errorf("zone %s: %w", zone, err)
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("zone %s: /etc/project has bad lines; fix them first: %w", zone, errors.Join(bad...))
	}
	if err := fn(&ps); err != nil {
		return nil, err
	}
	if err := pathrs.WriteZoneFile(root, "etc/project", ps.Format(), 0o644); err != nil {
		return nil, fmt.Errorf("zone %s: %w", zone, err)
	}
	return ps, nil
}

// projectsLockPath is the host file whose lock serializes edits of a
// zone's /etc/project. It lives on the host, out of the zone's reach.
func projectsLockPath(rootPrefix, zone string) string {
	return filepath.Join(configs.RunBase(rootPrefix), "."+zone+".projects.lock")
}

// LockProjects takes the zone's project lock, waiting for a holder: the
// global zone's newtask and its edits hold it across reading the file
// and writing the cgroups, so that neither writes limits older than the
// file's.
func LockProjects(rootPrefix, zone string) (unlock func(), err error) {
	return lockProjects(rootPrefix, zone)
}

// lockProjects takes the zone's project lock, waiting for a holder.
func lockProjects(rootPrefix, zone string) (unlock func(), err error) {
	if err := os.MkdirAll(configs.RunBase(rootPrefix), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(projectsLockPath(rootPrefix, zone), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil
}

// zoneRctlOf is the zone cap that bounds a project control: the same
// resource at zone level (project.max-lwps → zone.max-lwps), and the
// zone's physical memory for project.max-memory.
func zoneRctlOf(name string) string {
	if name == rctl.ProjectMaxMemory {
		return rctl.ZoneMaxPhysicalMemory
	}
	if rest, ok := strings.CutPrefix(name, "project."); ok {
		if _, err := rctl.Lookup("zone." + rest); err == nil {
			return "zone." + rest
		}
	}
	return ""
}

// cappedNotes lists p's limits that are above its zone's caps: accepted,
// but the zone cap is the one that binds.
func cappedNotes(p *limits.Project, zoneCaps map[string]uint64) []string {
	own := projectRctlValues(p)
	names := make([]string, 0, len(own))
	for n := range own {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []string
	for _, n := range names {
		zn := zoneRctlOf(n)
		if z, ok := zoneCaps[zn]; ok && zn != "" && !strings.HasSuffix(n, "cpu-shares") && own[n] > z {
			r, _ := rctl.Lookup(n)
			out = append(out, fmt.Sprintf("project %s: %s=%s capped by zone (%s=%s)", p.Name, n,
				rctl.FormatQuantity(own[n], r.Unit), zn, rctl.FormatQuantity(z, r.Unit)))
		}
	}
	return out
}

// CappedByZone lists p's limits above the zone caps in force (rctl →
// privileged value, as ZoneUsage.Caps has them).
func CappedByZone(p *limits.Project, zoneCaps map[string]uint64) []string {
	return cappedNotes(p, zoneCaps)
}

// zoneProjectOps serves one zone's project requests in its zoneadmd.
type zoneProjectOps struct{ d *zoneadmd }

// ProjectOp lists or changes the zone's projects: the file is read and
// written inside the zone's root (never following a link out of it),
// then the change is applied live to the project cgroups. zoneRoot is not
// used: the zone's files are reached through the zone's root directory,
// the same one the reload reads.
func (o zoneProjectOps) ProjectOp(ctx context.Context, p api.Principal, zone, _ string, req api.ProjectRequest) (json.RawMessage, error) {
	d := o.d
	d.mu.Lock()
	l := d.lim
	d.mu.Unlock()
	if l == nil {
		return nil, fmt.Errorf("zone %s is not ready or running", zone)
	}
	if req.Op == "list" {
		ps, bad, err := ReadZoneProjects(l.zoneRoot)
		if err != nil {
			return nil, fmt.Errorf("zone %s: %w", zone, err)
		}
		out := wire.ProjectList{Projects: ps}
		for _, b := range bad {
			out.Bad = append(out.Bad, b.Error())
		}
		return json.Marshal(out)
	}
	d.projMu.Lock()
	defer d.projMu.Unlock()
	ps, err := EditProjectsFile(d.root, l.zoneRoot, zone, func(ps *limits.Projects) error { return ApplyProject(req, ps) })
	if err != nil {
		return nil, err
	}
	if err := d.reloadProjects(); err != nil {
		return nil, fmt.Errorf("zone %s: /etc/project written, but not applied: %w", zone, err)
	}
	var res api.ProjectResult
	name := req.Name
	if req.NewName != "" {
		name = req.NewName
	}
	if pr, ok := ps.Lookup(name); ok && req.Op != "del" {
		l.mu.Lock()
		caps := map[string]uint64{}
		for k, v := range l.rctls {
			caps[k] = v
		}
		l.mu.Unlock()
		res.Notes = cappedNotes(pr, caps)
	}
	return json.Marshal(res)
}

// zoneUserGroups are the groups of user in the zone's own /etc/group and
// /etc/passwd (its primary group), read inside the zone's root.
func zoneUserGroups(zoneRoot, user string) []string {
	var out []string
	primary := ""
	if b, err := pathrs.ReadZoneFile(zoneRoot, "/etc/passwd", pathrs.ZoneDBMax); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Split(line, ":"); len(f) >= 4 && f[0] == user {
				primary = f[3]
				break
			}
		}
	}
	if b, err := pathrs.ReadZoneFile(zoneRoot, "/etc/group", pathrs.ZoneDBMax); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Split(line, ":")
			if len(f) < 4 {
				continue
			}
			if f[2] == primary {
				out = append(out, f[0])
				continue
			}
			for _, m := range strings.Split(f[3], ",") {
				if m == user {
					out = append(out, f[0])
					break
				}
			}
		}
	}
	return out
}

// memberName is the name a zone principal is known by for project
// membership: root, its login name, or "#UID" when the zone's passwd has
// no entry (which only a "*" users list admits).
func memberName(p api.Principal) string {
	switch {
	case p.UID == 0:
		return "root"
	case p.User != "":
		return p.User
	}
	return "#" + strconv.Itoa(p.UID)
}

// newTask is newtask(1) inside a zone: the calling process (host pid, from
// the socket's peer credentials) moves into a new task cgroup of project,
// once the project admits the caller (root any; others by the project's
// users and groups), and gets the project's process.* rlimits. The client
// then execs its command, which stays in the task.
func (d *zoneadmd) newTask(p api.Principal, pid int, project string) (int, error) {
	d.mu.Lock()
	l := d.lim
	zp := d.st.ZschedPid
	d.mu.Unlock()
	if l == nil || zp <= 0 {
		return 0, fmt.Errorf("zone %s is not ready or running", d.name)
	}
	inZone := func() error {
		same, err := sameNamespace(pid, zp, "pid")
		if pid <= 0 || err != nil || !same || pid == zp {
			return fmt.Errorf("caller (pid %d) is not a process of zone %s", pid, d.name)
		}
		return nil
	}
	if err := inZone(); err != nil {
		return 0, err
	}
	l.sweepSocketTasks()
	g, task, rl, err := l.placement(&api.ExecRequest{Project: project, User: memberName(p), NewTask: true})
	if err != nil {
		return 0, err
	}
	l.mu.Lock()
	l.sockTasks[task] = true
	l.mu.Unlock()
	// The pid is checked again right before the move, so a caller that
	// exited in between cannot have its pid reused by a host process.
	if err = inZone(); err == nil {
		err = g.AddProc(pid)
	}
	if err != nil {
		l.endTask(task)
		return 0, err
	}
	l.taskStarted(task)
	if clamped, err := limits.ApplyRlimits(pid, rl); err != nil {
		return task, fmt.Errorf("task %d: %w", task, err)
	} else if len(clamped) > 0 {
		log.Printf("newtask %s: rlimits clamped: %+v", project, clamped)
	}
	return task, nil
}
