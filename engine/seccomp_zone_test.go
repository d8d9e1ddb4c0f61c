package engine

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"
	"zonetop/api"
	"zonetop/internal/configs"
	"zonetop/internal/platform"
	"zonetop/internal/zoneadmd"
	"zonetop/internal/ztest"

	"golang.org/x/sys/unix"
)

// The zone's security boundary seen from inside: host devices, kernel
// keyrings, nested namespaces and the kernel interfaces the zone filter
// refuses. The zone runs this test binary as "sectool", a static program
// making the raw calls busybox has no applet for.
func init() {
	if os.Getenv("ZT_SECTOOL") == "1" && filepath.Base(os.Args[0]) == "sectool" && len(os.Args) >= 2 && os.Args[1] != "zhold" {
		os.Exit(secTool(os.Args[1:]))
	}
}

// secTool runs each command and prints one line for it: "ok DETAIL" or
// "err ERRNO".
func secTool(cmds []string) int {
	out := os.Stdout
	for _, c := range cmds {
		op, arg, _ := strings.Cut(c, ":")
		res, errno := secToolOp(op, arg)
		switch {
		case errno == unix.Errno(0xffff):
			fmt.Fprintln(out, "bad command", c)
			return 2
		case errno != 0:
			fmt.Fprintln(out, "err", unix.ErrnoName(errno), res)
		default:
			fmt.Fprintln(out, "ok", res)
		}
	}
	return 0
}

func cstr(s string) uintptr {
	b, _ := unix.BytePtrFromString(s)
	return uintptr(unsafe.Pointer(b))
}

