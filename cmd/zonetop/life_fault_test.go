package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"zonetop/internal/testhook"
)

// Faults: a front end or a zoneadmd killed with SIGKILL at a named step
// (engine.TestPauseEnv stops it there), then the next command must tell
// the truth about the zone and be able to finish or undo what was begun.

// killAt runs the binary with the pause point set, waits until a process
// stops there, and kills it and the front end with SIGKILL. It returns the
// pid that paused.
func (l *lab) killAt(point string, args ...string) int {
	l.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, ztBin, append([]string{"--root", l.root}, args...)...)
	cmd.Env = append(os.Environ(), testhook.TestPauseEnv+"="+point)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		l.t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	marker := filepath.Join(l.root, "paused."+point)
	deadline := time.Now().Add(90 * time.Second)
	for {
		if b, err := os.ReadFile(marker); err == nil && len(b) > 0 {
			pid, err := strconv.Atoi(string(b))
			if err != nil {
				l.t.Fatalf("%s: marker %q", marker, b)
			}
			_ = os.Remove(marker)
			if l.whilePaused != nil {
				l.whilePaused()
			}
			if pid != cmd.Process.Pid {
				_ = syscall.Kill(pid, syscall.SIGKILL)
				waitGone(pid)
			}
			_ = cmd.Process.Kill()
			<-exited
			return pid
		}
		select {
		case err := <-exited:
			l.t.Fatalf("zonetop %s ended (%v) before pausing at %s:\n%s", strings.Join(args, " "), err, point, out.String())
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			l.t.Fatalf("zonetop %s never paused at %s", strings.Join(args, " "), point)
		}
	}
}

