package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestPrctlTaskAndProcess: prctl lists a process with every container
// above it (process → task → project → zone) and changes task and process
// controls live.
func TestPrctlTaskAndProcess(t *testing.T) {
	l := newLab(t)
	z := l.newZone("", "set max-lwps=60")
	l.ok("zoneadm", "-z", z, "install")
	l.ok("zoneadm", "-z", z, "boot")
	l.ok("projadd", "-z", z, "-K", "task.max-lwps=(privileged,8,deny)", "-K", "project.max-lwps=(privileged,30,deny)", "web")
	// A live change before web has a cgroup is the limit the cgroup is
	// made with.
	l.ok("prctl", "-n", "project.max-lwps", "-v", "28", "-r", "-i", "project", z+":web")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	nt := exec.CommandContext(ctx, ztBin, "--root", l.root, "newtask", "-z", z, "-p", "web", "sleep", "300")
	if err := nt.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = nt.Wait() }()
	defer cancel()

	web := filepath.Join(zonePidsDir(t, z), "web")
	var taskDir string
	var pid int
	deadline := time.Now().Add(20 * time.Second)
	for pid == 0 && time.Now().Before(deadline) {
		ds, _ := filepath.Glob(filepath.Join(web, "task.*"))
		for _, d := range ds {
			b, _ := os.ReadFile(filepath.Join(d, "cgroup.procs"))
			for _, f := range strings.Fields(string(b)) {
				if c, _ := os.ReadFile("/proc/" + f + "/comm"); strings.TrimSpace(string(c)) == "sleep" {
					taskDir, pid = d, atoi(t, f)
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	if pid == 0 {
		t.Fatalf("newtask's sleep never showed up in a task of %s", web)
	}
	task := strings.TrimPrefix(filepath.Base(taskDir), "task.")
	if got := readTrim(t, filepath.Join(web, "pids.max")); got != "28" {
		t.Errorf("web pids.max = %s, want 28 from the prctl before its cgroup was made", got)
	}
	if got := readTrim(t, filepath.Join(taskDir, "pids.max")); got != "8" {
		t.Errorf("task pids.max = %s, want the project's task.max-lwps 8", got)
	}

	out := l.ok("prctl", "-i", "task", z+":"+task)
	for _, want := range []string{"task: " + task + ": " + z, "task.max-lwps", "project: 100: web", "project.max-lwps", "zone: ", "zone.max-lwps"} {
		if !strings.Contains(out, want) {
			t.Errorf("prctl -i task lacks %q:\n%s", want, out)
		}
	}
	l.ok("prctl", "-n", "task.max-lwps", "-v", "12", "-r", "-i", "task", z+":"+task)
	if got := readTrim(t, filepath.Join(taskDir, "pids.max")); got != "12" {
		t.Errorf("after prctl -r task pids.max = %s, want 12", got)
	}
	l.fails(1, []string{"cannot be persisted", "projmod -K"}, "prctl", "-n", "task.max-lwps", "-v", "12", "-r", "--persist", "-i", "task", z+":"+task)
	// Inside the zone its administrator changes the task too; its other
	// users may not, and a task that is not there is named.
	if out, errOut, code := l.inZone(z, "", "prctl", "-n", "task.max-lwps", "-v", "10", "-r", "-i", "task", task); code != 0 {
		t.Errorf("in-zone prctl -r on task %s: exit %d\n%s%s", task, code, out, errOut)
	}
	if got := readTrim(t, filepath.Join(taskDir, "pids.max")); got != "10" {
		t.Errorf("after in-zone prctl -r task pids.max = %s, want 10", got)
	}
	if _, errOut, code := l.inZone(z, "nobody", "prctl", "-n", "task.max-lwps", "-v", "50", "-r", "-i", "task", task); code != 1 || !strings.Contains(errOut, "permission denied") {
		t.Errorf("in-zone prctl -r by nobody: exit %d %q, want a permission refusal", code, errOut)
	}
	if got := readTrim(t, filepath.Join(taskDir, "pids.max")); got != "10" {
		t.Errorf("after a refused prctl task pids.max = %s, want 10 still", got)
	}
	if _, errOut, code := l.inZone(z, "", "prctl", "-n", "task.max-lwps", "-v", "10", "-r", "-i", "task", "999"); code != 1 || !strings.Contains(errOut, "task 999 does not exist") {
		t.Errorf("in-zone prctl -r on task 999: exit %d %q", code, errOut)
	}
	l.fails(1, []string{"task 999 does not exist"}, "prctl", "-z", z, "-i", "task", "999")
	l.fails(1, []string{"want a task id"}, "prctl", "-i", "task", z+":x")

	spid := strconv.Itoa(pid)
	out = l.ok("prctl", "-i", "process", spid)
	var order []int
	for _, want := range []string{"process: " + spid + ": sleep", "task: " + task, "project: 100: web", "zone: "} {
		i := strings.Index(out, want)
		if i < 0 {
			t.Errorf("prctl -i process lacks %q:\n%s", want, out)
		}
		order = append(order, i)
	}
	for i := 1; i < len(order); i++ {
		if order[i] < order[i-1] {
			t.Errorf("prctl -i process: containers out of order (process, task, project, zone):\n%s", out)
		}
	}
	l.ok("prctl", "-n", "process.max-file-descriptor", "-v", "100", "-r", "-i", "process", spid)
	if lim := readTrim(t, "/proc/"+spid+"/limits"); !strings.Contains(strings.Join(strings.Fields(lim), " "), "Max open files 100 100") {
		t.Errorf("after prctl -r process.max-file-descriptor:\n%s", lim)
	}
	l.fails(1, []string{"is a process control"}, "prctl", "-n", "process.max-file-descriptor", "-v", "100", "-r", "-i", "zone", z)

	// Every change is in the audit log, with what it replaced.
	l.ok("prctl", "-n", "project.max-lwps", "-v", "25", "-r", "--persist", "-i", "project", z+":web")
	audit := l.ok("audit", "-z", z)
	for _, want := range []string{"edit /etc/project", "web:100::::task.max-lwps=(privileged,8,deny)",
		"set-rctl task.max-lwps task " + task, "set-task-rctl task.max-lwps task " + task, "set-rctl project.max-lwps project web (persist)", "(privileged,25,deny)"} {
		if !strings.Contains(audit, want) {
			t.Errorf("audit lacks %q:\n%s", want, audit)
		}
	}
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// prctl as an illumos administrator's scripts use it: -P is parseable
// output, a zone may be named by its ID, -t sets a basic value, and a
// misspelt control is an error rather than an empty table.
func TestPrctlIllumosHabits(t *testing.T) {
	l := newLab(t)
	z := l.newZone("", "set max-lwps=60")
	l.ok("zoneadm", "-z", z, "install")
	l.ok("zoneadm", "-z", z, "boot")
	id := ""
	for _, line := range strings.Split(l.ok("zoneadm", "-z", z, "list", "-p"), "\n") {
		if f := strings.Split(line, ":"); len(f) > 2 && f[1] == z {
			id = f[0]
		}
	}
	if id == "" || id == "-" {
		t.Fatalf("no zone ID for %s", z)
	}
	out := l.ok("prctl", "-P", "-n", "zone.max-lwps", "-i", "zone", id)
	if !strings.HasPrefix(out, "zone: "+id+": "+z+"\n") || !strings.Contains(out, "zone.max-lwps privileged 60 - deny -\n") ||
		!strings.Contains(out, "zone.max-lwps usage ") || !strings.Contains(out, "zone.max-lwps system ") {
		t.Errorf("prctl -P -i zone %s:\n%s", id, out)
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
		if f := strings.Fields(line); len(f) != 6 && !(len(f) == 3 && f[1] == "usage") {
			t.Errorf("prctl -P line %q: want NAME PRIVILEGE VALUE FLAG ACTION RECIPIENT", line)
		}
	}
	// -P no longer persists: the zone's configuration keeps 60.
	l.ok("prctl", "-n", "zone.max-lwps", "-v", "70", "-r", "-i", "zone", z)
	if cfg := l.ok("zonecfg", "-z", z, "export"); !strings.Contains(cfg, "limit=60") {
		t.Errorf("a live change without --persist reached the configuration:\n%s", cfg)
	}
	// -t reaches the value: a project control takes no basic value, and
	// says so once.
	l.ok("projadd", "-z", z, "web")
	if errOut := l.fails(1, []string{"project.max-lwps: basic values are not allowed"}, "prctl", "-n", "project.max-lwps", "-t", "basic", "-v", "20", "-r", "-i", "project", z+":web"); strings.Count(errOut, "project.max-lwps") != 1 {
		t.Errorf("the refusal repeats itself: %q", errOut)
	}
	l.fails(1, []string{"zone.max-lwp"}, "prctl", "-n", "zone.max-lwp", "-i", "zone", z)
	l.fails(1, []string{"system values"}, "prctl", "-n", "zone.max-lwps", "-t", "system", "-v", "5", "-r", "-i", "zone", z)
	l.fails(2, []string{"basic or privileged"}, "prctl", "-n", "zone.max-lwps", "-t", "root", "-v", "5", "-r", "-i", "zone", z)
	l.fails(1, []string{"zone ID 9999"}, "prctl", "-n", "zone.max-lwps", "-i", "zone", "9999")
}

// A limit set below what is in use says so, and what that means, instead
// of leaving the operator to meet "resource temporarily unavailable". A
// project's limit, so that the zone's own machinery (system project) is
// not what it starves.
func TestPrctlBelowUsageSaysSo(t *testing.T) {
	l := newLab(t)
	z := l.newZone("")
	l.ok("zoneadm", "-z", z, "install")
	l.ok("zoneadm", "-z", z, "boot")
	l.ok("projadd", "-z", z, "web")
	l.sleepTasks(z, "web", 3)
	for deadline := time.Now().Add(20 * time.Second); ; {
		out := l.ok("prctl", "-P", "-n", "project.max-lwps", "-i", "project", z+":web")
		if strings.Contains(out, "project.max-lwps usage 3") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("three sleeps never counted in web:\n%s", out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	_, errOut, code := l.run("prctl", "-n", "project.max-lwps", "-v", "1", "-r", "-i", "project", z+":web")
	if code != 0 || !strings.Contains(errOut, "project.max-lwps is now 1, below the 3 in use") || !strings.Contains(errOut, "more is refused") {
		t.Errorf("prctl below usage: exit %d %q", code, errOut)
	}
	_, errOut, _ = l.run("prctl", "-n", "project.max-lwps", "-v", "60", "-r", "-i", "project", z+":web")
	if strings.Contains(errOut, "note") {
		t.Errorf("a limit above usage got a note: %q", errOut)
	}
}

// max-lwps alone is max-lwps alone (illumos stores only what was set), so
// a live raise reaches pids.max; where max-processes is set lower too,
// prctl says which control holds pids.max instead of a silent exit 0.
func TestPrctlMaxLwpsTwin(t *testing.T) {
	l := newLab(t)
	z := l.newZone("", "set max-lwps=50")
	l.ok("zoneadm", "-z", z, "install")
	l.ok("zoneadm", "-z", z, "boot")
	if cfg := l.ok("zonecfg", "-z", z, "export"); strings.Contains(cfg, "max-processes") {
		t.Errorf("set max-lwps stored max-processes too:\n%s", cfg)
	}
	_, errOut, code := l.run("prctl", "-n", "zone.max-lwps", "-v", "100", "-r", "-i", "zone", z)
	if code != 0 || strings.Contains(errOut, "note") {
		t.Errorf("raise max-lwps: exit %d %q", code, errOut)
	}
	if got := readTrim(t, filepath.Join(zonePidsDir(t, z), "pids.max")); got != "100" {
		t.Errorf("pids.max = %s after prctl -r zone.max-lwps 100, want 100", got)
	}
	l.ok("prctl", "-n", "zone.max-processes", "-v", "60", "-r", "-i", "zone", z)
	_, errOut, code = l.run("prctl", "-n", "zone.max-lwps", "-v", "200", "-r", "-i", "zone", z)
	if code != 0 || !strings.Contains(errOut, "pids.max stays 60: zone.max-processes=60 holds it") {
		t.Errorf("raise max-lwps above max-processes: exit %d %q", code, errOut)
	}
	if got := readTrim(t, filepath.Join(zonePidsDir(t, z), "pids.max")); got != "60" {
		t.Errorf("pids.max = %s, want 60 (the lower of the two)", got)
	}
}

// project.max-tasks holds: Linux has no task, so zonetop counts them, and
// a refused newtask names the control. A task that ends makes room. held:
// a process.* control makes every command of web start held and be moved
// into its task after its runtime started, as every command is on cgroup
// v2, so a v1 host checks that way too.
func TestProjectMaxTasks(t *testing.T) {
	for _, held := range []bool{false, true} {
		t.Run(map[bool]string{false: "direct", true: "held"}[held], func(t *testing.T) {
			projectMaxTasks(t, held)
		})
	}
}

func projectMaxTasks(t *testing.T, held bool) {
	l := newLab(t)
	z := l.newZone("")
	l.ok("zoneadm", "-z", z, "install")
	l.ok("zoneadm", "-z", z, "boot")
	args := []string{"projadd", "-z", z, "-K", "project.max-tasks=(privileged,2,deny)"}
	if held {
		args = append(args, "-K", "process.max-file-descriptor=(privileged,4096,deny)")
	}
	l.ok(append(args, "web")...)
	l.sleepTasks(z, "web", 2)
	// Both are tasks once each of web's two task cgroups holds its
	// sleep. The cgroup comes first: on cgroup v2 a command starts held
	// and is moved in after its runtime started, so an empty task's
	// cgroup (which counts) is no sleep to kill yet.
	deadline := time.Now().Add(20 * time.Second)
	var sleeps []int
	for {
		ds, _ := filepath.Glob(filepath.Join(zonePidsDir(t, z), "web", "task.*"))
		sleeps = sleeps[:0]
		for _, d := range ds {
			b, _ := os.ReadFile(filepath.Join(d, "cgroup.procs"))
			for _, f := range strings.Fields(string(b)) {
				if pid := atoi(t, f); pid > 0 && commOf(pid) == "sleep" {
					sleeps = append(sleeps, pid)
				}
			}
		}
		if len(ds) == 2 && len(sleeps) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("two tasks of web, each running its sleep, never showed: %v, sleeps %v", ds, sleeps)
		}
		time.Sleep(100 * time.Millisecond)
	}
	l.fails(1, []string{"project.max-tasks is 2"}, "newtask", "-z", z, "-p", "web", "true")
	// One ends (its sleep is killed; only the sleep: a v1 cgroup.procs
	// also lists zsched while its forking thread starts a task's command
	// there, and killing it ended the zone); the next task may start.
	_ = syscall.Kill(sleeps[0], syscall.SIGKILL)
	deadline = time.Now().Add(20 * time.Second)
	for {
		_, errOut, code := l.run("newtask", "-z", z, "-p", "web", "true")
		if code == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no new task after one ended: %q", errOut)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// commOf is pid's command name, "" when it is gone.
func commOf(pid int) string {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	return strings.TrimSpace(string(b))
}

// task.max-cpu-time bites: a busy task past its CPU time gets the
// control's signal (KILL here), as the catalogue says it does.
func TestTaskMaxCPUTime(t *testing.T) {
	l := newLab(t)
	z := l.newZone("")
	l.ok("zoneadm", "-z", z, "install")
	l.ok("zoneadm", "-z", z, "boot")
	l.ok("projadd", "-z", z, "-K", "task.max-cpu-time=(privileged,1,signal=KILL)", "cpu")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	start := time.Now()
	out, err := exec.CommandContext(ctx, ztBin, "--root", l.root, "newtask", "-z", z, "-p", "cpu",
		"sh", "-c", "while :; do :; done").CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("the busy task ran %s untouched", time.Since(start).Round(time.Second))
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 128+9 {
		t.Errorf("busy task ended with %v (%s), want SIGKILL's 137", err, out)
	}
	if log, _ := os.ReadFile(filepath.Join(l.root, "var/log/zonetop", z+".zoneadmd.log")); !strings.Contains(string(log), "task.max-cpu-time 1s passed") {
		t.Errorf("zoneadmd's log does not say why:\n%s", log)
	}
}

// The IPC check's running totals reach both administrators: prctl shows
// usage beside a zone's and a project's IPC controls, zonestat per zone
// and per project, as text and as JSON.
func TestIPCTotalsShown(t *testing.T) {
	if _, err := os.Stat("/usr/bin/ipcmk"); err != nil {
		t.Skip("no ipcmk (util-linux) for the sparse zone to use")
	}
	l := newLab(t)
	z := l.newZone("", "set max-shm-memory=1m")
	l.ok("zoneadm", "-z", z, "install")
	l.ok("zoneadm", "-z", z, "boot")
	l.ok("projadd", "-z", z, "-K", "project.max-shm-memory=(privileged,512K,deny)", "web")
	l.ok("newtask", "-z", z, "-p", "web", "ipcmk", "-M", "8192")
	out := l.ok("prctl", "-P", "-n", "project.max-shm-memory", "-i", "project", z+":web")
	if !strings.Contains(out, "project.max-shm-memory usage 8192") {
		t.Errorf("prctl shows no IPC usage for the project:\n%s", out)
	}
	out = l.ok("prctl", "-P", "-n", "zone.max-shm-memory", "-i", "zone", z)
	if !strings.Contains(out, "zone.max-shm-memory usage 8192") {
		t.Errorf("prctl shows no IPC usage for the zone:\n%s", out)
	}
	out = l.ok("zonestat", "-z", z)
	if !strings.Contains(out, "SHM/CAP") || !strings.Contains(out, "8.00KB/1.00MB") || !strings.Contains(out, "8.00KB/512KB") || !strings.Contains(out, "1/128") {
		t.Errorf("zonestat lacks the IPC totals:\n%s", out)
	}
	out = l.ok("zonestat", "-z", z, "-o", "json")
	if !strings.Contains(out, `"Name":"zone.max-shm-ids","Usage":1`) {
		t.Errorf("zonestat -o json lacks the IPC totals:\n%s", out)
	}
}

// sleepTasks starts n host-side `newtask -p project sleep 300`, each a
// task of the project in the zone, ended (front end and task) when the
// test ends.
func (l *lab) sleepTasks(z, project string, n int) {
	l.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var running []*exec.Cmd
	l.t.Cleanup(func() {
		cancel()
		for _, nt := range running {
			_ = nt.Wait()
		}
	})
	for i := 0; i < n; i++ {
		nt := exec.CommandContext(ctx, ztBin, "--root", l.root, "newtask", "-z", z, "-p", project, "sleep", "300")
		if err := nt.Start(); err != nil {
			l.t.Fatal(err)
		}
		running = append(running, nt)
	}
}
