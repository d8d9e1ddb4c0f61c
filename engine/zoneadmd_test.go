package engine

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"zonetop/api"
	"zonetop/internal/configs"
	"zonetop/internal/wire"
	"zonetop/internal/zoneadmd"
	"zonetop/internal/ztest"
)

// waitFor polls cond until it holds; the deadline only bounds a broken
// run, it asserts no timing.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for i := 0; i < 600; i++ {
		if cond() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("gave up waiting for %s", what)
}

func TestZoneBootInittabShutdown(t *testing.T) {
	z := newBusyboxZone(t)
	inittab := `# test inittab
::sysinit:/bin/echo sysinit > /tmp/sysinit
::wait:/bin/echo waited > /tmp/wait
::once:/bin/echo "once $(cat /tmp/sysinit)" > /tmp/once
::respawn:/bin/sh -c 'echo run >> /tmp/respawn; exec sleep 0'
::askfirst:-/bin/sh
::shutdown:/bin/echo bye > /tmp/shutdown
this line is wrong
::sysinit:/usr/bin/env > /tmp/env
`
	ztest.Must(t, os.WriteFile(filepath.Join(z.zroot(), "etc/inittab"), []byte(inittab), 0o644))
	z.ready()
	st, err := zoneadmd.Boot(z.root, z.spec.Name, []string{"-v"})
	if err != nil {
		t.Fatalf("boot: %v", err)
	}
	if st.State != "running" || st.InitPid <= 0 {
		t.Fatalf("boot: status %+v", st)
	}
	tmp := filepath.Join(z.zroot(), "tmp")
	waitFor(t, "the once entry", func() bool {
		b, _ := os.ReadFile(filepath.Join(tmp, "once"))
		return string(b) == "once sysinit\n"
	})
	if b, _ := os.ReadFile(filepath.Join(tmp, "wait")); string(b) != "waited\n" {
		t.Errorf("wait entry: %q", b)
	}
	// zsched runs with one P (platform.OneProcEnv); the zone's own
	// programs (a Go service among them) must not inherit that.
	if b, err := os.ReadFile(filepath.Join(tmp, "env")); err != nil || !strings.Contains(string(b), "RUNLEVEL=S") || strings.Contains(string(b), "GOMAXPROCS") {
		t.Errorf("an inittab entry's environment: %q %v", b, err)
	}
	waitFor(t, "the respawn entry to run three times", func() bool {
		b, _ := os.ReadFile(filepath.Join(tmp, "respawn"))
		return strings.Count(string(b), "run") >= 3
	})
	// The init is the zone's, sealed like zsched.
	z.mustFail("write init's exe", "for p in /proc/[0-9]*; do echo x >> $p/exe && exit 0; done; exit 1")
	if _, err := zoneadmd.Boot(z.root, z.spec.Name, nil); err == nil {
		t.Errorf("boot of a running zone succeeded")
	}
	st2, err := zoneadmd.Status(z.root, z.spec.Name)
	if err != nil || st2.State != "running" || st2.ZoneID != st.ZoneID {
		t.Errorf("status: %+v %v", st2, err)
	}
	hst, err := zoneadmd.Shutdown(z.root, z.spec.Name, 20*time.Second)
	if err != nil || hst.State != "installed" {
		t.Fatalf("shutdown: %+v %v", hst, err)
	}
	if b, _ := os.ReadFile(filepath.Join(tmp, "shutdown")); string(b) != "bye\n" {
		t.Errorf("shutdown entry did not run: %q", b)
	}
	z.assertGone(st)
	logb, _ := os.ReadFile(filepath.Join(configs.LogDir(z.root), z.spec.Name+".console"))
	for _, want := range []string{"boot arguments: -v", "line 8", "askfirst"} {
		if !bytes.Contains(logb, []byte(want)) {
			t.Errorf("console log lacks %q:\n%s", want, logb)
		}
	}
}

