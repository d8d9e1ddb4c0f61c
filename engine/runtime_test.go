package engine

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"zonetop/api"
	"zonetop/internal/configs"
	"zonetop/internal/platform"
	"zonetop/internal/testhook"
	"zonetop/internal/zoneadmd"
	"zonetop/internal/ztest"
	"zonetop/limits/cgroups"
)

// Integration tests of the zone runtime. They run real zones from the
// per-zone binary (cmd/zoneadmd, built with the test hooks by TestMain),
// as zonetop does. They need root and namespaces: without them they skip,
// or fail when CI=true.

func TestMain(m *testing.M) {
	if p := os.Getenv("ZONETOP_STATIC_TEST"); p != "" {
		os.Remove(p) // running from it already
	} else if os.Geteuid() == 0 && !fuzzing(os.Args) && !raceBuild {
		// A race build stays as it is (-race needs cgo, and the static
		// copy would drop the detector): its zones run zsched and zinit
		// from the per-zone binary, static anyway; only a test that
		// runs the zone's own zonetop tools inside a libc-less zone
		// needs the static copy.
		reexecStatic()
	}
	os.Exit(func() int {
		if os.Geteuid() == 0 && !fuzzing(os.Args) {
			dir, err := buildZoneadmd()
			if err != nil {
				fmt.Fprintf(os.Stderr, "%v; zone tests will fail\n", err)
			}
			defer os.RemoveAll(dir)
		}
		return m.Run()
	}())
}

// zdBin is the per-zone binary buildZoneadmd made, "" without one.
var zdBin string

// buildZoneadmd builds the per-zone binary into a directory of its own
// and has the engine start zoneadmd from it, with zinit beside it. A copy of this test binary
// sits beside it as the zone's zonetop (api.ZoneBinaryPath), where
// zoneadmd looks for the front ends' binary.
func buildZoneadmd() (string, error) {
	dir, err := os.MkdirTemp("", "zt-zoneadmd-")
	if err != nil {
		return "", err
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = "/usr/local/go/bin/go"
	}
	bin := filepath.Join(dir, zoneadmd.BinaryName)
	cmd := exec.Command(goBin, "build", "-tags", "zonetop_testhooks", "-o", bin, "zonetop/cmd/zoneadmd")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return dir, fmt.Errorf("build the per-zone binary: %w", err)
	}
	// The zones' init beside it, where zoneadmd looks for it.
	if _, err := ztest.BuildZinit(dir); err != nil {
		return dir, err
	}
	self, err := os.ReadFile("/proc/self/exe")
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, zoneadmd.ToolsName), self, 0o755)
	}
	if err != nil {
		return dir, fmt.Errorf("the zone's zonetop: %w", err)
	}
	zoneadmd.UseBinary(bin)
	zdBin = bin
	return dir, nil
}

// fuzzing tells a fuzzing run (the coordinator or a worker), whose
// binary carries the fuzzer's coverage instrumentation that a static
// rebuild would lose; fuzz targets run no zone.
func fuzzing(args []string) bool {
	for _, a := range args {
		if strings.HasPrefix(a, "-test.fuzz") {
			return true
		}
	}
	return false
}

// reexecStatic replaces a dynamically linked test binary by a static build
// of itself: zinit runs inside busybox zones, which have no C library.
func reexecStatic() {
	self, err := os.Open("/proc/self/exe")
	if err != nil {
		return
	}
	interp := platform.ElfInterpreter(self)
	self.Close()
	if interp == "" {
		return
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = "/usr/local/go/bin/go"
	}
	out := filepath.Join(os.TempDir(), fmt.Sprintf("zonetop-engine-static-%d.test", os.Getpid()))
	args := []string{"test", "-c", "-o", out}
	if testhook.Enabled {
		// The static copy obeys the hooks as this build does.
		args = append(args, "-tags", "zonetop_testhooks")
	}
	cmd := exec.Command(goBin, append(args, ".")...)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "static test build failed (%v); zone boot tests will fail\n", err)
		return
	}
	env := append(os.Environ(), "ZONETOP_STATIC_TEST="+out)
	err = syscall.Exec(out, os.Args, env)
	fmt.Fprintf(os.Stderr, "exec static test binary: %v\n", err)
	os.Remove(out)
}

