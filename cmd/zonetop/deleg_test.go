package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
	"zonetop/api"
	"zonetop/internal/audit"
	"zonetop/internal/configs"

	"zonetop/engine"
)

// Delegated host users end to end: the real binary run as uid 65534
// (nobody) and 65533 (a user named nowhere), `zonetop serve` started by
// the test on the zone's root prefix, a real busybox zone.

// delegListProbe lists zones through the delegated console's backend and
// prints their names and auths as JSON.
func delegListProbe(root string) int {
	e, err := engine.New(root, "")
	if err != nil {
		fmt.Println(err)
		return 1
	}
	zs, err := newDelegBackend(e).List(context.Background(), engine.CurrentPrincipal(), api.ListOptions{Configured: true, Installed: true})
	if err != nil {
		fmt.Println(err)
		return 1
	}
	out := map[string][]string{}
	for _, z := range zs {
		out[z.Name] = z.Auths
	}
	b, _ := json.Marshal(out)
	fmt.Println(string(b))
	return 0
}

// delegLogProbe reads a zone's console log (ROOT:ZONE) through the
// delegated console's backend, as its log view does, and prints it.
func delegLogProbe(rz string) int {
	root, zone, _ := strings.Cut(rz, ":")
	e, err := engine.New(root, "")
	if err != nil {
		fmt.Println(err)
		return 1
	}
	// As the console does: a list first, which brings the user's auths.
	b, p := newDelegBackend(e), engine.CurrentPrincipal()
	if _, err := b.List(context.Background(), p, api.ListOptions{Configured: true, Installed: true}); err != nil {
		fmt.Println(err)
		return 1
	}
	text, err := b.ConsoleLog(context.Background(), p, zone)
	if err != nil {
		fmt.Println(err)
		return 1
	}
	fmt.Print(text)
	return 0
}

// delegLab is a zone, the zonetop service on its root, and binaries any
// user may run.
type delegLab struct {
	*cliZone
	bin, probe string
}

func newDelegLab(t *testing.T, inittab string) *delegLab {
	return newDelegLabOn(t, newCLIZone(t, inittab))
}

// newDelegLabOn is newDelegLab for a zone the caller made.
func newDelegLabOn(t *testing.T, z *cliZone) *delegLab {
	dir, err := os.MkdirTemp("", "zt-deleg-bin-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	l := &delegLab{cliZone: z, bin: filepath.Join(dir, "zonetop"), probe: filepath.Join(dir, "probe")}
	copyBins(t, dir)
	b, err := os.ReadFile("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(l.probe, b, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{dir, z.root} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	serve := exec.Command(ztBin, "--root", z.root, "serve")
	serve.Stdout, serve.Stderr = os.Stderr, os.Stderr
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = serve.Wait(); close(done) }()
	// Registered after newCLIZone's cleanup, so it runs before it.
	t.Cleanup(func() {
		_ = serve.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = serve.Process.Kill()
			<-done
		}
	})
	sock := configs.ServeSock(z.root)
	for i := 0; ; i++ {
		if st, err := os.Stat(sock); err == nil && st.Mode()&os.ModeSocket != 0 {
			break
		}
		if i > 200 {
			t.Fatal("zonetop serve never made its socket")
		}
		time.Sleep(25 * time.Millisecond)
	}
	return l
}

// as makes a command of the delegated binary run as uid.
func (l *delegLab) as(uid int, args ...string) *exec.Cmd {
	cmd := exec.Command(l.bin, append([]string{"--root", l.root}, args...)...)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "TERM=xterm-zonetest", "HOME=/"}
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid)}}
	return cmd
}

// runAs runs the binary as uid to its end: exit status, stdout, stderr.
func (l *delegLab) runAs(uid int, args ...string) (int, string, string) {
	l.t.Helper()
	cmd := l.as(uid, args...)
	var o, e strings.Builder
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), o.String(), e.String()
	}
	if err != nil {
		l.t.Fatalf("%v: %v", args, err)
	}
	return 0, o.String(), e.String()
}

// refused wants the command run as uid to fail with a permission denied
// naming every word.
func (l *delegLab) refused(uid int, words []string, args ...string) {
	l.t.Helper()
	code, out, errOut := l.runAs(uid, args...)
	if code != 1 || !strings.Contains(errOut, "permission denied") {
		l.t.Errorf("%v as uid %d: exit %d, want 1 and permission denied\nstdout: %s\nstderr: %s", args, uid, code, out, errOut)
		return
	}
	for _, w := range words {
		if !strings.Contains(errOut, w) {
			l.t.Errorf("%v as uid %d: %q does not name %q", args, uid, errOut, w)
		}
	}
}

func (l *delegLab) export() string {
	l.t.Helper()
	return l.mustRun("zonecfg", "-z", l.name, "export")
}

