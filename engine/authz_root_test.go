package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"zonetop/api"
	"zonetop/client"
	"zonetop/internal/audit"
	"zonetop/internal/pathrs"
	"zonetop/internal/zoneadmd"
	"zonetop/internal/ztest"
	"zonetop/zones"
)

// The test binary doubles as a zone-socket and delegated-user client when
// ZONETOP_PROBE is set, so the same code runs inside a zone and as an
// unprivileged host user. Exit 0: done; 3: refused; 1: other error.
func init() {
	probe := os.Getenv("ZONETOP_PROBE")
	if probe == "" {
		return
	}
	kind, arg, _ := strings.Cut(probe, ":")
	// A refusal is told by its kind, which must survive the socket it
	// came over, not by its text.
	fail := func(err error) {
		fmt.Println(err)
		if errors.Is(err, api.ErrPermission) {
			os.Exit(3)
		}
		os.Exit(1)
	}
	switch kind {
	case "zonesock":
		var req api.ZoneRequest
		if err := json.Unmarshal([]byte(arg), &req); err != nil {
			fail(err)
		}
		zc, err := client.DialZone(envOr("ZONETOP_PROBE_SOCK", api.ZoneSockPath))
		if err != nil {
			fail(err)
		}
		r, err := zc.Do(req)
		if err != nil {
			fail(err)
		}
		b, _ := json.Marshal(r)
		fmt.Println(string(b))
	case "delegate":
		op, zone, _ := strings.Cut(arg, ":")
		if _, err := client.DelegatedOp(os.Getenv("ZONETOP_PROBE_ROOT"), zone, op, nil, 0); err != nil {
			fail(err)
		}
	case "exec":
		code, err := zoneadmd.Exec(os.Getenv("ZONETOP_PROBE_ROOT"), arg, api.ExecRequest{Argv: []string{"true"}}, nil, io.Discard, io.Discard)
		if err != nil {
			fail(err)
		}
		os.Exit(code)
	}
	os.Exit(0)
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// TestZoneSocketAndDelegation runs a real zone: its administration socket
// seen from inside (zone admin, plain user, cap refusal, nothing of the
// host visible, cgroups read-only) and delegated host users (not in admin,
// login only, manage) acting as uid 65534 through zoneadmd.
func TestZoneSocketAndDelegation(t *testing.T) {
	z := newBusyboxZone(t)
	name := z.spec.Name
	// The probe: a copy of this test binary any user may run.
	pdir, err := os.MkdirTemp("", "zt-probe-")
	ztest.Must(t, err)
	t.Cleanup(func() { os.RemoveAll(pdir) })
	ztest.Must(t, os.Chmod(pdir, 0o755))
	self, err := os.ReadFile("/proc/self/exe")
	ztest.Must(t, err)
	probe := filepath.Join(pdir, "zprobe")
	ztest.Must(t, os.WriteFile(probe, self, 0o755))
	ztest.Must(t, os.WriteFile(filepath.Join(z.zroot(), "bin/zprobe"), self, 0o755))
	// Host users must be able to traverse to the run directory.
	ztest.Must(t, os.Chmod(filepath.Dir(z.root), 0o755))
	ztest.Must(t, os.WriteFile(filepath.Join(z.zroot(), "etc/shadow"), []byte("zone-shadow\n"), 0o600))
	ztest.Must(t, os.Symlink("/etc/shadow", filepath.Join(z.zroot(), "etc/project")))

	store := zones.NewStore(z.root)
	setAdmins := func(admins []zones.Admin) {
		t.Helper()
		cfg, rev, err := store.Load(name)
		if err != nil {
			cfg, rev = &zones.Config{Name: name, Zonepath: "/zones/" + name, Brand: "busybox", IPType: "shared"}, zones.Revision{}
		}
		cfg.Admins = admins
		if _, err := store.Commit(cfg, rev); err != nil {
			t.Fatalf("commit: %v", err)
		}
	}
	setAdmins(nil)
	ztest.Must(t, store.SetState(name, nil, zones.StateInstalled, ""))
	st := z.ready()

	zprobe := func(user, req string) (int, string) {
		t.Helper()
		var out, errb strings.Builder
		code, err := zoneadmd.Exec(z.root, name, api.ExecRequest{Argv: []string{"/bin/zprobe"}, User: user,
			Env: []string{"ZONETOP_PROBE=zonesock:" + req}}, nil, &out, &errb)
		if err != nil {
			t.Fatalf("zprobe: %v", err)
		}
		return code, out.String() + errb.String()
	}
	if code, out := zprobe("", `{"op":"info"}`); code != 0 || !strings.Contains(out, `"role":"zone-admin"`) || !strings.Contains(out, `"name":"`+name+`"`) {
		t.Errorf("info as zone root: %d %s", code, out)
	}
	if code, out := zprobe("", `{"op":"set-zone-cap","rctl":"zone.max-lwps","value":"100000"}`); code != 3 ||
		!strings.Contains(out, "zone caps are set by the global administrator") {
		t.Errorf("raising the zone cap through the socket: %d %s", code, out)
	}
	if code, out := zprobe("nobody", `{"op":"info"}`); code != 0 || !strings.Contains(out, `"role":"read-only"`) {
		t.Errorf("info as a zone user: %d %s", code, out)
	}
	if code, out := zprobe("nobody", `{"op":"project","project":{"op":"set-limit","name":"x"}}`); code != 3 {
		t.Errorf("project limit by a zone user: %d %s", code, out)
	}
	z.sh("test -S /run/zonetop/zone.sock")
	if out := z.sh("ls -a /run/zonetop"); strings.Contains(out, "zoneadmd") || strings.Contains(out, "zsched") {
		t.Errorf("host sockets visible in the zone: %s", out)
	}
	z.mustFail("find another socket of the host", "find / -xdev -name zoneadmd.sock -o -name zonetop.sock | grep -q .")
	z.mustFail("write the zone's cgroup files", "for f in /sys/fs/cgroup/pids.max /sys/fs/cgroup/*/pids.max; do [ -e $f ] && echo 5 > $f && exit 0; done; exit 1")
	z.mustFail("remount the cgroup file system read-write", "mount -o remount,rw /sys/fs/cgroup")
	z.mustFail("write the zonetop socket directory", "touch /run/zonetop/x")

	// zoneadmd reads zone files inside the zone and never follows their
	// last component: the symlink to /etc/shadow is refused as such,
	// neither the host's shadow nor the zone's is read.
	b, err := pathrs.ReadZoneFile(fmt.Sprintf("/proc/%d/root", st.ZschedPid), "/etc/project", 1<<20)
	if err == nil || !strings.Contains(err.Error(), "/etc/project: a symbolic link, not a regular file") || len(b) != 0 {
		t.Errorf("/etc/project → /etc/shadow read %q, %v", b, err)
	}
	// A host process is not a peer of the zone's socket.
	if zc, err := client.DialZone(filepath.Join(zoneadmd.ZoneSockDir(z.root, name), "zone.sock")); err != nil {
		t.Errorf("dial zone socket from the host: %v", err)
	} else {
		if _, err := zc.Do(api.ZoneRequest{Op: "info"}); err == nil {
			t.Error("a host process was served on the zone socket")
		}
		zc.Close()
	}

	// Delegated host users, as uid 65534 (nobody in the host's passwd).
	asNobody := func(probeArg string) (int, string) {
		t.Helper()
		cmd := exec.Command(probe)
		cmd.Env = []string{"ZONETOP_PROBE=" + probeArg, "ZONETOP_PROBE_ROOT=" + z.root}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), string(out)
		}
		if err != nil {
			t.Fatalf("probe: %v", err)
		}
		return 0, string(out)
	}
	if code, out := asNobody("exec:" + name); code != 3 {
		t.Errorf("zlogin by a user not in admin: %d %s", code, out)
	}
	if code, out := asNobody("delegate:boot:" + name); code != 3 {
		t.Errorf("boot by a user not in admin: %d %s", code, out)
	}
	setAdmins([]zones.Admin{{User: "nobody", Auths: []string{"login"}}})
	if code, out := asNobody("exec:" + name); code != 0 {
		t.Errorf("zlogin with login auth: %d %s", code, out)
	}
	if code, out := asNobody("delegate:boot:" + name); code != 3 || !strings.Contains(out, `lacks the "manage" auth`) {
		t.Errorf("boot with login auth only: %d %s", code, out)
	}
	setAdmins([]zones.Admin{{User: "nobody", Auths: []string{"login", "manage"}}})
	if code, out := asNobody("delegate:boot:" + name); code != 0 {
		t.Fatalf("boot with manage auth: %d %s", code, out)
	}
	if s, err := zoneadmd.Status(z.root, name); err != nil || s.State != "running" {
		t.Errorf("after delegated boot: %+v %v", s, err)
	}
	if code, out := asNobody("delegate:halt:" + name); code != 0 {
		t.Fatalf("halt with manage auth: %d %s", code, out)
	}
	if ent, err := store.State(name); err != nil || ent.State != zones.StateInstalled {
		t.Errorf("index after delegated halt: %+v %v", ent, err)
	}
	recs, _, _ := audit.ReadAudit(z.root, audit.AuditQuery{Zone: name})
	var saw []string
	for _, r := range recs {
		saw = append(saw, fmt.Sprintf("%s/%s/%s", r.Principal.User, r.What, strings.SplitN(r.Result, ":", 2)[0]))
	}
	joined := strings.Join(saw, " ")
	for _, want := range []string{"root/set-zone-cap zone.max-lwps/set-zone-cap " + name, "nobody/boot/ok", "nobody/halt/ok", "nobody/boot/boot " + name} {
		if !strings.Contains(joined, want) {
			t.Errorf("audit lacks %q: %s", want, joined)
		}
	}
	z.assertGone(st)
}