// waitGone waits until pid no longer exists (a killed zoneadmd is reaped
// by whoever inherited it).
func waitGone(pid int) {
	for i := 0; i < 2000; i++ {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return
		}
		// The leader turns zombie before its other threads are done; the
		// last of them releases the descriptors (sockets, inotify) on its
		// way out, which may take a while. Gone is a zombie leader alone.
		if strings.Contains(string(b), ") Z ") {
			if ts, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid)); err != nil || len(ts) <= 1 {
				return
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestFaultInstall kills `zoneadm install` before, during and after
// filling the root: the zone is incomplete, and install (or uninstall -F)
// finishes the job.
func TestFaultInstall(t *testing.T) {
	needZones(t)
	l := newLab(t)
	for _, point := range []string{"install-begin", "install-mid", "install-end"} {
		z := l.newZone("sparse")
		l.whilePaused = func() {
			// While the installer lives, the zone is honestly under way.
			if v := l.verbose(z); !strings.Contains(v, "incomplete (install under way)") {
				t.Errorf("%s: list -v during install says %q", point, v)
			}
		}
		l.killAt(point, "zoneadm", "-z", z, "install")
		l.whilePaused = nil
		l.state(z, "incomplete")
		if v := l.verbose(z); !strings.Contains(v, "incomplete (install interrupted") {
			t.Errorf("%s: list -v says %q", point, v)
		}
		// Booting an incomplete zone is refused, with a reason.
		l.fails(1, []string{z}, "zoneadm", "-z", z, "boot")
		if point == "install-end" {
			l.ok("zoneadm", "-z", z, "uninstall", "-F")
			l.state(z, "configured")
			if ents, _ := os.ReadDir(l.zonepath(z)); len(ents) > 0 {
				t.Errorf("%s: uninstall -F left %d entries in the zonepath", point, len(ents))
			}
		}
		l.ok("zoneadm", "-z", z, "install")
		l.state(z, "installed")
		l.ok("zoneadm", "-z", z, "boot")
		l.state(z, "running")
		l.ok("zoneadm", "-z", z, "halt")
		l.checkGone(z)
	}
}

// TestFaultReady kills the front end around ready, and a zoneadmd in the
// middle of building the platform (network set up, not yet recorded).
func TestFaultReady(t *testing.T) {
	needZones(t)
	needBusybox(t)
	l := newLab(t)
	phys := hostLink(t)
	for i, point := range []string{"ready-begin", "ready-end", "zoneadmd-ready-net"} {
		addr := fmt.Sprintf("198.19.%d.%d", 1+rand.IntN(250), 10+i)
		z := l.newZone("busybox", "add net", "set physical="+phys, "set address="+addr+"/24", "end")
		l.ok("zoneadm", "-z", z, "install")
		l.killAt(point, "zoneadm", "-z", z, "ready")
		switch point {
		case "ready-end":
			// zoneadmd finished; only the front end's record is missing.
			l.state(z, "ready")
			l.ok("zoneadm", "-z", z, "boot")
			l.state(z, "running")
		default:
			// Nothing began, or a half-built platform that the next
			// command's zoneadmd tears down.
			l.state(z, "installed")
			if strings.Contains(linkAddrs(t, phys), addr) {
				t.Errorf("%s: address %s left on %s", point, addr, phys)
			}
			l.checkGone(z)
			l.ok("zoneadm", "-z", z, "boot")
			l.state(z, "running")
		}
		// A shared-IP zone's address is on its own device in its own
		// namespace, never on the host's interface.
		if out := l.zlogin(z, "ip", "-o", "-4", "addr", "show", "dev", phys); !strings.Contains(out, addr+"/24") {
			t.Errorf("%s: booted zone's %s lacks its address %s:\n%s", point, phys, addr, out)
		}
		if strings.Contains(linkAddrs(t, phys), addr) {
			t.Errorf("%s: booted zone's address %s is on the host's %s", point, addr, phys)
		}
		l.ok("zoneadm", "-z", z, "halt")
		l.state(z, "installed")
		if strings.Contains(linkAddrs(t, phys), addr) {
			t.Errorf("%s: address %s left on %s after halt", point, addr, phys)
		}
		l.checkGone(z)
	}
}

// TestFaultBoot kills the front end after ready and before boot, and a
// zoneadmd after init started but before it recorded that.
func TestFaultBoot(t *testing.T) {
	needZones(t)
	needBusybox(t)
	l := newLab(t)
	for _, point := range []string{"boot-begin", "zoneadmd-boot"} {
		z := l.newZone("busybox")
		l.ok("zoneadm", "-z", z, "install")
		l.killAt(point, "zoneadm", "-z", z, "boot")
		if point == "boot-begin" {
			id := l.state(z, "ready")
			l.ok("zoneadm", "-z", z, "boot")
			if got := l.state(z, "running"); got != id {
				t.Errorf("%s: boot changed the zone ID %d → %d", point, id, got)
			}
		} else {
			// init runs: the adopting zoneadmd must say running.
			l.state(z, "running")
			l.fails(1, []string{"running"}, "zoneadm", "-z", z, "boot")
		}
		if got := strings.TrimSpace(l.zlogin(z, "hostname")); got != z {
			t.Errorf("%s: hostname %q", point, got)
		}
		l.ok("zoneadm", "-z", z, "halt")
		l.state(z, "installed")
		l.checkGone(z)
	}
}

// TestZoneadmdKilled: a running zone outlives its zoneadmd; the next
// command adopts it with the same zone ID, and halt still cleans up.
func TestZoneadmdKilled(t *testing.T) {
	needZones(t)
	l := newLab(t)
	z := l.newZone("sparse")
	l.ok("zoneadm", "-z", z, "install")
	l.ok("zoneadm", "-z", z, "boot")
	id := l.state(z, "running")
	pid := l.killZoneadmd(z)
	if got := l.state(z, "running"); got != id {
		t.Errorf("adopted zone has ID %d, want %d", got, id)
	}
	b, err := os.ReadFile(filepath.Join(l.root, "run", "zonetop", z, "zoneadmd.pid"))
	must(t, err)
	if np, _ := strconv.Atoi(strings.TrimSpace(string(b))); np == pid || np == 0 {
		t.Errorf("no new zoneadmd (pid file says %d, the killed one was %d)", np, pid)
	}
	if got := strings.TrimSpace(l.zlogin(z, "hostname")); got != z {
		t.Errorf("zlogin after adoption: hostname %q", got)
	}
	// The adopting zoneadmd carries the zone on as the first one did:
	// init's death reboots it. It could not: the sealed binary it made
	// at the reboot sat at a low descriptor, which zsched's exec found
	// to be a pipe the child was given (EACCES), and the zone was left
	// installed.
	initPid := func() int { return l.runPids(z).InitPid }
	old := initPid()
	if old <= 0 {
		t.Fatal("state.json names no init")
	}
	must(t, syscall.Kill(old, syscall.SIGKILL))
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if np := initPid(); np > 0 && np != old && syscall.Kill(np, 0) == nil {
			break
		}
		if time.Now().After(deadline) {
			zlog, _ := os.ReadFile(filepath.Join(l.root, "var/log/zonetop", z+".zoneadmd.log"))
			t.Fatalf("the adopted zone did not reboot when its init died\nzoneadmd log:\n%s", zlog)
		}
	}
	l.state(z, "running")
	l.ok("zoneadm", "-z", z, "halt")
	l.state(z, "installed")
	l.checkGone(z)
}

