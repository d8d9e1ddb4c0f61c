package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"zonetop/engine"
	"zonetop/internal/ztest"
	"zonetop/limits/cgroups"
)

// End-to-end tests of the zone life cycle through the real, statically
// built binary: zonecfg → zoneadm → zlogin, exactly as an operator types
// them. Each test has its own --root and zone names, and its cleanup
// halts, uninstalls and then scans the host for anything the zone left.

// ztBin is the static zonetop binary TestMain builds once, and zdBin the
// per-zone binary (cmd/zoneadmd) beside it, where zonetop finds it.
var ztBin, zdBin string

func TestMain(m *testing.M) {
	if root := os.Getenv("ZONETOP_TEST_DELEG_LIST"); root != "" {
		// The delegated console's backend, run by a delegated test user.
		os.Exit(delegListProbe(root))
	}
	if rz := os.Getenv("ZONETOP_TEST_DELEG_LOG"); rz != "" {
		// The delegated console's log view, run by a delegated test user.
		os.Exit(delegLogProbe(rz))
	}
	if mode := os.Getenv(xfProbeEnv); mode != "" {
		// A delegated test user's raw requests to zoneadmd.
		os.Exit(xfProbe(mode))
	}
	code := func() int {
		if os.Geteuid() == 0 {
			dir, err := os.MkdirTemp("", "ztbin-")
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			defer os.RemoveAll(dir)
			bin, zbin := filepath.Join(dir, "zonetop"), filepath.Join(dir, "zoneadmd")
			cmd := exec.Command("go", "build", "-tags", "zonetop_testhooks", "-o", bin, ".")
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
			cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
			zcmd := exec.Command("go", "build", "-tags", "zonetop_testhooks", "-o", zbin, "../zoneadmd")
			zcmd.Env, zcmd.Stdout, zcmd.Stderr = cmd.Env, os.Stderr, os.Stderr
			if err := cmd.Run(); err != nil {
				fmt.Fprintf(os.Stderr, "build static zonetop: %v; life-cycle tests will fail\n", err)
			} else if err := zcmd.Run(); err != nil {
				fmt.Fprintf(os.Stderr, "build static zoneadmd: %v; life-cycle tests will fail\n", err)
			} else if _, err := ztest.BuildZinit(dir); err != nil {
				fmt.Fprintf(os.Stderr, "%v; life-cycle tests will fail\n", err)
			} else {
				ztBin, zdBin = bin, zbin
			}
		}
		return m.Run()
	}()
	os.Exit(code)
}

// copyBins copies the binaries (with zinit) into dir, side by side as zonetop wants
// them, for a user other than root to run; it returns the zonetop copy.
func copyBins(t *testing.T, dir string) string {
	t.Helper()
	zinit := filepath.Join(filepath.Dir(zdBin), "zinit")
	for src, name := range map[string]string{ztBin: "zonetop", zdBin: "zoneadmd", zinit: "zinit"} {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "zonetop")
}

// needZones skips a test that needs root, namespaces and the binary, or
// fails it under CI=true.
func needZones(t *testing.T) {
	t.Helper()
	ztest.Ring(t)
	why := ""
	switch {
	case os.Geteuid() != 0:
		why = "not root"
	case ztBin == "":
		why = "the static zonetop binary could not be built"
	default:
		if err := exec.Command("unshare", "-mpuif", "true").Run(); err != nil {
			why = "cannot create namespaces: " + err.Error()
		}
	}
	if why == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("life-cycle tests cannot run: %s", why)
	}
	t.Skipf("life-cycle tests need root and namespaces: %s", why)
}

// lab is one test's private zonetop installation.
type lab struct {
	t     *testing.T
	root  string // --root prefix
	tag   string // unique part of zone names
	seq   int
	zones []string
	env   []string // extra environment for the binary

	whilePaused func() // killAt calls it while the target is paused
}

func newLab(t *testing.T) *lab {
	t.Helper()
	needZones(t)
	dir, err := os.MkdirTemp("", "ztl-")
	if err != nil {
		t.Fatal(err)
	}
	l := &lab{t: t, root: dir, tag: fmt.Sprintf("l%d%04x", os.Getpid()%100000, rand.IntN(1<<16))}
	if err := os.Mkdir(filepath.Join(dir, "zones"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.cleanup)
	return l
}

// newZone configures a zone with the given brand and extra zonecfg
// commands, and returns its name.
func (l *lab) newZone(brand string, extra ...string) string {
	l.t.Helper()
	l.seq++
	name := fmt.Sprintf("%sz%d", l.tag, l.seq)
	l.zones = append(l.zones, name)
	script := []string{"create", "set zonepath=/zones/" + name}
	if brand != "" {
		script = append(script, "set brand="+brand)
	}
	script = append(script, extra...)
	script = append(script, "commit")
	l.ok("zonecfg", "-z", name, strings.Join(script, "; "))
	return name
}

func (l *lab) zonepath(name string) string { return filepath.Join(l.root, "zones", name) }

// run runs the binary under the lab's root and returns what it printed and
// its exit status.
func (l *lab) run(args ...string) (stdout, stderr string, code int) {
	l.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, ztBin, append([]string{"--root", l.root}, args...)...)
	cmd.Env = append(os.Environ(), l.env...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	code = 0
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else {
			l.t.Fatalf("zonetop %s: %v", strings.Join(args, " "), err)
		}
	}
	return o.String(), e.String(), code
}

