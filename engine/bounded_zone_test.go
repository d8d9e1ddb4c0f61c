package engine

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"zonetop/console"
	"zonetop/internal/configs"
	"zonetop/internal/zoneadmd"
	"zonetop/internal/ztest"
)

// A zone must not be able to fill the host's disk through what zoneadmd
// writes about it. These zones are named xb... (see newXBZone).

// newXBZone is newIPCZone's zone under an xb name, not yet ready.
func newXBZone(t *testing.T, project string) *testZone {
	t.Helper()
	ztest.NeedSeccompRoot(t)
	z := newBusyboxZone(t)
	z.spec.Name = fmt.Sprintf("xb%d-%d", os.Getpid()%100000, zoneSeq)
	self, err := os.ReadFile("/proc/self/exe")
	ztest.Must(t, err)
	ztest.Must(t, os.WriteFile(filepath.Join(z.zroot(), "bin/ipctool"), self, 0o755))
	ztest.Must(t, os.WriteFile(filepath.Join(z.zroot(), "etc/project"), []byte(project), 0o644))
	return z
}

// badLines are n /etc/project lines that cannot be parsed, each with a
// name of about size bytes, an escape sequence and the tag in it.
func badLines(tag string, n, size int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "b%s%d%s\x1b]0;t\x07:%d::::\n", tag, i, strings.Repeat("z", size), 300+i)
	}
	return b.String()
}

func fileSize(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}

func (z *testZone) stateWarnings(t *testing.T) ([]string, int) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(configs.RunDir(z.root, z.spec.Name), "state.json"))
	ztest.Must(t, err)
	var st zoneadmd.RunState
	ztest.Must(t, json.Unmarshal(b, &st))
	return st.Warnings, len(b)
}

// Bad /etc/project lines and 200 IPC calls (most of them refused by the
// project's limit): zoneadmd's log grows by a bounded amount, each bad
// line is reported once, not at every call; state.json keeps a bounded
// list of warnings; the console log stays within its rotation bound
// through edits that each bring megabytes of bad lines.
func TestXBBadProjectLinesBounded(t *testing.T) {
	z := newXBZone(t, stdProjects+"q:100::::project.max-msg-ids=(privileged,5,deny)\n"+badLines("first", 40, 1000))
	z.ready()
	logPath := filepath.Join(configs.LogDir(z.root), z.spec.Name+".zoneadmd.log")
	before := fileSize(logPath)
	cmds := make([]string, 200)
	for i := range cmds {
		cmds[i] = "msg"
	}
	got := z.ipc("q", cmds...)
	wantLines(t, "msgget in q", got, "ok", "ok", "ok", "ok", "ok", "err ENOSPC")
	grown := fileSize(logPath) - before
	logText := zoneadmdLog(z)
	if grown > 64<<10 {
		t.Errorf("zoneadmd log grew by %d bytes over 200 IPC calls, want < 64 KiB", grown)
	}
	// Reported at ready, and by the IPC check once: not per call.
	if n := strings.Count(logText, "bfirst7z"); n > 2 {
		t.Errorf("bad line 7 reported %d times in the zoneadmd log, want at most 2", n)
	}
	if strings.Contains(logText, "\x1b") || strings.Contains(logText, "\x07") {
		t.Errorf("zoneadmd log holds the zone's escape sequences raw")
	}
	ws, size := z.stateWarnings(t)
	if len(ws) == 0 || len(ws) > zoneadmd.MaxWarnings+1 || size > 64<<10 {
		t.Errorf("state.json: %d warnings, %d bytes; want 1..%d warnings, < 64 KiB", len(ws), size, zoneadmd.MaxWarnings+1)
	}
	for _, w := range ws {
		if len(w) > zoneadmd.MaxWarningLen {
			t.Errorf("state.json warning of %d bytes, want at most %d", len(w), zoneadmd.MaxWarningLen)
		}
	}

	// Hand edits, each with megabytes of other bad lines.
	consPath := filepath.Join(configs.LogDir(z.root), z.spec.Name+".console")
	for i := 0; i < 3; i++ {
		tag := fmt.Sprintf("edit%d", i)
		ztest.Must(t, os.WriteFile(filepath.Join(z.zroot(), "etc/project"), []byte(stdProjects+badLines(tag, 1200, 2500)), 0o644))
		waitFor(t, "edit "+tag+" applied", func() bool {
			ws, _ := z.stateWarnings(t)
			return len(ws) > 0 && strings.Contains(ws[0], tag)
		})
	}
	time.Sleep(200 * time.Millisecond)
	if n := fileSize(consPath); n == 0 || n > console.DefaultLogSize {
		t.Errorf("console log is %d bytes, want 1..%d (its rotation bound)", n, console.DefaultLogSize)
	}
	if n := fileSize(logPath); n > zoneadmd.ZoneadmdLogSize+zoneadmd.ZoneadmdLogLine {
		t.Errorf("zoneadmd log is %d bytes after the edits", n)
	}
	ws, size = z.stateWarnings(t)
	if len(ws) > zoneadmd.MaxWarnings+1 || size > 64<<10 {
		t.Errorf("state.json after the edits: %d warnings, %d bytes", len(ws), size)
	}
	z.halt()
}