func (l *delegLab) setAuths(auths string) {
	l.t.Helper()
	l.mustRun("zonecfg", "-z", l.name, "remove -F admin; add admin; set user=nobody; set auths="+auths+"; end")
}

const nobody, stranger = 65534, 65533

func TestDelegatedZonecfg(t *testing.T) {
	l := newDelegLab(t, "")
	z := l.name
	l.setAuths("login")
	other := fmt.Sprintf("zl%d-other%d", os.Getpid()%100000, zoneSeq)
	l.mustRun("zonecfg", "-z", other, "create -b; set zonepath=/other; set brand=busybox")

	// A user named in no admin resource, and one with login only.
	l.refused(stranger, []string{"not an administrator"}, "zonecfg", "-z", z, "set autoboot=true")
	l.refused(stranger, nil, "zonecfg", "-z", z, "info")
	l.refused(nobody, []string{`lacks the "config" auth`}, "zonecfg", "-z", z, "set autoboot=true")
	l.refused(nobody, []string{`lacks the "config" auth`}, "zonecfg", "-z", z, "export")
	l.refused(nobody, []string{`lacks the "manage" auth`}, "zoneadm", "-z", z, "boot")
	if code, _, _ := l.runAs(nobody, "zonecfg", "-z", other, "info"); code != 1 {
		t.Errorf("zonecfg of a zone nobody administers: exit %d", code)
	}

	l.setAuths("login,config")
	before := l.export()
	if code, out, errOut := l.runAs(nobody, "zonecfg", "-z", z, "set autoboot=true"); code != 0 {
		t.Fatalf("set autoboot as a config user: exit %d\n%s%s", code, out, errOut)
	}
	after := l.export()
	if !strings.Contains(after, "set autoboot=true") || strings.Contains(before, "set autoboot=true") {
		t.Fatalf("autoboot not stored:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	// Caps and the admin resource are refused by name; nothing changes,
	// even for the allowed command before them in the same script.
	before = after
	l.refused(nobody, []string{"max-lwps", "zone caps are set by the global administrator"}, "zonecfg", "-z", z, "set autoboot=false; set max-lwps=500")
	l.refused(nobody, []string{"capped-memory", "zone cap"}, "zonecfg", "-z", z, "add capped-memory; set physical=1g; end")
	l.refused(nobody, []string{"admin"}, "zonecfg", "-z", z, "select admin user=nobody; set auths=login,config,manage; end")
	l.refused(nobody, []string{"zonepath"}, "zonecfg", "-z", z, "set zonepath=/elsewhere")
	l.refused(nobody, []string{"deletes zones"}, "zonecfg", "-z", z, "delete -F")
	l.refused(nobody, []string{"creates zones"}, "zonecfg", "-z", z, "create -F -t "+other)
	if got := l.export(); got != before {
		t.Fatalf("refused commands changed the configuration:\nbefore:\n%s\nafter:\n%s", before, got)
	}
	if code, out, _ := l.runAs(nobody, "zonecfg", "-z", z, "info", "autoboot"); code != 0 || !strings.Contains(out, "autoboot: true") {
		t.Errorf("info as a config user: exit %d %q", code, out)
	}

	// -f FILE is read by the user, never by the service.
	dir, err := os.MkdirTemp("", "zt-deleg-f-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(dir, "attr.zonecfg")
	if err := os.WriteFile(script, []byte("add attr\nset name=owner\nset type=string\nset value=ops\nend\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := l.runAs(nobody, "zonecfg", "-z", z, "-f", script); code != 0 {
		t.Fatalf("-f as a config user: exit %d\n%s%s", code, out, errOut)
	}
	if !strings.Contains(l.export(), "set name=owner") {
		t.Errorf("-f script not applied:\n%s", l.export())
	}
	secret := filepath.Join(dir, "secret.zonecfg")
	if err := os.WriteFile(secret, []byte("set autoboot=false\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := l.runAs(nobody, "zonecfg", "-z", z, "-f", secret); code != 1 || !strings.Contains(errOut, "permission denied") {
		t.Errorf("-f of a file nobody cannot read: exit %d %q", code, errOut)
	}
	capScript := filepath.Join(dir, "cap.zonecfg")
	if err := os.WriteFile(capScript, []byte("set autoboot=false\nset max-lwps=500\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	l.refused(nobody, []string{"stdin:2:1", "max-lwps"}, "zonecfg", "-z", z, "-f", capScript)
	if code, _, errOut := l.runAs(nobody, "zonecfg", "-z", z, "export -f /tmp/zt-deleg-export"); code != 1 || !strings.Contains(errOut, "redirect") {
		t.Errorf("export -f as a config user: exit %d %q", code, errOut)
	}

	// Interactive, at a terminal: illumos prompts, the refusal, and the
	// session goes on.
	tm := l.startCmdTerm(24, 80, l.as(nobody, "zonecfg", "-z", z))
	tm.expect("zonecfg:" + z + "> ")
	tm.send("set max-lwps=100\r")
	tm.expect("permission denied")
	tm.expect("zonecfg:" + z + "> ")
	tm.send("add attr\r")
	tm.expect("zonecfg:" + z + ":attr> ")
	tm.send("set name=tier\r")
	tm.send("set type=string\r")
	tm.send("set value=gold\r")
	tm.send("end\r")
	tm.expect("zonecfg:" + z + "> ")
	tm.send("set autoboot=false\r")
	tm.expect("zonecfg:" + z + "> ")
	tm.send("exit\r")
	if code := tm.wait(); code != 0 {
		t.Errorf("interactive zonecfg exit %d:\n%s", code, tm.output())
	}
	got := l.export()
	if !strings.Contains(got, "set value=gold") || strings.Contains(got, "autoboot=true") || strings.Contains(got, "max-lwps") {
		t.Errorf("interactive session stored:\n%s", got)
	}

	// The audit log names the delegated principal for changes and
	// refusals.
	recs, _, err := audit.ReadAudit(l.root, audit.AuditQuery{Zone: z})
	if err != nil {
		t.Fatal(err)
	}
	var saw []string
	for _, r := range recs {
		if r.Principal.UID == nobody {
			saw = append(saw, r.What+"|"+r.After+"|"+strings.SplitN(r.Result, ":", 2)[0])
		}
	}
	joined := strings.Join(saw, "\n")
	for _, want := range []string{"zonecfg|set autoboot=true|ok", "zonecfg set max-lwps||set max-lwps", "zonecfg add capped-memory||add capped-memory"} {
		if !strings.Contains(joined, want) {
			t.Errorf("audit lacks %q for nobody:\n%s", want, joined)
		}
	}

	// The delegated console's backend lists only the zones nobody
	// administers, with its auths.
	cmd := exec.Command(l.probe, "-test.run=^$")
	cmd.Env = []string{"ZONETOP_TEST_DELEG_LIST=" + l.root}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("delegated backend list: %v: %s", err, out)
	}
	var listed map[string][]string
	if err := json.Unmarshal(out, &listed); err != nil {
		t.Fatalf("delegated backend list %q: %v", out, err)
	}
	if _, ok := listed[other]; ok || strings.Join(listed[z], ",") != "config,login" {
		t.Errorf("delegated backend lists %v", listed)
	}
	l.mustRun("zonecfg", "-z", other, "delete -F")
}

func TestDelegatedConsole(t *testing.T) {
	l := newDelegLab(t, "::sysinit:/bin/echo deleg-console-hello\n::respawn:/bin/sleep 1000\n")
	z := l.name
	l.refused(stranger, []string{"not an administrator"}, "zlogin", "-C", z)
	l.setAuths("login")
	tm := l.startCmdTerm(24, 80, l.as(nobody, "zlogin", "-C", z))
	tm.expect("[Connected to zone '" + z + "' console]")
	l.refused(nobody, []string{`lacks the "manage" auth`}, "zoneadm", "-z", z, "boot")
	l.mustRun("zoneadm", "-z", z, "boot")
	tm.expect("deleg-console-hello")
	// The console log view: what the console said, read through
	// zoneadmd, for a user with the login auth and no one else.
	readLog := func(uid int) (string, error) {
		cmd := exec.Command(l.probe, "-test.run=^$")
		cmd.Env = []string{"ZONETOP_TEST_DELEG_LOG=" + l.root + ":" + z}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid)}}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := readLog(nobody); err != nil || !strings.Contains(out, "deleg-console-hello") {
		t.Errorf("the console log as a login user: %v: %q", err, out)
	}
	if out, err := readLog(stranger); err == nil || !strings.Contains(out, "permission denied") || strings.Contains(out, "deleg-console-hello") {
		t.Errorf("the console log as a stranger: %v: %q", err, out)
	}
	// zoneadmd decides for itself, whatever a front end asked first.
	if out := l.probeAs(stranger, "console-log"); !strings.Contains(out, "permission denied") || strings.Contains(out, "deleg-console-hello") {
		t.Errorf("a stranger's own console-log request to zoneadmd: %q", out)
	}
	if out := l.probeAs(nobody, "console-log"); !strings.Contains(out, "deleg-console-hello") {
		t.Errorf("a login user's own console-log request to zoneadmd: %q", out)
	}
	tm.send("~.")
	if code := tm.wait(); code != 0 {
		t.Errorf("zlogin -C ~. exit %d", code)
	}
	if code, out, errOut := l.runAs(nobody, "zlogin", z, "id", "-u"); code != 0 || strings.TrimSpace(out) != "0" {
		t.Errorf("zlogin as a login user: exit %d %q %q", code, out, errOut)
	}
	l.refused(nobody, []string{`lacks the "manage" auth`}, "zoneadm", "-z", z, "halt")
}