func TestZoneAdoptAfterZoneadmdKilled(t *testing.T) {
	z := newBusyboxZone(t)
	ztest.Must(t, os.WriteFile(filepath.Join(z.zroot(), "etc/inittab"), []byte("::respawn:/bin/sleep 1000\n"), 0o644))
	z.ready()
	st, err := zoneadmd.Boot(z.root, z.spec.Name, nil)
	if err != nil {
		t.Fatal(err)
	}
	// A task whose process outlives the zlogin that made it.
	var out, errb bytes.Buffer
	code, err := zoneadmd.Exec(z.root, z.spec.Name, api.ExecRequest{Argv: []string{"sh", "-c", "sleep 1000 >/dev/null 2>&1 </dev/null & echo $!"}, NewTask: true}, nil, &out, &errb)
	if err != nil || code != 0 {
		t.Fatalf("newtask: exit %d %v: %s", code, err, errb.String())
	}
	taskOf := func() (api.TaskUsage, bool) {
		for _, tu := range z.usage().Tasks {
			if tu.Procs > 0 {
				return tu, true
			}
		}
		return api.TaskUsage{}, false
	}
	task, ok := taskOf()
	if !ok {
		t.Fatalf("no running task before zoneadmd is killed: %+v", z.usage().Tasks)
	}
	pidb, err := os.ReadFile(filepath.Join(configs.RunDir(z.root, z.spec.Name), "zoneadmd.pid"))
	ztest.Must(t, err)
	pid, _ := strconv.Atoi(strings.TrimSpace(string(pidb)))
	ztest.Must(t, syscall.Kill(pid, syscall.SIGKILL))
	waitFor(t, "zoneadmd to die", func() bool { return !zoneadmd.ZoneadmdRunning(z.root, z.spec.Name) })
	if err := syscall.Kill(st.ZschedPid, 0); err != nil {
		t.Fatalf("zsched died with zoneadmd: %v", err)
	}
	if !zoneadmd.RuntimePresent(z.root, z.spec.Name) {
		t.Fatal("runtime state gone with zoneadmd")
	}
	st2, err := zoneadmd.Status(z.root, z.spec.Name)
	if err != nil || st2.State != "running" || st2.ZschedPid != st.ZschedPid || st2.ZoneID != st.ZoneID {
		t.Fatalf("status after adoption: %+v %v (before %+v)", st2, err, st)
	}
	if got := strings.TrimSpace(z.sh("hostname")); got != z.spec.Name {
		t.Errorf("exec after adoption: hostname %q", got)
	}
	// The new zoneadmd found the project cgroups made before (init is
	// in default's) and left the unused projects without one.
	busy := false
	for _, p := range z.usage().Projects {
		busy = busy || (p.Name == "default" && p.Procs > 0)
	}
	if !busy {
		t.Errorf("usage after adoption: init not seen in project default: %+v", z.usage().Projects)
	}
	if ds := z.projectDirs("noproject", "group.staff"); len(ds) > 0 {
		t.Errorf("adoption made cgroups for unused projects: %v", ds)
	}
	// ... and the task made before, which prctl -i task can still reach.
	if got, ok := taskOf(); !ok || got.ID != task.ID || got.Project != task.Project {
		t.Errorf("task after adoption: %+v (%v), want task %d of %s", got, ok, task.ID, task.Project)
	}
	if _, err := zoneadmd.Call(z.root, z.spec.Name, setRctlReq(t, api.RctlChange{Level: "task", Task: task.ID,
		Name: "task.max-lwps", Values: "(privileged,40,deny)"}), false); err != nil {
		t.Errorf("set-rctl on the adopted task %d: %v", task.ID, err)
	}
	if _, _, errs := z.run("", "sh", "-c", "true"); errs != "" {
		t.Errorf("zlogin after adoption: %s", errs)
	}
	// Killing zoneadmd again, then halting straight away, adopts too.
	pidb, _ = os.ReadFile(filepath.Join(configs.RunDir(z.root, z.spec.Name), "zoneadmd.pid"))
	pid2, _ := strconv.Atoi(strings.TrimSpace(string(pidb)))
	if pid2 == pid || pid2 <= 0 {
		t.Fatalf("no new zoneadmd (pid %d)", pid2)
	}
	ztest.Must(t, syscall.Kill(pid2, syscall.SIGKILL))
	waitFor(t, "zoneadmd to die", func() bool { return !zoneadmd.ZoneadmdRunning(z.root, z.spec.Name) })
	z.halt()
	z.assertGone(st)
}

