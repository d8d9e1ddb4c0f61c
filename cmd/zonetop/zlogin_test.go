package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
)

// End-to-end tests of zlogin and zlogin -C: the real binary, built static
// (ztBin), drives real busybox zones, and the user's side is a real pty
// (creack/pty). They need root and namespaces: without them they skip, or
// fail when CI=true.

var zoneSeq int

// cliZone is one busybox zone made with zonecfg and zoneadm install under
// a private root prefix.
type cliZone struct {
	t          *testing.T
	bin, root  string
	name       string
	zoneRootFS string
}

func newCLIZone(t *testing.T, inittab string) *cliZone {
	t.Helper()
	needZones(t) // ztBin is the static binary life_test.go's TestMain builds
	needBusybox(t)
	root, err := os.MkdirTemp("", "zt-zlogin-")
	if err != nil {
		t.Fatal(err)
	}
	zoneSeq++
	return newCLIZoneIn(t, root, fmt.Sprintf("zl%d-%d", os.Getpid()%100000, zoneSeq), inittab)
}

// newCLIZoneIn is newCLIZone under the caller's root prefix (removed at
// cleanup) with the caller's zone name.
func newCLIZoneIn(t *testing.T, root, name, inittab string) *cliZone {
	t.Helper()
	needZones(t)
	needBusybox(t)
	z := &cliZone{t: t, bin: ztBin, root: root, name: name}
	z.zoneRootFS = filepath.Join(root, "zp", "root")
	t.Cleanup(z.cleanup)
	z.mustRun("zonecfg", "-z", z.name, "create -b; set zonepath=/zp; set brand=busybox")
	z.mustRun("zoneadm", "-z", z.name, "install")
	if inittab != "" {
		if err := os.WriteFile(filepath.Join(z.zoneRootFS, "etc/inittab"), []byte(inittab), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return z
}

func (z *cliZone) command(args ...string) *exec.Cmd {
	cmd := exec.Command(z.bin, append([]string{"--root", z.root}, args...)...)
	cmd.Env = append(os.Environ(), "TERM=xterm-zonetest")
	return cmd
}

// run runs a front end to its end and returns its exit status and output.
func (z *cliZone) run(args ...string) (int, string) {
	z.t.Helper()
	cmd := z.command(args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), string(out)
		}
		z.t.Fatalf("%v: %v", args, err)
	}
	return 0, string(out)
}

func (z *cliZone) mustRun(args ...string) string {
	z.t.Helper()
	code, out := z.run(args...)
	if code != 0 {
		z.t.Fatalf("%v: exit %d: %s", args, code, out)
	}
	return out
}

// cleanup halts the zone, kills a zoneadmd kept alive by an attacher that
// a failed test left, and removes everything under the root prefix.
func (z *cliZone) cleanup() {
	cmd := z.command("zoneadm", "-z", z.name, "halt")
	if out, err := cmd.CombinedOutput(); err != nil {
		z.t.Logf("cleanup halt: %v: %s", err, out)
	}
	run := filepath.Join(z.root, "run/zonetop", z.name)
	if b, err := os.ReadFile(filepath.Join(run, "zoneadmd.pid")); err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 1 {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	if z.t.Failed() {
		if b, err := os.ReadFile(filepath.Join(z.root, "var/log/zonetop", z.name+".zoneadmd.log")); err == nil {
			z.t.Logf("zoneadmd log:\n%s", b)
		}
	}
	_ = os.RemoveAll(z.root)
}

// term is a front end running on a pty, as a user would run it.
type term struct {
	t    *testing.T
	cmd  *exec.Cmd
	pty  *os.File
	mu   sync.Mutex
	out  bytes.Buffer
	seen int // expect searches after this offset
	done chan struct{}
	code int
}

func (z *cliZone) startTerm(rows, cols uint16, args ...string) *term {
	z.t.Helper()
	return z.startCmdTerm(rows, cols, z.command(args...))
}

// startCmdTerm runs cmd on a new pty.
func (z *cliZone) startCmdTerm(rows, cols uint16, cmd *exec.Cmd) *term {
	z.t.Helper()
	p, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: rows, Cols: cols})
	if err != nil {
		z.t.Fatal(err)
	}
	tm := &term{t: z.t, cmd: cmd, pty: p, done: make(chan struct{})}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := p.Read(buf)
			tm.mu.Lock()
			tm.out.Write(buf[:n])
			tm.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	go func() {
		err := cmd.Wait()
		tm.code = 0
		if ee, ok := err.(*exec.ExitError); ok {
			tm.code = ee.ExitCode()
		}
		close(tm.done)
	}()
	z.t.Cleanup(func() {
		select {
		case <-tm.done:
		default:
			_ = cmd.Process.Kill()
			<-tm.done
		}
		p.Close()
	})
	return tm
}