// TestAdoptStoppedZsched: a zoneadmd dies while its zone's zsched is
// stopped (SIGSTOP from the host, a debugger). The zoneadmd that adopts
// the zone cannot get zsched's answer; it must not wait for it for good,
// or nothing could halt the zone: it adopts what state.json recorded, and
// halt, which kills zsched, ends the zone.
func TestAdoptStoppedZsched(t *testing.T) {
	needZones(t)
	l := newLab(t)
	z := l.newZone("sparse")
	l.ok("zoneadm", "-z", z, "install")
	l.ok("zoneadm", "-z", z, "boot")
	id := l.state(z, "running")
	pids := l.runPids(z)
	if pids.ZschedPid <= 0 {
		t.Fatal("state.json names no zsched")
	}
	must(t, syscall.Kill(pids.ZschedPid, syscall.SIGSTOP))
	t.Cleanup(func() { _ = syscall.Kill(pids.ZschedPid, syscall.SIGCONT) })
	l.killZoneadmd(z)
	// The keeper starts the next zoneadmd; it must come to serve the zone
	// although zsched says nothing (a listing shows what zoneadmd last
	// recorded while none answers).
	zlog := func() string {
		b, _ := os.ReadFile(filepath.Join(l.root, "var/log/zonetop", z+".zoneadmd.log"))
		return string(b)
	}
	for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(300 * time.Millisecond) {
		if v := l.verbose(z); strings.Contains(v, "running") && !strings.Contains(v, "as last recorded") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no zoneadmd serves the zone whose zsched is stopped:\n%s\nzoneadmd log:\n%s", l.verbose(z), zlog())
		}
	}
	if got := l.state(z, "running"); got != id {
		t.Errorf("adopted zone has ID %d, want %d", got, id)
	}
	// zsched goes on: the zoneadmd takes the console and the IPC check
	// from it, and the zone is whole again.
	must(t, syscall.Kill(pids.ZschedPid, syscall.SIGCONT))
	for deadline := time.Now().Add(60 * time.Second); !strings.Contains(zlog(), "zsched answers again"); time.Sleep(300 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the adopting zoneadmd did not take zsched's console and IPC check once it answered:\n%s", zlog())
		}
	}
	if got := strings.TrimSpace(l.zlogin(z, "hostname")); got != z {
		t.Errorf("zlogin after adoption: hostname %q", got)
	}
	if out := l.zlogin(z, "ipcmk", "-M", "4096"); !strings.Contains(out, "Shared memory id") {
		t.Errorf("shmget in the adopted zone: %q", out)
	}
	// Stopped again: halt does not need zsched's word to end the zone.
	must(t, syscall.Kill(pids.ZschedPid, syscall.SIGSTOP))
	l.ok("zoneadm", "-z", z, "halt")
	l.state(z, "installed")
	// Its parent was the killed zoneadmd: whoever reaps orphans here
	// may leave it a zombie a while, which is gone enough.
	waitGone(pids.ZschedPid)
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pids.ZschedPid)); err == nil && !strings.Contains(string(b), ") Z ") {
		t.Errorf("zsched (pid %d) outlived the halt: %s", pids.ZschedPid, b)
	}
	l.checkGone(z)
}

