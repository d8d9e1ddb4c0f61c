package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// What a delegated host user (login auth only) can hand a zone: the
// probe below is run as that user and speaks zoneadmd's protocol itself,
// as anyone may, with descriptors of its own choosing.

const xfProbeEnv = "ZONETOP_TEST_XF_PROBE"

var xfKeep []*os.File

// xfCall sends one raw request to sock with fds attached and returns the
// answer's JSON.
func xfCall(sock string, req string, fds ...int) (string, error) {
	c, err := net.DialUnix("unixpacket", nil, &net.UnixAddr{Name: sock, Net: "unixpacket"})
	if err != nil {
		return "", err
	}
	defer c.Close()
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	if _, _, err := c.WriteMsgUnix([]byte(req), oob, nil); err != nil {
		return "", err
	}
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	buf, ob := make([]byte, 64<<10), make([]byte, unix.CmsgSpace(4*4))
	n, oobn, _, _, err := c.ReadMsgUnix(buf, ob)
	if err != nil {
		return "", err
	}
	if msgs, err := unix.ParseSocketControlMessage(ob[:oobn]); err == nil {
		for _, m := range msgs {
			if got, err := unix.ParseUnixRights(&m); err == nil {
				for _, fd := range got {
					unix.Close(fd)
				}
			}
		}
	}
	return string(buf[:n]), nil
}

// xfProbe runs as the delegated user: "exec" sends a zone command with a
// bad stdin of each kind and prints one line per kind (name, tab, the
// answer); "ping" prints the answers to ping and status, "console-log"
// zoneadmd's answer to a console-log request.
func xfProbe(mode string) int {
	sock, hostFile := os.Getenv("XF_SOCK"), os.Getenv("XF_FILE")
	switch mode {
	case "ping":
		for _, op := range []string{"ping", "status"} {
			out, err := xfCall(sock, `{"op":"`+op+`"}`)
			if err != nil {
				fmt.Println(op, "error", err)
				return 1
			}
			fmt.Println(out)
		}
		return 0
	case "console-log":
		out, err := xfCall(sock, `{"op":"console-log"}`)
		if err != nil {
			fmt.Println("console-log error", err)
			return 1
		}
		fmt.Println(out)
		return 0
	case "exec":
	default:
		fmt.Println("unknown probe", mode)
		return 2
	}
	open := map[string]func() (int, error){
		"opath-root": func() (int, error) { return unix.Open("/", unix.O_PATH|unix.O_CLOEXEC, 0) },
		"dir-root":   func() (int, error) { return unix.Open("/", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0) },
		"host-file":  func() (int, error) { return unix.Open(hostFile, unix.O_RDWR|unix.O_CLOEXEC, 0) },
		"host-pty": func() (int, error) {
			m, s, err := pty.Open()
			if err != nil {
				return -1, err
			}
			// Both held for the probe's life: a collected *os.File
			// closes its descriptor.
			xfKeep = append(xfKeep, m, s)
			return int(s.Fd()), nil
		},
	}
	req := `{"op":"exec","exec":{"Argv":["sh","-c","touch /tmp/xf-marker"]}}`
	for _, name := range []string{"opath-root", "dir-root", "host-file", "host-pty"} {
		bad, err := open[name]()
		if err != nil {
			fmt.Printf("%s\topen: %v\n", name, err)
			continue
		}
		var p1, p2 [2]int
		if unix.Pipe2(p1[:], unix.O_CLOEXEC) != nil || unix.Pipe2(p2[:], unix.O_CLOEXEC) != nil {
			fmt.Printf("%s\tpipe failed\n", name)
			return 1
		}
		out, err := xfCall(sock, req, bad, p1[1], p2[1])
		if err != nil {
			out = "call: " + err.Error()
		}
		fmt.Printf("%s\t%s\n", name, out)
		for _, fd := range []int{p1[0], p1[1], p2[0], p2[1]} {
			unix.Close(fd)
		}
	}
	return 0
}

