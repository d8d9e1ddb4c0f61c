package main

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
)

// TestPaneEchoLatency measures keystroke echo in a login pane of the
// console against a plain zlogin, side by side on the same zone: the time
// from a key written to the terminal until its echo is drawn. It reports
// the ratio and asserts nothing (wall-clock limits do not belong in
// tests); it runs only when ZONETOP_ECHO_BENCH is set, as it takes a zone
// and half a minute. ZONETOP_ECHO_BENCH=N types N keys into each.
// ZONETOP_ECHO_OLD=PATH adds the console of another build (a zonetop
// binary with its zoneadmd beside it), typed into in turn with the other
// two, so that two builds compare in one run on this noisy machine.
func TestPaneEchoLatency(t *testing.T) {
	n := 0
	if _, err := fmt.Sscan(os.Getenv("ZONETOP_ECHO_BENCH"), &n); err != nil || n <= 0 {
		t.Skip("ZONETOP_ECHO_BENCH not set")
	}
	l := newLab(t)
	l.tag = "ztin" + l.tag
	z := l.newZone("busybox")
	l.ok("zoneadm", "-z", z, "install")
	l.ok("zoneadm", "-z", z, "boot")
	prompt := "@" + z + ":"

	plain := startTerm(t, ztBin, "--root", l.root, "zlogin", z)
	plain.waitFor(t, prompt)
	console := openPaneTerm(t, ztBin, l.root, z, prompt)
	var old *echoTerm
	if bin := os.Getenv("ZONETOP_ECHO_OLD"); bin != "" {
		old = openPaneTerm(t, bin, l.root, z, prompt)
	}

	// Letters no other part of either screen draws as the keys go.
	const keys = "QXJKVW"
	var tPlain, tPane, tOld []time.Duration
	for i := range n {
		k := string(keys[i%len(keys)])
		if i%40 == 39 {
			// Keep the line short: ctrl+u, and let both settle.
			plain.write(t, "\x15")
			console.write(t, "\x15")
			if old != nil {
				old.write(t, "\x15")
			}
			time.Sleep(100 * time.Millisecond)
		}
		// Pauses of no fixed length, or the keys fall into step with
		// the console's frames and measure one phase of them.
		tPlain = append(tPlain, plain.echo(t, k))
		time.Sleep(time.Duration(20+rand.IntN(20)) * time.Millisecond)
		tPane = append(tPane, console.echo(t, k))
		time.Sleep(time.Duration(20+rand.IntN(20)) * time.Millisecond)
		if old != nil {
			tOld = append(tOld, old.echo(t, k))
			time.Sleep(time.Duration(20+rand.IntN(20)) * time.Millisecond)
		}
	}
	mp, mc := median(tPlain), median(tPane)
	pp, pc := pct(tPlain, 90), pct(tPane, 90)
	t.Logf("echo of %d keys: plain zlogin median %v p90 %v; console pane median %v p90 %v; ratio median %.2f, p90 %.2f",
		n, mp, pp, mc, pc, float64(mc)/float64(mp), float64(pc)/float64(pp))
	if old != nil {
		mo, po := median(tOld), pct(tOld, 90)
		t.Logf("echo of %d keys: other build's pane median %v p90 %v; ratio median %.2f, p90 %.2f",
			n, mo, po, float64(mo)/float64(mp), float64(po)/float64(pp))
		quitPaneTerm(t, old)
	}
	quitPaneTerm(t, console)
	plain.write(t, "\x15exit\r")
}

// openPaneTerm starts the console of bin and opens a login pane on zone z
// (the last row: the only zone but global).
func openPaneTerm(t *testing.T, bin, root, z, prompt string) *echoTerm {
	t.Helper()
	console := startTerm(t, bin, "--root", root)
	console.waitFor(t, z)
	time.Sleep(time.Second) // the first usage samples
	console.write(t, "G")
	time.Sleep(200 * time.Millisecond)
	console.write(t, "l")
	console.waitFor(t, prompt)
	time.Sleep(time.Second)
	return console
}

// quitPaneTerm gives focus back to the console, quits and confirms.
func quitPaneTerm(t *testing.T, console *echoTerm) {
	t.Helper()
	console.write(t, "\x1d")
	console.write(t, "q")
	time.Sleep(200 * time.Millisecond)
	console.write(t, "y")
}

// echoTerm is a program on a pty of the host, read as a terminal would.
type echoTerm struct {
	f   *os.File
	cmd *exec.Cmd
	out chan []byte
	buf []byte
}

func startTerm(t *testing.T, name string, args ...string) *echoTerm {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "TERM=xterm-256color")
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 40, Cols: 120})
	if err != nil {
		t.Fatal(err)
	}
	tm := &echoTerm{f: f, cmd: cmd, out: make(chan []byte, 1024)}
	go func() {
		defer close(tm.out)
		b := make([]byte, 64*1024)
		for {
			n, err := f.Read(b)
			if n > 0 {
				tm.out <- append([]byte(nil), b[:n]...)
			}
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_, _ = cmd.Process.Wait()
		f.Close()
	})
	return tm
}

func (tm *echoTerm) write(t *testing.T, s string) {
	t.Helper()
	if _, err := io.WriteString(tm.f, s); err != nil {
		t.Fatal(err)
	}
}

// waitFor reads until s has been drawn.
func (tm *echoTerm) waitFor(t *testing.T, s string) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for !bytes.Contains(tm.buf, []byte(s)) {
		select {
		case b, ok := <-tm.out:
			if !ok {
				t.Fatalf("program ended before %q: %q", s, tm.buf)
			}
			tm.buf = append(tm.buf, b...)
		case <-deadline:
			t.Fatalf("no %q after 30s: %q", s, tm.buf[max(0, len(tm.buf)-2000):])
		}
	}
	tm.buf = tm.buf[:0]
}

// echo types k and returns how long until it is drawn.
func (tm *echoTerm) echo(t *testing.T, k string) time.Duration {
	t.Helper()
	// What was drawn before the key does not count.
	for drained := false; !drained; {
		select {
		case <-tm.out:
		default:
			drained = true
		}
	}
	tm.buf = tm.buf[:0]
	start := time.Now()
	tm.write(t, k)
	deadline := time.After(10 * time.Second)
	for !strings.Contains(string(tm.buf), k) {
		select {
		case b := <-tm.out:
			tm.buf = append(tm.buf, b...)
		case <-deadline:
			t.Fatalf("no echo of %q: %q", k, tm.buf)
		}
	}
	return time.Since(start)
}

func median(d []time.Duration) time.Duration { return pct(d, 50) }

func pct(d []time.Duration, p int) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, len(s)*p/100)]
}
