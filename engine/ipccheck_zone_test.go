package engine

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"zonetop/api"
	"zonetop/internal/configs"
	"zonetop/internal/platform"
	"zonetop/internal/zoneadmd"
	"zonetop/internal/ztest"

	"golang.org/x/sys/unix"
)

// The zone tests run this test binary inside the zone as "ipctool": a
// static program making real shmget/semget/msgget calls (busybox has none).
func init() {
	// argv[0], not only the environment: the spawn stub that execs
	// ipctool is this same binary and inherits ZT_IPCTOOL.
	if os.Getenv("ZT_IPCTOOL") == "1" && filepath.Base(os.Args[0]) == "ipctool" && len(os.Args) >= 3 && os.Args[1] != "zhold" {
		os.Exit(ipcTool(os.Args[2], os.Args[3:]))
	}
}

// ipcTool (already in its project: zoneadmd placed it) runs each command and prints
// one line per command: "ok ID" or "err ERRNO". Commands: shm:SIZE, sem:N,
// msg, rmshm:REF, rmsem:REF, rmmsg:REF, where REF is an id or $N, the id
// printed for command N.
func ipcTool(project string, cmds []string) int {
	var ids []int
	out := os.Stdout
	if p := os.Getenv("ZT_IPCOUT"); p != "" {
		// Results for a host that may lose the zlogin relay meanwhile.
		f, err := os.Create(p + ".tmp")
		if err != nil {
			fmt.Println(err)
			return 1
		}
		defer func() { f.Close(); os.Rename(p+".tmp", p) }()
		out = f
	}
	for _, c := range cmds {
		op, arg, _ := strings.Cut(c, ":")
		if op == "stress" || op == "burst" {
			return ipcStressOp(out, project, op, arg)
		}
		if op == "wait" {
			for {
				if _, err := os.Stat(arg); err == nil {
					break
				}
				time.Sleep(5 * time.Millisecond)
			}
			fmt.Fprintln(out, "ok 0")
			continue
		}
		ref := func() uintptr {
			if n, ok := strings.CutPrefix(arg, "$"); ok {
				i, _ := strconv.Atoi(n)
				if i < len(ids) {
					return uintptr(ids[i])
				}
			}
			i, _ := strconv.Atoi(arg)
			return uintptr(i)
		}
		num, _ := strconv.Atoi(arg)
		var r uintptr
		var errno syscall.Errno
		switch op {
		case "shm":
			r, _, errno = unix.Syscall(unix.SYS_SHMGET, unix.IPC_PRIVATE, uintptr(num), unix.IPC_CREAT|0o600)
		case "sem":
			r, _, errno = unix.Syscall(unix.SYS_SEMGET, unix.IPC_PRIVATE, uintptr(num), unix.IPC_CREAT|0o600)
		case "msg":
			r, _, errno = unix.Syscall(unix.SYS_MSGGET, unix.IPC_PRIVATE, unix.IPC_CREAT|0o600, 0)
		case "rmshm":
			_, _, errno = unix.Syscall(unix.SYS_SHMCTL, ref(), unix.IPC_RMID, 0)
		case "rmsem":
			_, _, errno = unix.Syscall6(unix.SYS_SEMCTL, ref(), 0, unix.IPC_RMID, 0, 0, 0)
		case "rmmsg":
			_, _, errno = unix.Syscall(unix.SYS_MSGCTL, ref(), unix.IPC_RMID, 0)
		default:
			fmt.Println("bad command", c)
			return 2
		}
		ids = append(ids, int(r))
		switch {
		case errno != 0:
			fmt.Fprintln(out, "err", unix.ErrnoName(errno))
		case op == "shm":
			// The size the segment got (a partial grant makes it
			// smaller than asked) and its owner.
			var ds unix.SysvShmDesc
			if _, err := unix.SysvShmCtl(int(r), unix.IPC_STAT, &ds); err != nil {
				fmt.Fprintln(out, "ok", int(r), "stat:", err)
			} else {
				fmt.Fprintf(out, "ok %d size=%d uid=%d\n", int(r), ds.Segsz, ds.Perm.Uid)
			}
		default:
			fmt.Fprintln(out, "ok", int(r))
		}
	}
	return 0
}