func secToolOp(op, arg string) (string, syscall.Errno) {
	raw := func(nr uintptr, a ...uintptr) (string, syscall.Errno) {
		var v [6]uintptr
		copy(v[:], a)
		r, _, e := unix.Syscall6(nr, v[0], v[1], v[2], v[3], v[4], v[5])
		if e == 0 && (op == "iouring" || op == "uffd" || op == "perf" || op == "bpf" || op == "fsopen") {
			unix.Close(int(r))
		}
		return strconv.Itoa(int(r)), e
	}
	switch op {
	case "pty":
		// A new pty through /dev/ptmx, its slave opened by path.
		m, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY, 0)
		if err != nil {
			return "ptmx", err.(syscall.Errno)
		}
		defer unix.Close(m)
		if err := unix.IoctlSetPointerInt(m, unix.TIOCSPTLCK, 0); err != nil {
			return "unlockpt", err.(syscall.Errno)
		}
		n, err := unix.IoctlGetInt(m, unix.TIOCGPTN)
		if err != nil {
			return "ptsname", err.(syscall.Errno)
		}
		s, err := unix.Open(fmt.Sprintf("/dev/pts/%d", n), unix.O_RDWR|unix.O_NOCTTY, 0)
		if err != nil {
			return "slave", err.(syscall.Errno)
		}
		unix.Close(s)
		return "/dev/pts/" + strconv.Itoa(n), 0
	case "inotify":
		// Take inotify instances until the kernel refuses, keep them
		// while waiting for the file arg names after the comma.
		return holdUntil(arg, func() error { _, err := unix.InotifyInit1(unix.IN_CLOEXEC); return err }), 0
	case "ptys":
		// Open up to N ptys and keep them while waiting for the file
		// arg names after the comma; report how many opened.
		return holdUntil(arg, func() error { _, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY, 0); return err }), 0
	case "keysearch":
		// The user keyring (KEY_SPEC_USER_KEYRING) of the caller's uid.
		return raw(unix.SYS_KEYCTL, unix.KEYCTL_SEARCH, uintptr(0xfffffffc), cstr("user"), cstr(arg), 0)
	case "keyread":
		id, _ := strconv.Atoi(arg)
		buf := make([]byte, 256)
		r, e := raw(unix.SYS_KEYCTL, unix.KEYCTL_READ, uintptr(id), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)))
		runtime.KeepAlive(buf)
		if e == 0 {
			n, _ := strconv.Atoi(r)
			return string(buf[:min(n, len(buf))]), 0
		}
		return r, e
	case "session":
		return raw(unix.SYS_KEYCTL, unix.KEYCTL_GET_KEYRING_ID, uintptr(0xfffffffd), 0)
	case "addkey":
		return raw(unix.SYS_ADD_KEY, cstr("user"), cstr("xs-zone-key"), cstr("x"), 1, uintptr(0xfffffffd))
	case "reqkey":
		return raw(unix.SYS_REQUEST_KEY, cstr("user"), cstr(arg), 0, 0)
	case "iouring":
		var params [120]byte
		return raw(unix.SYS_IO_URING_SETUP, 1, uintptr(unsafe.Pointer(&params[0])))
	case "uffd":
		// UFFD_USER_MODE_ONLY: allowed to anyone by the kernel.
		return raw(unix.SYS_USERFAULTFD, unix.O_CLOEXEC|1)
	case "perf":
		// A software clock counter on the caller itself, which
		// perf_event_paranoid 2 lets anyone open.
		attr := unix.PerfEventAttr{Type: unix.PERF_TYPE_SOFTWARE, Config: unix.PERF_COUNT_SW_CPU_CLOCK,
			Size: uint32(unsafe.Sizeof(unix.PerfEventAttr{})), Bits: unix.PerfBitDisabled | unix.PerfBitExcludeKernel | unix.PerfBitExcludeHv}
		r, e := raw(unix.SYS_PERF_EVENT_OPEN, uintptr(unsafe.Pointer(&attr)), 0, ^uintptr(0), ^uintptr(0), 0)
		runtime.KeepAlive(&attr)
		return r, e
	case "bpf":
		// BPF_MAP_CREATE of a tiny array map.
		attr := [5]uint32{2 /* BPF_MAP_TYPE_ARRAY */, 4, 4, 1, 0}
		return raw(unix.SYS_BPF, 0, uintptr(unsafe.Pointer(&attr[0])), unsafe.Sizeof(attr))
	case "fsopen":
		return raw(unix.SYS_FSOPEN, cstr("tmpfs"), 0)
	case "personality":
		v, _ := strconv.ParseUint(arg, 0, 32)
		return raw(unix.SYS_PERSONALITY, uintptr(v))
	case "clone3":
		// clone3 must answer ENOSYS (so C libraries fall back to clone,
		// whose flags the filter reads): a bad size would be EINVAL.
		return raw(unix.SYS_CLONE3, 0, 0)
	case "userns", "usernsipc", "fork":
		// Go's own fork path (clone, with a pidfd asked for), the way
		// zsched and zinit start processes.
		var pidfd int = -1
		sys := &syscall.SysProcAttr{PidFD: &pidfd}
		switch op {
		case "userns":
			sys.Cloneflags = syscall.CLONE_NEWUSER
		case "usernsipc":
			sys.Cloneflags = syscall.CLONE_NEWUSER | syscall.CLONE_NEWIPC
		}
		pid, err := syscall.ForkExec("/bin/true", []string{"true"}, &syscall.ProcAttr{Sys: sys})
		if err != nil {
			return "", err.(syscall.Errno)
		}
		var ws syscall.WaitStatus
		_, _ = syscall.Wait4(pid, &ws, 0, nil)
		if pidfd >= 0 {
			unix.Close(pidfd)
		}
		return fmt.Sprintf("exit=%d pidfd=%v", ws.ExitStatus(), pidfd >= 0), 0
	}
	return "", unix.Errno(0xffff)
}

// newSecZone is a busybox zone named xs..., holding sectool.
func newSecZone(t *testing.T) *testZone {
	t.Helper()
	ztest.NeedSeccompRoot(t)
	z := newBusyboxZone(t)
	z.spec.Name = fmt.Sprintf("xs%d-%d", os.Getpid()%100000, zoneSeq)
	self, err := os.ReadFile("/proc/self/exe")
	ztest.Must(t, err)
	ztest.Must(t, os.WriteFile(filepath.Join(z.zroot(), "bin/sectool"), self, 0o755))
	return z
}