func needZones(t testing.TB) {
	t.Helper()
	ztest.Ring(t)
	why := ""
	if os.Geteuid() != 0 {
		why = "not root"
	} else if _, err := os.Stat(busyboxPath); err != nil {
		why = "no " + busyboxPath + " (Debian busybox-static)"
	} else if zdBin == "" {
		why = "the per-zone binary (cmd/zoneadmd) could not be built"
	} else if err := exec.Command("unshare", "-mpuif", "true").Run(); err != nil {
		why = "cannot create namespaces: " + err.Error()
	}
	if why == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("zone runtime tests cannot run: %s", why)
	}
	t.Skipf("zone runtime tests need root and namespaces: %s", why)
}

const busyboxPath = "/bin/busybox"

var zoneSeq int

// testZone is one zone under a private root prefix.
type testZone struct {
	t    testing.TB
	root string // root prefix
	spec configs.PlatformSpec
}

func (z *testZone) zroot() string { return filepath.Join(z.spec.Zonepath, "root") }

// newBusyboxZone builds a zone root holding a static busybox, its applets
// and a minimal /etc.
func newBusyboxZone(t testing.TB) *testZone {
	t.Helper()
	needZones(t)
	base, err := os.MkdirTemp("", "zt-rt-")
	if err != nil {
		t.Fatal(err)
	}
	zoneSeq++
	return newBusyboxZoneAt(t, base, fmt.Sprintf("rt%d-%d", os.Getpid()%100000, zoneSeq))
}