// TestHaltBlocked: a zone process that cannot be killed (frozen in a
// child freezer cgroup of its own) leaves the zone down with the reason;
// once it is thawed, halt completes.
func TestHaltBlocked(t *testing.T) {
	needZones(t)
	needBusybox(t)
	l := newLab(t)
	z := l.newZone("busybox")
	l.ok("zoneadm", "-z", z, "install")
	l.ok("zoneadm", "-z", z, "boot")
	l.zlogin(z, "sh", "-c", "sleep 7777 </dev/null >/dev/null 2>&1 &")
	var fz string
	for _, cg := range zoneCgroups(z) {
		if _, err := os.Stat(filepath.Join(cg, "freezer.state")); err == nil {
			fz = cg
		}
	}
	if fz == "" {
		t.Skip("no cgroup v1 freezer for the zone")
	}
	sleeper := 0
	for i := 0; i < 200 && sleeper == 0; i++ {
		// Zone processes live in their project's cgroup below the zone's.
		_ = filepath.WalkDir(fz, func(path string, d os.DirEntry, err error) error {
			if err != nil || d.Name() != "cgroup.procs" {
				return nil
			}
			b, _ := os.ReadFile(path)
			for _, f := range strings.Fields(string(b)) {
				if p, _ := strconv.Atoi(f); p > 0 && cmdline(p) == "sleep 7777" {
					sleeper = p
				}
			}
			return nil
		})
		time.Sleep(10 * time.Millisecond)
	}
	if sleeper == 0 {
		t.Fatal("cannot find the zone's sleep 7777 in its cgroup")
	}
	stuck := filepath.Join(fz, "stuck")
	must(t, os.Mkdir(stuck, 0o755))
	thaw := func() { _ = os.WriteFile(filepath.Join(stuck, "freezer.state"), []byte("THAWED"), 0o644) }
	t.Cleanup(thaw)
	must(t, os.WriteFile(filepath.Join(stuck, "cgroup.procs"), []byte(strconv.Itoa(sleeper)), 0o644))
	must(t, os.WriteFile(filepath.Join(stuck, "freezer.state"), []byte("FROZEN"), 0o644))

	l.fails(1, []string{"down"}, "zoneadm", "-z", z, "halt")
	l.state(z, "down")
	if v := l.verbose(z); !strings.Contains(v, "down (") || !strings.Contains(v, strconv.Itoa(sleeper)) {
		t.Errorf("list -v does not give the reason naming pid %d: %q", sleeper, v)
	}
	// Nothing else works on a down zone until it is halted.
	l.fails(1, nil, "zoneadm", "-z", z, "boot")
	thaw()
	l.ok("zoneadm", "-z", z, "halt")
	l.state(z, "installed")
	l.checkGone(z)
}

// TestZoneDiedWithZoneadmd: zoneadmd and zsched both killed (the zone is
// gone, its cgroups and run state are not): the next listing says
// installed and nothing is left.
func TestZoneDiedWithZoneadmd(t *testing.T) {
	needZones(t)
	needBusybox(t)
	l := newLab(t)
	z := l.newZone("busybox")
	l.ok("zoneadm", "-z", z, "install")
	l.ok("zoneadm", "-z", z, "boot")
	l.state(z, "running")
	for _, pid := range zoneProcs(l.root, z) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		waitGone(pid)
	}
	l.state(z, "installed")
	l.checkGone(z)
	l.ok("zoneadm", "-z", z, "boot")
	l.state(z, "running")
	l.ok("zoneadm", "-z", z, "halt")
	l.checkGone(z)
}

