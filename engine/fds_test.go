package engine

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"zonetop/api"
	"zonetop/internal/audit"
	"zonetop/internal/configs"
	"zonetop/internal/wire"
	"zonetop/internal/zoneadmd"
	"zonetop/internal/ztest"
	"zonetop/zones"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// Descriptors that cross into a zone: only pipes do, whoever sends them,
// and a message brings exactly the descriptors its op takes.

// newXFZone is a busybox zone under the test's own temporary root.
func newXFZone(t *testing.T) *testZone {
	t.Helper()
	needZones(t)
	zoneSeq++
	return newBusyboxZoneAt(t, t.TempDir(), fmt.Sprintf("xf%d-%d", os.Getpid()%100000, zoneSeq))
}

// badStdio is a descriptor no zone process may get, and the words the
// refusal must use for it.
type badStdio struct {
	name string
	open func(t *testing.T) *os.File
	what string
}

func badStdioCases(t *testing.T) []badStdio {
	dir := t.TempDir()
	return []badStdio{
		{"O_PATH of the host's /", func(t *testing.T) *os.File {
			fd, err := unix.Open("/", unix.O_PATH|unix.O_CLOEXEC, 0)
			ztest.Must(t, err)
			return os.NewFile(uintptr(fd), "/")
		}, "an O_PATH descriptor"},
		{"directory", func(t *testing.T) *os.File {
			f, err := os.Open("/")
			ztest.Must(t, err)
			return f
		}, "a directory"},
		{"regular file", func(t *testing.T) *os.File {
			f, err := os.OpenFile(filepath.Join(dir, "host-file"), os.O_RDWR|os.O_CREATE, 0o600)
			ztest.Must(t, err)
			return f
		}, "a regular file"},
		{"host pty", func(t *testing.T) *os.File {
			m, s, err := pty.Open()
			ztest.Must(t, err)
			t.Cleanup(func() { m.Close() })
			return s
		}, "a terminal"},
		{"socketpair end", func(t *testing.T) *os.File {
			fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
			ztest.Must(t, err)
			t.Cleanup(func() { unix.Close(fds[1]) })
			return os.NewFile(uintptr(fds[0]), "socketpair")
		}, "a socket"},
		{"named FIFO", func(t *testing.T) *os.File {
			p := filepath.Join(dir, fmt.Sprintf("fifo%d", time.Now().UnixNano()))
			ztest.Must(t, unix.Mkfifo(p, 0o600))
			f, err := os.OpenFile(p, os.O_RDWR, 0)
			ztest.Must(t, err)
			return f
		}, "a named FIFO"},
		{"memfd", func(t *testing.T) *os.File {
			fd, err := unix.MemfdCreate("xf", unix.MFD_CLOEXEC)
			ztest.Must(t, err)
			return os.NewFile(uintptr(fd), "memfd")
		}, "a memfd"},
		{"eventfd", func(t *testing.T) *os.File {
			fd, err := unix.Eventfd(0, unix.EFD_CLOEXEC)
			ztest.Must(t, err)
			return os.NewFile(uintptr(fd), "eventfd")
		}, "an anonymous"},
	}
}

// pipeTrio is three pipe ends as a command's stdio (the zone's side) and
// the host's ends, all closed at cleanup.
func pipeTrio(t *testing.T) (zone, host []*os.File) {
	t.Helper()
	for i := 0; i < 3; i++ {
		r, w, err := os.Pipe()
		ztest.Must(t, err)
		if i == 0 {
			zone, host = append(zone, r), append(host, w)
		} else {
			zone, host = append(zone, w), append(host, r)
		}
	}
	t.Cleanup(func() { wire.CloseAll(zone); wire.CloseAll(host) })
	return zone, host
}