func TestZoneAdoptRefusesReusedPid(t *testing.T) {
	z := newBusyboxZone(t)
	st := z.ready()
	pidb, _ := os.ReadFile(filepath.Join(configs.RunDir(z.root, z.spec.Name), "zoneadmd.pid"))
	pid, _ := strconv.Atoi(strings.TrimSpace(string(pidb)))
	ztest.Must(t, syscall.Kill(pid, syscall.SIGKILL))
	waitFor(t, "zoneadmd to die", func() bool { return !zoneadmd.ZoneadmdRunning(z.root, z.spec.Name) })
	// Pretend zsched's pid now names another process: the recorded start
	// time no longer matches, so the new zoneadmd must not adopt it and
	// must clean the zone up instead.
	statePath := filepath.Join(configs.RunDir(z.root, z.spec.Name), "state.json")
	b, err := os.ReadFile(statePath)
	ztest.Must(t, err)
	b = bytes.Replace(b, []byte(`"zsched_start": `), []byte(`"zsched_start": 1`), 1)
	ztest.Must(t, os.WriteFile(statePath, b, 0o600))
	st2, err := zoneadmd.Status(z.root, z.spec.Name)
	if err != nil || st2.State != "installed" {
		t.Fatalf("status: %+v %v", st2, err)
	}
	waitFor(t, "zoneadmd to exit", func() bool { return !zoneadmd.ZoneadmdRunning(z.root, z.spec.Name) })
	z.assertGone(st)
}

func TestZoneMasksSurviveSymlinkedDevNull(t *testing.T) {
	z := newBusyboxZone(t)
	dev := filepath.Join(z.zroot(), "dev")
	ztest.Must(t, os.Symlink("/proc/sys/kernel/core_pattern", filepath.Join(dev, "null")))
	ztest.Must(t, os.Symlink("/proc/sysrq-trigger", filepath.Join(dev, "console")))
	ztest.Must(t, os.Symlink("/proc/sys/kernel/core_pattern", filepath.Join(dev, "ptmx")))
	core, _ := os.ReadFile("/proc/sys/kernel/core_pattern")
	z.ready()
	z.mustFail("write core_pattern", "echo '|/tmp/x' > /proc/sys/kernel/core_pattern")
	// The console the zone's symlink named is the zone's own pty, and
	// the file it pointed at stays out of reach by its own name.
	z.sh("test -c /dev/console && ! test -L /dev/console && echo probe > /dev/console")
	z.mustFail("write sysrq-trigger", "echo h > /proc/sysrq-trigger")
	z.mustFail("read kcore", "head -c 1 /proc/kcore | grep -q .")
	z.sh("test -c /dev/null && ! test -L /dev/null")
	if got := z.sh("cat /proc/timer_list | wc -c"); strings.TrimSpace(got) != "0" {
		t.Errorf("/proc/timer_list not masked: %s bytes", got)
	}
	if now, _ := os.ReadFile("/proc/sys/kernel/core_pattern"); !bytes.Equal(now, core) {
		t.Fatalf("host core_pattern changed to %q", now)
	}
	z.halt()
}

