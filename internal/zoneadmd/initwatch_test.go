package zoneadmd

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"zonetop/internal/ztest"
)

// An init that ended before zoneadmd began to wait (a configured
// init=/bin/true lives a millisecond) is still seen to end, however long
// the runtime's poller had the pidfd before the wait began: a zone whose
// init keeps dying was left running for good when it was not.
func TestWaitPidfdSeesAnEarlierExit(t *testing.T) {
	for _, pause := range []time.Duration{0, 50 * time.Millisecond} {
		t.Run(pause.String(), func(t *testing.T) {
			cmd := exec.Command("/bin/true")
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() { _ = cmd.Wait() }()
			waitZombie(t, cmd.Process.Pid)
			f, err := openPidfd(cmd.Process.Pid)
			if err != nil || f == nil {
				t.Fatalf("pidfd on a zombie: %v %v", f, err)
			}
			defer f.Close()
			// Idle, the runtime polls: it takes the readiness the
			// registration reported before the wait asks for it.
			time.Sleep(pause)
			expectExit(t, f)
		})
	}
}

// An exit during the wait ends it.
func TestWaitPidfdSeesALaterExit(t *testing.T) {
	cmd := exec.Command("/bin/sleep", "0.2")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Wait() }()
	f, err := openPidfd(cmd.Process.Pid)
	if err != nil || f == nil {
		t.Fatalf("pidfd: %v %v", f, err)
	}
	defer f.Close()
	expectExit(t, f)
}

func expectExit(t *testing.T, f *os.File) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- waitPidfd(f) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		// The wait goroutine stays blocked; the file's close at the
		// test's end does not wake it, and the test binary exits.
		t.Fatal("the process's exit was never seen")
	}
}

// waitZombie waits until pid has exited and not been reaped.
func waitZombie(t *testing.T, pid int) {
	t.Helper()
	for range 2000 {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), ") Z ") {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("pid %d never exited", pid)
}

// initByPid gives a handle only on the process that is zsched's child
// with the zone pid asked for, so that boot's fallback (no pidfd from
// zsched) and adopt (a recorded pid, maybe reused since) never wait on
// another process. The test process stands in for zsched, and a child
// in a pid namespace of its own for init (pid 1 there).
func TestInitByPidOnlyZschedsChild(t *testing.T) {
	ztest.RequireRoot(t, "a child in a pid namespace of its own")
	cmd := exec.Command("/bin/sleep", "30")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	f, hp := initByPid(os.Getpid(), 1)
	if f == nil || hp != pid {
		t.Fatalf("initByPid on the child: %v, pid %d, want %d", f, hp, pid)
	}
	defer f.Close()
	// Another zone pid is not init, nor is a process not zsched's child.
	if g, hp := initByPid(os.Getpid(), 2); g != nil || hp != 0 {
		g.Close()
		t.Fatalf("initByPid on zone pid 2: pid %d", hp)
	}
	if g, hp := initByPid(os.Getppid(), 1); g != nil || hp != 0 {
		g.Close()
		t.Fatalf("initByPid on another process's children: pid %d", hp)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	// The handle is on the process and sees its end.
	expectExit(t, f)
	_ = cmd.Wait()
	if g, hp := initByPid(os.Getpid(), 1); g != nil || hp != 0 {
		g.Close()
		t.Fatalf("initByPid on a reaped child: pid %d", hp)
	}
}
