package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// projectCgroupDir is the directory of the cgroup that holds pids.max
// for a process whose /proc/PID/cgroup text is cgroup: its pids
// hierarchy's on a v1 host, its unified one's on a v2 host. It returns
// the path relative to the hierarchy too.
func projectCgroupDir(cgroup string) (dir, rel string) {
	v1 := false
	if _, err := os.Stat("/sys/fs/cgroup/pids"); err == nil {
		v1 = true
	}
	for _, line := range strings.Split(cgroup, "\n") {
		f := strings.SplitN(strings.TrimSpace(line), ":", 3)
		if len(f) != 3 {
			continue
		}
		switch {
		case v1 && strings.Contains(","+f[1]+",", ",pids,"):
			return filepath.Join("/sys/fs/cgroup/pids", f[2]), f[2]
		case !v1 && f[0] == "0" && f[1] == "":
			return filepath.Join("/sys/fs/cgroup", f[2]), f[2]
		}
	}
	return "", ""
}

// forkBomb is what the tests run in a global-zone project: it shows its
// cgroup and rlimit, then starts sleeps until a fork is refused
// (busybox's shell stops at the first); the sleeps it made stay.
const forkBomb = `cat /proc/self/cgroup; echo nofile=$(ulimit -n); i=0; while [ $i -lt 40 ]; do sleep 120 </dev/null >/dev/null 2>&1 & i=$((i+1)); done`