// TestShutdownTimeout: a shutdown entry that never ends does not keep the
// zone up past the time limit.
func TestShutdownTimeout(t *testing.T) {
	needZones(t)
	needBusybox(t)
	l := newLab(t)
	z := l.newZone("busybox")
	l.ok("zoneadm", "-z", z, "install")
	must(t, os.WriteFile(filepath.Join(l.zonepath(z), "root/etc/inittab"), []byte("::shutdown:/bin/sleep 7777\n"), 0o644))
	l.ok("zoneadm", "-z", z, "boot")
	l.ok("zoneadm", "-z", z, "shutdown", "-t", "1s")
	l.state(z, "installed")
	l.checkGone(z)
}

// TestBootWhileZoneadmdRetires: a boot that starts a new zoneadmd while
// the one that halted the zone is still on its way out (a reboot, or a
// boot from another shell) must not share the zone with it: the new one
// waits for the old one's lock, and the old one's leaving removes nothing
// of the new one's.
func TestBootWhileZoneadmdRetires(t *testing.T) {
	needZones(t)
	l := newLab(t)
	z := l.newZone("")
	l.ok("zoneadm", "-z", z, "install")
	// The zone's first zoneadmd holds on its way out, after it answered
	// the halt and before it removes the zone's run directory.
	l.env = []string{testhook.TestPauseEnv + "=zoneadmd-exit"}
	l.ok("zoneadm", "-z", z, "boot")
	l.env = nil
	old, err := os.ReadFile(filepath.Join(l.root, "run/zonetop", z, "zoneadmd.pid"))
	if err != nil {
		t.Fatal(err)
	}
	l.ok("zoneadm", "-z", z, "halt")
	paused := filepath.Join(l.root, "paused.zoneadmd-exit")
	release := filepath.Join(l.root, "release.zoneadmd-exit")
	t.Cleanup(func() { _ = os.WriteFile(release, nil, 0o600) })
	for end := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(paused); err == nil {
			break
		}
		if time.Now().After(end) {
			t.Fatal("the halted zone's zoneadmd never reached its exit")
		}
	}
	booted := make(chan string, 1)
	go func() {
		_, errOut, code := l.run("zoneadm", "-z", z, "boot")
		booted <- fmt.Sprintf("exit %d %s", code, errOut)
	}()
	// Let the new boot get as far as it can while the old zoneadmd stays.
	time.Sleep(300 * time.Millisecond)
	if err := os.WriteFile(release, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if res := <-booted; res != "exit 0 " {
		t.Fatalf("boot while the old zoneadmd retired: %s", res)
	}
	waitGone(mustAtoi(t, strings.TrimSpace(string(old))))
	// The new zoneadmd's files survived the old one's leaving: it still
	// serves the zone.
	l.state(z, "running")
	if out := l.ok("zlogin", z, "echo", "hi"); out != "hi\n" {
		t.Errorf("zlogin after the old zoneadmd left: %q", out)
	}
	l.ok("zoneadm", "-z", z, "halt")
	l.checkGone(z)
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	return n
}

