package zoneadmd

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
	"zonetop/internal/platform"
	"zonetop/internal/ztest"
	"zonetop/limits"

	"golang.org/x/sys/unix"
)

func TestDecodeIPCCall(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("IPC filter is x86-64 only")
	}
	cases := []struct {
		d    platform.SeccompData
		want platform.IpcCall
	}{
		{platform.SeccompData{Nr: unix.SYS_SHMGET, Arch: unix.AUDIT_ARCH_X86_64, Args: [6]uint64{0, 20000, unix.IPC_CREAT | 0o600}},
			platform.IpcCall{Kind: platform.IpcShm, Size: 20000, Flags: unix.IPC_CREAT | 0o600}},
		{platform.SeccompData{Nr: unix.SYS_MSGGET, Arch: unix.AUDIT_ARCH_X86_64, Args: [6]uint64{0xffffffff, unix.IPC_CREAT}},
			platform.IpcCall{Kind: platform.IpcMsg, Key: -1, Flags: unix.IPC_CREAT}},
		{platform.SeccompData{Nr: platform.X32SyscallBit | unix.SYS_SEMGET, Arch: unix.AUDIT_ARCH_X86_64, Args: [6]uint64{42, 3, 0}},
			platform.IpcCall{Kind: platform.IpcSem, Key: 42, Size: 3}},
		{platform.SeccompData{Nr: platform.I386Ipc, Arch: unix.AUDIT_ARCH_I386, Args: [6]uint64{1<<16 | platform.IpcCallShmget, 7, 1 << 40, unix.IPC_CREAT}},
			platform.IpcCall{Kind: platform.IpcShm, Key: 7, Size: 0, Flags: unix.IPC_CREAT}},
		{platform.SeccompData{Nr: platform.I386Ipc, Arch: unix.AUDIT_ARCH_I386, Args: [6]uint64{platform.IpcCallMsgget, 9, unix.IPC_CREAT}},
			platform.IpcCall{Kind: platform.IpcMsg, Key: 9, Flags: unix.IPC_CREAT}},
		{platform.SeccompData{Nr: platform.I386Semget, Arch: unix.AUDIT_ARCH_I386, Args: [6]uint64{0, 5, 0}},
			platform.IpcCall{Kind: platform.IpcSem, Size: 5}},
	}
	for i, c := range cases {
		got, ok := platform.DecodeIPCCall(&c.d)
		if !ok || got != c.want {
			t.Errorf("case %d: got %+v %v, want %+v", i, got, ok, c.want)
		}
	}
	if _, ok := platform.DecodeIPCCall(&platform.SeccompData{Nr: unix.SYS_GETPID, Arch: unix.AUDIT_ARCH_X86_64}); ok {
		t.Error("getpid decoded as an IPC call")
	}
	if _, ok := platform.DecodeIPCCall(&platform.SeccompData{Nr: platform.I386Ipc, Arch: unix.AUDIT_ARCH_I386, Args: [6]uint64{21 /* SHMAT */}}); ok {
		t.Error("ipc(SHMAT) decoded as a creation call")
	}
}

func TestParseSysvipc(t *testing.T) {
	shm := "       key      shmid perms                  size  cpid  lpid nattch   uid   gid  cuid  cgid      atime      dtime      ctime                   rss                  swap\n" +
		"         0          3   600                 10000  4242     0      0     0     0     0     0          0          0 1700000000                     0                     0\n" +
		"1234567890          7   644                     1  4243     0      0     0     0     0     0          0          0 1700000000                     0                     0\n"
	ents, err := parseSysvipc(platform.IpcShm, []byte(shm))
	if err != nil || len(ents) != 2 {
		t.Fatalf("shm: %v %+v", err, ents)
	}
	if e := ents[1]; e.key != 1234567890 || e.id.ID != 7 || e.id.Size != 1 || e.cpid != 4243 {
		t.Errorf("shm entry %+v", e)
	}
	sem := "       key      semid perms      nsems   uid   gid  cuid  cgid      otime      ctime\n" +
		"        -1          0   600          4     0     0     0     0          0 1700000000\n"
	ents, err = parseSysvipc(platform.IpcSem, []byte(sem))
	if err != nil || len(ents) != 1 || ents[0].key != -1 || ents[0].id.Size != 4 {
		t.Fatalf("sem: %v %+v", err, ents)
	}
	if _, err := parseSysvipc(platform.IpcShm, []byte("key shmid perms\n")); err == nil {
		t.Error("table without size and cpid accepted")
	}
}