// killProject kills, by pid, every process of the project cgroup dir
// and waits until it is empty.
func killProject(t *testing.T, dir string) {
	t.Helper()
	for i := 0; i < 250; i++ {
		b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
		if err != nil || strings.TrimSpace(string(b)) == "" {
			return
		}
		for _, f := range strings.Fields(string(b)) {
			if pid := atoi(t, f); pid > 1 {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Errorf("project cgroup %s still holds processes", dir)
}

// checkHeld checks that a fork bomb's project cgroup dir holds it to a
// max-lwps of 5 and that prctl shows the project's usage.
func checkHeld(t *testing.T, l *lab, proj, dir string) {
	t.Helper()
	if got := readTrim(t, filepath.Join(dir, "pids.max")); got != "5" {
		t.Errorf("project pids.max %s, want 5", got)
	}
	n := atoi(t, readTrim(t, filepath.Join(dir, "pids.current")))
	if n > 5 || n < 3 {
		t.Errorf("a fork bomb in a project of max-lwps 5 left %d tasks", n)
	}
	// The global administrator sees what the project uses against its
	// limit, as for a zone's project.
	n = atoi(t, readTrim(t, filepath.Join(dir, "pids.current")))
	out := l.ok("prctl", "-P", "-n", "project.max-lwps", "-i", "project", "global:"+proj)
	if want := fmt.Sprintf("project.max-lwps usage %d", n); !strings.Contains(out, want) {
		t.Errorf("prctl -i project global:%s:\n%s\nwant %q", proj, out, want)
	}
}

// The global zone's projects hold host processes to their limits:
// projadd -z global stores them, newtask -z global places a host
// command in the project's cgroup below zonetop's own cgroup parent
// (never a root cgroup of the host) with its rlimits, a fork bomb there
// stops at project.max-lwps, projmod changes the limit at once, and an
// empty project's cgroup is swept.
func TestGlobalProjectLimits(t *testing.T) {
	l := newLab(t)
	proj := "zqgp" + l.tag
	// The lab's root prefix is its host: a host has an /etc.
	if err := os.MkdirAll(filepath.Join(l.root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	l.ok("projadd", "-z", "global", "-K", "project.max-lwps=(privileged,5,deny)", "-K", "process.max-file-descriptor=(privileged,100,deny)", proj)
	// Other habits: a project the host does not have, a zone user's -l.
	l.fails(1, []string{"zqnone", "not in the global zone's /etc/project"}, "newtask", "-z", "global", "-p", "zqnone", "true")
	l.fails(2, []string{"-l"}, "newtask", "-z", "global", "-p", proj, "-l", "nobody", "true")

	// The attacker: a fork bomb started in the project.
	out, _, _ := l.run("newtask", "-z", "global", "-p", proj, "/bin/busybox", "sh", "-c", forkBomb)
	dir, cg := projectCgroupDir(out)
	if !strings.Contains(out, "nofile=100") {
		t.Errorf("the command's rlimit: %q, want nofile=100", out)
	}
	if !strings.HasSuffix(cg, "/"+proj) || !strings.Contains(cg, "/zonetop/_global.") {
		t.Fatalf("the command ran in cgroup %q, want zonetop/_global.HASH/%s", cg, proj)
	}
	defer killProject(t, dir)
	checkHeld(t, l, proj, dir)
	// A live change reaches the project's cgroup at once.
	l.ok("projmod", "-z", "global", "-s", "-K", "project.max-lwps=(privileged,8,deny)", proj)
	if got := readTrim(t, filepath.Join(dir, "pids.max")); got != "8" {
		t.Errorf("after projmod pids.max %s, want 8", got)
	}
	l.ok("prctl", "-n", "project.max-lwps", "-v", "7", "-r", "-i", "project", "global:"+proj)
	if got := readTrim(t, filepath.Join(dir, "pids.max")); got != "7" {
		t.Errorf("after prctl pids.max %s, want 7", got)
	}
	killProject(t, dir)
	// Empty, it goes at the next edit.
	l.ok("projmod", "-z", "global", "-s", "-K", "project.max-lwps=(privileged,6,deny)", proj)
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("the empty project's cgroup %s stays (%v)", dir, err)
	}
}

// The attacker is a host user outside the project: newtask refuses to
// place them in it (they would take its limits' share), and a project
// deleted while its tasks run keeps holding them: projdel takes away
// the name, never the limit, and the cgroup goes once they are gone.
func TestGlobalProjectMemberAndDelete(t *testing.T) {
	l := newLab(t)
	proj := "zqgm" + l.tag
	if err := os.MkdirAll(filepath.Join(l.root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	l.ok("projadd", "-z", "global", "-U", "root", "-K", "project.max-lwps=(privileged,5,deny)", proj)

	// nobody (not in the project's users or groups) runs newtask; the
	// root prefix must be readable to it for the answer to be about
	// membership.
	if err := os.Chmod(l.root, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(l.root, "zonetop")
	if b, err := os.ReadFile(ztBin); err != nil || os.WriteFile(bin, b, 0o755) != nil {
		t.Fatalf("copy %s for nobody: %v", ztBin, err)
	}
	cmd := exec.Command(bin, "--root", l.root, "newtask", "-z", "global", "-p", proj, "/bin/true")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	b, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(string(b), "not a member of project "+proj) {
		t.Errorf("newtask as nobody into %s: %v: %s; want exit 1, not a member", proj, err, b)
	}

	out, _, _ := l.run("newtask", "-z", "global", "-p", proj, "/bin/busybox", "sh", "-c", forkBomb)
	dir, cg := projectCgroupDir(out)
	if !strings.HasSuffix(cg, "/"+proj) {
		t.Fatalf("the command ran in cgroup %q, want one of project %s", cg, proj)
	}
	defer killProject(t, dir)
	l.ok("projdel", "-z", "global", proj)
	l.fails(1, []string{proj, "not in the global zone's /etc/project"}, "newtask", "-z", "global", "-p", proj, "true")
	// Its tasks stay held: the cgroup and its limit stay while they run.
	if got := readTrim(t, filepath.Join(dir, "pids.max")); got != "5" {
		t.Errorf("after projdel pids.max %s, want 5 while its tasks run", got)
	}
	killProject(t, dir)
	// Gone and empty, the next edit of the host's projects sweeps it.
	l.ok("projadd", "-z", "global", "zqgo"+l.tag)
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("the deleted, empty project's cgroup %s stays (%v)", dir, err)
	}
}

// systemdV2Host tells whether systemd is PID 1 on a cgroup v2 host (the
// v2 ring), where a newtask's own cgroup is systemd's unit's.
func systemdV2Host() bool {
	if st, err := os.Stat("/run/systemd/system"); err != nil || !st.IsDir() {
		return false
	}
	var fs syscall.Statfs_t
	return syscall.Statfs("/sys/fs/cgroup", &fs) == nil && fs.Type == 0x63677270
}

// On a systemd cgroup v2 host, newtask -z global run from where an
// operator runs it — a login session's scope, a Delegate=yes service —
// sits in a cgroup systemd owns, where zonetop may make nothing. The
// project's cgroup is then in zonetop's own delegated scope, the
// command held there to the project's limits whoever started it, and
// the scope goes once the project's last task is gone.
func TestGlobalProjectSystemdContexts(t *testing.T) {
	l := newLab(t)
	if !systemdV2Host() {
		t.Skip("needs systemd as PID 1 on a cgroup v2 host (the v2 ring)")
	}
	if err := os.MkdirAll(filepath.Join(l.root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(l.root, "newtask.sh")
	for _, ctx := range []string{"service", "login"} {
		t.Run(ctx, func(t *testing.T) {
			proj := "zqgs" + ctx[:1] + l.tag
			l.ok("projadd", "-z", "global", "-K", "project.max-lwps=(privileged,5,deny)", "-K", "process.max-file-descriptor=(privileged,100,deny)", proj)
			body := fmt.Sprintf("#!/bin/sh\necho from=$(awk -F: '$1 == \"0\" { print $3 }' /proc/self/cgroup)\nexec %s --root %s newtask -z global -p %s /bin/busybox sh -c '%s'\n", ztBin, l.root, proj, forkBomb)
			if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
				t.Fatal(err)
			}
			var cmd *exec.Cmd
			switch ctx {
			case "service":
				cmd = exec.Command("systemd-run", "--quiet", "--wait", "--pipe", "--collect", "-p", "Delegate=yes", script)
			case "login":
				cmd = exec.Command("su", "-l", "root", "-c", script)
			}
			// The bomb's shell ends with the fork refused (status 2).
			b, err := cmd.CombinedOutput()
			out := string(b)
			if _, ok := err.(*exec.ExitError); err != nil && !ok {
				t.Fatalf("newtask from a %s: %v\n%s", ctx, err, out)
			}
			from := ""
			for _, line := range strings.Split(out, "\n") {
				if v, ok := strings.CutPrefix(line, "from="); ok {
					from = v
				}
			}
			switch {
			case ctx == "service" && !strings.HasPrefix(from, "/system.slice/"):
				t.Errorf("the service's newtask ran in %q, not a service", from)
			case ctx == "login" && !strings.Contains(from, "/session-"):
				t.Errorf("the login's newtask ran in %q, not a session scope", from)
			}
			dir, cg := projectCgroupDir(out)
			if !strings.HasPrefix(cg, "/zonetop.slice/zonetop-global-") || !strings.HasSuffix(cg, "/"+proj) {
				t.Fatalf("from %s the command ran in cgroup %q, want zonetop.slice/zonetop-global-HASH.scope/…/%s\n%s", from, cg, proj, out)
			}
			if !strings.Contains(out, "nofile=100") {
				t.Errorf("the command's rlimit: %q, want nofile=100", out)
			}
			defer killProject(t, dir)
			checkHeld(t, l, proj, dir)
			scope := strings.Split(cg, "/")[2]
			killProject(t, dir)
			// Nothing is left of the project once its tasks are gone: no
			// scope in systemd, no cgroup.
			gone := false
			for i := 0; i < 1000 && !gone; i++ {
				b, _ := exec.Command("systemctl", "list-units", "--all", "--plain", "--no-legend", scope).Output()
				_, err := os.Stat(filepath.Join("/sys/fs/cgroup/zonetop.slice", scope))
				gone = strings.TrimSpace(string(b)) == "" && os.IsNotExist(err)
				time.Sleep(20 * time.Millisecond)
			}
			if !gone {
				t.Errorf("scope %s stays after its last task", scope)
			}
		})
	}
}

// The race: tasks of one project start and end while edits of the
// host's projects sweep its cgroup whenever it is empty. A newtask whose
// fresh cgroup is swept before it joins makes it again: none fails, and
// each command runs in the project.
func TestGlobalProjectJoinSweepRace(t *testing.T) {
	l := newLab(t)
	proj := "zqgr" + l.tag
	if err := os.MkdirAll(filepath.Join(l.root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	// A newtask is a Go process of a dozen threads until it executes,
	// and each counts against max-lwps: the limit leaves room for them.
	l.ok("projadd", "-z", "global", "-K", "project.max-lwps=(privileged,500,deny)", proj)
	stop := make(chan struct{})
	swept := make(chan int)
	go func() {
		n := 0
		defer func() { swept <- n }()
		for {
			select {
			case <-stop:
				return
			default:
			}
			v := 200 + n%10
			cmd := exec.Command(ztBin, "--root", l.root, "projmod", "-z", "global", "-s", "-K", fmt.Sprintf("project.max-lwps=(privileged,%d,deny)", v), proj)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("projmod: %v: %s", err, out)
				return
			}
			n++
		}
	}()
	errs := make(chan string, 64)
	for w := 0; w < 4; w++ {
		go func() {
			for i := 0; i < 8; i++ {
				cmd := exec.Command(ztBin, "--root", l.root, "newtask", "-z", "global", "-p", proj, "/bin/cat", "/proc/self/cgroup")
				out, err := cmd.CombinedOutput()
				_, cg := projectCgroupDir(string(out))
				switch {
				case err != nil:
					errs <- fmt.Sprintf("newtask: %v: %s", err, out)
				case !strings.HasSuffix(cg, "/"+proj):
					errs <- fmt.Sprintf("newtask ran in %q, not project %s", cg, proj)
				default:
					errs <- ""
				}
			}
		}()
	}
	for i := 0; i < 32; i++ {
		if e := <-errs; e != "" {
			t.Error(e)
		}
	}
	close(stop)
	t.Logf("32 tasks joined during %d sweeping edits", <-swept)
}
