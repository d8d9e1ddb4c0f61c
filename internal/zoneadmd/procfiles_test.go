package zoneadmd

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"zonetop/internal/ztest"

	"golang.org/x/sys/unix"
)

// onThread runs f on a goroutine locked to a thread that is thrown away
// afterwards (its credentials or cgroup may have been changed).
func onThread(f func(tid int)) {
	done := make(chan struct{})
	go func() {
		runtime.LockOSThread() // never unlocked: the thread goes with the goroutine
		defer close(done)
		f(unix.Gettid())
	}()
	<-done
}

// A held descriptor is read afresh at every call: a thread that changed
// its ids, or was moved to another cgroup (what newtask does to put a
// task in a project), is seen changed at its very next call.
func TestProcFilesSeeChanges(t *testing.T) {
	ztest.RequireRoot(t, "setresuid on a thread, moving a thread between cgroups")
	pf := newProcFiles(procFilesMax)
	defer pf.close()
	onThread(func(tid int) {
		var buf [4096]byte
		b, err := pf.read(tid, "status", buf[:])
		ztest.Must(t, err)
		if cr, err := parseStatusCred(tid, b); err != nil || cr.uid != 0 {
			t.Fatalf("before: %+v %v", cr, err)
		}
		if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, ^uintptr(0), 4242, ^uintptr(0)); e != 0 {
			t.Fatal(e)
		}
		b, err = pf.read(tid, "status", buf[:])
		if err != nil {
			t.Fatal(err)
		}
		if cr, err := parseStatusCred(tid, b); err != nil || cr.uid != 4242 {
			t.Errorf("after setresuid: euid %d (%v), want 4242: a stale answer", cr.uid, err)
		}
		if pf.held() != 1 {
			t.Errorf("%d descriptors held, want 1", pf.held())
		}
	})

	dir, tasks := ownV1Cgroup(t)
	if dir == "" {
		t.Log("no cgroup v1 hierarchy to move a thread in; cgroup part skipped")
		return
	}
	sub := filepath.Join(dir, "zf-procfiles-"+strconv.Itoa(os.Getpid()))
	ztest.Must(t, os.Mkdir(sub, 0o755))
	defer os.Remove(sub)
	onThread(func(tid int) {
		var buf [16384]byte
		b, err := pf.read(tid, "cgroup", buf[:])
		ztest.Must(t, err)
		if strings.Contains(string(b), "/zf-procfiles-") {
			t.Fatalf("in the new cgroup before the move: %s", b)
		}
		ztest.Must(t, os.WriteFile(filepath.Join(sub, tasks), []byte(strconv.Itoa(tid)), 0))
		// Out again before the test removes it, whatever happens.
		defer os.WriteFile(filepath.Join(dir, tasks), []byte(strconv.Itoa(tid)), 0)
		b, err = pf.read(tid, "cgroup", buf[:])
		ztest.Must(t, err)
		if !strings.Contains(string(b), "/zf-procfiles-") {
			t.Errorf("moved thread's cgroup read as %q: a stale answer", b)
		}
	})
}

// ownV1Cgroup finds this process's cgroup in a v1 hierarchy (the pids
// controller), and the file that moves one thread into a cgroup.
func ownV1Cgroup(t *testing.T) (dir, tasks string) {
	f, err := os.Open("/proc/self/mountinfo")
	ztest.Must(t, err)
	defer f.Close()
	mounts := map[string]string{} // controller -> mount point
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		fs := strings.Fields(post)
		if !ok || len(fs) < 3 || fs[0] != "cgroup" {
			continue
		}
		for _, o := range strings.Split(fs[2], ",") {
			mounts[o] = strings.Fields(pre)[4]
		}
	}
	self, err := os.ReadFile("/proc/self/cgroup")
	ztest.Must(t, err)
	for _, ctl := range []string{"pids"} {
		for _, line := range strings.Split(string(self), "\n") {
			parts := strings.SplitN(line, ":", 3)
			if len(parts) == 3 && mounts[ctl] != "" && strings.Contains(","+parts[1]+",", ","+ctl+",") {
				return filepath.Join(mounts[ctl], parts[2]), "tasks"
			}
		}
	}
	return "", ""
}

// A descriptor left from a task that is gone never answers for the task
// that has its number now (pid reuse): the kernel fails the read, and
// the file is opened again by number.
func TestProcFilesPidReuse(t *testing.T) {
	pf := newProcFiles(procFilesMax)
	defer pf.close()
	start := func() *exec.Cmd {
		c := exec.Command("sleep", "100")
		ztest.Must(t, c.Start())
		return c
	}
	a := start()
	var buf [4096]byte
	if _, err := pf.read(a.Process.Pid, "status", buf[:]); err != nil {
		t.Fatal(err)
	}
	_ = a.Process.Kill()
	_ = a.Wait()
	b := start()
	defer func() { _ = b.Process.Kill(); _ = b.Wait() }()
	// As if b had been given a's number: the descriptor a left is
	// what the cache holds for it.
	pf.mu.Lock()
	fd := pf.fds[procFile{a.Process.Pid, "status"}]
	delete(pf.fds, procFile{a.Process.Pid, "status"})
	pf.fds[procFile{b.Process.Pid, "status"}] = fd
	pf.mu.Unlock()
	got, err := pf.read(b.Process.Pid, "status", buf[:])
	if err != nil {
		t.Fatalf("the task that has the number now: %v", err)
	}
	if want := "\nPid:\t" + strconv.Itoa(b.Process.Pid) + "\n"; !strings.Contains(string(got), want) {
		t.Errorf("status of the number's new task lacks %q: the gone task's descriptor answered\n%s", want, got)
	}
}