// ipcZone is a busybox zone with ipctool and an /etc/project.
func newIPCZone(t *testing.T, project string, rctls map[string]string) *testZone {
	t.Helper()
	ztest.NeedSeccompRoot(t)
	return readyIPCZone(t, newBusyboxZone(t), project, rctls)
}

// readyIPCZone puts ipctool and project into z's root, gives it the IPC
// caps rctls, and readies it.
func readyIPCZone(t *testing.T, z *testZone, project string, rctls map[string]string) *testZone {
	t.Helper()
	self, err := os.ReadFile("/proc/self/exe")
	ztest.Must(t, err)
	ztest.Must(t, os.WriteFile(filepath.Join(z.zroot(), "bin/ipctool"), self, 0o755))
	ztest.Must(t, os.WriteFile(filepath.Join(z.zroot(), "etc/project"), []byte(project), 0o644))
	z.spec.IPCRctls = rctls
	z.ready()
	return z
}

var ipcToolSeq int

type ipcToolResult struct {
	code int
	out  string
	err  error
}

// startIPC starts ipctool in project and puts it there.
func (z *testZone) startIPC(project string, env []string, cmds ...string) chan ipcToolResult {
	z.t.Helper()
	ipcToolSeq++
	token := fmt.Sprintf("tok%d-%d", os.Getpid(), ipcToolSeq)
	ch := make(chan ipcToolResult, 1)
	go func() {
		var out, errb bytes.Buffer
		// The product's own path: zoneadmd puts the command into its
		// project's cgroup before it runs.
		code, err := zoneadmd.Exec(z.root, z.spec.Name, api.ExecRequest{Argv: append([]string{"/bin/ipctool", token, project}, cmds...),
			Env: append([]string{"ZT_IPCTOOL=1"}, env...), Project: project}, nil, &out, &errb)
		ch <- ipcToolResult{code, out.String() + errb.String(), err}
	}()
	return ch
}

// ipc runs ipctool in project and returns its output lines.
func (z *testZone) ipc(project string, cmds ...string) []string {
	z.t.Helper()
	r := <-z.startIPC(project, nil, cmds...)
	if r.err != nil || r.code != 0 {
		z.t.Fatalf("ipctool %s %v: exit %d %v: %s", project, cmds, r.code, r.err, r.out)
	}
	lines := strings.Split(strings.TrimSpace(r.out), "\n")
	if len(lines) != len(cmds) {
		z.t.Fatalf("ipctool %v: output %q", cmds, r.out)
	}
	return lines
}

func wantLines(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	for i, w := range want {
		if i >= len(got) || !strings.HasPrefix(got[i], w) {
			t.Errorf("%s: step %d: got %q, want %q (all: %q)", what, i, got[i], w, got)
		}
	}
}

func ipcUsed(t *testing.T, z *testZone, project, res string) uint64 {
	t.Helper()
	us, err := zoneadmd.IPCUsageOf(z.root, z.spec.Name)
	ztest.Must(t, err)
	for _, u := range us {
		if u.Project == project {
			return u.Used[res]
		}
	}
	return 0
}

const stdProjects = "system:0::::\nuser.root:1::::\nnoproject:2::::\ndefault:3::::\ngroup.staff:10::::\n"