func (tm *term) send(s string) {
	tm.t.Helper()
	if _, err := tm.pty.Write([]byte(s)); err != nil {
		tm.t.Fatalf("write to pty: %v", err)
	}
}

// tryExpect waits up to d for want to appear after what earlier expects
// consumed, and consumes it.
func (tm *term) tryExpect(want string, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		tm.mu.Lock()
		s := tm.out.String()
		if i := strings.Index(s[tm.seen:], want); i >= 0 {
			tm.seen += i + len(want)
			tm.mu.Unlock()
			return true
		}
		tm.mu.Unlock()
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// expect waits for want; the deadline only bounds a broken run.
func (tm *term) expect(want string) {
	tm.t.Helper()
	if !tm.tryExpect(want, 60*time.Second) {
		tm.mu.Lock()
		defer tm.mu.Unlock()
		tm.t.Fatalf("never saw %q; output after the last match:\n%q", want, tm.out.String()[tm.seen:])
	}
}

// wait waits for the front end to exit and returns its status.
func (tm *term) wait() int {
	tm.t.Helper()
	select {
	case <-tm.done:
		return tm.code
	case <-time.After(60 * time.Second):
		tm.t.Fatalf("front end did not exit; output:\n%q", tm.output())
		return -1
	}
}

func (tm *term) output() string {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return tm.out.String()
}

func TestZloginInteractive(t *testing.T) {
	z := newCLIZone(t, "::sysinit:/bin/true\n")
	z.mustRun("zoneadm", "-z", z.name, "boot")
	tm := z.startTerm(24, 80, "zlogin", z.name)
	tm.send("echo login=$0 term=$TERM\r")
	tm.expect("login=-sh term=xterm-zonetest")
	tm.send("tty\r")
	tm.expect("/dev/pts/")
	tm.send("stty size\r")
	tm.expect("24 80")

	// A resize of the user's terminal reaches the zone's pty (SIGWINCH to
	// zlogin, which sets the size on the master it holds).
	if err := pty.Setsize(tm.pty, &pty.Winsize{Rows: 41, Cols: 123}); err != nil {
		t.Fatal(err)
	}
	resized := false
	for i := 0; i < 100 && !resized; i++ {
		tm.send("stty size\r")
		resized = tm.tryExpect("41 123", 500*time.Millisecond)
	}
	if !resized {
		t.Fatalf("window size did not follow the resize:\n%q", tm.output())
	}

	// ctrl-C goes to the zone's foreground job, not to zlogin.
	tm.send("sleep 100; echo slept-$((2+3))\r")
	waitForSleep(t, z)
	tm.send("\x03")
	tm.send("echo after-$((6*7))\r")
	tm.expect("after-42")
	if strings.Contains(tm.output(), "slept-5") {
		t.Errorf("ctrl-C did not interrupt sleep")
	}

	// ctrl-Z stops the foreground job: the shell has job control.
	tm.send("sleep 200\r")
	waitForSleep(t, z)
	tm.send("\x1a")
	tm.expect("Stopped")
	tm.send("kill -9 %1; echo killed-$((1+1))\r")
	tm.expect("killed-2")

	// ~~ at the start of a line sends one ~.
	tm.send("read v; echo got=$v\r")
	time.Sleep(100 * time.Millisecond) // not an assertion: lets read start
	tm.send("~~abc\r")
	tm.expect("got=~abc")

	// The shell's exit status is zlogin's.
	tm.send("exit 7\r")
	if code := tm.wait(); code != 7 {
		t.Errorf("exit status %d, want 7", code)
	}
	tm.expect("[Connection to zone " + z.name + " closed]")
}

// waitForSleep waits until the zone runs a sleep, so a ctrl-C has a job to
// interrupt.
func waitForSleep(t *testing.T, z *cliZone) {
	t.Helper()
	for i := 0; i < 600; i++ {
		if code, _ := z.run("zlogin", z.name, "pidof", "sleep"); code == 0 {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("sleep never started in the zone")
}

func TestZloginDetachSafeAndUser(t *testing.T) {
	z := newCLIZone(t, "")
	prof := filepath.Join(z.zoneRootFS, "etc/profile")
	pb, err := os.ReadFile(prof)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(prof, append(pb, "export FROM_PROFILE=yes\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	z.mustRun("zoneadm", "-z", z.name, "ready") // zlogin works before init
	tm := z.startTerm(24, 80, "zlogin", z.name)
	tm.send("echo ready-$((1+1)) fp=${FROM_PROFILE-no}\r")
	tm.expect("ready-2 fp=yes")
	tm.send("sleep 1000\r")
	waitForSleep(t, z)
	tm.send("~.")
	if code := tm.wait(); code != 0 {
		t.Errorf("~. exit status %d, want 0:\n%q", code, tm.output())
	}
	// Detaching hangs up the zone's side: the foreground job gets SIGHUP.
	gone := false
	for i := 0; i < 600 && !gone; i++ {
		code, _ := z.run("zlogin", z.name, "pidof", "sleep")
		gone = code != 0
		if !gone {
			time.Sleep(50 * time.Millisecond)
		}
	}
	if !gone {
		t.Errorf("the session's foreground job outlived the detach")
	}

	// -S: a plain sh, not a login shell, with the environment cleared.
	tm = z.startTerm(24, 80, "zlogin", "-S", z.name)
	tm.send("echo safe=$0 home=$HOME fp=${FROM_PROFILE-no} t=$TERM\r")
	tm.expect("safe=sh home=/root fp=no t=xterm-zonetest")
	tm.send("exit\r")
	if code := tm.wait(); code != 0 {
		t.Errorf("-S exit status %d", code)
	}

	// -l takes the user from the zone's passwd; -t gives a command a pty.
	if out := z.mustRun("zlogin", "-l", "nobody", z.name, "id", "-u"); strings.TrimSpace(out) != "65534" {
		t.Errorf("zlogin -l nobody: id -u = %q", out)
	}
	if code, out := z.run("zlogin", "-t", z.name, "tty"); code != 0 || !strings.Contains(out, "/dev/pts/") {
		t.Errorf("zlogin -t tty: %d %q", code, out)
	}
	if code, out := z.run("zlogin", z.name, "tty"); code == 0 || strings.Contains(out, "/dev/pts/") {
		t.Errorf("zlogin without -t has a tty: %d %q", code, out)
	}
	// -e changes the escape character.
	tm = z.startTerm(24, 80, "zlogin", "-e", "#", z.name)
	tm.send("echo esc-$((3*3))\r")
	tm.expect("esc-9")
	tm.send("~.\r#.")
	if code := tm.wait(); code != 0 {
		t.Errorf("#. exit status %d", code)
	}
}

func TestZloginErrors(t *testing.T) {
	z := newCLIZone(t, "")
	if code, out := z.run("zlogin", z.name, "true"); code != 1 || !strings.Contains(out, "installed") {
		t.Errorf("zlogin into an installed zone: %d %q", code, out)
	}
	z.mustRun("zoneadm", "-z", z.name, "ready")
	if code, out := z.run("zlogin", z.name, "false"); code != 1 {
		t.Errorf("zlogin false: %d %q", code, out)
	}
	if code, out := z.run("zlogin", z.name, "sh", "-c", "exit 5"); code != 5 {
		t.Errorf("zlogin exit 5: %d %q", code, out)
	}
	if code, out := z.run("zlogin", "nosuchzone", "true"); code != 1 || !strings.Contains(out, "no such zone") {
		t.Errorf("missing zone: %d %q", code, out)
	}
	if code, out := z.run("zlogin", "-C", "nosuchzone"); code != 1 || !strings.Contains(out, "no such zone") {
		t.Errorf("missing zone -C: %d %q", code, out)
	}
	z.mustRun("zonecfg", "-z", "cfgonly", "create -b; set zonepath=/zp2; set brand=busybox")
	if code, out := z.run("zlogin", "-C", "cfgonly"); code != 1 || !strings.Contains(out, "configured") {
		t.Errorf("zlogin -C of a configured zone: %d %q", code, out)
	}
	if code, _ := z.run("zlogin", "-C", z.name, "ls"); code != 2 {
		t.Errorf("zlogin -C with a command: exit %d, want 2", code)
	}
}

func TestZloginConsole(t *testing.T) {
	z := newCLIZone(t, "::sysinit:/bin/echo init-says-hello\n::respawn:/bin/sleep 1000\n")
	// Attach to an installed zone, then boot it from another process: the
	// attachers watch the whole boot.
	a := z.startTerm(24, 80, "zlogin", "-C", z.name)
	b := z.startTerm(24, 80, "zlogin", "-C", "-d", z.name)
	a.expect("[Connected to zone '" + z.name + "' console]")
	b.expect("[Connected to zone '" + z.name + "' console]")
	z.mustRun("zoneadm", "-z", z.name, "boot")
	for _, tm := range []*term{a, b} {
		tm.expect("[NOTICE: Zone booting up]")
		tm.expect("init-says-hello")
	}
	z.mustRun("zlogin", z.name, "sh", "-c", "echo via-dev-console > /dev/console")
	a.expect("via-dev-console")
	b.expect("via-dev-console")

	// -r replays what the console printed before the attach.
	c := z.startTerm(24, 80, "zlogin", "-C", "-r", z.name)
	c.expect("init-says-hello")
	c.send("~.")
	if code := c.wait(); code != 0 {
		t.Errorf("-r attacher: ~. exit %d", code)
	}

	// What an attacher types reaches the console: a shell on it proves it.
	z.mustRun("zlogin", z.name, "sh", "-c", "setsid sh -c 'exec sh -i </dev/console >/dev/console 2>&1' &")
	a.send("echo typed-$((4+4))\r")
	a.expect("typed-8")
	b.expect("typed-8")

	// Halt: -d leaves, the other stays and sees the next boot.
	z.mustRun("zoneadm", "-z", z.name, "halt")
	a.expect("[NOTICE: Zone halted]")
	b.expect("[NOTICE: Zone halted]")
	if code := b.wait(); code != 0 {
		t.Errorf("-d attacher: exit %d after the halt", code)
	}
	z.mustRun("zoneadm", "-z", z.name, "boot")
	a.expect("[NOTICE: Zone booting up]")
	a.expect("init-says-hello")
	a.send("\r~.")
	if code := a.wait(); code != 0 {
		t.Errorf("~. exit %d", code)
	}
	log, err := os.ReadFile(filepath.Join(z.root, "var/log/zonetop", z.name+".console"))
	if err != nil || strings.Count(string(log), "init-says-hello") != 2 {
		t.Errorf("console log: %v %q", err, log)
	}
}

func TestZloginHaltEndsSession(t *testing.T) {
	z := newCLIZone(t, "::respawn:/bin/sleep 1000\n")
	z.mustRun("zoneadm", "-z", z.name, "boot")
	tm := z.startTerm(24, 80, "zlogin", z.name)
	tm.send("echo in-$((5+5))\r")
	tm.expect("in-10")
	z.mustRun("zoneadm", "-z", z.name, "halt")
	tm.expect("[Connection to zone " + z.name + " closed]")
	if code := tm.wait(); code == 0 {
		t.Errorf("session ended by a halt exited 0")
	}
}

// zlogin's errors say zlogin once, and the zone's name once.
func TestZloginFail(t *testing.T) {
	for in, want := range map[string]string{
		"zlogin web01: zone web01: no such zone configured": "zlogin: zone web01: no such zone configured\n",
		"zlogin web01: no command":                          "zlogin: web01: no command\n",
		"zone web01 is installed; boot or ready it first":   "zlogin: zone web01 is installed; boot or ready it first\n",
	} {
		var b strings.Builder
		zloginFail(&b, errors.New(in))
		if b.String() != want {
			t.Errorf("%q printed %q, want %q", in, b.String(), want)
		}
	}
}

func TestShellCommand(t *testing.T) {
	for _, c := range []struct {
		in, want []string
	}{
		{[]string{"ps -ef | grep x"}, []string{"/bin/sh", "-c", "ps -ef | grep x"}},
		{[]string{"ls /; exit 3"}, []string{"/bin/sh", "-c", "ls /; exit 3"}},
		{[]string{"echo $HOME"}, []string{"/bin/sh", "-c", "echo $HOME"}},
		{[]string{"true"}, []string{"true"}},
		{[]string{"/bin/ls"}, []string{"/bin/ls"}},
		{[]string{"sh", "-c", "a b"}, []string{"sh", "-c", "a b"}},
		{nil, nil},
	} {
		if got := shellCommand(c.in); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%q: got %q, want %q", c.in, got, c.want)
		}
	}
}