// ok runs the binary and fails the test unless it exits 0.
func (l *lab) ok(args ...string) string {
	l.t.Helper()
	out, errOut, code := l.run(args...)
	if code != 0 {
		l.t.Fatalf("zonetop %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// fails runs the binary, wants exit status want and stderr mentioning
// each of the words.
func (l *lab) fails(want int, words []string, args ...string) string {
	l.t.Helper()
	out, errOut, code := l.run(args...)
	if code != want {
		l.t.Fatalf("zonetop %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, want, out, errOut)
	}
	for _, w := range words {
		if !strings.Contains(errOut, w) {
			l.t.Errorf("zonetop %s: stderr %q does not mention %q", strings.Join(args, " "), errOut, w)
		}
	}
	return errOut
}

// listRow is one line of `zoneadm list -p`.
type listRow struct {
	ID                                   int
	Name, State, Path, UUID, Brand, IPTy string
}

// list returns the zone's row of `zoneadm list -cp`, checking the layout.
func (l *lab) list(name string) listRow {
	l.t.Helper()
	out := l.ok("zoneadm", "list", "-cp")
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Split(line, ":")
		if len(f) != 7 {
			l.t.Fatalf("zoneadm list -p: line %q has %d fields, want 7", line, len(f))
		}
		if f[1] != name {
			continue
		}
		r := listRow{ID: -1, Name: f[1], State: f[2], Path: f[3], UUID: f[4], Brand: f[5], IPTy: f[6]}
		if f[0] != "-" {
			id, err := strconv.Atoi(f[0])
			if err != nil {
				l.t.Fatalf("zoneadm list -p: bad zone ID in %q", line)
			}
			r.ID = id
		}
		return r
	}
	l.t.Fatalf("zoneadm list -cp does not show %s:\n%s", name, out)
	return listRow{}
}

// state checks the zone's state and returns its ID; -1 means no ID ("-").
func (l *lab) state(name, want string) int {
	l.t.Helper()
	r := l.list(name)
	// A zone whose supervisor is cleaning up after it (an adopted zone
	// whose zsched had died) is truthfully shutting_down for a moment.
	for i := 0; i < 100 && r.State == "shutting_down" && want != "shutting_down"; i++ {
		time.Sleep(50 * time.Millisecond)
		r = l.list(name)
	}
	if r.State != want {
		l.t.Fatalf("zone %s is %s, want %s (list -v: %s)", name, r.State, want, l.verbose(name))
	}
	active := want == "ready" || want == "running"
	if active && r.ID <= 0 {
		l.t.Fatalf("zone %s is %s with zone ID %d", name, want, r.ID)
	}
	if !active && want != "down" && want != "shutting_down" && r.ID != -1 {
		l.t.Fatalf("zone %s is %s but shows zone ID %d", name, want, r.ID)
	}
	return r.ID
}

// verbose is the zone's `zoneadm list -cv` line.
func (l *lab) verbose(name string) string {
	l.t.Helper()
	out, _, _ := l.run("zoneadm", "list", "-cv")
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[1] == name {
			return line
		}
	}
	return ""
}

// zlogin runs a command in the zone and returns stdout, failing unless it
// exits 0.
func (l *lab) zlogin(name string, argv ...string) string {
	l.t.Helper()
	return l.ok(append([]string{"zlogin", name}, argv...)...)
}

// cleanup halts and uninstalls every zone, then looks for anything left:
// mounts under the root, processes started from it, cgroups named after
// its zones. What it finds fails the test and is removed by hand.
func (l *lab) cleanup() {
	t := l.t
	for _, z := range l.zones {
		for i := 0; i < 2; i++ {
			if _, _, code := l.run("zoneadm", "-z", z, "halt"); code == 0 {
				break
			}
		}
		_, _, _ = l.run("zoneadm", "-z", z, "uninstall", "-F")
	}
	var left []int
	for i := 0; i < 200; i++ {
		if left = procsUnder(l.root); len(left) == 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, pid := range left {
		t.Errorf("leftover process %d (%s)", pid, cmdline(pid))
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	for _, m := range mountsUnder(l.root) {
		t.Errorf("leftover mount %s", m)
		_ = syscall.Unmount(m, syscall.MNT_DETACH)
	}
	for _, z := range l.zones {
		for _, cg := range zoneCgroups(z) {
			t.Errorf("leftover cgroup %s", cg)
			_ = os.Remove(cg)
		}
	}
	// The global zone's project cgroups of this root prefix stay, as
	// the product keeps them, until a newtask or an edit sweeps them;
	// the prefix ends with the test.
	for _, cg := range zoneCgroups(engine.GlobalGroupDir(l.root)) {
		if err := cgroups.RemoveTree(cg); err != nil {
			t.Errorf("global zone's cgroups of %s: %v", l.root, err)
		}
	}
	if len(mountsUnder(l.root)) == 0 {
		_ = os.RemoveAll(l.root)
	}
}

// checkGone fails the test if anything of the zone is left on the host.
func (l *lab) checkGone(name string) {
	l.t.Helper()
	zp := l.zonepath(name)
	if ms := mountsUnder(zp); len(ms) > 0 {
		l.t.Errorf("zone %s: mounts left under its zonepath: %v", name, ms)
	}
	if cgs := zoneCgroups(name); len(cgs) > 0 {
		l.t.Errorf("zone %s: cgroups left: %v", name, cgs)
	}
	// A zoneadmd that only answered a status query after the zone was
	// gone retires by itself within seconds, taking its run directory.
	run := filepath.Join(l.root, "run", "zonetop", name)
	var procs []int
	var dirLeft bool
	for i := 0; i < 200; i++ {
		procs = zoneProcs(l.root, name)
		_, err := os.Stat(run)
		dirLeft = err == nil
		if len(procs) == 0 && !dirLeft {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, pid := range procs {
		l.t.Errorf("zone %s: process %d (%s) left", name, pid, cmdline(pid))
	}
	if dirLeft {
		l.t.Errorf("zone %s: run directory left", name)
	}
}

// zoneProcs lists the zone's zoneadmd (argv: zoneadmd ROOT NAME) and
// zsched (argv: zsched ROOT/run/zonetop/NAME).
func zoneProcs(root, name string) []int {
	var out []int
	for _, pid := range procsUnder(root) {
		c := cmdline(pid)
		// zoneadmd names the root and the zone; zsched (told "." for its
		// run directory) is found by the zone root it lives in.
		if strings.HasPrefix(c, "zoneadmd ") && strings.Contains(c+" ", " "+root+" "+name+" ") {
			out = append(out, pid)
			// zsched (told "." for its run directory) is zoneadmd's child.
			for _, child := range childrenOf(pid) {
				if strings.HasPrefix(cmdline(child), "zsched ") {
					out = append(out, child)
				}
			}
		}
	}
	return out
}

// mountsUnder lists mount points at or below dir, deepest first.
func mountsUnder(dir string) []string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	s := bufio.NewScanner(f)
	s.Buffer(make([]byte, 1<<20), 1<<20)
	for s.Scan() {
		fs := strings.Fields(s.Text())
		if len(fs) < 5 {
			continue
		}
		mp := unescapeOctal(fs[4])
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			out = append(out, mp)
		}
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

func unescapeOctal(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// procsUnder lists processes whose command line names dir: zoneadmd and
// zsched carry the root prefix in their arguments.
func procsUnder(dir string) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		if strings.Contains(cmdline(pid), dir) {
			out = append(out, pid)
		}
	}
	// And everything below those: zsched and the zones' processes name
	// nothing of the host.
	for i := 0; i < len(out); i++ {
		for _, c := range childrenOf(out[i]) {
			if !slices.Contains(out, c) {
				out = append(out, c)
			}
		}
	}
	return out
}

// childrenOf lists a process's children (every thread's).
func childrenOf(pid int) []int {
	var out []int
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	for _, t := range tasks {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", pid, t.Name()))
		for _, f := range strings.Fields(string(b)) {
			if c, err := strconv.Atoi(f); err == nil {
				out = append(out, c)
			}
		}
	}
	return out
}

func cmdline(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " "))
}

// zoneCgroups lists cgroups named zonetop/ZONE below any cgroup this
// process is in, in every mounted hierarchy: where zoneadmd makes them.
func zoneCgroups(zone string) []string {
	b, _ := os.ReadFile("/proc/self/cgroup")
	paths := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if f := strings.SplitN(line, ":", 3); len(f) == 3 {
			paths[f[2]] = true
		}
	}
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	var out []string
	for _, line := range strings.Split(string(mi), "\n") {
		f := strings.Fields(line)
		i := indexOf(f, "-")
		if i < 0 || i+1 >= len(f) || (f[i+1] != "cgroup" && f[i+1] != "cgroup2") {
			continue
		}
		for p := range paths {
			d := filepath.Join(unescapeOctal(f[4]), p, "zonetop", zone)
			if _, err := os.Stat(d); err == nil {
				out = append(out, d)
			}
		}
	}
	return out
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}
