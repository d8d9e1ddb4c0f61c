package zoneadmd

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"zonetop/api"
	"zonetop/client"
	"zonetop/internal/audit"
	"zonetop/internal/configs"
	"zonetop/internal/pathrs"
	"zonetop/internal/wire"
	"zonetop/internal/ztest"
	"zonetop/limits"
	"zonetop/rctl"
	"zonetop/zones"

	"golang.org/x/sys/unix"
)

type fakeProjects struct{ calls []api.ProjectRequest }

func (f *fakeProjects) ProjectOp(_ context.Context, p api.Principal, zone, _ string, req api.ProjectRequest) (json.RawMessage, error) {
	f.calls = append(f.calls, req)
	return json.RawMessage(`{"done":true}`), nil
}

// startTestZoneSock serves a zone socket whose peers are all principal p.
func startTestZoneSock(t *testing.T, p api.Principal) (string, *fakeProjects, *[]audit.AuditRecord) {
	t.Helper()
	dir := t.TempDir()
	sock := filepath.Join(dir, "zone.sock")
	lis, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	cfg := &zones.Config{Name: "zs1", Brand: "sparse", IPType: "shared", Zonepath: "/secret/zonepath",
		Rctls:  []zones.Rctl{{Name: "zone.max-lwps", Values: []zones.RctlValue{{Priv: "privileged", Limit: 100, Action: "deny"}}}},
		Admins: []zones.Admin{{User: "hostuser", Auths: []string{"manage"}}}}
	fp := &fakeProjects{}
	var audits []audit.AuditRecord
	srv := &ZoneSockServer{Zone: "zs1", lis: lis,
		identify: func(*net.UnixConn) (api.Principal, error) { return p, nil },
		config:   func() (*zones.Config, error) { return cfg, nil },
		Status:   func() api.ZoneStatus { return api.ZoneStatus{State: "running", ZoneID: 3} },
		zoneRoot: func() string { return "/nonexistent" },
		projects: fp, audit: func(r audit.AuditRecord) { audits = append(audits, r) },
		idle: 500 * time.Millisecond}
	go srv.serve()
	t.Cleanup(srv.close)
	return sock, fp, &audits
}

func Frame(b []byte) []byte {
	out := make([]byte, 4+len(b))
	binary.BigEndian.PutUint32(out, uint32(len(b)))
	copy(out[4:], b)
	return out
}

