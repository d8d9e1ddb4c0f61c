package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
	"zonetop/api"
	"zonetop/client"
	"zonetop/internal/fanout"
	"zonetop/internal/zoneadmd"
	"zonetop/rctl"

	"golang.org/x/sys/unix"

	"zonetop/engine"
	"zonetop/limits"
	"zonetop/limits/cgroups"
	"zonetop/termsafe"
)

// The resource-control front ends: prctl, projects, projadd, projmod,
// projdel, newtask and zonestat, with illumos' flags. From the host they
// name the zone with -z (default: the global zone's own projects).

func init() {
	for name, c := range map[string]command{
		"prctl":    {runPrctl, "show or set zone and project resource controls", prctlUsage},
		"projects": {runProjects, "list a zone's projects", projectsUsage},
		"projadd":  {runProjadd, "add a project to a zone's /etc/project", projaddUsage},
		"projmod":  {runProjmod, "change a project of a zone's /etc/project", projmodUsage},
		"projdel":  {runProjdel, "delete a project from a zone's /etc/project", projdelUsage},
		"newtask":  {runNewtask, "run a command as a new task of a zone's project", newtaskUsage},
		"zonestat": {runZonestat, "zone and project usage against caps", zonestatUsage},
	} {
		commands[name] = c
	}
}

// getopt parses single-letter options; spec lists them, ':' after a
// letter takes a value. Repeated value options accumulate.
func getopt(args []string, spec string) (map[byte][]string, []string, error) {
	out := map[byte][]string{}
	for len(args) > 0 && len(args[0]) > 1 && args[0][0] == '-' {
		a := args[0]
		args = args[1:]
		if a == "--" {
			break
		}
		if strings.HasPrefix(a, "--") {
			return nil, nil, fmt.Errorf("unknown option %s", a)
		}
		for i := 1; i < len(a); i++ {
			k := strings.IndexByte(spec, a[i])
			if k < 0 || a[i] == ':' {
				return nil, nil, fmt.Errorf("unknown option -%c", a[i])
			}
			if k+1 < len(spec) && spec[k+1] == ':' {
				v := a[i+1:]
				if v == "" {
					if len(args) == 0 {
						return nil, nil, fmt.Errorf("-%c needs a value", a[i])
					}
					v, args = args[0], args[1:]
				}
				out[a[i]] = append(out[a[i]], v)
				break
			}
			out[a[i]] = append(out[a[i]], "")
		}
	}
	return out, args, nil
}

func last(o map[byte][]string, k byte) string {
	if v := o[k]; len(v) > 0 {
		return v[len(v)-1]
	}
	return ""
}

func has(o map[byte][]string, k byte) bool { _, ok := o[k]; return ok }

// zoneOpt is -z, or the zone the target means without it.
func zoneOpt(o map[byte][]string, t rctlTarget) string {
	if z := last(o, 'z'); z != "" {
		return z
	}
	return t.Zone()
}

func fail(stderr io.Writer, cmd string, code int, format string, a ...any) int {
	// An error that already starts with the command's name (the project
	// file's own checks say "projadd: ...") is not named twice.
	msg := strings.TrimPrefix(fmt.Sprintf(format, a...), cmd+": ")
	fmt.Fprintf(stderr, "%s: %s\n", cmd, msg)
	return code
}

// usageFail reports a usage error of cmd, then its usage; exit status 2.
func usageFail(stderr io.Writer, cmd string, err error, usage string) int {
	fmt.Fprintf(stderr, "%s: %v\n%s", cmd, err, usage)
	return 2
}

// Usages of the resource-control commands, printed for --help and with a
// usage error.
const (
	projectsUsage = "usage:\tprojects [-l] [-z ZONE] [PROJECT...]\n"
	projdelUsage  = "usage:\tprojdel [-z ZONE] PROJECT\n"
	newtaskUsage  = "usage:\tnewtask -z ZONE [-p PROJECT] [-l USER] COMMAND [ARGS...]\n" +
		"\tnewtask [-p PROJECT] COMMAND [ARGS...]   (inside a zone)\n"
	zonestatUsage = "usage:\tzonestat [-z ZONE[,...]] [-o json] [INTERVAL [COUNT]]\n"
)

// ---- prctl ----

const prctlUsage = `usage:	prctl [-P] [-n NAME] [-t PRIV] [-z ZONE] -i zone|project|task|process ID
	prctl -n NAME [-t PRIV] -v VALUE -r|-s [--persist] [-z ZONE] -i zone|project|task|process ID
	prctl -n NAME [-t PRIV] -x [--persist] [-z ZONE] -i zone|project|task|process ID
Zone caps are the global administrator's; a zone's projects also its zone
administrator's. -P prints one line per value for scripts (NAME PRIVILEGE
VALUE FLAG ACTION RECIPIENT, numbers unscaled). -t is the privilege of the
value set, basic or privileged (the default); system values are the
kernel's. --persist also writes the change to the zone's configuration or
/etc/project (not for task and process controls, which live as long as
their task or process). A zone may be named by its ID; a project or task
ID may be given as ZONE:ID. How Linux enforces each control: prctl -n
NAME -h.
`