// execWith sends an exec to sock with files as its stdio and returns the
// first answer.
func execWith(t *testing.T, sock string, req wire.Request, files ...*os.File) wire.Response {
	t.Helper()
	c, err := wire.Dial(sock, 2*time.Second)
	ztest.Must(t, err)
	defer c.Close()
	ztest.Must(t, c.Send(req, files...))
	_ = c.C.SetReadDeadline(time.Now().Add(20 * time.Second))
	var resp wire.Response
	got, err := c.Recv(&resp)
	wire.CloseAll(got)
	if err != nil {
		t.Fatalf("%s: %v", req.Op, err)
	}
	return resp
}

func TestExecStdioOnlyPipes(t *testing.T) {
	z := newXFZone(t)
	z.ready()
	marker := filepath.Join(z.zroot(), "tmp", "xf-marker")
	touch := &api.ExecRequest{Argv: []string{"sh", "-c", "touch /tmp/xf-marker"}}
	sock := configs.ZoneadmdSock(z.root, z.spec.Name)
	for _, c := range badStdioCases(t) {
		for slot, stream := range []string{"stdin", "stdout", "stderr"} {
			zone, _ := pipeTrio(t)
			bad := c.open(t)
			files := append([]*os.File(nil), zone...)
			files[slot] = bad
			resp := execWith(t, sock, wire.Request{Op: "exec", Exec: touch}, files...)
			bad.Close()
			want := "exec: " + stream + ": " + c.what
			if resp.OK || !strings.Contains(resp.Error, want) || !strings.Contains(resp.Error, "only pipes cross into a zone") {
				t.Errorf("%s as %s: answer %+v, want a refusal %q", c.name, stream, resp, want)
			}
			if _, err := os.Stat(marker); err == nil {
				t.Fatalf("%s as %s: the command ran in the zone", c.name, stream)
			}
		}
	}
	// A terminal session is made in the zone: it takes no descriptors.
	zone, _ := pipeTrio(t)
	resp := execWith(t, sock, wire.Request{Op: "exec", Exec: &api.ExecRequest{Argv: touch.Argv, TTY: true}}, zone...)
	if resp.OK || !strings.Contains(resp.Error, "takes no file descriptors") {
		t.Errorf("exec -t with stdio: answer %+v, want a refusal", resp)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("exec -t with stdio: the command ran in the zone")
	}

	// Pipes, and a terminal of the zone's own, still work.
	if got := z.sh("echo piped"); got != "piped\n" {
		t.Errorf("pipes: %q", got)
	}
	s, err := startLogin(z.root, z.spec.Name, api.ExecRequest{Argv: []string{"sh", "-c", "tty; echo tty-ok"}})
	if err != nil {
		t.Fatalf("zlogin -t: %v", err)
	}
	defer s.Close()
	_ = s.Master.SetReadDeadline(time.Now().Add(20 * time.Second))
	out, _ := io.ReadAll(s.Master)
	if code, err := s.Wait(); code != 0 || err != nil || !strings.Contains(string(out), "tty-ok") || !strings.Contains(string(out), "/dev/pts/") {
		t.Errorf("zlogin -t: exit %d %v, output %q", code, err, out)
	}
}

// zsched checks the stdio it is handed too, though only zoneadmd talks
// to it: a bad descriptor that got past zoneadmd still goes no further.
func TestZschedSpawnOnlyPipes(t *testing.T) {
	z := newXFZone(t)
	z.ready()
	marker := filepath.Join(z.zroot(), "tmp", "xf-marker")
	touch := &api.ExecRequest{Argv: []string{"sh", "-c", "touch /tmp/xf-marker"}}
	sock := filepath.Join(configs.RunDir(z.root, z.spec.Name), "zsched.sock")
	for _, c := range badStdioCases(t) {
		zone, _ := pipeTrio(t)
		bad := c.open(t)
		files := append([]*os.File{bad}, zone[1:]...)
		resp := execWith(t, sock, wire.Request{Op: "spawn", Exec: touch}, files...)
		bad.Close()
		if resp.OK || !strings.Contains(resp.Error, "spawn: stdin: ") || !strings.Contains(resp.Error, "only pipes cross into a zone") {
			t.Errorf("%s: zsched answered %+v, want a refusal", c.name, resp)
		}
		if _, err := os.Stat(marker); err == nil {
			t.Fatalf("%s: zsched ran the command", c.name)
		}
	}
}