// sec runs sectool in the zone as user ("" for root) and returns its
// output lines.
func (z *testZone) sec(user string, cmds ...string) []string {
	z.t.Helper()
	var out, errb bytes.Buffer
	code, err := zoneadmd.Exec(z.root, z.spec.Name, api.ExecRequest{Argv: append([]string{"/bin/sectool"}, cmds...),
		Env: []string{"ZT_SECTOOL=1"}, User: user}, nil, &out, &errb)
	if err != nil || code != 0 {
		z.t.Fatalf("sectool %v: exit %d %v: %s%s", cmds, code, err, out.String(), errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != len(cmds) {
		z.t.Fatalf("sectool %v: output %q", cmds, out.String())
	}
	return lines
}

// wantPrefix checks each line starts with its expected prefix.
func wantPrefix(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	for i := range want {
		if i >= len(got) || !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("%s: line %d = %q, want %q...", what, i+1, strings.Join(got, " | "), want[i])
			return
		}
	}
}

// TestZoneHostDevices: a zone's root (which has mknod) cannot reach the
// host's console through a node it makes, nor make pty nodes; every node
// of its own /dev still works.
func TestZoneHostDevices(t *testing.T) {
	z := newSecZone(t)
	z.ready()
	z.mustFail("open the host's console (5:1) through mknod", "mknod /tmp/c c 5 1 && exec 3>/tmp/c; r=$?; rm -f /tmp/c; exit $r")
	z.mustFail("make a pty node", "mknod /tmp/p c 136 0; r=$?; rm -f /tmp/p; exit $r")
	z.sh("echo x >/dev/null && head -c 1 /dev/urandom >/dev/null && head -c 1 /dev/random >/dev/null && head -c 1 /dev/zero >/dev/null")
	z.sh("if echo x >/dev/full 2>/dev/null; then exit 1; fi; test -c /dev/full")
	if z.spec.UserNS == nil {
		z.sh("echo console-check >/dev/console && mknod /tmp/n c 1 3 && echo x >/tmp/n && rm /tmp/n")
	} else {
		// The kernel makes no device node for a user namespace.
		z.sh("echo console-check >/dev/console")
		z.mustFail("make a device node in a user namespace", "mknod /tmp/n c 1 3; r=$?; rm -f /tmp/n; exit $r")
	}
	var out bytes.Buffer
	code, err := zoneadmd.Exec(z.root, z.spec.Name, api.ExecRequest{Argv: []string{"sh", "-c", "echo via-tty >/dev/tty && tty"}, TTY: true}, nil, &out, nil)
	if err != nil || code != 0 || !strings.Contains(out.String(), "via-tty") {
		t.Errorf("/dev/tty on a zlogin pty: %d %v %q", code, err, out.String())
	}
	wantPrefix(t, "a new pty through /dev/ptmx", z.sec("", "pty"), "ok /dev/pts/")
	waitFor(t, "the console line in the log", func() bool {
		b, _ := os.ReadFile(filepath.Join(configs.LogDir(z.root), z.spec.Name+".console"))
		return bytes.Contains(b, []byte("console-check"))
	})
	z.halt()
}

// TestZoneKeyrings: the host's keys are out of a zone's reach, and the
// zone cannot make keys of its own in the kernel's keyrings (shared by
// uid across every zone: zones have no user namespace).
func TestZoneKeyrings(t *testing.T) {
	z := newSecZone(t)
	if _, err := exec.LookPath("keyctl"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("keyctl (keyutils) is needed")
		}
		t.Skip("keyctl (keyutils) is needed")
	}
	desc := fmt.Sprintf("ztsc-key-%d", os.Getpid())
	out, err := exec.Command("keyctl", "add", "user", desc, "secret", "@u").Output()
	if err != nil {
		t.Fatalf("keyctl add: %v", err)
	}
	id := strings.TrimSpace(string(out))
	// print needs the key possessed, which it is not from a service whose
	// session keyring is private (a systemd unit's); describe needs only
	// the user's view, and tells a revoked or replaced key just as well.
	before, err := exec.Command("keyctl", "describe", id).Output()
	if err != nil {
		t.Fatalf("keyctl describe %s: %v", id, err)
	}
	t.Cleanup(func() {
		if b, err := exec.Command("keyctl", "unlink", id, "@u").CombinedOutput(); err != nil {
			t.Errorf("remove the test key %s: %v: %s", id, err, b)
		}
		// What the zone managed to add, had it been let.
		for _, ring := range []string{"@u", "@us"} {
			for i := 0; i < 100; i++ {
				k, err := exec.Command("keyctl", "search", ring, "user", "xs-zone-key").Output()
				if err != nil || exec.Command("keyctl", "unlink", strings.TrimSpace(string(k)), ring).Run() != nil {
					break
				}
			}
		}
	})
	z.ready()
	for _, user := range []string{"", "nobody"} {
		got := z.sec(user, "keysearch:"+desc, "keyread:"+id, "addkey", "reqkey:"+desc, "session")
		wantPrefix(t, "keyrings from the zone as "+user, got, "err EPERM", "err EPERM", "err EPERM", "err EPERM", "err EPERM")
	}
	if b, _ := exec.Command("keyctl", "describe", id).Output(); string(b) != string(before) {
		t.Errorf("the host key changed: %q, was %q", b, before)
	}
	z.halt()
}