// prctlEntity is one container prctl lists: the entity asked for and
// every one above it.
type prctlEntity struct {
	Kind, ID, Name string
	Rctls          []prctlRctl
}

type prctlRctl struct {
	Name   string
	Usage  *uint64
	Values []rctl.Value
}

// formatPrctlParseable is prctl -P: the entity's line, then one line per
// value with every field, numbers as they are (no unit scaling) and "-"
// for an empty field, so a script splits on blanks.
func formatPrctlParseable(w io.Writer, ents []prctlEntity) {
	for _, e := range ents {
		if e.ID != "" {
			fmt.Fprintf(w, "%s: %s: %s\n", e.Kind, e.ID, termsafe.String(e.Name))
		} else {
			fmt.Fprintf(w, "%s: %s\n", e.Kind, termsafe.String(e.Name))
		}
		for _, r := range e.Rctls {
			rc, err := rctl.Lookup(r.Name)
			if err != nil {
				continue
			}
			if r.Usage != nil {
				fmt.Fprintf(w, "%s usage %d\n", r.Name, *r.Usage)
			}
			for _, v := range r.Values {
				fmt.Fprintf(w, "%s %s %d - %s -\n", r.Name, v.Privilege, v.Limit, strings.ReplaceAll(v.Action.String(), " ", ","))
			}
			sysAction := "deny"
			if rc.Flags&rctl.FlagNoDeny != 0 {
				sysAction = "none"
			}
			fmt.Fprintf(w, "%s system %d max %s -\n", r.Name, rc.Max, sysAction)
		}
	}
}

// formatPrctl prints entities in prctl(1)'s layout.
func formatPrctl(w io.Writer, ents []prctlEntity) {
	for _, e := range ents {
		if e.ID != "" {
			fmt.Fprintf(w, "%s: %s: %s\n", e.Kind, e.ID, termsafe.String(e.Name))
		} else {
			fmt.Fprintf(w, "%s: %s\n", e.Kind, termsafe.String(e.Name))
		}
		fmt.Fprintf(w, "%-8s%-10s%11s%8s   %-29s%s\n", "NAME", "PRIVILEGE", "VALUE", "FLAG", "ACTION", "RECIPIENT")
		for _, r := range e.Rctls {
			rc, err := rctl.Lookup(r.Name)
			if err != nil {
				continue
			}
			fmt.Fprintln(w, r.Name)
			if r.Usage != nil {
				fmt.Fprintf(w, "%8s%-10s%11s\n", "", "usage", rctl.FormatQuantity(*r.Usage, rc.Unit))
			}
			for _, v := range r.Values {
				fmt.Fprintf(w, "%8s%-10s%11s%8s   %-29s%s\n", "", v.Privilege, rctl.FormatQuantity(v.Limit, rc.Unit), "-", v.Action, "-")
			}
			sysAction := "deny"
			if rc.Flags&rctl.FlagNoDeny != 0 {
				sysAction = "none"
			}
			fmt.Fprintf(w, "%8s%-10s%11s%8s   %-29s%s\n", "", "system", rctl.FormatQuantity(rc.Max, rc.Unit), "max", sysAction, "-")
		}
	}
}