// TestSlowZoneadmdZoneStaysRunning: a running zone whose zoneadmd is
// alive but does not answer its status (held at a test hook, as a loaded
// host holds it) is listed as running, as its zoneadmd last recorded it
// and said to be that, and boot says it runs: it was shown as installed,
// which had every operation refuse it, or the listing waited for good.
func TestSlowZoneadmdZoneStaysRunning(t *testing.T) {
	needZones(t)
	l := newLab(t)
	z := l.newZone("")
	l.ok("zoneadm", "-z", z, "install")
	l.env = []string{testhook.TestPauseEnv + "=zoneadmd-status"}
	l.ok("zoneadm", "-z", z, "boot")
	l.env = nil
	release := filepath.Join(l.root, "release.zoneadmd-status")
	t.Cleanup(func() { _ = os.WriteFile(release, nil, 0o600) })
	out := l.ok("zoneadm", "list", "-v")
	if _, err := os.Stat(filepath.Join(l.root, "paused.zoneadmd-status")); err != nil {
		t.Fatalf("zoneadmd never held a status answer: %v", err)
	}
	if !strings.Contains(out, "running (as last recorded: zoneadmd does not answer)") {
		t.Errorf("zoneadm list -v while zoneadmd holds its answers:\n%s", out)
	}
	if r := l.list(z); r.State != "running" || r.ID <= 0 {
		t.Errorf("zoneadm list -p: %s with ID %d, want running with its zone ID", r.State, r.ID)
	}
	l.fails(1, []string{"already running"}, "zoneadm", "-z", z, "boot")
	if got := l.ok("zlogin", z, "echo", "up"); got != "up\n" {
		t.Errorf("zlogin while zoneadmd is slow to answer a status: %q", got)
	}
	if err := os.WriteFile(release, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if out := l.verbose(z); strings.Contains(out, "as last recorded") {
		t.Errorf("zoneadmd answers again, and the zone is still shown as recorded: %s", out)
	}
	l.ok("zoneadm", "-z", z, "halt")
	l.checkGone(z)
}

// TestHaltZschedStoppedAfterInitDied: halt is what an operator reaches
// for on a wedged zone, so a zsched that no longer answers (stopped
// here) must not keep it waiting: the death of the zone's init makes
// zoneadmd ask zsched whether the zone asked for it, and that question
// once held every operation's lock for as long as zsched kept silent.
func TestHaltZschedStoppedAfterInitDied(t *testing.T) {
	needZones(t)
	needBusybox(t)
	l := newLab(t)
	z := l.newZone("busybox")
	l.ok("zoneadm", "-z", z, "install")
	l.ok("zoneadm", "-z", z, "boot")
	l.state(z, "running")
	st := l.runPids(z)
	if st.InitPid <= 0 || st.ZschedPid <= 0 {
		t.Fatalf("state.json names no init or zsched: %+v", st)
	}
	must(t, syscall.Kill(st.ZschedPid, syscall.SIGSTOP))
	// Should halt not kill it, a stopped zsched would outlive the test.
	t.Cleanup(func() { _ = syscall.Kill(st.ZschedPid, syscall.SIGCONT) })
	must(t, syscall.Kill(st.InitPid, syscall.SIGKILL))
	// zoneadmd waits a moment before it asks zsched (watchInit): let
	// it be asking when the operator halts.
	time.Sleep(time.Second)

	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, ztBin, "--root", l.root, "zoneadm", "-z", z, "halt")
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		zlog, _ := os.ReadFile(filepath.Join(l.root, "var/log/zonetop", z+".zoneadmd.log"))
		t.Fatalf("halt of a zone whose zsched is stopped did not finish within 45s\nzoneadmd log:\n%s", zlog)
	}
	if err != nil {
		t.Fatalf("halt: %v\n%s", err, out)
	}
	l.state(z, "installed")
	l.checkGone(z)
}

// zoneRunPids is what a zone's zoneadmd records of its processes.
type zoneRunPids struct {
	InitPid   int `json:"init_pid"`
	ZschedPid int `json:"zsched_pid"`
}

// killZoneadmd kills zone z's zoneadmd as a crash would and waits until
// it is gone; it returns the pid it had.
func (l *lab) killZoneadmd(z string) int {
	l.t.Helper()
	b, err := os.ReadFile(filepath.Join(l.root, "run", "zonetop", z, "zoneadmd.pid"))
	must(l.t, err)
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	must(l.t, err)
	must(l.t, syscall.Kill(pid, syscall.SIGKILL))
	waitGone(pid)
	return pid
}

// runPids reads them from the zone's run directory; zeros while there
// is none (a reboot under way).
func (l *lab) runPids(z string) zoneRunPids {
	var st zoneRunPids
	b, _ := os.ReadFile(filepath.Join(l.root, "run", "zonetop", z, "state.json"))
	_ = json.Unmarshal(b, &st)
	return st
}
