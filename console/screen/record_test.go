package screen

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
)

// go test ./console/screen -run TestRecord -record rewrites testdata/*.typescript
// from the programs installed on this host (vim, less, procps top). The
// recordings are committed; ordinary test runs only replay them.
var record = flag.Bool("record", false, "re-record testdata/*.typescript from real programs")

// recorder runs a program on a 80x24 pty. Its output goes through a Screen
// whose answers go back to the program, as they would in a pane, and is
// saved in segments, each cut when the program went quiet.
type recorder struct {
	t    *testing.T
	pty  *os.File
	cmd  *exec.Cmd
	scr  *Screen
	mu   sync.Mutex
	buf  bytes.Buffer
	last time.Time
	eof  chan struct{}
}

func startRecorder(t *testing.T, dir string, args ...string) *recorder {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = dir
	cmd.Env = []string{"TERM=xterm-256color", "HOME=" + dir, "LANG=C.UTF-8", "PATH=/usr/bin:/bin", "LESSHISTFILE=-"}
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 24, Cols: 80})
	if err != nil {
		t.Fatal(err)
	}
	r := &recorder{t: t, pty: f, cmd: cmd, scr: New(80, 24, f), eof: make(chan struct{})}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait(); f.Close(); r.scr.Close() })
	go func() {
		defer close(r.eof)
		b := make([]byte, 4096)
		for {
			n, err := f.Read(b)
			r.mu.Lock()
			r.buf.Write(b[:n])
			r.last = time.Now()
			r.mu.Unlock()
			r.scr.Write(b[:n])
			if err != nil {
				return
			}
		}
	}()
	return r
}

// segment waits until the program has said something and then been quiet
// for a while, and saves what it said since the last segment.
func (r *recorder) segment(name string) {
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		r.mu.Lock()
		quiet := r.buf.Len() > 0 && time.Since(r.last) > 1500*time.Millisecond
		r.mu.Unlock()
		select {
		case <-r.eof:
			quiet = true
		default:
		}
		if quiet {
			break
		}
	}
	r.mu.Lock()
	data := bytes.Clone(r.buf.Bytes())
	r.buf.Reset()
	r.mu.Unlock()
	if err := os.WriteFile(filepath.Join("testdata", name), data, 0o644); err != nil {
		r.t.Fatal(err)
	}
	r.t.Logf("%s: %d bytes", name, len(data))
}

func (r *recorder) send(s string) { r.pty.Write([]byte(s)) }

func TestRecord(t *testing.T) {
	if !*record {
		t.Skip("re-record with -record")
	}
	dir := t.TempDir()
	var notes strings.Builder
	notes.WriteString("zone notes\nboot the zone\nwatch the console\n")
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte(notes.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	var long strings.Builder
	for i := 1; i <= 200; i++ {
		long.WriteString("log line " + strings.Repeat("=", i%40) + " " + itoa(i) + "\n")
	}
	if err := os.WriteFile(filepath.Join(dir, "long.txt"), []byte(long.String()), 0o644); err != nil {
		t.Fatal(err)
	}

	t.Run("vi", func(t *testing.T) {
		r := startRecorder(t, dir, "vi", "notes.txt")
		r.segment("vi.typescript")
		r.send(":q!\r")
		r.segment("vi-quit.typescript")
	})
	t.Run("less", func(t *testing.T) {
		r := startRecorder(t, dir, "less", "long.txt")
		r.segment("less.typescript")
		r.send("G")
		r.segment("less-end.typescript")
		r.send("q")
		r.segment("less-quit.typescript")
	})
	t.Run("top", func(t *testing.T) {
		r := startRecorder(t, dir, "top", "-d", "5")
		r.segment("top.typescript")
		r.send("q")
	})
}

func itoa(i int) string {
	var b [20]byte
	n := len(b)
	for {
		n--
		b[n] = byte('0' + i%10)
		i /= 10
		if i == 0 {
			return string(b[n:])
		}
	}
}