func runPrctl(g *globals, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	// --persist is zonetop's own; -P is illumos' parseable output.
	persist := false
	var kept []string
	for i, a := range args {
		if a == "--" {
			kept = append(kept, args[i:]...)
			break
		}
		if a == "--persist" {
			persist = true
			continue
		}
		kept = append(kept, a)
	}
	args = kept
	o, rest, err := getopt(args, "n:v:rsxPi:z:t:h")
	if err != nil || len(rest) != 1 || last(o, 'i') == "" {
		if err == nil && has(o, 'h') && last(o, 'n') != "" {
			rc, lerr := rctl.Lookup(last(o, 'n'))
			if lerr != nil {
				return fail(stderr, "prctl", 1, "%v", lerr)
			}
			fmt.Fprintf(stdout, "%s: %s\nenforced on Linux by: %s\n", rc.Name, rc.Description, rc.Enforcement)
			return 0
		}
		if err != nil {
			fmt.Fprintf(stderr, "prctl: %v\n", err)
		}
		fmt.Fprint(stderr, prctlUsage)
		return 2
	}
	name := last(o, 'n')
	if name != "" {
		// A misspelt name is an error, not an empty table.
		if _, err := rctl.Lookup(name); err != nil {
			return fail(stderr, "prctl", 1, "%v", err)
		}
	}
	priv := rctl.Privileged
	if has(o, 't') {
		switch p := last(o, 't'); p {
		case "privileged":
		case "basic":
			priv = rctl.Basic
		case "system":
			return fail(stderr, "prctl", 1, "-t system: system values are the kernel's maxima; they cannot be set")
		default:
			return fail(stderr, "prctl", 2, "-t %s: want basic or privileged\n%s", p, prctlUsage)
		}
	}
	t, err := targetFor(g)
	if err != nil {
		return fail(stderr, "prctl", 1, "%v", err)
	}
	kind, id := last(o, 'i'), rest[0]
	zone, project, task, pid := zoneOpt(o, t), "", -1, 0
	switch kind {
	case "zone":
		zone = id
		if n, err := strconv.Atoi(id); err == nil {
			// illumos takes a zone's ID as well as its name.
			if zone, err = t.ZoneOfID(n); err != nil {
				return fail(stderr, "prctl", 1, "%v", err)
			}
		}
	case "project":
		project = id
		if z, pr, ok := strings.Cut(id, ":"); ok {
			zone, project = z, pr
		}
	case "task":
		tid := id
		if z, tk, ok := strings.Cut(id, ":"); ok {
			zone, tid = z, tk
		}
		if task, err = strconv.Atoi(tid); err != nil || task < 0 {
			return fail(stderr, "prctl", 1, "task %q: want a task id (ZONE:ID, or -z ZONE and ID)", id)
		}
		if zone == "global" {
			return fail(stderr, "prctl", 1, "task %d: tasks are a zone's; name the zone (-z ZONE or ZONE:%d)", task, task)
		}
	case "process":
		if pid, err = strconv.Atoi(id); err != nil || pid <= 0 {
			return fail(stderr, "prctl", 1, "process %q: want a pid", id)
		}
		zone, project, task, err = t.ProcessOf(id)
		if err != nil {
			return fail(stderr, "prctl", 1, "%v", err)
		}
	default:
		return fail(stderr, "prctl", 2, "-i %s: want zone, project, task or process\n%s", kind, prctlUsage)
	}
	if has(o, 'v') || has(o, 'x') || has(o, 'r') || has(o, 's') {
		if name == "" {
			return fail(stderr, "prctl", 2, "-v/-x need -n NAME")
		}
		rc, err := rctl.Lookup(name)
		if err != nil {
			return fail(stderr, "prctl", 1, "%v", err)
		}
		ch := api.RctlChange{Name: name, Project: project, Task: task}
		if !has(o, 'x') {
			if ch.Values, err = prctlValue(name, last(o, 'v'), priv); err != nil {
				return fail(stderr, "prctl", 1, "%v", err)
			}
		}
		if rc.Level == rctl.LevelProcess {
			if err := setProcessRctl(pid, rc, ch.Values, persist); err != nil {
				return fail(stderr, "prctl", 1, "%v", err)
			}
			return 0
		}
		if rc.Level == rctl.LevelTask && task < 0 {
			return fail(stderr, "prctl", 1, "%s is a task control: name the task (-i task ZONE:ID, or -i process PID)", name)
		}
		if err := t.SetRctl(zone, ch, persist); err != nil {
			return fail(stderr, "prctl", 1, "%v", err)
		}
		// What the change means now, in the value's own terms (parsed
		// once here for both notes).
		if vs, err := rctl.ParseValues(ch.Values); err == nil && len(vs) > 0 {
			belowUsage(t, zone, project, rc, vs[0].Limit, stderr)
			heldByTwin(t, zone, rc.Name, vs[0].Limit, stderr)
		}
		return 0
	}
	// Listing: the entity and every container above it, process → task
	// → project → zone, as illumos' prctl shows them.
	var ents []prctlEntity
	u, uerr := t.Usage(zone)
	if pid > 0 {
		ents = append(ents, processEntity(pid, name))
	}
	if task >= 0 {
		var tu *api.TaskUsage
		for i := range u.Tasks {
			if u.Tasks[i].ID == task {
				tu = &u.Tasks[i]
			}
		}
		if tu == nil {
			if uerr != nil {
				return fail(stderr, "prctl", 1, "task %d: %v", task, uerr)
			}
			return fail(stderr, "prctl", 1, "task %d does not exist in zone %s", task, zone)
		}
		project = tu.Project
		// A task's controls in force are what zoneadmd reports.
		values := map[string][]rctl.Value{}
		for _, ru := range tu.Rctls {
			if ru.Limited {
				values[ru.Name] = []rctl.Value{{Privilege: rctl.Privileged, Limit: ru.Limit, Action: rctl.Action{Deny: true}}}
			}
		}
		ents = append(ents, prctlEntity{Kind: "task", ID: strconv.Itoa(task), Name: zone,
			Rctls: levelRctls(rctl.LevelTask, name, values, tu.Rctls)})
	}
	if project != "" {
		ps, _, err := t.Projects(zone)
		if err != nil {
			return fail(stderr, "prctl", 1, "%v", err)
		}
		pr, ok := ps.Lookup(project)
		if !ok {
			return fail(stderr, "prctl", 1, "project %q does not exist in zone %s", project, zone)
		}
		rcs, _ := pr.Rctls()
		var usage []api.RctlUsage
		for _, pu := range u.Projects {
			if pu.Name == project && uerr == nil {
				usage = pu.Rctls
			}
		}
		ents = append(ents, prctlEntity{Kind: "project", ID: strconv.Itoa(pr.ID), Name: pr.Name,
			Rctls: levelRctls(rctl.LevelProject, name, rcs, usage)})
	}
	if zone != "global" {
		zr, err := t.ZoneRctls(zone)
		if err != nil {
			return fail(stderr, "prctl", 1, "%v", err)
		}
		zid := ""
		if n := t.ZoneID(zone); n > 0 {
			zid = strconv.Itoa(n)
		}
		var usage []api.RctlUsage
		if uerr == nil {
			usage = u.Rctls
		}
		ents = append(ents, prctlEntity{Kind: "zone", ID: zid, Name: zone,
			Rctls: levelRctls(rctl.LevelZone, name, zr, usage)})
	}
	if has(o, 'P') {
		formatPrctlParseable(stdout, ents)
	} else {
		formatPrctl(stdout, ents)
	}
	return 0
}

