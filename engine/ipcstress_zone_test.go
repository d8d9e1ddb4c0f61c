package engine

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"zonetop/internal/zoneadmd"
	"zonetop/internal/ztest"

	"golang.org/x/sys/unix"
)

// The running totals (seed ¶0046) must follow the objects the zone really
// holds, whoever made them and whatever became of the maker. These ops of
// ipctool are the zone root's side of the race: "burst" is a short-lived
// creator (several threads each make one object at the same instant, then
// the process exits at once, so zoneadmd never finds it in /proc again);
// "stress" runs rounds of bursts while it removes objects it made, and
// after each round counts what its project really holds in the zone's
// IPC namespace against the project's limits.

// ipcStressOp runs "burst:SHMSIZE" or
// "stress:ROUNDS:CHILDREN:SHMSIZE:SHMLIM:IDLIM:ZSHM:ZIDS" (ZSHM, ZIDS: the
// zone caps this instance samples the whole namespace against, 0 for
// none).
func ipcStressOp(out io.Writer, project, op, arg string) int {
	a := strings.Split(arg, ":")
	num := func(i int) int {
		if i >= len(a) {
			return 0
		}
		n, _ := strconv.Atoi(a[i])
		return n
	}
	if op == "burst" {
		return ipcBurst(out, num(0))
	}
	return ipcStress(out, project, num(0), num(1), num(2), num(3), num(4), num(5), num(6))
}

// ipcBurst makes two objects of each kind from six threads released
// together, prints "KIND ID" for each made and returns: the caller's main
// exits straight away.
func ipcBurst(out io.Writer, shmSize int) int {
	kinds := []string{"shm", "msg", "sem", "shm", "msg", "sem"}
	res := make([]string, len(kinds))
	var ready, wg sync.WaitGroup
	start := make(chan struct{})
	for i, k := range kinds {
		ready.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Never unlocked: the thread dies with the process, like a
			// thread of a real program that made the call and ended.
			runtime.LockOSThread()
			ready.Done()
			<-start
			var r uintptr
			var errno unix.Errno
			switch k {
			case "shm":
				r, _, errno = unix.Syscall(unix.SYS_SHMGET, unix.IPC_PRIVATE, uintptr(shmSize), unix.IPC_CREAT|0o600)
			case "msg":
				r, _, errno = unix.Syscall(unix.SYS_MSGGET, unix.IPC_PRIVATE, unix.IPC_CREAT|0o600, 0)
			case "sem":
				r, _, errno = unix.Syscall(unix.SYS_SEMGET, unix.IPC_PRIVATE, 1, unix.IPC_CREAT|0o600)
			}
			if errno == 0 {
				res[i] = fmt.Sprintf("%s %d", k, int(r))
			}
		}()
	}
	ready.Wait()
	close(start)
	wg.Wait()
	for _, l := range res {
		if l != "" {
			fmt.Fprintln(out, l)
		}
	}
	return 0
}

type ipcObj struct {
	kind string
	id   int
}

func rmIPC(o ipcObj) {
	switch o.kind {
	case "shm":
		_, _ = unix.SysvShmCtl(o.id, unix.IPC_RMID, nil)
	case "msg":
		_, _, _ = unix.Syscall(unix.SYS_MSGCTL, uintptr(o.id), unix.IPC_RMID, 0)
	case "sem":
		_, _, _ = unix.Syscall6(unix.SYS_SEMCTL, uintptr(o.id), 0, unix.IPC_RMID, 0, 0, 0)
	}
}

