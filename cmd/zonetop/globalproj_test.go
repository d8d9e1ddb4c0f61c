package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// pidsCgroupOf is the pids line's cgroup in a /proc/PID/cgroup text.
func pidsCgroupOf(cgroup string) string {
	for _, line := range strings.Split(cgroup, "\n") {
		f := strings.SplitN(line, ":", 3)
		if len(f) == 3 && (f[1] == "pids" || strings.Contains(","+f[1]+",", ",pids,")) {
			return f[2]
		}
	}
	return ""
}

// The global zone's projects hold host processes to their limits:
// projadd -z global stores them, newtask -z global places a host
// command in the project's cgroup below zonetop's own cgroup parent
// (never a root cgroup of the host) with its rlimits, a fork bomb there
// stops at project.max-lwps, projmod changes the limit at once, and an
// empty project's cgroup is swept.
func TestGlobalProjectLimits(t *testing.T) {
	l := newLab(t)
	if _, err := os.Stat("/sys/fs/cgroup/pids"); err != nil {
		t.Skip("this test reads the v1 pids hierarchy")
	}
	proj := "zqgp" + l.tag
	// The lab's root prefix is its host: a host has an /etc.
	if err := os.MkdirAll(filepath.Join(l.root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	l.ok("projadd", "-z", "global", "-K", "project.max-lwps=(privileged,5,deny)", "-K", "process.max-file-descriptor=(privileged,100,deny)", proj)
	// Other habits: a project the host does not have, a zone user's -l.
	l.fails(1, []string{"zqnone", "not in the global zone's /etc/project"}, "newtask", "-z", "global", "-p", "zqnone", "true")
	l.fails(2, []string{"-l"}, "newtask", "-z", "global", "-p", proj, "-l", "nobody", "true")

	// The attacker: a fork bomb started in the project. busybox's shell
	// stops at the first fork refused; the sleeps it made stay.
	out, _, _ := l.run("newtask", "-z", "global", "-p", proj, "/bin/busybox", "sh", "-c",
		`cat /proc/self/cgroup; echo nofile=$(ulimit -n); i=0; while [ $i -lt 40 ]; do sleep 120 </dev/null >/dev/null 2>&1 & i=$((i+1)); done`)
	cg := pidsCgroupOf(out)
	if !strings.Contains(out, "nofile=100") {
		t.Errorf("the command's rlimit: %q, want nofile=100", out)
	}
	if !strings.HasSuffix(cg, "/"+proj) || !strings.Contains(cg, "/zonetop/_global.") {
		t.Fatalf("the command ran in pids cgroup %q, want zonetop/_global.HASH/%s below this test's cgroup", cg, proj)
	}
	dir := filepath.Join("/sys/fs/cgroup/pids", cg)
	defer func() {
		b, _ := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
		for _, f := range strings.Fields(string(b)) {
			if pid := atoi(t, f); pid > 1 {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}()
	if got := readTrim(t, filepath.Join(dir, "pids.max")); got != "5" {
		t.Errorf("project pids.max %s, want 5", got)
	}
	n := atoi(t, readTrim(t, filepath.Join(dir, "pids.current")))
	if n > 5 || n < 3 {
		t.Errorf("a fork bomb in a project of max-lwps 5 left %d tasks", n)
	}
	// A live change reaches the project's cgroup at once.
	l.ok("projmod", "-z", "global", "-s", "-K", "project.max-lwps=(privileged,8,deny)", proj)
	if got := readTrim(t, filepath.Join(dir, "pids.max")); got != "8" {
		t.Errorf("after projmod pids.max %s, want 8", got)
	}
	l.ok("prctl", "-n", "project.max-lwps", "-v", "7", "-r", "-i", "project", "global:"+proj)
	if got := readTrim(t, filepath.Join(dir, "pids.max")); got != "7" {
		t.Errorf("after prctl pids.max %s, want 7", got)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	for _, f := range strings.Fields(string(b)) {
		_ = syscall.Kill(atoi(t, f), syscall.SIGKILL)
	}
	for i := 0; i < 200 && readTrim(t, filepath.Join(dir, "pids.current")) != "0"; i++ {
		time.Sleep(20 * time.Millisecond)
	}
	// Empty, it goes at the next edit.
	l.ok("projmod", "-z", "global", "-s", "-K", "project.max-lwps=(privileged,6,deny)", proj)
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("the empty project's cgroup %s stays (%v)", dir, err)
	}
}