// zoneadmdFDs counts the pipe descriptors zoneadmd holds.
func zoneadmdFDs(t *testing.T, root, name string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(configs.RunDir(root, name), "zoneadmd.pid"))
	ztest.Must(t, err)
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	ztest.Must(t, err)
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(dir)
	ztest.Must(t, err)
	// Pipes only: what the requests bring are pipe ends, while sockets
	// come and go on their own (zoneadmd reaches its keeper after ready).
	n := 0
	for _, e := range ents {
		if l, err := os.Readlink(filepath.Join(dir, e.Name())); err == nil && strings.HasPrefix(l, "pipe:") {
			n++
		}
	}
	return n
}

func TestSurplusDescriptorsRefused(t *testing.T) {
	z := newXFZone(t)
	z.ready()
	sock := configs.ZoneadmdSock(z.root, z.spec.Name)
	before := zoneadmdFDs(t, z.root, z.spec.Name)
	for _, op := range []string{"ping", "status", "usage", "ipcusage", "attach-console", "no-such-op"} {
		r, w, err := os.Pipe()
		ztest.Must(t, err)
		c, err := wire.Dial(sock, 2*time.Second)
		ztest.Must(t, err)
		ztest.Must(t, c.Send(wire.Request{Op: op}, w))
		w.Close()
		_ = c.C.SetReadDeadline(time.Now().Add(10 * time.Second))
		var resp wire.Response
		got, err := c.Recv(&resp)
		wire.CloseAll(got)
		c.Close()
		if err != nil || resp.OK || !strings.Contains(resp.Error, op+" takes no file descriptors") {
			t.Errorf("%s with a descriptor: %+v %v, want a refusal", op, resp, err)
		}
		if !ztest.Released(r) {
			t.Errorf("%s: zoneadmd kept the descriptor", op)
		}
		r.Close()
	}
	// An exec takes exactly its three stdio descriptors.
	for _, n := range []int{0, 2, 4} {
		zone, _ := pipeTrio(t)
		r, w, err := os.Pipe()
		ztest.Must(t, err)
		files := append(append([]*os.File(nil), zone...), w)[:n]
		resp := execWith(t, sock, wire.Request{Op: "exec", Exec: &api.ExecRequest{Argv: []string{"true"}}}, files...)
		w.Close()
		if resp.OK || !strings.Contains(resp.Error, "exec takes 3 file descriptors") {
			t.Errorf("exec with %d descriptors: %+v, want a refusal", n, resp)
		}
		if n == 4 && !ztest.Released(r) {
			t.Error("exec with 4 descriptors: zoneadmd kept the surplus one")
		}
		r.Close()
	}
	// Allow zoneadmd's own connections to settle.
	deadline := time.Now().Add(5 * time.Second)
	for zoneadmdFDs(t, z.root, z.spec.Name) > before && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if after := zoneadmdFDs(t, z.root, z.spec.Name); after > before {
		t.Errorf("zoneadmd holds %d descriptors, %d before", after, before)
	}
}