// ipcStress prints a "VIOLATION ..." line for each time its project (or,
// with zshm/zids, the zone) held more than its limit, and a last line
// "stress rounds=R made=M violations=V".
func ipcStress(out io.Writer, project string, rounds, children, shmSize, shmLim, idLim, zshm, zids int) int {
	var mu sync.Mutex
	live := map[ipcObj]bool{}
	var violations atomic.Int64
	var outMu sync.Mutex
	report := func(format string, args ...any) {
		violations.Add(1)
		outMu.Lock()
		fmt.Fprintf(out, "VIOLATION "+format+"\n", args...)
		outMu.Unlock()
	}
	// The zone as a whole, sampled all along.
	stopSample := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		if zshm == 0 && zids == 0 {
			return
		}
		for {
			select {
			case <-stopSample:
				return
			default:
			}
			for _, k := range []string{"shm", "msg", "sem"} {
				n, bytes := sysvipcTotals(k)
				if zids > 0 && k != "shm" && n > zids {
					report("zone holds %d %s ids, cap %d", n, k, zids)
				}
				if zshm > 0 && k == "shm" && bytes > uint64(zshm) {
					report("zone holds %d shm bytes, cap %d", bytes, zshm)
				}
			}
			time.Sleep(time.Millisecond)
		}
	}()
	made := 0
	rng := rand.New(rand.NewPCG(uint64(os.Getpid()), uint64(time.Now().UnixNano())))
	for r := 0; r < rounds; r++ {
		// IPC_RMID in between: objects of earlier rounds go while the
		// creators of this one run.
		stopRm := make(chan struct{})
		rmDone := make(chan struct{})
		go func() {
			defer close(rmDone)
			for n := 0; n < children/2; n++ {
				select {
				case <-stopRm:
					return
				case <-time.After(time.Duration(rng.IntN(3000)) * time.Microsecond):
				}
				mu.Lock()
				var victim *ipcObj
				for o := range live {
					victim = &o
					break
				}
				if victim != nil {
					delete(live, *victim)
				}
				mu.Unlock()
				if victim != nil {
					rmIPC(*victim)
				}
			}
		}()
		var wg sync.WaitGroup
		for c := 0; c < children; c++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				b, err := exec.Command("/bin/ipctool", "burst", project, "burst:"+strconv.Itoa(shmSize)).Output()
				if err != nil {
					report("burst: %v", err)
				}
				sc := bufio.NewScanner(strings.NewReader(string(b)))
				for sc.Scan() {
					f := strings.Fields(sc.Text())
					if len(f) != 2 {
						continue
					}
					id, _ := strconv.Atoi(f[1])
					mu.Lock()
					live[ipcObj{f[0], id}] = true
					made++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		close(stopRm)
		<-rmDone
		// What the project holds now, from the kernel.
		count := map[string]int{}
		var bytes uint64
		for o := range live {
			count[o.kind]++
			if o.kind == "shm" {
				var ds unix.SysvShmDesc
				if _, err := unix.SysvShmCtl(o.id, unix.IPC_STAT, &ds); err == nil {
					bytes += ds.Segsz
				}
			}
		}
		for _, k := range []string{"msg", "sem"} {
			if idLim > 0 && count[k] > idLim {
				report("round %d: project %s holds %d %s ids, limit %d", r, project, count[k], k, idLim)
			}
		}
		if shmLim > 0 && bytes > uint64(shmLim) {
			report("round %d: project %s holds %d shm bytes, limit %d", r, project, bytes, shmLim)
		}
		// Free about a third, so the next round meets the limits again.
		for o := range live {
			if rng.IntN(3) == 0 {
				rmIPC(o)
				delete(live, o)
			}
		}
	}
	close(stopSample)
	<-sampled
	for o := range live {
		rmIPC(o)
	}
	fmt.Fprintf(out, "stress rounds=%d made=%d violations=%d\n", rounds, made, violations.Load())
	return 0
}

// sysvipcTotals counts the objects of one kind in the reader's IPC
// namespace and, for shm, their bytes.
func sysvipcTotals(kind string) (int, uint64) {
	// Few read(2)s: os.ReadFile's first small reads each resume where
	// the last stopped, and an object removed after one and another
	// made before the next are both counted, more than ever existed.
	f, err := os.Open("/proc/sysvipc/" + kind)
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	n, _ := f.Read(buf)
	b := buf[:n]
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) < 2 {
		return 0, 0
	}
	sizeCol := -1
	for i, h := range strings.Fields(lines[0]) {
		if h == "size" {
			sizeCol = i
		}
	}
	var bytes uint64
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if sizeCol >= 0 && sizeCol < len(f) {
			n, _ := strconv.ParseUint(f[sizeCol], 10, 64)
			bytes += n
		}
	}
	return len(lines) - 1, bytes
}