// TestIPCZonePartialAndInherited: a full zone refuses a shell's
// grandchild in the default project (the filter is inherited across fork
// and exec), and the partial action grants what is left. The seed's
// worked examples (FIG. 6, FIG. 7, ¶0051) are TestSeedWorkedExamples.
func TestIPCZonePartialAndInherited(t *testing.T) {
	z := newIPCZone(t, stdProjects+
		"P3:102::::project.max-shm-memory=(privileged,20000,deny)\n"+
		"P4:103::::project.max-shm-memory=(privileged,4000,partial)\n",
		map[string]string{"zone.max-shm-memory": "(privileged,20000,deny)"})
	p3 := z.ipc("P3", "shm:20000")
	wantLines(t, "P3 fills the zone", p3, "ok")
	// A grandchild of a shell, in the default project: the filter is
	// inherited across fork and exec.
	var out, errb bytes.Buffer
	code, err := zoneadmd.Exec(z.root, z.spec.Name, api.ExecRequest{Argv: []string{"sh", "-c", "/bin/ipctool x default shm:1 && true"},
		Env: []string{"ZT_IPCTOOL=1"}}, nil, &out, &errb)
	if err != nil || code != 0 || len(strings.Fields(out.String())) != 2 {
		t.Fatalf("sh ipctool: %d %v %q %q", code, err, out.String(), errb.String())
	}
	wantLines(t, "default project, zone full", strings.Fields(out.String())[:1], "err")
	wantLines(t, "default project, zone full", strings.Fields(out.String())[1:], "ENOSPC")

	// The partial action: P4 (4000 bytes, partial) asks for 5000 and
	// gets a segment of the 4000 it has; then it is full.
	id3 := strings.Fields(p3[0])[1]
	wantLines(t, "free P3", z.ipc("default", "rmshm:"+id3), "ok")
	got := z.ipc("P4", "shm:5000", "shm:1")
	wantLines(t, "partial", got, "ok", "err ENOSPC")
	if f := strings.Fields(got[0]); len(f) < 3 || f[2] != "size=4000" {
		t.Errorf("partial grant: segment %q, want size=4000", got[0])
	}
	if u := ipcUsed(t, z, "P4", "max-shm-memory"); u != 4000 {
		t.Errorf("P4 shm total %d after the partial grant, want 4000", u)
	}
	// Removing it gives the 4000 back.
	wantLines(t, "P4 frees", z.ipc("P4", "rmshm:"+strings.Fields(got[0])[1], "shm:4000"), "ok", "ok")
}