func TestProjectFromCgroup(t *testing.T) {
	rels := []string{"/user.slice/zonetop/z1"}
	cases := map[string]string{
		"12:pids:/user.slice/zonetop/z1/P1\n":             "P1",
		"12:pids:/user.slice/zonetop/z1/P2/task.4\n":      "P2",
		"12:pids:/user.slice/zonetop/z1\n":                "default",
		"12:pids:/user.slice/zonetop/z10/P1\n":            "default",
		"0::/\n3:cpu:/user.slice/zonetop/z1/user.root\n":  "user.root",
		"12:pids:/user.slice/zonetop/z1/bad:name\n":       "default",
		"12:pids:/other/zonetop/z1/P1\n1:name=x:/a/b/c\n": "default",
	}
	for in, want := range cases {
		if got := projectFromCgroup(in, rels); got != want {
			t.Errorf("%q: project %q, want %q", in, got, want)
		}
	}
}

// filteredThread is one OS thread in a fresh IPC namespace under the IPC
// filter, with a checker answering for it as project P1 of a zone.
type filteredThread struct {
	do       chan func()
	listener *os.File
	checker  *ipcChecker
	stop     chan struct{}
	stopR    *os.File
	stopW    *os.File
	done     chan struct{}
}

func startFilteredThread(t testing.TB, rctls map[string]string, projects limits.Projects) *filteredThread {
	t.Helper()
	ztest.NeedSeccompRoot(t)
	ft := &filteredThread{do: make(chan func()), stop: make(chan struct{}), done: make(chan struct{})}
	type setup struct {
		l   *os.File
		tid int
		err error
	}
	ready := make(chan setup)
	go func() {
		// Never unlocked: the thread ends with the goroutine, filter and
		// namespace with it.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWIPC); err != nil {
			ready <- setup{err: err}
			return
		}
		l, err := platform.InstallZoneFilter(platform.ZoneFilterPolicy{})
		ready <- setup{l: l, tid: unix.Gettid(), err: err}
		if err != nil {
			return
		}
		for f := range ft.do {
			f()
		}
	}()
	s := <-ready
	if s.err != nil {
		t.Fatal(s.err)
	}
	ft.listener = s.l
	tables, err := ipcTableFiles("/proc/self/task/" + strconv.Itoa(s.tid) + "/ns/ipc")
	if err != nil {
		t.Fatal(err)
	}
	zone := limits.NewTree().Zone("bench")
	ft.checker = newIPCChecker(zone, tables)
	ft.checker.logf = func(string, ...any) {}
	if err := ft.checker.setZoneLimits(rctls); err != nil {
		t.Fatal(err)
	}
	ft.checker.projOf = func(int) string { return "P1" }
	ft.checker.projects = func() (limits.Projects, uint64) { return projects, 1 }
	ns, err := os.Open("/proc/self/task/" + strconv.Itoa(s.tid) + "/ns/ipc")
	ztest.Must(t, err)
	ft.checker.maker, err = newIPCMaker(ns)
	ns.Close()
	ztest.Must(t, err)
	ft.checker.tick()
	ft.stopR, ft.stopW, err = os.Pipe()
	ztest.Must(t, err)
	go func() {
		defer close(ft.done)
		ft.checker.run(ft.listener, ft.stop, int(ft.stopR.Fd()))
	}()
	t.Cleanup(ft.close)
	return ft
}

func (ft *filteredThread) close() {
	close(ft.do)
	close(ft.stop)
	ft.stopW.Close()
	<-ft.done
	ft.stopR.Close()
	ft.checker.close()
	ft.listener.Close()
}

// shmget runs shmget on the filtered thread.
func (ft *filteredThread) shmget(key int, size int, flags int) (int, error) {
	var id int
	var err error
	ch := make(chan struct{})
	ft.do <- func() {
		id, err = unix.SysvShmGet(key, size, flags)
		close(ch)
	}
	<-ch
	return id, err
}

func (ft *filteredThread) run(f func()) {
	ch := make(chan struct{})
	ft.do <- func() { f(); close(ch) }
	<-ch
}

