package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
	"zonetop/api"
	"zonetop/internal/zoneadmd"
	"zonetop/limits"
	"zonetop/limits/cgroups"
	"zonetop/rctl"
)

// The global zone's projects are the host's /etc/project (under the root
// prefix). No zoneadmd supervises the global zone, so the engine gives a
// project's limits to the host processes placed in it (newtask -z
// global): a cgroup _global/PROJECT below zonetop's cgroup parent (the
// zonetop child of the engine's own cgroup, or --cgroup-parent's), never
// the host's root cgroups. No zone name begins with "_", so the
// directory never meets a zone's cgroup; a root prefix other than / is
// another host's global zone and gets _global.HASH of its own. On a
// systemd cgroup v2 host, where the caller's own cgroup is systemd's,
// zonetop's parent is instead a delegated scope of the global zone's
// own (zoneadmd.GlobalScope; DESIGN.md, "Where things live").

// globalGroupDir is the global zone's directory below zonetop's parent.
func (e *Engine) globalGroupDir() string { return GlobalGroupDir(e.Root) }

// GlobalGroupDir is the directory below zonetop's cgroup parent that holds
// the global zone's project cgroups for the root prefix root.
func GlobalGroupDir(root string) string {
	root = filepath.Clean(root)
	if root == "/" || root == "." {
		return "_global"
	}
	h := sha256.Sum256([]byte(root))
	return "_global." + hex.EncodeToString(h[:4])
}

func (e *Engine) globalBackend() (cgroups.Backend, error) {
	if zoneadmd.GlobalScopeHost(e.CgroupParent) {
		parent, err := cgroups.Parent{V2: zoneadmd.GlobalScope(e.Root)}.Join(cgroups.DefaultParentName)
		if err != nil {
			return nil, err
		}
		return cgroups.NewBackend(parent)
	}
	parent, err := cgroups.ParentFor(e.CgroupParent)
	if err != nil {
		return nil, err
	}
	return cgroups.NewBackend(parent)
}

// JoinGlobalProject puts the host process pid into project of the global
// zone (the caller's own project, user.NAME or default, when project is
// ""), in its cgroup made or brought up to date with the project's
// limits, and returns the process.* rlimits the caller is to take before
// it runs the command, as illumos' newtask joins a task and executes.
// A user other than root must be a member of the project.
func (e *Engine) JoinGlobalProject(ctx context.Context, p api.Principal, project string, pid int) ([]limits.RlimitSetting, error) {
	if p.Zone != "global" {
		return nil, fmt.Errorf("%w: the global zone's projects are the host's", api.ErrPermission)
	}
	ps, _, err := zoneadmd.ReadZoneProjects(e.Root)
	if err != nil {
		return nil, fmt.Errorf("global zone: /etc/project: %w", err)
	}
	if project == "" {
		project = "default"
		if _, ok := ps.Lookup("user." + p.User); ok && p.User != "" {
			project = "user." + p.User
		}
	}
	proj, ok := ps.Lookup(project)
	if !ok {
		return nil, fmt.Errorf("%w: project %q is not in the global zone's /etc/project", api.ErrNotFound, project)
	}
	if p.UID != 0 && !zoneadmd.ProjectMember(proj, e.Root, p.User) {
		return nil, fmt.Errorf("%w: user %s is not a member of project %s", api.ErrPermission, p.User, project)
	}
	rc, err := proj.Rctls()
	if err != nil {
		return nil, fmt.Errorf("project %s: %w", project, err)
	}
	procRc := map[string][]rctl.Value{}
	for name, vs := range rc {
		if strings.HasPrefix(name, "process.") {
			procRc[name] = vs
		}
	}
	rl, err := limits.Rlimits(procRc)
	if err != nil {
		return nil, fmt.Errorf("project %s: %w", project, err)
	}
	scoped := zoneadmd.GlobalScopeHost(e.CgroupParent)
	// systemd moves only the caller into a scope it starts.
	if scoped && pid != os.Getpid() {
		return nil, fmt.Errorf("global zone: project %s: only newtask's own process joins on this host (pid %d)", project, pid)
	}
	back, err := e.globalBackend()
	if err != nil {
		return nil, err
	}
	// Under the global zone's project lock, from the file as it is then:
	// an edit (which applies under the same lock) either comes after this
	// join and reaches the group, or came before and is read here; and no
	// sweep takes the group between its making and the join.
	unlock, err := zoneadmd.LockProjects(e.Root, "global")
	if err != nil {
		return nil, fmt.Errorf("global zone: /etc/project lock: %w", err)
	}
	defer unlock()
	if ps, _, err = zoneadmd.ReadZoneProjects(e.Root); err != nil {
		return nil, fmt.Errorf("global zone: /etc/project: %w", err)
	}
	if proj, ok = ps.Lookup(project); !ok {
		return nil, fmt.Errorf("%w: project %q is not in the global zone's /etc/project", api.ErrNotFound, project)
	}
	rel := e.globalGroupDir() + "/" + project
	res := zoneadmd.ProjectResources(proj)
	// systemd may collect the global zone's scope when its last task
	// ends, and an edit from an older zonetop may sweep the group between
	// its making and the join: made again, it is joined again.
	for try := 0; ; try++ {
		e.sweepGlobalProjects(back, project)
		if scoped {
			err = e.joinScoped(back, rel, res, pid)
		} else {
			err = joinGroup(back, rel, res, pid)
		}
		if err == nil || try == 5 || !(errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ENODEV)) {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("global zone: project %s: %w", project, err)
	}
	return rl, nil
}