// belowUsage says what a limit set below what is in use does, as the
// kernel applies it: nothing running is taken away, and what would go
// above the limit is refused until use falls under it.
func belowUsage(t rctlTarget, zone, project string, rc *rctl.Rctl, limit uint64, stderr io.Writer) {
	u, err := t.Usage(zone)
	if err != nil {
		// The change is made; only the comparison is missing.
		fmt.Fprintf(stderr, "prctl: note: %s is set; its usage could not be read to compare: %v\n", rc.Name, err)
		return
	}
	rows := u.Rctls
	if project != "" {
		rows = nil
		for _, p := range u.Projects {
			if p.Name == project {
				rows = p.Rctls
			}
		}
	}
	for _, r := range rows {
		if r.Name == rc.Name && r.Usage > limit {
			fmt.Fprintf(stderr, "prctl: note: %s is now %s, below the %s in use: what runs keeps running, and more is refused until use falls under it\n",
				rc.Name, rctl.FormatQuantity(limit, rc.Unit), rctl.FormatQuantity(r.Usage, rc.Unit))
		}
	}
}

// heldByTwin says when a zone's max-lwps or max-processes cannot take
// effect as asked: Linux enforces both as one pids.max, the lower of the
// two, so the other control holds it.
func heldByTwin(t rctlTarget, zone, name string, limit uint64, stderr io.Writer) {
	twins := map[string]string{rctl.ZoneMaxLwps: rctl.ZoneMaxProcesses, rctl.ZoneMaxProcesses: rctl.ZoneMaxLwps}
	other, ok := twins[name]
	if !ok {
		return
	}
	zr, err := t.ZoneRctls(zone)
	if err != nil {
		return
	}
	if held, ok := zoneadmd.Privileged(other, zr[other]); ok && held < limit {
		fmt.Fprintf(stderr, "prctl: note: %s is %d, but the zone's pids.max stays %d: %s=%d holds it (Linux enforces both as one pids.max, the lower of the two); change or clear %s too\n",
			name, limit, held, other, held, other)
	}
}

// levelRctls are an entity's rows: every control of its level (or only
// the one named), with its values and, where sampled, its usage.
func levelRctls(level rctl.Level, only string, values map[string][]rctl.Value, usage []api.RctlUsage) []prctlRctl {
	var out []prctlRctl
	for _, rc := range rctl.RctlsAt(level) {
		if only != "" && rc.Name != only {
			continue
		}
		r := prctlRctl{Name: rc.Name, Values: values[rc.Name]}
		for _, ru := range usage {
			if ru.Name == rc.Name {
				v := ru.Usage
				r.Usage = &v
			}
		}
		out = append(out, r)
	}
	return out
}

// prctlValue is a prctl -v limit (with the rctl's unit suffixes) as the
// value of privilege priv that project(5) and the engine take.
func prctlValue(name, v string, priv rctl.Privilege) (string, error) {
	rc, err := rctl.Lookup(name)
	if err != nil {
		return "", err
	}
	n, err := rctl.ParseQuantity(v, rc.Unit)
	if err != nil {
		return "", fmt.Errorf("%s: %w", name, err)
	}
	action := "deny"
	if rc.Flags&rctl.FlagNoDeny != 0 {
		action = "none"
	}
	return fmt.Sprintf("(%s,%d,%s)", priv, n, action), nil
}

