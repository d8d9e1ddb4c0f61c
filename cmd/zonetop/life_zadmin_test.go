package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
	"zonetop/api"
	"zonetop/internal/audit"
)

// The zone administrator's tools, run inside a real zone with the zonetop
// binary the zone sees at /run/zonetop/zonetop: every change goes through
// the zone socket and shows in the host's project cgroups and the zone's
// own /etc/project.

// inZone runs the zone's zonetop as user ("" = root) and returns what it
// printed and its exit status.
func (l *lab) inZone(zone, user string, args ...string) (string, string, int) {
	l.t.Helper()
	argv := []string{"zlogin"}
	if user != "" {
		argv = append(argv, "-l", user)
	}
	argv = append(argv, zone, api.ZoneBinaryPath)
	return l.run(append(argv, args...)...)
}

// zonePidsDir is the zone's cgroup in the pids hierarchy (v1) or the
// unified one (v2).
func zonePidsDir(t *testing.T, zone string) string {
	t.Helper()
	for _, d := range zoneCgroups(zone) {
		if _, err := os.Stat(filepath.Join(d, "pids.max")); err == nil {
			return d
		}
	}
	t.Fatalf("zone %s: no pids cgroup", zone)
	return ""
}

func readTrim(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v", err)
	}
	return strings.TrimSpace(string(b))
}