// TestZoneNoNestedUserns: by default a zone makes no user namespace, as
// root or not (in one its processes would hold every capability over
// namespaces the zone's caps do not see), and the kernel interfaces the
// zone filter refuses are refused; Go's and busybox's process start still
// works under the filter.
func TestZoneNoNestedUserns(t *testing.T) {
	z := newSecZone(t)
	z.ready()
	for _, user := range []string{"", "nobody"} {
		code, out, errs := z.runAs(user, "unshare", "-U", "-r", "true")
		if code == 0 {
			t.Errorf("unshare -U -r as %s succeeded: %s%s", orRoot(user), out, errs)
		}
		got := z.sec(user, "userns", "usernsipc", "clone3", "fork", "iouring", "uffd", "perf", "bpf", "fsopen",
			"personality:0x0040000", "personality:0xffffffff", "personality:0")
		wantPrefix(t, "refused calls as "+orRoot(user), got, "err EPERM", "err EPERM", "err ENOSYS", "ok exit=0 pidfd=true",
			"err EPERM", "err EPERM", "err EPERM", "err EPERM", "err EPERM", "err EPERM", "ok", "ok")
	}
	z.halt()
}

// runAs runs a command in the zone as user ("" for root).
func (z *testZone) runAs(user string, argv ...string) (int, string, string) {
	z.t.Helper()
	var out, errb bytes.Buffer
	code, err := zoneadmd.Exec(z.root, z.spec.Name, api.ExecRequest{Argv: argv, User: user}, nil, &out, &errb)
	if err != nil {
		z.t.Fatalf("exec %v as %s: %v", argv, orRoot(user), err)
	}
	return code, out.String(), errb.String()
}

func orRoot(user string) string {
	if user == "" {
		return "root"
	}
	return user
}