// processEntity is a process's own controls: its rlimits, basic as the
// soft limit and privileged as the hard one.
func processEntity(pid int, only string) prctlEntity {
	ent := prctlEntity{Kind: "process", ID: strconv.Itoa(pid), Name: processName(pid)}
	for _, rc := range rctl.RctlsAt(rctl.LevelProcess) {
		if only != "" && rc.Name != only {
			continue
		}
		res, ok := limits.RlimitFor(rc.Name)
		if !ok {
			continue
		}
		r := prctlRctl{Name: rc.Name}
		var rl unix.Rlimit
		if err := unix.Prlimit(pid, res, nil, &rl); err == nil {
			if rl.Cur != unix.RLIM_INFINITY && rl.Cur != rl.Max {
				r.Values = append(r.Values, rctl.Value{Privilege: rctl.Basic, Limit: rl.Cur, Action: rctl.Action{Deny: true}})
			}
			if rl.Max != unix.RLIM_INFINITY {
				r.Values = append(r.Values, rctl.Value{Privilege: rctl.Privileged, Limit: rl.Max, Action: rctl.Action{Deny: true}})
			}
		}
		ent.Rctls = append(ent.Rctls, r)
	}
	return ent
}

func processName(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(b))
}

// setProcessRctl changes a live process's rlimit (prlimit(2)). Linux lets
// anyone lower a hard limit but raising one needs CAP_SYS_RESOURCE, which
// zonetop's hosts may lack: the kernel's refusal is reported as it is.
func setProcessRctl(pid int, rc *rctl.Rctl, value string, persist bool) error {
	if pid <= 0 {
		return fmt.Errorf("%s is a process control: name the process (-i process PID)", rc.Name)
	}
	if persist {
		return fmt.Errorf("%s: a process's controls cannot be persisted; set %s in its project's attributes (projmod -K) instead", rc.Name, rc.Name)
	}
	res, ok := limits.RlimitFor(rc.Name)
	if !ok {
		return fmt.Errorf("%s: no rlimit enforces it on Linux", rc.Name)
	}
	var rl unix.Rlimit
	if err := unix.Prlimit(pid, res, nil, &rl); err != nil {
		return fmt.Errorf("process %d: %w", pid, err)
	}
	if value == "" {
		rl.Cur, rl.Max = unix.RLIM_INFINITY, unix.RLIM_INFINITY
	} else {
		vs, err := rctl.ParseValues(value)
		if err != nil || len(vs) != 1 {
			return fmt.Errorf("%s: bad value %q", rc.Name, value)
		}
		rl.Max = vs[0].Limit
		if rl.Cur > rl.Max {
			rl.Cur = rl.Max
		}
	}
	if err := unix.Prlimit(pid, res, &rl, nil); err != nil {
		return fmt.Errorf("%s on process %d: %w", rc.Name, pid, err)
	}
	return nil
}

// zoneOfPid finds the zone, project and task (-1: none) of a host pid
// from its cgroup (.../zonetop/ZONE/PROJECT[/task.N]).
func zoneOfPid(pid string) (zone, project string, task int, err error) {
	if _, err := strconv.Atoi(pid); err != nil {
		return "", "", -1, fmt.Errorf("process %q: want a pid", pid)
	}
	b, err := os.ReadFile("/proc/" + pid + "/cgroup")
	if err != nil {
		return "", "", -1, fmt.Errorf("process %s: %w", pid, err)
	}
	zone, project, task = cgroups.Place(string(b))
	if zone == "" {
		zone = "global"
	}
	return zone, project, task, nil
}

// ---- projects, projadd, projmod, projdel ----

func formatProjectLong(w io.Writer, p limits.Project) {
	list := func(s []string) string {
		if len(s) == 0 {
			return "(none)"
		}
		return termsafe.String(strings.Join(s, " "))
	}
	// A zone's /etc/project is the zone's to write: every field may hold
	// escape sequences.
	fmt.Fprintf(w, "%s\n\tprojid : %d\n\tcomment: \"%s\"\n\tusers  : %s\n\tgroups : %s\n\tattribs: ", termsafe.String(p.Name), p.ID,
		termsafe.String(p.Comment), list(p.Users), list(p.Groups))
	for i, a := range p.Attrs {
		if i > 0 {
			fmt.Fprint(w, "\n\t\t ")
		}
		fmt.Fprint(w, termsafe.String(a.String()))
	}
	fmt.Fprintln(w)
}