func TestIPCCheckOnFilteredThread(t *testing.T) {
	ps, errs := limits.ParseProjects(stringsReader("P1:100::::project.max-shm-memory=(privileged,10000,deny);project.max-shm-ids=(privileged,3,deny)\n"), "project")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	ft := startFilteredThread(t, map[string]string{"zone.max-shm-memory": "(privileged,20000,deny)"}, ps)
	// Fig. 6: project at 10000 of 10000: one more byte is refused.
	id1, err := ft.shmget(unix.IPC_PRIVATE, 10000, unix.IPC_CREAT|0o600)
	if err != nil {
		t.Fatalf("shmget 10000 in P1: %v", err)
	}
	if _, err := ft.shmget(unix.IPC_PRIVATE, 1, unix.IPC_CREAT|0o600); err != unix.ENOSPC {
		t.Fatalf("shmget 1 byte over P1's limit: %v, want ENOSPC", err)
	}
	// A key that exists is a lookup: nothing is allocated, nothing refused.
	idk, err := ft.shmget(0x5a5a, 0, 0)
	if err != unix.ENOENT {
		t.Fatalf("lookup of a missing key without IPC_CREAT: %v %v, want ENOENT", idk, err)
	}
	// Removing the segment releases its charge.
	ft.run(func() { _, err = unix.SysvShmCtl(id1, unix.IPC_RMID, nil) })
	ztest.Must(t, err)
	id2, err := ft.shmget(unix.IPC_PRIVATE, 10000, unix.IPC_CREAT|0o600)
	if err != nil {
		t.Fatalf("shmget after IPC_RMID: %v", err)
	}
	// A zone process cannot attach a listener of its own to the chain.
	ft.run(func() {
		if l, err := platform.InstallZoneFilter(platform.ZoneFilterPolicy{}); !errors.Is(err, unix.EBUSY) {
			t.Errorf("second listener: %v, want EBUSY", err)
			if l != nil {
				l.Close()
			}
		}
	})
	// getpid and other calls are not touched.
	ft.run(func() {
		if unix.Getpid() != os.Getpid() {
			t.Error("getpid under the filter")
		}
	})
	// ids: P1 may have 3.
	ids := []int{id2}
	for i := 0; i < 2; i++ {
		id, err := ft.shmget(unix.IPC_PRIVATE, 0, 0) // size 0: EINVAL from the kernel, no id
		if err != unix.EINVAL {
			t.Fatalf("shmget size 0: %v %v", id, err)
		}
	}
	u := ft.checker.zone.Usage(resIDs[platform.IpcShm])
	if u.Used != 1 {
		t.Errorf("zone shm ids %d after refused calls, want 1", u.Used)
	}
	for _, id := range ids {
		ft.run(func() { _, _ = unix.SysvShmCtl(id, unix.IPC_RMID, nil) })
	}
}

func stringsReader(s string) *os.File {
	r, w, _ := os.Pipe()
	go func() { w.WriteString(s); w.Close() }()
	return r
}

// BenchmarkShmget measures one shmget(IPC_PRIVATE, 4096) plus its
// IPC_RMID, on a thread under the IPC filter answered by the checker and on
// one without.
func BenchmarkShmget(b *testing.B) {
	b.Run("filtered", func(b *testing.B) {
		ft := startFilteredThread(b, nil, nil)
		b.ResetTimer()
		ft.run(func() {
			for i := 0; i < b.N; i++ {
				id, err := unix.SysvShmGet(unix.IPC_PRIVATE, 4096, unix.IPC_CREAT|0o600)
				if err != nil {
					b.Error(err)
					return
				}
				_, _ = unix.SysvShmCtl(id, unix.IPC_RMID, nil)
			}
		})
	})
	// As in a zone: the caller's project read from /proc/PID/cgroup.
	b.Run("filtered-cgroup", func(b *testing.B) {
		ft := startFilteredThread(b, nil, nil)
		self, err := os.ReadFile("/proc/self/cgroup")
		ztest.Must(b, err)
		var rels []string
		for _, line := range strings.Split(strings.TrimSpace(string(self)), "\n") {
			if parts := strings.SplitN(line, ":", 3); len(parts) == 3 {
				rels = append(rels, strings.TrimSuffix(filepath.Dir(parts[2]), "/"))
			}
		}
		ft.checker.projOf = func(pid int) string { return cgroupProject(ft.checker.procs, pid, rels) }
		b.ResetTimer()
		ft.run(func() {
			for i := 0; i < b.N; i++ {
				id, err := unix.SysvShmGet(unix.IPC_PRIVATE, 4096, unix.IPC_CREAT|0o600)
				if err != nil {
					b.Error(err)
					return
				}
				_, _ = unix.SysvShmCtl(id, unix.IPC_RMID, nil)
			}
		})
	})
	b.Run("plain", func(b *testing.B) {
		ztest.NeedSeccompRoot(b)
		done := make(chan struct{})
		go func() {
			defer close(done)
			runtime.LockOSThread()
			if err := unix.Unshare(unix.CLONE_NEWIPC); err != nil {
				b.Error(err)
				return
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				id, err := unix.SysvShmGet(unix.IPC_PRIVATE, 4096, unix.IPC_CREAT|0o600)
				if err != nil {
					b.Error(err)
					return
				}
				_, _ = unix.SysvShmCtl(id, unix.IPC_RMID, nil)
			}
		}()
		<-done
	})
}