func TestZoneSockInfoAndCaps(t *testing.T) {
	sock, fp, audits := startTestZoneSock(t, api.Principal{UID: 0, Zone: "zs1"})
	zc, err := client.DialZone(sock)
	if err != nil {
		t.Fatal(err)
	}
	defer zc.Close()
	r, err := zc.Do(api.ZoneRequest{Op: "info"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Info == nil || r.Info.Name != "zs1" || r.Info.Role != "zone-admin" || r.Info.State != "running" || len(r.Info.Caps) != 1 {
		t.Fatalf("info: %+v", r.Info)
	}
	raw, _ := json.Marshal(r)
	if strings.Contains(string(raw), "secret") || strings.Contains(string(raw), "hostuser") {
		t.Errorf("info leaks host details: %s", raw)
	}
	// Raising the zone cap through the socket is refused, and audited.
	_, err = zc.Do(api.ZoneRequest{Op: "set-zone-cap", Rctl: "zone.max-lwps", Value: "100000"})
	if !errors.Is(err, api.ErrPermission) || !strings.Contains(err.Error(), "zone caps are set by the global administrator") {
		t.Fatalf("set-zone-cap: %v", err)
	}
	// Project ops reach ProjectOps.
	if _, err := zc.Do(api.ZoneRequest{Op: "project", Project: &api.ProjectRequest{Op: "add", Name: "web", ID: new(100)}}); err != nil {
		t.Fatal(err)
	}
	if len(fp.calls) != 1 || fp.calls[0].Name != "web" {
		t.Errorf("project calls: %+v", fp.calls)
	}
	if len(*audits) != 2 || !strings.Contains((*audits)[0].Result, "permission denied") || (*audits)[1].Result != "ok" {
		t.Errorf("audits: %+v", *audits)
	}
}

func TestZoneSockReadOnlyUser(t *testing.T) {
	sock, fp, _ := startTestZoneSock(t, api.Principal{UID: 1000, Zone: "zs1"})
	zc, err := client.DialZone(sock)
	if err != nil {
		t.Fatal(err)
	}
	defer zc.Close()
	r, err := zc.Do(api.ZoneRequest{Op: "info"})
	if err != nil || r.Info.Role != "read-only" {
		t.Fatalf("info: %+v %v", r.Info, err)
	}
	if _, err := zc.Do(api.ZoneRequest{Op: "project", Project: &api.ProjectRequest{Op: "list"}}); err != nil {
		t.Fatalf("list projects: %v", err)
	}
	if _, err := zc.Do(api.ZoneRequest{Op: "project", Project: &api.ProjectRequest{Op: "set-limit", Name: "web"}}); !errors.Is(err, api.ErrPermission) {
		t.Fatalf("set-limit by a plain user: %v", err)
	}
	if len(fp.calls) != 1 {
		t.Errorf("calls: %+v", fp.calls)
	}
}

// Garbage, truncated and oversized messages get an error; the server keeps
// serving; a client that hangs blocks nobody.
func TestZoneSockBadInput(t *testing.T) {
	sock, _, _ := startTestZoneSock(t, api.Principal{UID: 0, Zone: "zs1"})
	// A client that connects and sends half a header, then hangs.
	hung, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer hung.Close()
	hung.Write([]byte{0, 0})

	send := func(raw []byte, closeWrite bool) api.ZoneReply {
		t.Helper()
		c, err := net.Dial("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		c.Write(raw)
		if closeWrite {
			c.(*net.UnixConn).CloseWrite()
		}
		b, err := wire.ReadZoneFrame(c)
		if err != nil {
			t.Fatalf("no answer to %q: %v", raw[:min(len(raw), 20)], err)
		}
		var r api.ZoneReply
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	for name, tc := range map[string]struct {
		raw []byte
		cw  bool
	}{
		"garbage":        {Frame([]byte("\x00\xffnot json")), false},
		"unknown op":     {Frame([]byte(`{"op":"format-disk"}`)), false},
		"unknown field":  {Frame([]byte(`{"op":"info","uid":0}`)), false},
		"two objects":    {Frame([]byte(`{"op":"info"}{"op":"info"}`)), false},
		"oversized":      {binary.BigEndian.AppendUint32(nil, wire.ZoneSockMax+1), false},
		"zero length":    {[]byte{0, 0, 0, 0}, false},
		"truncated body": {append(binary.BigEndian.AppendUint32(nil, 100), `{"op":`...), true},
		"truncated head": {[]byte{0, 0}, true},
	} {
		r := send(tc.raw, tc.cw)
		if r.OK || r.Error == "" {
			t.Errorf("%s: answer %+v, want an error", name, r)
		}
	}
	// After all that, and with the hung client still connected, a good
	// request is served; and a bad message mid-connection does not end it.
	raw, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	zc := client.NewZoneClient(raw)
	defer zc.Close()
	raw.Write(Frame([]byte("garbage")))
	if b, err := wire.ReadZoneFrame(raw); err != nil || !bytes.Contains(b, []byte("malformed")) {
		t.Fatalf("garbage on a live connection: %s %v", b, err)
	}
	if r, err := zc.Do(api.ZoneRequest{Op: "info"}); err != nil || r.Info == nil {
		t.Fatalf("info after garbage: %v", err)
	}
	// The hung client is dropped at its idle deadline.
	hung.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 256)
	for {
		if _, err := hung.Read(buf); err != nil {
			break
		}
	}
}

func TestZoneSockDecode(t *testing.T) {
	good := []string{`{"op":"info"}`, `{"op":"set-zone-cap","rctl":"zone.max-lwps","value":"5"}`,
		`{"op":"project","project":{"op":"add","name":"p","id":100,"attrs":["project.max-lwps=(privileged,10,deny)"]}}`,
		`{"op":"project","project":{"op":"set-limit","name":"p","limits":{"project.max-lwps":""}}}`,
		`{"op":"project","project":{"op":"mod","name":"p","mode":"substitute","set_attrs":true,"attrs":["project.cpu-shares=(privileged,5,none)"]}}`,
		`{"op":"usage"}`, `{"op":"processes"}`, `{"op":"newtask","task":"web"}`,
		`{"op":"set-task-rctl","rctl":"task.max-lwps","taskid":3,"value":"(privileged,5,deny)"}`}
	for _, g := range good {
		if _, err := decodeZoneRequest([]byte(g)); err != nil {
			t.Errorf("%s: %v", g, err)
		}
	}
	bad := []string{``, `{}`, `null`, `[]`, `{"op":"project"}`, `{"op":"project","project":{"op":"nuke"}}`, `{"op":"set-zone-cap"}`, `{"op":"info"} x`,
		`{"op":"newtask","task":"../etc"}`, `{"op":"usage","pid":1}`,
		`{"op":"set-task-rctl","rctl":"zone.max-lwps","taskid":3}`, `{"op":"set-task-rctl","rctl":"task.max-lwps"}`,
		`{"op":"set-task-rctl","rctl":"task.max-lwps","taskid":-1}`}
	for _, b := range bad {
		if _, err := decodeZoneRequest([]byte(b)); err == nil {
			t.Errorf("%q accepted", b)
		}
	}
}

func FuzzZoneSockDecode(f *testing.F) {
	f.Add(Frame([]byte(`{"op":"info"}`)))
	f.Add(Frame([]byte(`{"op":"project","project":{"op":"set-limit","name":"x","limits":{"a":"b"}}}`)))
	f.Add(Frame([]byte(`{"op":"project","project":{"op":"mod","name":"x","id":-1,"mode":"remove","set_users":true,"users":["a"]}}`)))
	f.Add(Frame([]byte(`{"op":"usage"}`)))
	f.Add(Frame([]byte(`{"op":"processes"}`)))
	f.Add(Frame([]byte(`{"op":"newtask","task":"user.root"}`)))
	f.Add(Frame([]byte(`{"op":"newtask","task":""}`)))
	f.Add(Frame([]byte(`{"op":"set-task-rctl","rctl":"task.max-lwps","taskid":3,"value":"(privileged,5,deny)"}`)))
	f.Add([]byte{0, 0, 0, 0})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Add(Frame([]byte(`{"op":"set-zone-cap","rctl":"r"}`))[:7])
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		for i := 0; i < 4; i++ {
			b, err := wire.ReadZoneFrame(r)
			if err != nil {
				return
			}
			if len(b) > wire.ZoneSockMax || len(b) == 0 {
				t.Fatalf("frame of %d bytes accepted", len(b))
			}
			req, err := decodeZoneRequest(b)
			if err != nil {
				continue
			}
			if _, ok := map[string]bool{"info": true, "usage": true, "processes": true, "newtask": true, "set-zone-cap": true, "set-task-rctl": true, "project": true}[req.Op]; !ok {
				t.Fatalf("op %q accepted", req.Op)
			}
			if req.Op == "project" && req.Project == nil {
				t.Fatal("project op without a request accepted")
			}
			if req.Op == "newtask" && req.Task != "" && limits.ValidProjectName(req.Task) != nil {
				t.Fatalf("newtask of project %q accepted", req.Task)
			}
			if req.Op == "set-task-rctl" {
				if r, err := rctl.Lookup(req.Rctl); err != nil || r.Level != rctl.LevelTask || req.TaskID <= 0 {
					t.Fatalf("set-task-rctl of %q on task %d accepted", req.Rctl, req.TaskID)
				}
			}
		}
	})
}

// A symlink in the zone pointing at a host file resolves inside the zone
// when it is a directory on the way; the file itself is never a symlink.
func TestReadZoneFileStaysInRoot(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	os.WriteFile(filepath.Join(root, "etc", "hostname"), []byte("zone-own\n"), 0o644)
	hostFile := filepath.Join(t.TempDir(), "host-secret")
	os.WriteFile(hostFile, []byte("host secret\n"), 0o600)
	os.Symlink("/etc/hostname", filepath.Join(root, "etc", "project"))
	os.Symlink("../../../../../../../../"+hostFile, filepath.Join(root, "etc", "dotdot"))
	os.Symlink(hostFile, filepath.Join(root, "etc", "abs"))
	os.Symlink("/proc/self/root"+hostFile, filepath.Join(root, "etc", "magic"))
	if err := unix.Mkfifo(filepath.Join(root, "etc", "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Symlink("/etc", filepath.Join(root, "conf"))
	b, err := pathrs.ReadZoneFile(root, "/conf/hostname", 1<<20)
	if err != nil || string(b) != "zone-own\n" {
		t.Fatalf("/conf → /etc, /conf/hostname read %q, %v; want the zone's own file", b, err)
	}
	if b, err := pathrs.ReadZoneFile(root, "/etc/project", 1<<20); err == nil || b != nil {
		t.Errorf("project → /etc/hostname read %q, %v; want the symlink refused", b, err)
	}
	for _, p := range []string{"/etc/dotdot", "/etc/abs", "/etc/magic", "../../" + hostFile} {
		if b, err := pathrs.ReadZoneFile(root, p, 1<<20); err == nil || bytes.Contains(b, []byte("host secret")) {
			t.Errorf("%s: read %q (err %v): a host file escaped the root", p, b, err)
		}
	}
	if _, err := pathrs.ReadZoneFile(root, "/etc/fifo", 1<<20); err == nil {
		t.Error("a FIFO was read")
	}
	if _, err := pathrs.ReadZoneFile(root, "/etc/hostname", 3); err == nil {
		t.Error("size limit not applied")
	}
}

// usage and processes are for any user of the zone; newtask moves the
// process that connected, known from the socket, not from the request.
func TestZoneSockUsageProcessesNewtask(t *testing.T) {
	for _, uid := range []int{0, 1000} {
		sock := filepath.Join(t.TempDir(), "zone.sock")
		lis, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
		if err != nil {
			t.Fatal(err)
		}
		var moved []int
		srv := &ZoneSockServer{Zone: "zs1", lis: lis,
			identify: func(*net.UnixConn) (api.Principal, error) { return api.Principal{UID: uid, Zone: "zs1"}, nil },
			config:   func() (*zones.Config, error) { return &zones.Config{Name: "zs1"}, nil },
			Status:   func() api.ZoneStatus { return api.ZoneStatus{State: "running", ZoneID: 3} },
			zoneRoot: func() string { return "/nonexistent" },
			usage:    func() (api.ZoneUsage, error) { return api.ZoneUsage{Zone: "zs1", Procs: 4}, nil },
			processes: func(context.Context) ([]api.Process, error) {
				return []api.Process{{PID: 1, Command: "zsched"}, {PID: 7, Project: "web", User: "nobody"}}, nil
			},
			newTask: func(p api.Principal, pid int, project string) (int, error) {
				if project == "closed" {
					return 0, errors.New("user is not a member of project closed")
				}
				moved = append(moved, pid)
				return 5, nil
			},
			idle: time.Second}
		go srv.serve()
		zc, err := client.DialZone(sock)
		if err != nil {
			t.Fatal(err)
		}
		if r, err := zc.Do(api.ZoneRequest{Op: "usage"}); err != nil || r.Usage == nil || r.Usage.Procs != 4 {
			t.Errorf("uid %d: usage %+v %v", uid, r.Usage, err)
		}
		if r, err := zc.Do(api.ZoneRequest{Op: "processes"}); err != nil || len(r.Processes) != 2 || r.Processes[1].Project != "web" {
			t.Errorf("uid %d: processes %+v %v", uid, r.Processes, err)
		}
		if r, err := zc.Do(api.ZoneRequest{Op: "newtask", Task: "web"}); err != nil || r.TaskID != 5 {
			t.Errorf("uid %d: newtask %+v %v", uid, r, err)
		}
		if _, err := zc.Do(api.ZoneRequest{Op: "newtask", Task: "closed"}); err == nil || !strings.Contains(err.Error(), "not a member") {
			t.Errorf("uid %d: newtask of a closed project: %v", uid, err)
		}
		if len(moved) != 1 || moved[0] != os.Getpid() {
			t.Errorf("uid %d: newtask moved %v, want this process %d", uid, moved, os.Getpid())
		}
		zc.Close()
		srv.close()
	}
}

// A refused connection gets the reason as a reply the client returns,
// not a broken pipe.
func TestZoneSockRefusal(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "zone.sock")
	lis, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	p := api.Principal{UID: 1000, Zone: "zs1"}
	srv := &ZoneSockServer{Zone: "zs1", lis: lis,
		identify: func(*net.UnixConn) (api.Principal, error) { return p, nil },
		peerUID:  func(*net.UnixConn) (uint32, error) { return 1000, nil },
		config:   func() (*zones.Config, error) { return &zones.Config{Name: "zs1"}, nil },
		Status:   func() api.ZoneStatus { return api.ZoneStatus{State: "running"} },
		zoneRoot: func() string { return "/nonexistent" }, idle: 5 * time.Second}
	go srv.serve()
	t.Cleanup(srv.close)
	var held []*client.ZoneClient
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for i := 0; i < zoneSockPerUID; i++ {
		zc, err := client.DialZone(sock)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, zc)
		if _, err := zc.Do(api.ZoneRequest{Op: "info"}); err != nil {
			t.Fatalf("connection %d: %v", i+1, err)
		}
	}
	zc, err := client.DialZone(sock)
	if err != nil {
		t.Fatal(err)
	}
	defer zc.Close()
	time.Sleep(50 * time.Millisecond) // the server refuses and closes first
	_, err = zc.Do(api.ZoneRequest{Op: "info"})
	if want := "zone socket: too many connections from uid 1000 (limit 8)"; err == nil || err.Error() != want {
		t.Errorf("connection past the limit: %v, want %q", err, want)
	}
}

func TestZoneSockSlowDown(t *testing.T) {
	sock, _, _ := startTestZoneSock(t, api.Principal{UID: 1000, Zone: "zs1"})
	zc, err := client.DialZone(sock)
	if err != nil {
		t.Fatal(err)
	}
	defer zc.Close()
	slow := 0
	for i := 0; i < 3*zoneSockBurst; i++ {
		if _, err := zc.Do(api.ZoneRequest{Op: "info"}); err != nil {
			if !strings.Contains(err.Error(), "slow down") {
				t.Fatal(err)
			}
			slow++
		}
	}
	if slow == 0 {
		t.Errorf("%d requests in a burst on one connection, none told to slow down", 3*zoneSockBurst)
	}
}

// The zone socket takes no descriptors: a zone user who sends one gets a
// refusal, and zoneadmd keeps none.
func TestZoneSockRefusesDescriptors(t *testing.T) {
	sock, _, _ := startTestZoneSock(t, api.Principal{UID: 0, Zone: "zs1"})
	c, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: sock, Net: "unix"})
	ztest.Must(t, err)
	defer c.Close()
	r, w, err := os.Pipe()
	ztest.Must(t, err)
	defer r.Close()
	_, _, err = c.WriteMsgUnix(Frame([]byte(`{"op":"info"}`)), unix.UnixRights(int(w.Fd())), nil)
	ztest.Must(t, err)
	w.Close()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, err := wire.ReadZoneFrame(c)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	var reply api.ZoneReply
	ztest.Must(t, json.Unmarshal(b, &reply))
	if reply.OK || !strings.Contains(reply.Error, "the zone socket takes no file descriptors") {
		t.Errorf("info with a descriptor: %+v, want a refusal", reply)
	}
	if !ztest.Released(r) {
		t.Error("the zone socket's server kept the descriptor")
	}
}