// waitFile polls path until it holds want (zoneadmd applies hand edits
// after a short debounce).
func waitFile(t *testing.T, path, want string) {
	t.Helper()
	got := ""
	for i := 0; i < 200; i++ {
		b, err := os.ReadFile(path)
		if got = strings.TrimSpace(string(b)); err == nil && got == want {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s is %q, want %q", path, got, want)
}

func TestZoneAdminInZone(t *testing.T) {
	needZones(t)
	l := newLab(t)
	z := l.newZone("sparse", "set max-lwps=500")
	l.ok("zoneadm", "-z", z, "install")
	l.ok("zoneadm", "-z", z, "boot")
	cg := zonePidsDir(t, z)
	projFile := filepath.Join(l.zonepath(z), "root", "etc", "project")
	mustIn := func(user string, args ...string) (string, string) {
		t.Helper()
		out, errOut, code := l.inZone(z, user, args...)
		if code != 0 {
			t.Fatalf("in zone: zonetop %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
		}
		return out, errOut
	}

	// projadd: the file has the line; the host's cgroup, made when the
	// first process joins the project, the limit.
	mustIn("", "projadd", "-U", "nobody", "-K", "project.max-lwps=(privileged,7,deny)", "web")
	if _, err := os.Stat(filepath.Join(cg, "web")); !os.IsNotExist(err) {
		t.Errorf("web has a cgroup before any process joined it: %v", err)
	}
	mustIn("", "newtask", "-p", "web", "true")
	if got := readTrim(t, filepath.Join(cg, "web", "pids.max")); got != "7" {
		t.Errorf("web pids.max after projadd: %s", got)
	}
	if b, _ := os.ReadFile(projFile); !strings.Contains(string(b), "web:100::nobody::project.max-lwps=(privileged,7,deny)\n") {
		t.Errorf("/etc/project after projadd:\n%s", b)
	}
	// projmod -s changes it live.
	mustIn("", "projmod", "-s", "-K", "project.max-lwps=(privileged,9,deny)", "web")
	if got := readTrim(t, filepath.Join(cg, "web", "pids.max")); got != "9" {
		t.Errorf("web pids.max after projmod -s: %s", got)
	}
	// prctl on a project of the zone.
	mustIn("", "prctl", "-n", "project.max-lwps", "-v", "11", "-r", "-i", "project", "web")
	if got := readTrim(t, filepath.Join(cg, "web", "pids.max")); got != "11" {
		t.Errorf("web pids.max after prctl: %s", got)
	}
	if out, _ := mustIn("", "prctl", "-n", "project.max-lwps", "-i", "project", "web"); !strings.Contains(out, "project: 100: web") || !regexp.MustCompile(`privileged\s+11\s`).MatchString(out) {
		t.Errorf("prctl -i project web:\n%s", out)
	}
	// Above the zone's cap: accepted, and said to be capped by the zone.
	if _, errOut := mustIn("", "projadd", "-K", "project.max-lwps=(privileged,1000,deny)", "big"); !strings.Contains(errOut, "capped by zone") {
		t.Errorf("projadd above the zone cap: stderr %q", errOut)
	}
	// prctl shows a project that has no cgroup yet, nothing in use.
	if out, _ := mustIn("", "prctl", "-n", "project.max-lwps", "-i", "project", "big"); !strings.Contains(out, "project: 101: big") ||
		!strings.Contains(out, "1.00K") || !regexp.MustCompile(`(?m)^\s+usage\s+0$`).MatchString(out) {
		t.Errorf("prctl -i project big (no cgroup yet):\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(cg, "big")); !os.IsNotExist(err) {
		t.Errorf("big has a cgroup before any process joined it: %v", err)
	}

	// The zone cap is the global administrator's: refused, nothing changes.
	before := readTrim(t, filepath.Join(cg, "pids.max"))
	_, errOut, code := l.inZone(z, "", "prctl", "-n", "zone.max-lwps", "-v", "100000", "-r", "-i", "zone", z)
	if code != 1 || !strings.Contains(errOut, "permission denied: zone caps are set by the global administrator") {
		t.Errorf("raising the zone cap from inside: exit %d, %q", code, errOut)
	}
	if after := readTrim(t, filepath.Join(cg, "pids.max")); after != before || before != "500" {
		t.Errorf("zone pids.max %s → %s, want 500 unchanged", before, after)
	}

	// A user of the zone lists but cannot change.
	if out, _ := mustIn("nobody", "projects"); !strings.Contains(out, "web") || !strings.Contains(out, "big") {
		t.Errorf("projects as nobody: %q", out)
	}
	if _, errOut, code := l.inZone(z, "nobody", "projadd", "evil"); code != 1 || !strings.Contains(errOut, "permission denied") {
		t.Errorf("projadd as nobody: exit %d, %q", code, errOut)
	}
	if b, _ := os.ReadFile(projFile); strings.Contains(string(b), "evil") {
		t.Error("nobody's project was written")
	}

	// newtask: the command runs in a new task of the project; a project
	// that does not admit the user is refused.
	if out, _ := mustIn("nobody", "newtask", "-p", "web", "cat", "/proc/self/cgroup"); !strings.Contains(out, "/web/task.") {
		t.Errorf("newtask -p web: cgroups %q", out)
	}
	if _, errOut, code := l.inZone(z, "nobody", "newtask", "-p", "big", "true"); code != 1 || !strings.Contains(errOut, "not a member") {
		t.Errorf("newtask -p big as nobody: exit %d, %q", code, errOut)
	}

	// zonestat inside sees this zone only.
	out, _ := mustIn("", "zonestat", "-o", "json")
	var us []api.ZoneUsage
	if err := json.Unmarshal([]byte(out), &us); err != nil || len(us) != 1 || us[0].Zone != z {
		t.Errorf("zonestat -o json in the zone: %v %s", err, out)
	}
	if strings.Contains(out, l.root) {
		t.Errorf("zonestat shows host paths: %s", out)
	}

	// A hand edit applies live; a bad line is reported with file:line.
	l.zlogin(z, "sh", "-c", "echo 'hand:200::::project.max-lwps=(privileged,13,deny)' >> /etc/project; echo 'bad:line' >> /etc/project")
	// The project can be joined once the edit is applied; its cgroup
	// then has the limit.
	for i := 0; i < 100; i++ {
		if _, _, code := l.inZone(z, "", "newtask", "-p", "hand", "true"); code == 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	waitFile(t, filepath.Join(cg, "hand", "pids.max"), "13")
	consoleLog := filepath.Join(l.root, "var", "log", "zonetop", z+".console")
	var clog []byte
	for i := 0; i < 100; i++ {
		if clog, _ = os.ReadFile(consoleLog); strings.Contains(string(clog), "/etc/project:") {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(string(clog), "/etc/project:") {
		t.Errorf("bad line not reported on the console:\n%s", clog)
	}
	audit, _ := os.ReadFile(audit.AuditPath(l.root))
	if !strings.Contains(string(audit), `"what":"edit /etc/project"`) {
		t.Errorf("hand edit not audited:\n%s", audit)
	}
	// projmod refuses a file with bad lines, naming them.
	if _, errOut, code := l.inZone(z, "", "projdel", "web"); code != 1 || !strings.Contains(errOut, "/etc/project:") {
		t.Errorf("projdel with a bad line in the file: exit %d, %q", code, errOut)
	}
	// A rename over the file counts too.
	l.zlogin(z, "sh", "-c", "grep -v '^bad' /etc/project > /etc/project.new && mv /etc/project.new /etc/project")
	for i := 0; i < 100; i++ {
		if _, _, code := l.inZone(z, "", "projdel", "web"); code == 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if b, _ := os.ReadFile(projFile); strings.Contains(string(b), "web:") {
		t.Errorf("/etc/project after projdel:\n%s", b)
	}
	for i := 0; i < 100; i++ {
		if _, err := os.Stat(filepath.Join(cg, "web")); os.IsNotExist(err) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := os.Stat(filepath.Join(cg, "web")); err == nil {
		t.Error("web's cgroup left after projdel")
	}
	l.ok("zoneadm", "-z", z, "halt")
	l.checkGone(z)
}

// TestInittabProject: an inittab entry naming a project runs there, as a
// task of it, from the zone's first boot; one naming a project the zone
// lacks fails with newtask's message on the console and the rest boots.
func TestInittabProject(t *testing.T) {
	l := newLab(t)
	z := l.newZone("busybox")
	l.ok("zoneadm", "-z", z, "install")
	root := filepath.Join(l.zonepath(z), "root")
	proj := "system:0::::\ndefault:3::::\nbatch:100::::project.max-lwps=(privileged,40,deny)\n"
	if err := os.WriteFile(filepath.Join(root, "etc/project"), []byte(proj), 0o644); err != nil {
		t.Fatal(err)
	}
	tab, err := os.ReadFile(filepath.Join(root, "etc/inittab"))
	if err != nil {
		t.Fatal(err)
	}
	tab = append(tab, []byte("w1:project=batch:respawn:/bin/sleep 1001\nw2:project=nosuch:once:/bin/sleep 1002\n")...)
	if err := os.WriteFile(filepath.Join(root, "etc/inittab"), tab, 0o644); err != nil {
		t.Fatal(err)
	}
	l.ok("zoneadm", "-z", z, "boot")
	batch := filepath.Join(zonePidsDir(t, z), "batch")
	found := ""
	for i := 0; i < 200 && found == ""; i++ {
		ds, _ := filepath.Glob(filepath.Join(batch, "task.*"))
		for _, d := range ds {
			b, _ := os.ReadFile(filepath.Join(d, "cgroup.procs"))
			for _, pid := range strings.Fields(string(b)) {
				if c, _ := os.ReadFile("/proc/" + pid + "/cmdline"); strings.Contains(string(c), "1001") {
					found = d
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	if found == "" {
		t.Fatalf("the inittab entry for project batch is not in a task of %s", batch)
	}
	log := ""
	for i := 0; i < 100; i++ {
		b, _ := os.ReadFile(filepath.Join(l.root, "var/log/zonetop", z+".console"))
		if log = string(b); strings.Contains(log, `project "nosuch" is not in`) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(log, `project "nosuch" is not in`) {
		t.Errorf("the console does not say why the entry for project nosuch failed:\n%s", log)
	}
}
