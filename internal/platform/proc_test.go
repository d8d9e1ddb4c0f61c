package platform

import (
	"os"
	"runtime"
	"strings"
	"testing"
)

// ps shows the main thread's name: SetComm must name it even when the
// calling goroutine runs on another thread, as a goroutine that has
// blocked in a system call may (zinit through zhold, on Linux 6.1).
func TestSetCommNamesTheProcessFromAnyThread(t *testing.T) {
	was, err := os.ReadFile("/proc/self/comm")
	if err != nil {
		t.Fatal(err)
	}
	// The test's goroutine holds the main thread or another; the
	// goroutine below is locked to a thread of its own, never the one
	// ps reads while this one is locked too.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	done := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		SetComm("zt-comm-probe")
		close(done)
	}()
	<-done
	defer SetComm(strings.TrimSpace(string(was)))
	got, err := os.ReadFile("/proc/self/comm")
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(string(got)) != "zt-comm-probe" {
		t.Errorf("/proc/self/comm = %q after SetComm from another thread, want zt-comm-probe", got)
	}
}