// The zone's administrator reads its own zone's console log through the
// socket, as much as one message holds, newest lines kept; its other
// users, and root of another zone, are refused; and no request names
// another zone's log.
func TestZoneSockConsoleLog(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(configs.LogDir(root), 0o755); err != nil {
		t.Fatal(err)
	}
	// zs1's log is longer than a message, and escaped JSON is longer
	// still (ESC becomes \u001b).
	var b strings.Builder
	for i := range 20000 {
		fmt.Fprintf(&b, "\x1b[1mline %d of zs1\x1b[0m\n", i)
	}
	b.WriteString("the last line of zs1\n")
	if err := os.WriteFile(filepath.Join(configs.LogDir(root), "zs1.console"), []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(configs.LogDir(root), "zs2.console"), []byte("secret of zs2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	serve := func(p api.Principal) *client.ZoneClient {
		sock := filepath.Join(t.TempDir(), "zone.sock")
		lis, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
		if err != nil {
			t.Fatal(err)
		}
		srv := &ZoneSockServer{Zone: "zs1", lis: lis,
			identify:   func(*net.UnixConn) (api.Principal, error) { return p, nil },
			config:     func() (*zones.Config, error) { return &zones.Config{Name: "zs1"}, nil },
			Status:     func() api.ZoneStatus { return api.ZoneStatus{State: "running", ZoneID: 3} },
			zoneRoot:   func() string { return "/nonexistent" },
			consoleLog: func() (string, error) { return consoleLogTail(root, "zs1", wire.ZoneSockMax) },
			idle:       time.Second}
		go srv.serve()
		t.Cleanup(srv.close)
		zc, err := client.DialZone(sock)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { zc.Close() })
		return zc
	}

	r, err := serve(api.Principal{UID: 0, Zone: "zs1"}).Do(api.ZoneRequest{Op: "console-log"})
	if err != nil {
		t.Fatalf("the zone administrator's console-log: %v", err)
	}
	if !strings.HasSuffix(r.ConsoleLog, "the last line of zs1\n") || !strings.HasPrefix(r.ConsoleLog, "\x1b[1mline ") {
		t.Fatalf("console-log does not end with the newest line, from a whole line: %q ... %q", r.ConsoleLog[:40], r.ConsoleLog[len(r.ConsoleLog)-40:])
	}
	if strings.Contains(r.ConsoleLog, "zs2") {
		t.Fatal("zs1's socket gave zs2's log")
	}

	for _, p := range []api.Principal{{UID: 1000, Zone: "zs1"}, {UID: 0, Zone: "zs2"}} {
		if _, err := serve(p).Do(api.ZoneRequest{Op: "console-log"}); !errors.Is(err, api.ErrPermission) {
			t.Errorf("%+v: console-log of zs1: %v, want permission denied", p, err)
		}
	}
	// A zone is not a field of the request: the socket serves its own
	// zone's log only.
	if _, err := decodeZoneRequest([]byte(`{"op":"console-log","zone":"zs2"}`)); err == nil {
		t.Error("a console-log request naming a zone was accepted")
	}
}