func runProjects(g *globals, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	o, rest, err := getopt(args, "lz:")
	if err != nil {
		return usageFail(stderr, "projects", err, projectsUsage)
	}
	t, err := targetFor(g)
	if err != nil {
		return fail(stderr, "projects", 1, "%v", err)
	}
	ps, bad, err := t.Projects(zoneOpt(o, t))
	if err != nil {
		return fail(stderr, "projects", 1, "%v", err)
	}
	for _, b := range bad {
		fmt.Fprintf(stderr, "projects: %s\n", termsafe.String(b))
	}
	want := map[string]bool{}
	for _, r := range rest {
		want[r] = true
	}
	var names []string
	for _, p := range ps {
		if len(want) > 0 && !want[p.Name] {
			continue
		}
		if has(o, 'l') {
			formatProjectLong(stdout, p)
		} else {
			names = append(names, termsafe.String(p.Name))
		}
	}
	if !has(o, 'l') {
		fmt.Fprintln(stdout, strings.Join(names, " "))
	}
	if len(bad) > 0 {
		return 1
	}
	return 0
}

func splitList(s string) []string {
	if s == "" {
		return []string{}
	}
	return strings.Split(s, ",")
}

// scaleK takes -K arguments as illumos' projadd and projmod do: a
// control's limit may carry the unit modifiers of the command line
// ("project.max-shm-memory=(priv,4G,deny)"); what is sent on is the value
// in project(5)'s own form, a plain number, as the file stores it.
func scaleK(ks []string) ([]string, error) {
	out := make([]string, 0, len(ks))
	for _, k := range ks {
		as, err := limits.ParseAttrs(k)
		if err != nil {
			return nil, fmt.Errorf("-K %q: %w", k, err)
		}
		parts := make([]string, 0, len(as))
		for _, a := range as {
			if a.IsRctl() && a.HasValue && a.Value != "" {
				rc, err := rctl.Lookup(a.Name)
				if err != nil {
					return nil, fmt.Errorf("-K %q: %w", k, err)
				}
				vs, err := rctl.ParseValuesScaled(a.Value, rc.Unit)
				if err != nil {
					return nil, fmt.Errorf("-K %q: %s: %w", k, a.Name, err)
				}
				a.Value = rctl.FormatValues(vs)
			}
			parts = append(parts, a.String())
		}
		out = append(out, strings.Join(parts, ";"))
	}
	return out, nil
}

func parseK(ks []string) ([]limits.Attr, error) {
	var out []limits.Attr
	for _, k := range ks {
		as, err := limits.ParseAttrs(k)
		if err != nil {
			return nil, fmt.Errorf("-K %q: %w", k, err)
		}
		out = append(out, as...)
	}
	return out, nil
}

const projaddUsage = "usage:\tprojadd [-z ZONE] [-p PROJID] [-c COMMENT] [-U USER[,...]] [-G GROUP[,...]] [-K NAME=VALUE]... PROJECT\n"

func runProjadd(g *globals, args []string, _ io.Reader, _, stderr io.Writer) int {
	o, rest, err := getopt(args, "z:p:c:U:G:K:o")
	if err != nil || len(rest) != 1 {
		return usageFail(stderr, "projadd", err, projaddUsage)
	}
	ks, err := scaleK(o['K'])
	if err != nil {
		return fail(stderr, "projadd", 2, "%v", err)
	}
	req := api.ProjectRequest{Op: "add", Name: rest[0], Users: splitList(last(o, 'U')), Groups: splitList(last(o, 'G')), Attrs: ks}
	if s := last(o, 'p'); s != "" {
		id, err := strconv.Atoi(s)
		if err != nil {
			return fail(stderr, "projadd", 2, "-p %q: want a number", s)
		}
		req.ID = &id
	}
	if has(o, 'c') {
		c := last(o, 'c')
		req.Comment = &c
	}
	if _, err := parseK(ks); err != nil {
		return fail(stderr, "projadd", 2, "%v", err)
	}
	return editProjects(g, "projadd", last(o, 'z'), req, stderr)
}

// editProjects sends a project change to the target and reports limits
// accepted above the zone's caps.
func editProjects(g *globals, cmd, zone string, req api.ProjectRequest, stderr io.Writer) int {
	t, err := targetFor(g)
	if err != nil {
		return fail(stderr, cmd, 1, "%v", err)
	}
	if zone == "" {
		zone = t.Zone()
	}
	notes, err := t.EditProjects(zone, req)
	if err != nil {
		return fail(stderr, cmd, 1, "%v", err)
	}
	for _, n := range notes {
		fmt.Fprintf(stderr, "%s: note: %s\n", cmd, n)
	}
	return 0
}

const projmodUsage = "usage:\tprojmod [-z ZONE] [-a|-r|-s] [-p PROJID] [-c COMMENT] [-U USERS] [-G GROUPS] [-K NAME=VALUE]... [-l NEWNAME] PROJECT\n"

