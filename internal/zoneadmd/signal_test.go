package zoneadmd

import (
	"context"
	"errors"
	"os/exec"
	"syscall"
	"testing"
	"time"
	"zonetop/api"
	"zonetop/internal/ztest"
)

// fakeZone starts a process in a pid namespace of its own, standing in
// for a zone's zsched, with two sleeping children in it; it returns
// zsched's host pid and the children as the zone lists them.
func fakeZone(t *testing.T) (int, []api.Process) {
	t.Helper()
	ztest.RequireRoot(t, "a pid namespace")
	cmd := exec.Command("/bin/sh", "-c", "sleep 300 & sleep 300 & wait")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID, Setpgid: true}
	ztest.Must(t, cmd.Start())
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	})
	for range 200 {
		ps, err := ProcessesOf(context.Background(), "zcsig", cmd.Process.Pid, nil, false)
		ztest.Must(t, err)
		var kids []api.Process
		for _, p := range ps {
			if p.PID != cmd.Process.Pid && p.Command != "" && p.State != "" {
				kids = append(kids, p)
			}
		}
		if len(kids) == 2 {
			return cmd.Process.Pid, kids
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("the fake zone's children did not start")
	return 0, nil
}

func alive(pid int) bool { return syscall.Kill(pid, 0) == nil }

// An attacker names what is not the zone's: a host pid, zsched, a pid of
// the zone that exited and came back as another process, a signal the
// console does not send. Each is refused and nothing is signalled.
func TestSignalProcessRefuses(t *testing.T) {
	zsched, kids := fakeZone(t)
	host := exec.Command("sleep", "300")
	ztest.Must(t, host.Start())
	t.Cleanup(func() { _ = host.Process.Kill(); _ = host.Wait() })
	kid := kids[0]

	for _, c := range []struct {
		name     string
		req      api.SignalRequest
		zoneView bool
		want     error
	}{
		{"host pid", api.SignalRequest{PID: host.Process.Pid, Signal: "KILL"}, false, api.ErrPermission},
		{"host pid named as a zone pid", api.SignalRequest{PID: host.Process.Pid, Signal: "KILL"}, true, api.ErrNotFound},
		{"zsched by host pid", api.SignalRequest{PID: zsched, Signal: "KILL"}, false, api.ErrPermission},
		{"zsched as pid 1 of the zone", api.SignalRequest{PID: 1, Signal: "KILL"}, true, api.ErrPermission},
		{"pid reused", api.SignalRequest{PID: kid.PID, Start: kid.Start + 1, Signal: "KILL"}, false, api.ErrNotFound},
		{"signal the kernel keeps", api.SignalRequest{PID: kid.PID, Signal: "SEGV"}, false, api.ErrInvalid},
		{"SIGXRES", api.SignalRequest{PID: kid.PID, Signal: "XRES"}, false, api.ErrInvalid},
		{"no pid", api.SignalRequest{PID: 0, Signal: "TERM"}, false, api.ErrInvalid},
		{"negative pid (a process group to kill(2))", api.SignalRequest{PID: -zsched, Signal: "TERM"}, false, api.ErrInvalid},
	} {
		err := SignalProcess("zcsig", zsched, c.req, c.zoneView)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	for _, pid := range []int{host.Process.Pid, zsched, kids[0].PID, kids[1].PID} {
		if !alive(pid) {
			t.Fatalf("pid %d was signalled by a refused request", pid)
		}
	}
}

// The zone's own pid reaches its own process, by the pidfd, and only it.
func TestSignalProcessZoneView(t *testing.T) {
	zsched, kids := fakeZone(t)
	a, b := kids[0], kids[1]
	ztest.Must(t, SignalProcess("zcsig", zsched, api.SignalRequest{PID: a.NsPID, Start: a.Start, Signal: "sigterm"}, true))
	for i := 0; alive(a.PID) && i < 500; i++ {
		// sh reaps it; until then it is a zombie, which is alive to kill(0).
		if st, _ := startTime(a.PID); st != a.Start {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !alive(b.PID) {
		t.Fatal("the other process of the zone was signalled too")
	}
	// Its pid, asked again with the old start time, never reaches a
	// newcomer.
	err := SignalProcess("zcsig", zsched, api.SignalRequest{PID: a.PID, Start: a.Start, Signal: "KILL"}, false)
	if err == nil {
		t.Fatal("a second signal to an exited process was sent")
	}
}