// The zonetop service takes no descriptors at all.
func TestServeRefusesDescriptors(t *testing.T) {
	root := t.TempDir()
	e, err := New(root, "")
	ztest.Must(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Serve(ctx) }()
	defer func() { cancel(); <-done }()
	sock := configs.ServeSock(root)
	for i := 0; ; i++ {
		if st, err := os.Stat(sock); err == nil && st.Mode()&os.ModeSocket != 0 {
			break
		}
		if i > 200 {
			t.Fatal("no service socket")
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, op := range []string{"list", "start", "zonecfg"} {
		r, w, err := os.Pipe()
		ztest.Must(t, err)
		c, err := wire.Dial(sock, 2*time.Second)
		ztest.Must(t, err)
		ztest.Must(t, c.Send(wire.Request{Op: op, Args: []string{"xfnone"}}, w))
		w.Close()
		_ = c.C.SetReadDeadline(time.Now().Add(10 * time.Second))
		var resp wire.Response
		got, err := c.Recv(&resp)
		wire.CloseAll(got)
		c.Close()
		if err != nil || resp.OK || !strings.Contains(resp.Error, op+" takes no file descriptors") {
			t.Errorf("%s with a descriptor: %+v %v, want a refusal", op, resp, err)
		}
		if !ztest.Released(r) {
			t.Errorf("%s: the service kept the descriptor", op)
		}
		r.Close()
	}
}

func TestZoneTextHidesHostPaths(t *testing.T) {
	s := &zoneadmd.ZoneSockServer{HostPaths: func() ([]string, []string) {
		return []string{"/proc/4242/root", "/zones/a/root"}, []string{"/zones/a", "/srv/zt/etc/zonetop", "/srv/zt/run/zonetop", "/srv/zt"}
	}}
	for in, want := range map[string]string{
		"open /zones/a/root/etc/project: permission denied":           "open /etc/project: permission denied",
		"zone root /proc/4242/root: no such file":                     "zone root /: no such file",
		"zone a: /srv/zt/etc/zonetop/zones/a.xml: malformed XML":      "zone a: " + zoneadmd.HiddenPath + ": malformed XML",
		"lock: open /srv/zt/run/zonetop/.a.projects.lock: is a dir":   "lock: open " + zoneadmd.HiddenPath + ": is a dir",
		"write /sys/fs/cgroup/pids/zonetop/a/pids.max: invalid":       "write " + zoneadmd.HiddenPath + ": invalid",
		"zonepath /zones/a must be owned by root":                     "zonepath " + zoneadmd.HiddenPath + " must be owned by root",
		"/zones/ab/root and /srv/ztx are someone else's; /etc/passwd": "/zones/ab/root and /srv/ztx are someone else's; /etc/passwd",
		"": "",
	} {
		if got := s.ZoneText(in); got != want {
			t.Errorf("zoneText(%q) = %q, want %q", in, got, want)
		}
	}
}

// A zone's caps as the zone socket's info shows them name each rctl.
func TestZoneInfoKeepsRctlNames(t *testing.T) {
	cfg := &zones.Config{Name: "xf1", Rctls: []zones.Rctl{
		{Name: "zone.max-lwps", Values: []zones.RctlValue{{Priv: "privileged", Limit: 50, Action: "deny"}}},
		{Name: "zone.max-shm-ids", Values: []zones.RctlValue{{Priv: "privileged", Limit: 100, Action: "deny"}}},
	}}
	s := &zoneadmd.ZoneSockServer{Zone: "xf1", Status: func() api.ZoneStatus { return api.ZoneStatus{State: "running"} }}
	in := s.SelfInfo(api.Principal{UID: 0, Zone: "xf1"}, cfg)
	joined := strings.Join(in.Caps, "\n")
	for _, want := range []string{
		"add rctl; set name=zone.max-lwps; add value (priv=privileged,limit=50,action=deny); end",
		"add rctl; set name=zone.max-shm-ids; add value (priv=privileged,limit=100,action=deny); end",
	} {
		if !strings.Contains(joined, want) {
			t.Errorf("info caps lack %q:\n%s", want, joined)
		}
	}
	// The audit's configuration diff names the rctl that changed.
	after := cfg.Clone()
	after.Rctls[1].Values[0].Limit = 200
	rm, ad := audit.ConfigDiff(cfg, after)
	if !strings.Contains(rm, "zone.max-shm-ids") || !strings.Contains(ad, "zone.max-shm-ids") || strings.Contains(rm+ad, "zone.max-lwps") {
		t.Errorf("diff removed %q, added %q", rm, ad)
	}
}