func runProjmod(g *globals, args []string, _ io.Reader, _, stderr io.Writer) int {
	o, rest, err := getopt(args, "z:arsp:c:U:G:K:l:o")
	if err != nil || len(rest) != 1 {
		return usageFail(stderr, "projmod", err, projmodUsage)
	}
	req := api.ProjectRequest{Op: "mod", Name: rest[0], NewName: last(o, 'l')}
	switch {
	case has(o, 'a'):
		req.Mode = "add"
	case has(o, 'r'):
		req.Mode = "remove"
	case has(o, 's'):
		req.Mode = "substitute"
	}
	if s := last(o, 'p'); s != "" {
		id, err := strconv.Atoi(s)
		if err != nil {
			return fail(stderr, "projmod", 2, "-p %q: want a number", s)
		}
		req.ID = &id
	}
	if has(o, 'c') {
		c := last(o, 'c')
		req.Comment = &c
	}
	if has(o, 'U') {
		req.Users, req.SetUsers = splitList(last(o, 'U')), true
	}
	if has(o, 'G') {
		req.Groups, req.SetGroups = splitList(last(o, 'G')), true
	}
	if has(o, 'K') {
		ks, err := scaleK(o['K'])
		if err != nil {
			return fail(stderr, "projmod", 2, "%v", err)
		}
		o['K'] = ks
		if _, err := parseK(o['K']); err != nil {
			return fail(stderr, "projmod", 2, "%v", err)
		}
		req.Attrs, req.SetAttrs = o['K'], true
	}
	return editProjects(g, "projmod", last(o, 'z'), req, stderr)
}

func runProjdel(g *globals, args []string, _ io.Reader, _, stderr io.Writer) int {
	o, rest, err := getopt(args, "z:")
	if err != nil || len(rest) != 1 {
		return usageFail(stderr, "projdel", err, projdelUsage)
	}
	return editProjects(g, "projdel", last(o, 'z'), api.ProjectRequest{Op: "del", Name: rest[0]}, stderr)
}

// ---- newtask ----

// runNewtask is newtask(1) from the host: the command runs inside zone
// -z as a new task of project -p (a task cgroup under the project's,
// capped by its task.* rctls), through the zlogin path.
func runNewtask(g *globals, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if client.InZone() {
		return runNewtaskInZone(args, stderr)
	}
	o, rest, err := getopt(args, "z:p:l:")
	if err != nil || len(rest) == 0 || last(o, 'z') == "" {
		return usageFail(stderr, "newtask", err, newtaskUsage)
	}
	e, err := engine.New(g.root, g.cgroupParent)
	if err != nil {
		return fail(stderr, "newtask", 1, "%v", err)
	}
	if last(o, 'z') == "global" {
		return newtaskGlobal(e, last(o, 'p'), last(o, 'l'), rest, stderr)
	}
	req := api.ExecRequest{Argv: rest, Project: last(o, 'p'), User: last(o, 'l'), NewTask: true}
	code, err := e.ExecInZone(context.Background(), engine.CurrentPrincipal(), last(o, 'z'), req, stdin, stdout, stderr)
	if err != nil {
		return fail(stderr, "newtask", 1, "%v", err)
	}
	return code
}

// newtaskGlobal is newtask -z global: this process joins the global
// zone's project (its cgroup, with the project's limits, below
// zonetop's cgroup parent), takes the project's rlimits and executes
// the command, which runs held to the project's limits with whatever it
// starts.
func newtaskGlobal(e *engine.Engine, project, user string, argv []string, stderr io.Writer) int {
	if user != "" {
		return fail(stderr, "newtask", 2, "-l is for a zone's users; in the global zone run newtask as the user (su USER -c 'newtask ...')")
	}
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return fail(stderr, "newtask", 1, "%v", err)
	}
	rl, err := e.JoinGlobalProject(context.Background(), engine.CurrentPrincipal(), project, os.Getpid())
	if err != nil {
		return fail(stderr, "newtask", 1, "%v", err)
	}
	clamped, err := limits.ApplyRlimits(0, rl)
	if err != nil {
		return fail(stderr, "newtask", 1, "rlimits: %v", err)
	}
	for _, c := range clamped {
		fmt.Fprintf(stderr, "newtask: %s\n", c)
	}
	err = syscall.Exec(path, argv, os.Environ())
	return fail(stderr, "newtask", 126, "%s: %v", argv[0], err)
}

// ---- zonestat ----

