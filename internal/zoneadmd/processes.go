package zoneadmd

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
	"zonetop/api"
	"zonetop/internal/pathrs"
	"zonetop/limits/cgroups"
)

// zoneProcesses lists the zone's processes for the zone itself: pids as
// the zone sees them, users from the zone's own passwd.
func (d *zoneadmd) zoneProcesses(ctx context.Context) ([]api.Process, error) {
	d.mu.Lock()
	zp := d.st.ZschedPid
	d.mu.Unlock()
	if zp <= 0 {
		return nil, fmt.Errorf("zone %s is not ready or running", d.name)
	}
	return ProcessesOf(ctx, d.name, zp, ZonePasswd(fmt.Sprintf("/proc/%d/root", zp)), true)
}

// processesOf lists every host process in the pid namespace of zone's
// zsched; zoneView gives their pids as the zone sees them instead of the
// host's.
func ProcessesOf(ctx context.Context, name string, zschedPid int, users map[int]string, zoneView bool) ([]api.Process, error) {
	want, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", zschedPid))
	if err != nil {
		return nil, fmt.Errorf("processes of %s: pid namespace of zsched: %w", name, err)
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("processes of %s: %w", name, err)
	}
	var out []api.Process
	nsOf := map[int]int{} // host pid -> zone pid, for the parents in zone view
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
		pr, ok := ReadProcess(pid, name, users)
		if !ok {
			continue
		}
		nsOf[pr.PID] = pr.NsPID
		out = append(out, pr)
	}
	if zoneView {
		// The zone sees its own pids, and no parent outside it (zsched's
		// parent is zoneadmd's, on the host).
		kept := out[:0]
		for _, pr := range out {
			if pr.PID = pr.NsPID; pr.PID == 0 {
				continue
			}
			pr.PPID = nsOf[pr.PPID]
			kept = append(kept, pr)
		}
		out = kept
	}
	return out, nil
}

// clockTicks is USER_HZ; Linux reports /proc times in it and it has been
// 100 on every architecture Go supports.
const clockTicks = 100

func ReadProcess(pid int, zone string, users map[int]string) (api.Process, bool) {
	pr := api.Process{PID: pid, Project: "-", Task: -1}
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
		pr.State = f[0]
		pr.PPID, _ = strconv.Atoi(f[1])
		pr.Start, _ = strconv.ParseUint(f[19], 10, 64)
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
			pr.NsPID, _ = strconv.Atoi(fs[len(fs)-1])
		}
	}
	if cg, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid)); err == nil {
		pr.Project, pr.Task = ProjectOf(string(cg), zone), TaskOf(string(cg), zone)
	}
	return pr, true
}

// projectOf is the project of a process of zone in its cgroup text, "-"
// for none.
func ProjectOf(cgroup, zone string) string {
	if z, p, _ := cgroups.Place(cgroup); z == zone && p != "" {
		return p
	}
	return "-"
}

// taskOf is the task of a process of zone in its cgroup text, -1 for none.
func TaskOf(cgroup, zone string) int {
	if z, _, t := cgroups.Place(cgroup); z == zone {
		return t
	}
	return -1
}

// zonePasswd maps uids to login names from the zone's own passwd file,
// read inside the zone's root so a link there cannot point zoneadmd or
// the console at a host file.
func ZonePasswd(zoneRoot string) map[int]string {
	m := map[int]string{}
	b, err := pathrs.ReadZoneFile(zoneRoot, "/etc/passwd", pathrs.ZoneDBMax)
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

// statusFields are the fields of the "key:" line of a /proc/PID/status
// text, nil when it has none.
func statusFields(status, key string) []string {
	for _, line := range strings.Split(status, "\n") {
		if v, ok := strings.CutPrefix(line, key+":"); ok {
			return strings.Fields(v)
		}
	}
	return nil
}