func TestZoneFSSymlinkStaysInRoot(t *testing.T) {
	z := newBusyboxZone(t)
	outside := t.TempDir()
	ztest.Must(t, os.Symlink(outside, filepath.Join(z.zroot(), "evil")))
	ztest.Must(t, os.Symlink("../../../../../../../../"+strings.TrimPrefix(outside, "/"), filepath.Join(z.zroot(), "evil2")))
	z.spec.Mounts = []configs.MountSpec{
		{Source: "tmpfs", Target: "/evil/data", Type: "tmpfs", Options: []string{"size=1m"}},
		{Source: "tmpfs", Target: "/evil2/more", Type: "tmpfs"},
	}
	z.ready()
	z.sh("touch /evil/data/x /evil2/more/y")
	mounts := z.sh("cat /proc/mounts")
	inside := strings.TrimPrefix(outside, "/")
	if !strings.Contains(mounts, " /"+inside+"/data tmpfs") || !strings.Contains(mounts, " /"+inside+"/more tmpfs") {
		t.Errorf("fs mounts not where the symlinks lead inside the root:\n%s", mounts)
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 0 {
		t.Errorf("the host directory the symlinks name got %d entries", len(ents))
	}
	if _, err := os.Stat(filepath.Join(z.zroot(), inside, "data")); err != nil {
		t.Errorf("mount point not made inside the root: %v", err)
	}
	z.halt()
}

func TestZoneSparseInheritsReadOnly(t *testing.T) {
	z := newBusyboxZone(t)
	for _, d := range []string{"/usr", "/lib", "/lib64"} {
		if _, err := os.Stat(d); err == nil {
			ztest.Must(t, os.MkdirAll(filepath.Join(z.zroot(), "host"+d), 0o755))
			z.spec.Mounts = append(z.spec.Mounts, configs.MountSpec{Source: d, Target: "/host" + d, Type: "bind", Options: []string{"ro", "nodev", "nosuid"}})
		}
	}
	z.spec.Mounts = append(z.spec.Mounts, configs.MountSpec{Source: "tmpfs", Target: "/scratch", Type: "tmpfs", Options: []string{"nosuid", "size=2m"}})
	z.spec.Sysctls = map[string]string{"kernel.shmmni": "1234"}
	z.ready()
	z.sh("test -x /host/usr/bin/env")
	z.mustFail("write inherited dir", "touch /host/usr/zonetop-test")
	z.sh("touch /scratch/ok")
	if got := strings.TrimSpace(z.sh("cat /proc/sys/kernel/shmmni")); got != "1234" {
		t.Errorf("zone shmmni = %s", got)
	}
	if b, _ := os.ReadFile("/proc/sys/kernel/shmmni"); strings.TrimSpace(string(b)) == "1234" {
		t.Errorf("zone sysctl leaked into the host ipc namespace")
	}
	z.halt()
}

func TestZoneHaltBlockedThenCompletes(t *testing.T) {
	z := newBusyboxZone(t)
	st := z.ready()
	var fz string
	for _, d := range z.cgroupDirs() {
		if _, err := os.Stat(filepath.Join(d, "freezer.state")); err == nil {
			fz = d
		}
	}
	if fz == "" {
		t.Skip("no v1 freezer hierarchy to make a process that will not die")
	}
	// A host process frozen in a child cgroup of the zone: SIGKILL does
	// not reach a v1-frozen task, so the halt cannot finish.
	blocker := filepath.Join(fz, "blocker")
	ztest.Must(t, os.Mkdir(blocker, 0o755))
	ztest.Must(t, os.WriteFile(filepath.Join(blocker, "freezer.state"), []byte("FROZEN"), 0o644))
	p, err := os.StartProcess("/bin/busybox", []string{"sleep", "1000"}, &os.ProcAttr{})
	ztest.Must(t, err)
	t.Cleanup(func() {
		_ = os.WriteFile(filepath.Join(blocker, "freezer.state"), []byte("THAWED"), 0o644)
		_ = p.Kill()
		_, _ = p.Wait()
	})
	ztest.Must(t, os.WriteFile(filepath.Join(blocker, "cgroup.procs"), []byte(strconv.Itoa(p.Pid)), 0o644))
	hst, err := zoneadmd.Halt(z.root, z.spec.Name)
	if err == nil || hst.State != "down" || hst.Reason == "" {
		t.Fatalf("halt with a blocker: %+v %v", hst, err)
	}
	if s, _ := zoneadmd.Status(z.root, z.spec.Name); s.State != "down" || s.Reason == "" {
		t.Errorf("status after blocked halt: %+v", s)
	}
	ztest.Must(t, os.WriteFile(filepath.Join(blocker, "freezer.state"), []byte("THAWED"), 0o644))
	z.halt()
	z.assertGone(st)
}

func TestZoneadmdRejectsGarbage(t *testing.T) {
	z := newBusyboxZone(t)
	z.ready()
	sock := configs.ZoneadmdSock(z.root, z.spec.Name)
	for _, msg := range [][]byte{[]byte("not json"), []byte(`{"op":"exec","exec":{"argv":[]}}`), []byte(`{"op":"nope"}`),
		[]byte(`{"op":"ready"}`), bytes.Repeat([]byte("x"), wire.MaxMessage+10), {}} {
		c, err := net.Dial("unixpacket", sock)
		ztest.Must(t, err)
		_, _ = c.Write(msg)
		buf := make([]byte, 4096)
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, _ := c.Read(buf)
		c.Close()
		if !bytes.Contains(buf[:n], []byte(`"ok":false`)) {
			t.Errorf("message %.30q: answer %q", msg, buf[:n])
		}
	}
	if got := strings.TrimSpace(z.sh("hostname")); got != z.spec.Name {
		t.Errorf("zone broken after garbage: %q", got)
	}
	z.halt()
}

// hostSleeper starts a host process the test must end whatever happens.
func hostSleeper(t *testing.T) *os.Process {
	t.Helper()
	p, err := os.StartProcess(busyboxPath, []string{"sleep", "1000"}, &os.ProcAttr{})
	ztest.Must(t, err)
	t.Cleanup(func() {
		_ = p.Kill()
		_, _ = p.Wait()
	})
	return p
}

// assertKilled reaps p and checks SIGKILL ended it. A p still running is
// reported, not waited for (the cleanup kills it).
func assertKilled(t *testing.T, p *os.Process) {
	t.Helper()
	if !zoneadmd.ProcZombie(p.Pid) {
		t.Errorf("host process %d in the zone's cgroups survived the halt", p.Pid)
		return
	}
	ps, err := p.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Errorf("host process ended by %v, not SIGKILL", ps)
	}
}