// joinGroup puts pid into the group rel, made if need be, with the
// limits res.
func joinGroup(back cgroups.Backend, rel string, res *cgroups.Resources, pid int) error {
	g, err := back.Create(rel, res)
	if err != nil {
		return err
	}
	return g.AddProc(pid)
}

// joinScoped is joinGroup in the global zone's systemd scope. The
// levels below the scope are made one at a time, so that a scope
// collected meanwhile is not made again as a directory of no unit;
// systemd moves the process (it refuses for a scope no longer up, and
// the join is tried again in a new one); the process joins before the
// limits are written (the one that started the scope is in its cgroup,
// and v2 passes no controller on from a cgroup that holds a process),
// and they are written before it runs the command.
func (e *Engine) joinScoped(back cgroups.Backend, rel string, res *cgroups.Resources, pid int) error {
	if err := zoneadmd.EnterGlobalScope(e.Root); err != nil {
		return err
	}
	at := filepath.Join("/sys/fs/cgroup", zoneadmd.GlobalScope(e.Root))
	for _, part := range strings.Split(cgroups.DefaultParentName+"/"+rel, "/") {
		at = filepath.Join(at, part)
		if err := os.Mkdir(at, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			return fmt.Errorf("cgroup v2: create %s: %w", at, err)
		}
	}
	g, err := back.Load(rel)
	if err != nil {
		return err
	}
	if err := zoneadmd.AttachToGlobalScope(e.Root, "/"+cgroups.DefaultParentName+"/"+rel, pid); err != nil {
		return err
	}
	return g.Apply(res)
}

// applyGlobalProjects writes the host's project limits to the cgroups of
// the global zone's projects that hold processes, so that projmod and
// prctl hold them at once, and removes the cgroups of projects that
// hold none (or that are gone from /etc/project).
func (e *Engine) applyGlobalProjects() error {
	unlock, err := zoneadmd.LockProjects(e.Root, "global")
	if err != nil {
		return fmt.Errorf("global zone: /etc/project lock: %w", err)
	}
	defer unlock()
	ps, _, err := zoneadmd.ReadZoneProjects(e.Root)
	if err != nil {
		return fmt.Errorf("global zone: /etc/project: %w", err)
	}
	back, err := e.globalBackend()
	if err != nil {
		return err
	}
	e.sweepGlobalProjects(back, "")
	var errs []error
	for i := range ps {
		g, err := back.Load(e.globalGroupDir() + "/" + ps[i].Name)
		if err != nil {
			continue // never joined, or swept
		}
		if err := g.Apply(zoneadmd.ProjectResources(&ps[i])); err != nil {
			errs = append(errs, fmt.Errorf("global zone: project %s: %w", ps[i].Name, err))
		}
	}
	return errors.Join(errs...)
}

// sweepGlobalProjects removes the global zone's project cgroups that hold
// no process, but keep's (about to be joined), whether or not their
// project is still in /etc/project. A project removed from /etc/project
// keeps its cgroup while processes are in it: they stay held by the
// limits they had, and it goes once they are gone.
func (e *Engine) sweepGlobalProjects(back cgroups.Backend, keep string) {
	names, err := cgroups.Children(back, e.globalGroupDir())
	if err != nil {
		return
	}
	for _, name := range names {
		if name == keep {
			continue
		}
		g, err := back.Load(e.globalGroupDir() + "/" + name)
		if err != nil {
			continue
		}
		if procs, err := g.Procs(true); err == nil && len(procs) == 0 {
			_ = g.Delete()
		}
	}
}

// globalUsage is the global zone's projects' usage against their
// limits, from their cgroups; a project that holds no process has none.
func (e *Engine) globalUsage() (api.ZoneUsage, error) {
	u := api.ZoneUsage{Zone: "global", State: "running", Sampled: time.Now()}
	ps, _, err := zoneadmd.ReadZoneProjects(e.Root)
	if err != nil {
		return u, fmt.Errorf("global zone: /etc/project: %w", err)
	}
	back, err := e.globalBackend()
	if err != nil {
		return u, err
	}
	for i := range ps {
		var st cgroups.Stats
		procs := 0
		if g, err := back.Load(e.globalGroupDir() + "/" + ps[i].Name); err == nil {
			if st, err = g.Counters(); err != nil {
				return u, fmt.Errorf("global zone: project %s: %w", ps[i].Name, err)
			}
			if pids, err := g.Procs(true); err == nil {
				procs = len(pids)
			}
		}
		pu := zoneadmd.GlobalProjectUsage(&ps[i], st, procs)
		u.Procs += procs
		u.Projects = append(u.Projects, pu)
	}
	return u, nil
}