// xfUser makes a host user for the test and removes it at cleanup.
func xfUser(t *testing.T) (string, int) {
	t.Helper()
	name := fmt.Sprintf("ztxf%d", os.Getpid()%100000)
	_ = exec.Command("userdel", name).Run() // left by a killed run
	if out, err := exec.Command("useradd", "--no-create-home", "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", "--user-group", name).CombinedOutput(); err != nil {
		t.Fatalf("useradd %s: %v: %s", name, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("userdel", name).CombinedOutput(); err != nil {
			t.Errorf("userdel %s: %v: %s", name, err, out)
		}
		_ = exec.Command("groupdel", name).Run() // when userdel leaves it
	})
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	return name, uid
}

// newXFLab is a delegated lab under the test's own root, whose zone a
// fresh host user may log in to (login auth only).
func newXFLab(t *testing.T) (*delegLab, string, int) {
	t.Helper()
	needZones(t)
	root := t.TempDir()
	// The user reaches zoneadmd's socket under the root prefix.
	for _, d := range []string{filepath.Dir(root), root} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	zoneSeq++
	z := newCLIZoneIn(t, root, fmt.Sprintf("xf%d-%d", os.Getpid()%100000, zoneSeq), "::respawn:/bin/sleep 1000\n")
	l := newDelegLabOn(t, z)
	name, uid := xfUser(t)
	l.mustRun("zonecfg", "-z", z.name, "add admin; set user="+name+"; set auths=login; end")
	return l, name, uid
}

// probeAs runs the test binary's probe as uid.
func (l *delegLab) probeAs(uid int, mode string, env ...string) string {
	l.t.Helper()
	cmd := exec.Command(l.probe, "-test.run=^$")
	cmd.Env = append([]string{xfProbeEnv + "=" + mode, "XF_SOCK=" + filepath.Join(l.root, "run/zonetop", l.name, "zoneadmd.sock")}, env...)
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid)}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		l.t.Fatalf("probe %s as uid %d: %v: %s", mode, uid, err, out)
	}
	return string(out)
}

func TestDelegatedExecOnlyPipes(t *testing.T) {
	l, _, uid := newXFLab(t)
	z := l.name
	l.mustRun("zoneadm", "-z", z, "boot")
	// A host file the user may write, which it must not hand the zone.
	hostFile := filepath.Join(l.root, "xf-host-file")
	if err := os.WriteFile(hostFile, []byte("host\n"), 0o666); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(hostFile, 0o666); err != nil {
		t.Fatal(err)
	}
	out := l.probeAs(uid, "exec", "XF_FILE="+hostFile)
	want := map[string]string{
		"opath-root": "exec: stdin: an O_PATH descriptor of a directory is not accepted; only pipes cross into a zone",
		"dir-root":   "exec: stdin: a directory is not accepted; only pipes cross into a zone",
		"host-file":  "exec: stdin: a regular file is not accepted; only pipes cross into a zone",
		"host-pty":   "exec: stdin: a terminal is not accepted; only pipes cross into a zone",
	}
	seen := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		name, answer, _ := strings.Cut(sc.Text(), "\t")
		w, ok := want[name]
		if !ok {
			continue
		}
		seen[name] = true
		var resp struct {
			OK    bool   `json:"ok"`
			Error string `json:"error"`
		}
		if err := json.Unmarshal([]byte(answer), &resp); err != nil || resp.OK || !strings.Contains(resp.Error, w) {
			t.Errorf("%s: answer %s, want the refusal %q", name, answer, w)
		}
	}
	for name := range want {
		if !seen[name] {
			t.Errorf("%s: no answer in the probe's output:\n%s", name, out)
		}
	}
	if _, err := os.Stat(filepath.Join(l.zoneRootFS, "tmp/xf-marker")); err == nil {
		t.Error("a command with a host descriptor ran in the zone")
	}
	if b, _ := os.ReadFile(hostFile); string(b) != "host\n" {
		t.Errorf("the host file changed: %q", b)
	}

	// Pipes and a terminal of the zone's own still work for the user.
	if code, o, e := l.runAs(uid, "zlogin", z, "sh", "-c", "echo piped; id -u"); code != 0 || o != "piped\n0\n" {
		t.Errorf("zlogin with pipes: exit %d %q %q", code, o, e)
	}
	tm := l.startCmdTerm(24, 80, l.as(uid, "zlogin", "-t", z, "sh", "-c", "echo tty-$((6*7)); tty"))
	tm.expect("tty-42")
	tm.expect("/dev/pts/")
	if code := tm.wait(); code != 0 {
		t.Errorf("zlogin -t: exit %d", code)
	}
}