func runZonestat(g *globals, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	o, rest, err := getopt(args, "z:o:")
	if err != nil || len(rest) > 2 || (last(o, 'o') != "" && last(o, 'o') != "json") {
		return usageFail(stderr, "zonestat", err, zonestatUsage)
	}
	interval, count := time.Duration(0), 1
	if len(rest) > 0 {
		s, err := strconv.ParseFloat(rest[0], 64)
		if err != nil || s <= 0 {
			return fail(stderr, "zonestat", 2, "interval %q: want seconds", rest[0])
		}
		interval, count = time.Duration(s*float64(time.Second)), 0
	}
	if len(rest) > 1 {
		if count, err = strconv.Atoi(rest[1]); err != nil || count < 1 {
			return fail(stderr, "zonestat", 2, "count %q: want a positive number", rest[1])
		}
	}
	t, err := targetFor(g)
	if err != nil {
		return fail(stderr, "zonestat", 1, "%v", err)
	}
	var zonesWanted []string
	if z := last(o, 'z'); z != "" {
		zonesWanted = strings.Split(z, ",")
	} else if t.inZone() {
		zonesWanted = []string{t.Zone()}
	} else {
		zl, err := t.zs.List(context.Background(), t.p, api.ListOptions{Installed: true})
		if err != nil {
			return fail(stderr, "zonestat", 1, "%v", err)
		}
		for _, z := range zl {
			if z.Name != "global" && (z.State == "ready" || z.State == "running") {
				zonesWanted = append(zonesWanted, z.Name)
			}
		}
	}
	sort.Strings(zonesWanted)
	// The host's engine asks every zone's zoneadmd on a connection of its
	// own, so the zones are sampled fanout.Workers at a time; inside a
	// zone there is one zone and one connection to the zone socket.
	workers := 1
	if !t.inZone() {
		workers = fanout.Workers
	}
	status := 0
	for n := 0; count == 0 || n < count; n++ {
		if n > 0 {
			time.Sleep(interval)
		}
		sampled := make([]api.ZoneUsage, len(zonesWanted))
		errs := make([]error, len(zonesWanted))
		_ = fanout.Each(context.Background(), len(zonesWanted), workers, func(i int) {
			sampled[i], errs[i] = t.Usage(zonesWanted[i])
		})
		var us []api.ZoneUsage
		for i := range zonesWanted {
			if errs[i] != nil {
				fmt.Fprintf(stderr, "zonestat: %v\n", errs[i])
				status = 1
				continue
			}
			us = append(us, sampled[i])
		}
		if last(o, 'o') == "json" {
			b, _ := json.Marshal(us)
			// Project names and warnings are the zone's text.
			fmt.Fprintln(stdout, string(termsafe.JSON(b)))
			continue
		}
		formatZonestat(stdout, us)
	}
	return status
}

func capCell(r api.RctlUsage, unit rctl.Unit) string {
	used := rctl.FormatQuantity(r.Usage, unit)
	if !r.EffectiveLimited {
		return used + "/-"
	}
	s := used + "/" + rctl.FormatQuantity(r.Effective, unit)
	if r.CappedByZone {
		s += "*"
	}
	return s
}

// formatZonestat prints one round: a line per zone, indented lines per
// project; "*" marks a project limit capped by its zone.
func formatZonestat(w io.Writer, us []api.ZoneUsage) {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "ZONE/PROJECT\tPROCS\tCPU%\tCPU-CAP\tLWPS/CAP\tMEM/CAP\tSHM/CAP\tSHM-IDS\tSEM-IDS\tMSG-IDS\tTHROTTLED")
	get := func(rs []api.RctlUsage, name string) api.RctlUsage {
		for _, r := range rs {
			if r.Name == name {
				return r
			}
		}
		return api.RctlUsage{}
	}
	cpuCap := func(r api.RctlUsage) string {
		if !r.EffectiveLimited {
			return "-"
		}
		return strconv.FormatUint(r.Effective, 10) + "%"
	}
	// The System V IPC totals the check keeps (¶0046), against the
	// limits that bind.
	ipc := func(rs []api.RctlUsage, level string) string {
		return strings.Join([]string{capCell(get(rs, level+".max-shm-memory"), rctl.UnitBytes),
			capCell(get(rs, level+".max-shm-ids"), rctl.UnitCount), capCell(get(rs, level+".max-sem-ids"), rctl.UnitCount),
			capCell(get(rs, level+".max-msg-ids"), rctl.UnitCount)}, "\t")
	}
	for _, u := range us {
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t%s\t%s\t%s\t%s\t%d\n", termsafe.String(u.Zone), u.Procs, u.CPUPct, cpuCap(get(u.Rctls, rctl.ZoneCPUCap)),
			capCell(get(u.Rctls, rctl.ZoneMaxLwps), rctl.UnitCount), capCell(get(u.Rctls, rctl.ZoneMaxPhysicalMemory), rctl.UnitBytes), ipc(u.Rctls, "zone"), u.NrThrottled)
		for _, p := range u.Projects {
			fmt.Fprintf(tw, "  %s\t%d\t%.1f\t%s\t%s\t%s\t%s\t\n", termsafe.String(p.Name), p.Procs, p.CPUPct, cpuCap(get(p.Rctls, rctl.ProjectCPUCap)),
				capCell(get(p.Rctls, rctl.ProjectMaxLwps), rctl.UnitCount), capCell(get(p.Rctls, rctl.ProjectMaxMemory), rctl.UnitBytes), ipc(p.Rctls, "project"))
		}
	}
	tw.Flush()
}