// TestZoneNestedUsernsOptIn: limitpriv's zonetop_userns lets a zone make
// user namespaces, but never an ipc namespace (whose objects the zone's
// IPC caps would not see); inside a nested user namespace the zone's IPC
// caps still hold.
func TestZoneNestedUsernsOptIn(t *testing.T) {
	z := newSecZone(t)
	z.spec.NestedUserns = true
	z.spec.IPCRctls = map[string]string{"zone.max-shm-memory": "(privileged,1048576,deny)"}
	ztest.Must(t, os.WriteFile(filepath.Join(z.zroot(), "bin/ipctool"), mustRead(t, "/proc/self/exe"), 0o755))
	z.ready()
	z.sh("unshare -U -r true && unshare -U true")
	code, out, errs := z.runAs("nobody", "unshare", "-U", "-r", "id", "-u")
	if code != 0 || strings.TrimSpace(out) != "0" {
		t.Errorf("unshare -U -r as nobody with the opt-in: %d %s%s", code, out, errs)
	}
	z.mustFail("a nested ipc namespace", "unshare -U -r -i true")
	z.mustFail("a nested ipc namespace without a user namespace", "unshare -i true")
	wantPrefix(t, "Go's fork with the opt-in", z.sec("", "userns", "usernsipc", "fork"), "ok exit=0", "err EPERM", "ok exit=0")
	// ipctool in a nested user namespace: the zone's 1 MB shm cap holds.
	code, out, errs = z.run("", "env", "ZT_IPCTOOL=1", "unshare", "-U", "-r", "/bin/ipctool", "tok", "default", "shm:65536", "shm:2000000", "shm:1000000")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 3 {
		t.Fatalf("ipctool in a nested user namespace: %d %s%s", code, out, errs)
	}
	wantPrefix(t, "shm in a nested user namespace", lines, "ok", "err", "err")
	z.halt()
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	ztest.Must(t, err)
	return b
}

// TestZoneDevptsMax: a zone's devpts holds at most zoneMaxPtys ptys; a
// zone that takes them all leaves the other zones' zlogin -t working, its
// own still admits one session (zsched's spare) and then says why it
// cannot have one.
func TestZoneDevptsMax(t *testing.T) {
	a, b := newSecZone(t), newSecZone(t)
	a.ready()
	b.ready()
	if m := a.sh("grep ' /dev/pts devpts ' /proc/mounts"); !strings.Contains(m, fmt.Sprintf("max=%d", platform.ZoneMaxPtys)) {
		t.Errorf("zone devpts mount %q lacks max=%d", m, platform.ZoneMaxPtys)
	}
	gate := "/tmp/ptys-go"
	done := make(chan []string, 1)
	go func() {
		var out bytes.Buffer
		_, _ = zoneadmd.Exec(a.root, a.spec.Name, api.ExecRequest{Argv: []string{"/bin/sectool", fmt.Sprintf("ptys:%d,%s", platform.ZoneMaxPtys+1, gate)},
			Env: []string{"ZT_SECTOOL=1"}}, nil, &out, nil)
		done <- strings.Split(strings.TrimSpace(out.String()), "\n")
	}()
	release := func() { _ = os.WriteFile(filepath.Join(a.zroot(), gate), nil, 0o644) }
	defer release()
	var res string
	waitFor(t, "sectool's ptys", func() bool {
		b, err := os.ReadFile(filepath.Join(a.zroot(), gate+".out"))
		res = strings.TrimSpace(string(b))
		return err == nil
	})
	n := 0
	if _, v, ok := strings.Cut(res, "opened="); ok {
		n, _ = strconv.Atoi(v)
	}
	if !strings.HasPrefix(res, "err ENOSPC") || n > platform.ZoneMaxPtys || n < platform.ZoneMaxPtys-8 {
		t.Errorf("opening %d ptys in a zone: %q, want ENOSPC after at most %d", platform.ZoneMaxPtys+1, res, platform.ZoneMaxPtys)
	}
	var out bytes.Buffer
	code, err := zoneadmd.Exec(b.root, b.spec.Name, api.ExecRequest{Argv: []string{"tty"}, TTY: true}, nil, &out, nil)
	if err != nil || code != 0 || !strings.Contains(out.String(), "/dev/pts/") {
		t.Errorf("zlogin -t to another zone while one holds all its ptys: %d %v %q", code, err, out.String())
	}
	// zsched's spare pty: one zlogin -t still gets in, to see why; a
	// second one at the same time is told why it cannot.
	held := make(chan error, 1)
	go func() {
		var o bytes.Buffer
		_, err := zoneadmd.Exec(a.root, a.spec.Name, api.ExecRequest{Argv: []string{"sh", "-c", "tty >/tmp/held.tmp && mv /tmp/held.tmp /tmp/held; while [ ! -e " + gate + " ]; do sleep 0.05; done"},
			TTY: true}, nil, &o, nil)
		held <- err
	}()
	waitFor(t, "a zlogin -t session through the spare pty", func() bool {
		select {
		case err := <-held:
			t.Fatalf("zlogin -t with every pty of the zone taken: %v", err)
		default:
		}
		_, err := os.Stat(filepath.Join(a.zroot(), "tmp/held"))
		return err == nil
	})
	_, err = zoneadmd.Exec(a.root, a.spec.Name, api.ExecRequest{Argv: []string{"tty"}, TTY: true}, nil, &out, nil)
	if err == nil || !strings.Contains(err.Error(), "zone's pty limit") {
		t.Errorf("zlogin -t to the zone holding all its ptys: %v, want the zone's pty limit named", err)
	}
	release()
	for _, ch := range []chan error{held} {
		select {
		case <-ch:
		case <-time.After(30 * time.Second):
			t.Error("the held session did not finish")
		}
	}
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Error("sectool did not finish")
	}
	a.halt()
	b.halt()
}