// BenchmarkGetpid measures a call the filter lets through, with and
// without the filter on the thread.
func BenchmarkGetpid(b *testing.B) {
	b.Run("filtered", func(b *testing.B) {
		ft := startFilteredThread(b, nil, nil)
		b.ResetTimer()
		ft.run(func() {
			for i := 0; i < b.N; i++ {
				unix.Getpid()
			}
		})
	})
	b.Run("plain", func(b *testing.B) {
		done := make(chan struct{})
		go func() {
			defer close(done)
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				unix.Getpid()
			}
		}()
		<-done
	})
}

// Every object the maker makes is in the journal, as the table shows it,
// before its caller has the id; the next zoneadmd reads the journal over
// ipc.json, and a reconcile folds it into ipc.json.
func TestIPCJournal(t *testing.T) {
	ft := startFilteredThread(t, nil, nil)
	state := filepath.Join(t.TempDir(), "ipc.json")
	var logged []string
	ft.run(func() {}) // the checker's goroutine is serving
	ft.checker.loadState(state)
	ft.checker.logf = func(f string, a ...any) { logged = append(logged, f) }
	var ids []int
	ft.run(func() {
		id, err := unix.SysvShmGet(unix.IPC_PRIVATE, 5000, unix.IPC_CREAT|0o600)
		ztest.Must(t, err)
		ids = append(ids, id)
		s, _, e := unix.Syscall(unix.SYS_SEMGET, 0x7a7a, 3, unix.IPC_CREAT|0o600)
		if e != 0 {
			t.Fatal(e)
		}
		m, _, e := unix.Syscall(unix.SYS_MSGGET, unix.IPC_PRIVATE, unix.IPC_CREAT|0o600, 0)
		if e != 0 {
			t.Fatal(e)
		}
		ids = append(ids, int(s), int(m))
	})
	defer ft.run(func() {
		_, _ = unix.SysvShmCtl(ids[0], unix.IPC_RMID, nil)
		_, _, _ = unix.Syscall6(unix.SYS_SEMCTL, uintptr(ids[1]), 0, unix.IPC_RMID, 0, 0, 0)
		_, _, _ = unix.Syscall(unix.SYS_MSGCTL, uintptr(ids[2]), unix.IPC_RMID, 0)
	})
	b, err := os.ReadFile(journalPath(state))
	ztest.Must(t, err)
	if n := strings.Count(string(b), `"project":"P1"`); n != 3 {
		t.Fatalf("journal has %d objects of P1, want 3:\n%s", n, b)
	}
	// What a zoneadmd started now would know.
	next := newIPCChecker(limits.NewTree().Zone("next"), ft.checker.tables)
	next.loadState(state)
	next.journal.Close()
	// The journal's entries are those the table shows: the reconcile
	// (on the checker's goroutine) finds each made object as recorded.
	ft.checker.requestTick(5 * time.Second)
	for _, l := range logged {
		if strings.Contains(l, "recorded as") {
			t.Errorf("a made object's journal entry is not the table's")
		}
	}
	for k := range ft.checker.known {
		for id, o := range ft.checker.known[k] {
			if next.saved[id] != "P1" {
				t.Errorf("%+v (%s) not in the journal as P1: %q", id, o.project, next.saved[id])
			}
		}
	}
	if len(next.saved) != 3 {
		t.Errorf("journal read back as %d objects, want 3", len(next.saved))
	}
	if b, _ := os.ReadFile(journalPath(state)); len(b) != 0 {
		t.Errorf("journal not emptied by the reconcile: %s", b)
	}
	if b, _ := os.ReadFile(state); strings.Count(string(b), `"project":"P1"`) != 3 {
		t.Errorf("ipc.json after the reconcile: %s", b)
	}
}