func zoneadmdLog(z *testZone) string {
	b, _ := os.ReadFile(filepath.Join(configs.LogDir(z.root), z.spec.Name+".zoneadmd.log"))
	return string(b)
}

// Killing zsched kills the zone's pid namespace, not its cgroups: a
// process the host put into them survives that, and halt must still find
// and kill it.
func TestZoneHaltKillsProcessOutsideNamespace(t *testing.T) {
	z := newBusyboxZone(t)
	st := z.ready()
	p := hostSleeper(t)
	// Into a project, below the zone's own cgroup, in every hierarchy.
	for _, d := range z.cgroupDirs() {
		if fi, err := os.Stat(filepath.Join(d, "default")); err == nil && fi.IsDir() {
			d = filepath.Join(d, "default")
		}
		ztest.Must(t, os.WriteFile(filepath.Join(d, "cgroup.procs"), []byte(strconv.Itoa(p.Pid)), 0o644))
	}
	z.halt()
	assertKilled(t, p)
	if log := zoneadmdLog(z); !strings.Contains(log, "outside the zone's pid namespace: ["+strconv.Itoa(p.Pid)+"]") {
		t.Errorf("zoneadmd did not report the process it had to kill one by one:\n%s", log)
	}
	z.assertGone(st)
}

// The same with the process in one hierarchy only, not the one halt
// reads to see whether the zone is empty: removing the cgroups finds it.
func TestZoneHaltKillsProcessInOneHierarchy(t *testing.T) {
	z := newBusyboxZone(t)
	st := z.ready()
	var d string
	for _, c := range z.cgroupDirs() {
		if _, err := os.Stat(filepath.Join(c, "freezer.state")); err != nil {
			d = c
			break
		}
	}
	if d == "" || len(z.cgroupDirs()) < 2 {
		t.Skip("one cgroup hierarchy: nothing a process could be in alone")
	}
	p := hostSleeper(t)
	ztest.Must(t, os.WriteFile(filepath.Join(d, "cgroup.procs"), []byte(strconv.Itoa(p.Pid)), 0o644))
	z.halt()
	assertKilled(t, p)
	if log := zoneadmdLog(z); !strings.Contains(log, "killing what is left one by one") {
		t.Errorf("zoneadmd did not report the process it had to kill one by one:\n%s", log)
	}
	z.assertGone(st)
}