// Any host user may ping a zoneadmd; the zone's host pids are root's.
func TestDelegatedPingHidesPids(t *testing.T) {
	l, _, uid := newXFLab(t)
	l.mustRun("zoneadm", "-z", l.name, "boot")
	pids := func(out string) (n int, nonzero bool) {
		sc := bufio.NewScanner(strings.NewReader(out))
		for sc.Scan() {
			var resp struct {
				OK     bool `json:"ok"`
				Status *struct{ InitPid, ZschedPid int }
			}
			if json.Unmarshal(sc.Bytes(), &resp) != nil {
				continue
			}
			n++
			if resp.Status != nil && (resp.Status.InitPid != 0 || resp.Status.ZschedPid != 0) {
				nonzero = true
			}
		}
		return n, nonzero
	}
	if n, nonzero := pids(l.probeAs(0, "ping")); n != 2 || !nonzero {
		t.Fatalf("root's ping and status: %d answers, pids shown %v; want 2 with pids", n, nonzero)
	}
	for _, u := range []int{uid, stranger} {
		out := l.probeAs(u, "ping")
		if n, nonzero := pids(out); n != 2 || nonzero {
			t.Errorf("uid %d: ping and status show host pids (%d answers):\n%s", u, n, out)
		}
	}
}

// The zone socket's errors speak of the zone, never of where zonetop
// keeps it on the host.
func TestZoneSocketErrorsHideHostPaths(t *testing.T) {
	needZones(t)
	root := t.TempDir()
	zoneSeq++
	z := newCLIZoneIn(t, root, fmt.Sprintf("xf%d-%d", os.Getpid()%100000, zoneSeq), "::respawn:/bin/sleep 1000\n")
	z.mustRun("zoneadm", "-z", z.name, "boot")
	inZone := func(args ...string) string {
		t.Helper()
		code, out := z.run(append([]string{"zlogin", z.name, "/run/zonetop/zonetop"}, args...)...)
		if code == 0 {
			t.Errorf("%v in the zone succeeded, want an error: %s", args, out)
		}
		if strings.Contains(out, root) || strings.Contains(out, "/run/zonetop/"+z.name) {
			t.Errorf("%v in the zone shows a host path: %s", args, out)
		}
		return out
	}

	// A configuration zoneadmd cannot read.
	xml := filepath.Join(root, "etc/zonetop/zones", z.name+".xml")
	saved, err := os.ReadFile(xml)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(xml, []byte("<zone"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := inZone("zoneadm", "list")
	if err := os.WriteFile(xml, saved, 0o644); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, z.name) {
		t.Errorf("zoneadm list with a broken configuration: %q names no zone", out)
	}

	// A project edit whose host-side lock cannot be taken.
	lock := filepath.Join(root, "run/zonetop", "."+z.name+".projects.lock")
	_ = os.Remove(lock)
	if err := os.Mkdir(lock, 0o700); err != nil {
		t.Fatal(err)
	}
	out = inZone("projadd", "xfp")
	if err := os.Remove(lock); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "/etc/project") {
		t.Errorf("projadd with no lock: %q does not say what failed", out)
	}
	z.mustRun("zlogin", z.name, "/run/zonetop/zonetop", "projadd", "xfp")
}