// A zone's root is host root, and inotify instances are counted per uid:
// a zone that takes them all must not leave zonetop's watch of another
// zone's /etc/project dead. The watch falls back to looking at the file.
func TestProjectWatchWithoutInotify(t *testing.T) {
	a := newSecZone(t)
	a.ready()
	gate := "/tmp/ino-go"
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = zoneadmd.Exec(a.root, a.spec.Name, api.ExecRequest{Argv: []string{"/bin/sectool", "inotify:100000," + gate},
			Env: []string{"ZT_SECTOOL=1"}}, nil, io.Discard, io.Discard)
	}()
	release := func() { _ = os.WriteFile(filepath.Join(a.zroot(), gate), nil, 0o644) }
	defer func() {
		release()
		<-done
		a.halt()
	}()
	var res string
	waitFor(t, "sectool's inotify instances", func() bool {
		b, err := os.ReadFile(filepath.Join(a.zroot(), gate+".out"))
		res = strings.TrimSpace(string(b))
		return err == nil
	})
	if !strings.HasPrefix(res, "err EMFILE") {
		t.Fatalf("taking every inotify instance from inside a zone: %q", res)
	}
	// Host root (this test, as zoneadmd would) now has none left.
	root := t.TempDir()
	ztest.Must(t, os.MkdirAll(filepath.Join(root, "etc"), 0o755))
	calls := make(chan struct{}, 8)
	w, err := zoneadmd.WatchProjects(root, func() { calls <- struct{}{} })
	if err != nil {
		t.Fatalf("watch /etc/project with the zone holding every inotify instance: %v", err)
	}
	defer w.Close()
	release() // the rest does not need the shortage
	// Had an instance come free meanwhile (another zone halting), the
	// watch is inotify's, set up on its own goroutine: give it time.
	time.Sleep(200 * time.Millisecond)
	ztest.Must(t, os.WriteFile(filepath.Join(root, "etc", "project"), []byte("system:0::::\n"), 0o644))
	select {
	case <-calls:
	case <-time.After(5 * zoneadmd.ProjWatchPoll):
		t.Fatal("an edit of /etc/project was not seen")
	}
}

// holdUntil runs take up to N times (arg "N,GATE"), keeps what it took,
// writes how many it got (and the errno that stopped it) to GATE.out and
// returns once the file GATE exists.
func holdUntil(arg string, take func() error) string {
	num, wait, _ := strings.Cut(arg, ",")
	n, _ := strconv.Atoi(num)
	opened := 0
	var errno syscall.Errno
	for ; opened < n; opened++ {
		if err := take(); err != nil {
			errno = err.(syscall.Errno)
			break
		}
	}
	res := fmt.Sprintf("opened=%d", opened)
	if errno != 0 {
		res = "err " + unix.ErrnoName(errno) + " " + res
	}
	_ = os.WriteFile(wait+".out.tmp", []byte(res+"\n"), 0o644)
	_ = os.Rename(wait+".out.tmp", wait+".out")
	for {
		if _, err := os.Stat(wait); err == nil {
			return res
		}
		time.Sleep(5 * time.Millisecond)
	}
}