// newBusyboxZoneAt is newBusyboxZone with the caller's base directory
// (removed at cleanup) and zone name.
func newBusyboxZoneAt(t testing.TB, base, name string) *testZone {
	t.Helper()
	needZones(t)
	z := &testZone{t: t, root: filepath.Join(base, "prefix")}
	z.spec = configs.PlatformSpec{Name: name, Zonepath: filepath.Join(base, "zp"), RootPrefix: z.root, Brand: "busybox",
		IPType: "shared", Caps: append([]string(nil), testCaps...)}
	if os.Getenv("ZONETOP_TEST_USERNS") != "" {
		// Every busybox zone of the tests in a user namespace: how far
		// the user-namespaced runtime is from the default one.
		z.spec.UserNS = &configs.IDRange{HostID: platform.UsernsBase, Count: platform.UsernsSize}
	}
	ztest.Must(t, os.MkdirAll(z.root, 0o755))
	ztest.Must(t, os.Mkdir(z.spec.Zonepath, 0o700))
	r := z.zroot()
	ztest.Must(t, os.Mkdir(r, 0o755))
	for _, d := range []string{"bin", "sbin", "etc", "tmp", "proc", "sys", "dev", "root", "mnt", "usr/bin", "usr/sbin"} {
		ztest.Must(t, os.MkdirAll(filepath.Join(r, d), 0o755))
	}
	ztest.Must(t, os.Chmod(filepath.Join(r, "tmp"), 0o1777))
	bb, err := os.ReadFile(busyboxPath)
	ztest.Must(t, err)
	ztest.Must(t, os.WriteFile(filepath.Join(r, "bin/busybox"), bb, 0o755))
	out, err := exec.Command(busyboxPath, "--list-full").Output()
	ztest.Must(t, err)
	for _, p := range strings.Fields(string(out)) {
		dst := filepath.Join(r, p)
		if _, err := os.Lstat(dst); err == nil {
			continue
		}
		ztest.Must(t, os.MkdirAll(filepath.Dir(dst), 0o755))
		ztest.Must(t, os.Symlink("/bin/busybox", dst))
	}
	ztest.Must(t, os.WriteFile(filepath.Join(r, "etc/passwd"), []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n"), 0o644))
	ztest.Must(t, os.WriteFile(filepath.Join(r, "etc/group"), []byte("root:x:0:\nnogroup:x:65534:\n"), 0o644))
	t.Cleanup(func() { z.scrub(base) })
	return z
}

// scrub halts the zone and then removes by hand whatever a failed halt
// left: processes (by the pids the zone recorded), cgroups, files.
func (z *testZone) scrub(base string) {
	t := z.t
	if _, err := zoneadmd.Halt(z.root, z.spec.Name); err != nil {
		t.Logf("cleanup halt: %v", err)
	}
	// The keeper first: it would start a zoneadmd for a zone left down.
	if pid := zoneadmd.KeeperPid(z.root); pid > 1 {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	dir := configs.RunDir(z.root, z.spec.Name)
	for _, f := range []string{"zoneadmd.pid"} {
		if b, err := os.ReadFile(filepath.Join(dir, f)); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 1 {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
	for _, d := range z.cgroupDirs() {
		for _, sub := range cgroups.WalkCgroups(d) {
			if b, err := os.ReadFile(filepath.Join(sub, "cgroup.procs")); err == nil {
				for _, f := range strings.Fields(string(b)) {
					if pid, _ := strconv.Atoi(f); pid > 1 {
						_ = syscall.Kill(pid, syscall.SIGKILL)
					}
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
		for _, sub := range cgroups.WalkCgroups(d) {
			_ = os.Remove(sub)
		}
	}
	if t.Failed() || os.Getenv("ZT_TEST_LOGS") != "" {
		if b, err := os.ReadFile(filepath.Join(configs.LogDir(z.root), z.spec.Name+".zoneadmd.log")); err == nil {
			t.Logf("zoneadmd log:\n%s", b)
		}
		if b, err := os.ReadFile(filepath.Join(configs.LogDir(z.root), "keeper.log")); err == nil {
			t.Logf("keeper log:\n%s", b)
		}
	}
	_ = os.RemoveAll(base)
}

// cgroupDirs are where the zone's cgroups are (or would be).
func (z *testZone) cgroupDirs() []string {
	hs, err := cgroups.CgroupHierarchies()
	if err != nil {
		return nil
	}
	var out []string
	for _, h := range hs {
		d := filepath.Join(h.Mount, h.Current, "zonetop", z.spec.Name)
		if _, err := os.Stat(d); err == nil {
			out = append(out, d)
		}
	}
	return out
}

func (z *testZone) ready() api.ZoneStatus {
	z.t.Helper()
	st, err := zoneadmd.Ready(z.root, z.spec)
	if err != nil {
		z.t.Fatalf("ready: %v", err)
	}
	if st.State != "ready" || st.ZoneID < 1 || st.ZschedPid <= 0 {
		z.t.Fatalf("ready: status %+v", st)
	}
	return st
}

// run executes a command in the zone and returns its exit status and
// output.
func (z *testZone) run(stdin string, argv ...string) (int, string, string) {
	z.t.Helper()
	var out, errb bytes.Buffer
	var in io.Reader
	if stdin != "" {
		in = strings.NewReader(stdin)
	}
	code, err := zoneadmd.Exec(z.root, z.spec.Name, api.ExecRequest{Argv: argv}, in, &out, &errb)
	if err != nil {
		z.t.Fatalf("exec %v: %v", argv, err)
	}
	return code, out.String(), errb.String()
}

// sh runs a shell command that must succeed and returns its stdout.
func (z *testZone) sh(cmd string) string {
	z.t.Helper()
	code, out, errs := z.run("", "sh", "-c", cmd)
	if code != 0 {
		z.t.Fatalf("zone: %q: exit %d: %s%s", cmd, code, out, errs)
	}
	return out
}

// mustFail runs a shell command that must fail inside the zone.
func (z *testZone) mustFail(what, cmd string) {
	z.t.Helper()
	code, out, errs := z.run("", "sh", "-c", cmd)
	if code == 0 {
		z.t.Errorf("%s: %q succeeded inside the zone: %s%s", what, cmd, out, errs)
	}
}

// assertGone checks that nothing of the zone is left on the host.
func (z *testZone) assertGone(st api.ZoneStatus) {
	z.t.Helper()
	mi, _ := os.ReadFile("/proc/thread-self/mountinfo")
	if strings.Contains(string(mi), z.spec.Zonepath) {
		z.t.Errorf("mounts under %s remain", z.spec.Zonepath)
	}
	if d := z.cgroupDirs(); len(d) > 0 {
		z.t.Errorf("cgroups remain: %v", d)
	}
	if st.ZschedPid > 0 {
		if err := syscall.Kill(st.ZschedPid, 0); err == nil {
			if !zoneadmd.ProcZombie(st.ZschedPid) {
				z.t.Errorf("zsched pid %d still exists", st.ZschedPid)
			}
		}
	}
	if _, err := os.Stat(configs.RunDir(z.root, z.spec.Name)); err == nil {
		ents, _ := os.ReadDir(configs.RunDir(z.root, z.spec.Name))
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		z.t.Errorf("run directory remains: %v", names)
	}
	if zoneadmd.ZoneadmdRunning(z.root, z.spec.Name) {
		z.t.Errorf("zoneadmd still answers")
	}
}

func (z *testZone) halt() api.ZoneStatus {
	z.t.Helper()
	st, err := zoneadmd.Halt(z.root, z.spec.Name)
	if err != nil {
		z.t.Fatalf("halt: %v", err)
	}
	if st.State != "installed" {
		z.t.Fatalf("halt: state %q", st.State)
	}
	return st
}

func fileHash(t *testing.T, path string) [32]byte {
	b, err := os.ReadFile(path)
	ztest.Must(t, err)
	return sha256.Sum256(b)
}

func TestZoneReadyExecHalt(t *testing.T) {
	z := newBusyboxZone(t)
	st := z.ready()
	exe := zdBin // the binary zoneadmd, zsched and zinit run from
	before := fileHash(t, exe)

	if got := strings.TrimSpace(z.sh("hostname")); got != z.spec.Name {
		t.Errorf("hostname in zone = %q, want %q", got, z.spec.Name)
	}
	if code, _, _ := z.run("", "false"); code != 1 {
		t.Errorf("false: exit %d, want 1", code)
	}
	if code, _, _ := z.run("", "sh", "-c", "exit 7"); code != 7 {
		t.Errorf("exit 7: got %d", code)
	}
	if code, out, _ := z.run("hello\nzone\n", "cat"); code != 0 || out != "hello\nzone\n" {
		t.Errorf("cat with stdin: exit %d, out %q", code, out)
	}
	if code, out, _ := z.run("", "cat"); code != 0 || out != "" {
		t.Errorf("cat with no stdin: exit %d, out %q", code, out)
	}
	if code, _, errs := z.run("", "sh", "-c", "echo oops >&2; exit 2"); code != 2 || errs != "oops\n" {
		t.Errorf("stderr: exit %d, %q", code, errs)
	}

	// Only the zone's processes: zsched as PID 1, and this command.
	if got := z.sh("cat /proc/1/comm"); !strings.HasPrefix(got, "zsched") && !strings.HasPrefix(got, "exe") && !strings.HasPrefix(got, "memfd") {
		t.Logf("PID 1 comm %q", got)
	}
	if got := z.sh("tr '\\0' ' ' < /proc/1/cmdline"); !strings.HasPrefix(got, "zsched") {
		t.Errorf("PID 1 is %q, want zsched", got)
	} else if strings.Contains(got, z.root) {
		t.Errorf("PID 1's command line shows the host's run directory: %q", got)
	}
	pids := strings.Fields(z.sh("cd /proc && ls -d [0-9]*"))
	if len(pids) > 4 || len(pids) < 2 || pids[0] != "1" {
		t.Errorf("zone sees pids %v, want only zsched (1) and the command", pids)
	}
	// Cannot see or signal a host process.
	z.mustFail("signal host pid", fmt.Sprintf("kill -0 %d", os.Getpid()))
	z.mustFail("see host pid", fmt.Sprintf("test -e /proc/%d/status", os.Getpid()))
	// No host fd: only stdio and the directory being listed.
	if code, out, _ := z.run("", "ls", "/proc/self/fd"); code != 0 || strings.Join(strings.Fields(out), " ") != "0 1 2 3" {
		t.Errorf("/proc/self/fd in zone = %q, want 0 1 2 3", out)
	}
	for _, l := range strings.Fields(z.sh("for f in /proc/self/fd/* /proc/self/cwd /proc/self/root; do readlink $f; done")) {
		if strings.Contains(l, z.spec.Zonepath) || strings.HasPrefix(l, "/tmp/zt-rt") {
			t.Errorf("zone process holds a host path: %s", l)
		}
	}
	z.mustFail("mount", "mount -t tmpfs none /mnt")
	z.mustFail("write /sys", "echo 1 > /sys/kernel/uevent_helper")
	z.mustFail("write /proc/sysrq-trigger", "echo h > /proc/sysrq-trigger")
	z.mustFail("write /proc/sys", "echo 1 > /proc/sys/kernel/sysrq")
	z.mustFail("read /proc/kcore", "test -s /proc/kcore && head -c 1 /proc/kcore | grep -q .")
	z.mustFail("write /proc/1/exe", "echo x >> /proc/1/exe")
	z.mustFail("open /proc/1/exe", "cat /proc/1/exe > /dev/null")
	z.mustFail("sethostname", "hostname evil")
	z.mustFail("open a host disk through mknod", "mknod /tmp/sda b 8 0 && head -c 1 /tmp/sda >/dev/null; r=$?; rm -f /tmp/sda; exit $r")
	z.mustFail("change the module loader", "echo /tmp/x > /proc/sys/kernel/modprobe")
	z.sh("date -s 2000.01.01-00:00:00 2>&1 | grep -q 'not permitted'")
	if y := time.Now().Year(); y < 2020 {
		t.Errorf("host clock changed: year %d", y)
	}
	if got := strings.TrimSpace(z.sh("grep CapBnd /proc/self/status")); got != "CapBnd:\t"+capMask(t, testCaps) {
		t.Errorf("bounding set in zone %q, want %s", got, capMask(t, testCaps))
	}
	if got := strings.TrimSpace(z.sh("grep ^Ngid -A0 /proc/self/status; cat /proc/self/cgroup | grep -c zonetop || true")); strings.HasSuffix(got, "\n1") {
		t.Errorf("cgroup path of the zone shows through: %q", got)
	}
	z.sh("test -c /dev/null && test -c /dev/zero && test -c /dev/urandom && test -L /dev/ptmx && test -c /dev/console && test -d /dev/pts")
	if fileHash(t, exe) != before {
		t.Errorf("zonetop binary changed")
	}
	stHalt := z.halt()
	_ = stHalt
	z.assertGone(st)
}

func capMask(t *testing.T, names []string) string {
	nums, err := platform.CapNumbers(names)
	ztest.Must(t, err)
	var m uint64
	for n := range nums {
		m |= 1 << n
	}
	return fmt.Sprintf("%016x", m)
}

// testCaps is the bounding set the test zones get (Docker's default set).
var testCaps = []string{"audit_write", "chown", "dac_override", "fowner", "fsetid", "kill", "mknod",
	"net_bind_service", "net_raw", "setfcap", "setgid", "setpcap", "setuid", "sys_chroot"}