// A host process that entered a zone's mount namespace (nsenter -m), or
// holds a descriptor of it, keeps every mount of the zone alive after its
// processes are gone: halt names it and leaves the zone down instead of
// calling it installed, and completes once it is gone.
func TestZoneHaltFindsMountNamespaceHolders(t *testing.T) {
	nsenter, err := exec.LookPath("nsenter")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("nsenter (util-linux) missing")
		}
		t.Skip("no nsenter")
	}
	z := newBusyboxZone(t)

	st := z.ready()
	holder := exec.Command(nsenter, "-m", "-t", strconv.Itoa(st.ZschedPid), "/bin/sleep", "1000")
	ztest.Must(t, holder.Start())
	t.Cleanup(func() { _ = holder.Process.Kill(); _, _ = holder.Process.Wait() })
	// nsenter enters the namespace after it starts: wait until it is in.
	zns, err := os.Readlink("/proc/" + strconv.Itoa(st.ZschedPid) + "/ns/mnt")
	ztest.Must(t, err)
	for i := 0; ; i++ {
		if ns, _ := os.Readlink("/proc/" + strconv.Itoa(holder.Process.Pid) + "/ns/mnt"); ns == zns {
			break
		}
		if i > 2000 {
			t.Fatal("nsenter never entered the zone's mount namespace")
		}
		time.Sleep(5 * time.Millisecond)
	}
	hst, err := zoneadmd.Halt(z.root, z.spec.Name)
	if err == nil || hst.State != "down" || !strings.Contains(hst.Reason, "host pid "+strconv.Itoa(holder.Process.Pid)) {
		t.Fatalf("halt with a process in the zone's mount namespace: %+v, %v", hst, err)
	}
	ztest.Must(t, holder.Process.Kill())
	_, _ = holder.Process.Wait()
	z.halt()
	z.assertGone(st)

	st = z.ready()
	f, err := os.Open("/proc/" + strconv.Itoa(st.ZschedPid) + "/ns/mnt")
	ztest.Must(t, err)
	t.Cleanup(func() { f.Close() })
	hst, err = zoneadmd.Halt(z.root, z.spec.Name)
	if err == nil || hst.State != "down" || !strings.Contains(hst.Reason, "descriptor") {
		t.Fatalf("halt with the zone's mount namespace open: %+v, %v", hst, err)
	}
	f.Close()
	z.halt()
	z.assertGone(st)
}

// A zoneadmd that dies comes back by itself, with no command typed on the
// host, and so does a keeper that dies; once the zone is halted the keeper
// goes away on its own.
func TestZoneadmdComesBackByItself(t *testing.T) {
	z := newBusyboxZone(t)
	z.ready()
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for i := 0; !ok(); i++ {
			if i > 2000 {
				t.Fatalf("%s: not within 20 s", what)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	zoneadmdPid := func() int {
		b, _ := os.ReadFile(filepath.Join(configs.RunDir(z.root, z.spec.Name), "zoneadmd.pid"))
		pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		return pid
	}
	waitFor("a keeper", func() bool { return zoneadmd.KeeperPid(z.root) > 0 })
	old := zoneadmd.KeeperPid(z.root)
	ztest.Must(t, syscall.Kill(old, syscall.SIGKILL))
	waitFor("a new keeper", func() bool { p := zoneadmd.KeeperPid(z.root); return p > 0 && p != old })

	first := zoneadmdPid()
	ztest.Must(t, syscall.Kill(first, syscall.SIGKILL))
	// ZoneadmdRunning only asks; it starts nothing.
	waitFor("a new zoneadmd", func() bool {
		p := zoneadmdPid()
		return p > 0 && p != first && zoneadmd.ZoneadmdRunning(z.root, z.spec.Name)
	})
	if s, err := zoneadmd.Status(z.root, z.spec.Name); err != nil || s.State != "ready" {
		t.Fatalf("after the restart: %+v %v", s, err)
	}
	z.halt()
	waitFor("the keeper to leave", func() bool { return zoneadmd.KeeperPid(z.root) == 0 })
}