// TestIPCStressRunningTotals races short-lived, many-threaded creators in
// three projects (deny, partial, and one bound only by the zone caps)
// against IPC_RMID, and holds the check to what the kernel really holds:
// no project and no zone ever above its limit, in the objects themselves
// and in the totals zoneadmd reports, and the totals back at zero once
// everything is removed.
func TestIPCStressRunningTotals(t *testing.T) {
	rounds := 30
	if s := os.Getenv("ZT_IPC_STRESS_ROUNDS"); s != "" {
		rounds, _ = strconv.Atoi(s)
	}
	const children = 6
	z := newLimIPCZone(t, stdProjects+
		"A:100::::project.max-shm-memory=(privileged,10000,deny);project.max-msg-ids=(privileged,10,deny);project.max-sem-ids=(privileged,10,deny)\n"+
		"B:101::::project.max-shm-memory=(privileged,10000,partial);project.max-msg-ids=(privileged,10,deny);project.max-sem-ids=(privileged,10,deny)\n"+
		"C:102::::\n",
		map[string]string{"zone.max-shm-memory": "(privileged,30000,deny)", "zone.max-msg-ids": "(privileged,28,deny)",
			"zone.max-sem-ids": "(privileged,28,deny)"})

	// zoneadmd's own totals, polled all along.
	stop := make(chan struct{})
	polled := make(chan []string, 1)
	go func() {
		var bad []string
		defer func() { polled <- bad }()
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			us, err := zoneadmd.IPCUsageOf(z.root, z.spec.Name)
			if err != nil {
				continue
			}
			for _, u := range us {
				for r, l := range u.Limit {
					if u.Used[r] > l && len(bad) < 20 {
						bad = append(bad, fmt.Sprintf("%q %s: total %d above its limit %d", u.Project, r, u.Used[r], l))
					}
				}
			}
		}
	}()
	arg := func(shmLim, idLim, zshm, zids int) string {
		return fmt.Sprintf("stress:%d:%d:6000:%d:%d:%d:%d", rounds, children, shmLim, idLim, zshm, zids)
	}
	runs := map[string]chan ipcToolResult{
		"A": z.startIPC("A", nil, arg(10000, 10, 30000, 28)),
		"B": z.startIPC("B", nil, arg(10000, 10, 0, 0)),
		"C": z.startIPC("C", nil, arg(0, 0, 0, 0)),
	}
	for _, p := range []string{"A", "B", "C"} {
		r := <-runs[p]
		if r.err != nil || r.code != 0 {
			t.Errorf("stress in %s: exit %d %v: %s", p, r.code, r.err, r.out)
			continue
		}
		lines := strings.Split(strings.TrimSpace(r.out), "\n")
		last := lines[len(lines)-1]
		var rr, made, v int
		if _, err := fmt.Sscanf(last, "stress rounds=%d made=%d violations=%d", &rr, &made, &v); err != nil {
			t.Errorf("stress in %s: output %q", p, r.out)
			continue
		}
		kinds := map[string]int{}
		for _, l := range lines {
			for _, k := range []string{"zone holds", "msg ids", "sem ids", "shm bytes"} {
				if strings.HasPrefix(l, "VIOLATION") && strings.Contains(l, k) {
					kinds[k]++
					break
				}
			}
		}
		t.Logf("project %s: %d rounds, %d objects made, %d violations %v", p, rr, made, v, kinds)
		if v > 0 {
			t.Errorf("project %s: %d times above a limit in %d rounds; first: %s", p, v, rr, lines[0])
		}
	}
	close(stop)
	if bad := <-polled; len(bad) > 0 {
		t.Errorf("zoneadmd's totals went above their limits %d+ times: %s", len(bad), strings.Join(bad, "; "))
	}
	// Everything is removed: every total must come back to zero, no
	// charge left behind and none given back twice.
	var last []string
	ok := false
	for i := 0; i < 100 && !ok; i++ {
		us, err := zoneadmd.IPCUsageOf(z.root, z.spec.Name)
		ztest.Must(t, err)
		last, ok = nil, true
		for _, u := range us {
			for r, n := range u.Used {
				if n != 0 {
					ok = false
					last = append(last, fmt.Sprintf("%q %s=%d", u.Project, r, n))
				}
			}
		}
		if !ok {
			time.Sleep(100 * time.Millisecond)
		}
	}
	if !ok {
		t.Errorf("totals left after every object was removed: %s", strings.Join(last, " "))
	}
}

var limZoneSeq int

// newLimIPCZone is newIPCZone for the limits tests: a zone named ztlim…
// under a base directory of its own, removed with the zone.
func newLimIPCZone(t *testing.T, project string, rctls map[string]string) *testZone {
	t.Helper()
	ztest.NeedSeccompRoot(t)
	needZones(t)
	base, err := os.MkdirTemp("", "ztlim-")
	ztest.Must(t, err)
	limZoneSeq++
	return readyIPCZone(t, newBusyboxZoneAt(t, base, fmt.Sprintf("ztlim%d-%d", os.Getpid()%100000, limZoneSeq)), project, rctls)
}