// TestIPCZoneIDs: zone.max-{shm,sem,msg}-ids and project limits stop
// creation beyond them; a removal gives the id back; a killed zoneadmd
// leaves the zone working and its successor counts again.
func TestIPCZoneIDs(t *testing.T) {
	z := newIPCZone(t, stdProjects+
		"P1:100::::project.max-shm-ids=(privileged,2,deny);project.max-sem-ids=(privileged,2,deny);project.max-msg-ids=(privileged,2,deny)\n"+
		"P2:101::::\n",
		map[string]string{"zone.max-shm-ids": "(privileged,3,deny)", "zone.max-sem-ids": "(privileged,3,deny)",
			"zone.max-msg-ids": "(privileged,3,deny)"})
	p1 := z.ipc("P1", "shm:100", "shm:100", "shm:100", "sem:1", "sem:1", "sem:1", "msg", "msg", "msg")
	wantLines(t, "P1 at its project limits", p1, "ok", "ok", "err ENOSPC", "ok", "ok", "err ENOSPC", "ok", "ok", "err ENOSPC")
	got := z.ipc("P2", "shm:100", "shm:100", "sem:1", "sem:1", "msg", "msg")
	wantLines(t, "P2 at the zone limits", got, "ok", "err ENOSPC", "ok", "err ENOSPC", "ok", "err ENOSPC")
	shm0 := strings.Fields(p1[0])[1]
	got = z.ipc("P1", "rmshm:"+shm0)
	wantLines(t, "P1 removes one", got, "ok")
	wantLines(t, "P2 gets the freed id", z.ipc("P2", "shm:100"), "ok")
	if u := ipcUsed(t, z, "P1", "max-sem-ids"); u != 2 {
		t.Errorf("P1 sem ids %d, want 2", u)
	}

	// zoneadmd killed while its keeper cannot start another (stopped):
	// the zone's IPC calls wait instead of going through unchecked, and
	// are answered by the zoneadmd the keeper starts once it runs again.
	// The caller is started first: any engine call would start a new
	// zoneadmd.
	keeper := 0
	for i := 0; keeper == 0; i++ {
		if i > 1000 {
			t.Fatal("no keeper took up the zone")
		}
		time.Sleep(5 * time.Millisecond)
		keeper = zoneadmd.KeeperPid(z.root)
	}
	waiting := z.startIPC("P2", []string{"ZT_IPCOUT=/tmp/res"}, "wait:/tmp/go", "sem:1")
	ipcJSON := filepath.Join(configs.RunDir(z.root, z.spec.Name), "ipc.json")
	for i := 0; ; i++ {
		if b, err := os.ReadFile(ipcJSON); err == nil && bytes.Count(b, []byte(`"project":"P1"`)) == 5 {
			break
		}
		if i > 1000 {
			t.Fatal("zoneadmd never recorded the attribution in ipc.json")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// ... and until the waiting caller runs in the zone: zoneadmd may
	// record the attribution before it has started the caller.
	for i := 0; !processWithArg("wait:/tmp/go"); i++ {
		if i > 1000 {
			t.Fatal("the waiting ipctool never started")
		}
		time.Sleep(10 * time.Millisecond)
	}
	b, err := os.ReadFile(filepath.Join(configs.RunDir(z.root, z.spec.Name), "zoneadmd.pid"))
	ztest.Must(t, err)
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	ztest.Must(t, syscall.Kill(keeper, syscall.SIGSTOP))
	stopped := true
	defer func() {
		if stopped {
			_ = syscall.Kill(keeper, syscall.SIGCONT)
		}
	}()
	ztest.Must(t, syscall.Kill(pid, syscall.SIGKILL))
	for i := 0; zoneadmd.ZoneadmdRunning(z.root, z.spec.Name); i++ {
		if i > 1000 {
			t.Fatal("zoneadmd did not die")
		}
		time.Sleep(5 * time.Millisecond)
	}
	ztest.Must(t, os.WriteFile(filepath.Join(z.zroot(), "tmp/go"), nil, 0o644))
	res := filepath.Join(z.zroot(), "tmp/res")
	time.Sleep(500 * time.Millisecond)
	if got, err := os.ReadFile(res); err == nil {
		t.Fatalf("an IPC call went through while the zone had no supervisor: %q", got)
	}
	ztest.Must(t, syscall.Kill(keeper, syscall.SIGCONT))
	stopped = false
	var out []byte
	for i := 0; ; i++ {
		if out, err = os.ReadFile(res); err == nil {
			break
		}
		if i > 2000 {
			t.Fatal("the waiting call was never answered: no zoneadmd came back")
		}
		time.Sleep(5 * time.Millisecond)
	}
	select {
	case <-waiting: // its stdio were pipes to the host: they end with it
	case <-time.After(20 * time.Second):
		t.Fatal("the waiting ipctool did not end once answered")
	}
	wantLines(t, "answered by the zoneadmd the keeper started", strings.Split(strings.TrimSpace(string(out)), "\n"), "ok", "err ENOSPC")
	b, err = os.ReadFile(filepath.Join(configs.RunDir(z.root, z.spec.Name), "zoneadmd.pid"))
	ztest.Must(t, err)
	if npid, _ := strconv.Atoi(strings.TrimSpace(string(b))); npid == pid || !zoneadmd.ZoneadmdRunning(z.root, z.spec.Name) {
		t.Fatalf("no new zoneadmd answers (pid file %q)", b)
	}
	// The new zoneadmd recounted (P1's sets stay P1's) and enforces.
	if u := ipcUsed(t, z, "", "max-sem-ids"); u != 3 {
		t.Errorf("zone sem ids after adoption %d, want 3", u)
	}
	if u := ipcUsed(t, z, "P1", "max-sem-ids"); u != 2 {
		t.Errorf("P1 sem ids after adoption %d, want 2", u)
	}
	wantLines(t, "enforced again", z.ipc("P2", "msg"), "err ENOSPC")
}

// TestSeccompListenerGone checks the kernel behaviour the design rests on:
// with the listener closed and no copy left, a notified call fails with
// ENOSYS instead of hanging.
func TestSeccompListenerGone(t *testing.T) {
	ztest.NeedSeccompRoot(t)
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the filter dies with the thread
		if err := unix.Unshare(unix.CLONE_NEWIPC); err != nil {
			errc <- err
			return
		}
		l, err := platform.InstallZoneFilter(platform.ZoneFilterPolicy{})
		if err != nil {
			errc <- err
			return
		}
		l.Close()
		_, err = unix.SysvShmGet(unix.IPC_PRIVATE, 4096, unix.IPC_CREAT|0o600)
		errc <- err
	}()
	if err := <-errc; err != unix.ENOSYS {
		t.Fatalf("shmget with the listener gone: %v, want ENOSYS", err)
	}
}

// processWithArg tells whether some process on the host has arg among its
// arguments.
func processWithArg(arg string) bool {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil {
			continue
		}
		args := bytes.Split(b, []byte{0})
		// A held command's stub (NAME zhold PATH ARGV...) carries the
		// command's arguments before zoneadmd has let it run: on a slow
		// guest the test saw the stub, killed zoneadmd, and the command
		// never started.
		if len(args) > 1 && string(args[1]) == "zhold" {
			continue
		}
		for _, a := range args {
			if string(a) == arg {
				return true
			}
		}
	}
	return false
}
