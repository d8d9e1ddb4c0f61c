package main

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"zonetop/api"
	"zonetop/client"
	"zonetop/internal/audit"
)

// A zone must not hurt the host: one unprivileged user of a zone can
// neither lock the zone's administrator out of the zone socket nor flood
// the audit log, and what it sends is shown escaped. The user's side is
// this test binary run inside the zone as xbtool.

func init() {
	if filepath.Base(os.Args[0]) == "xbtool" && len(os.Args) >= 2 {
		os.Exit(xbTool(os.Args[1:]))
	}
}

// xbTool is the zone user's side:
//
//	hold N DIR   open N connections, each asking "info"; write DIR/report,
//	             hold them until DIR/release appears
//	flood N      send N refused requests on one connection
//	inject NAME  ask to add project NAME (refused, audited)
func xbTool(args []string) int {
	switch {
	case args[0] == "hold" && len(args) == 3:
		var n int
		fmt.Sscan(args[1], &n)
		held, refused, first := 0, 0, ""
		var conns []*client.ZoneClient
		for i := 0; i < n; i++ {
			zc, err := client.DialZone(api.ZoneSockPath)
			if err == nil {
				_, err = zc.Do(api.ZoneRequest{Op: "info"})
			}
			if err != nil {
				refused++
				if first == "" {
					first = err.Error()
				}
				if zc != nil {
					zc.Close()
				}
				continue
			}
			held++
			conns = append(conns, zc)
		}
		report := fmt.Sprintf("held=%d refused=%d first=%s\n", held, refused, first)
		if err := os.WriteFile(filepath.Join(args[2], "report"), []byte(report), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		for i := 0; i < 500; i++ {
			if _, err := os.Stat(filepath.Join(args[2], "release")); err == nil {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		for _, c := range conns {
			c.Close()
		}
		return 0
	case args[0] == "flood" && len(args) == 2:
		var n int
		fmt.Sscan(args[1], &n)
		zc, err := client.DialZone(api.ZoneSockPath)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer zc.Close()
		counts := map[string]int{}
		for i := 0; i < n; i++ {
			_, err := zc.Do(api.ZoneRequest{Op: "set-zone-cap", Rctl: "zone.max-lwps", Value: fmt.Sprint(100000 + i)})
			switch {
			case err == nil:
				counts["ok"]++
			case strings.Contains(err.Error(), "slow down"):
				counts["slow"]++
			case strings.Contains(err.Error(), "permission denied"):
				counts["denied"]++
			default:
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
		}
		fmt.Printf("ok=%d denied=%d slow=%d\n", counts["ok"], counts["denied"], counts["slow"])
		return 0
	case args[0] == "inject" && len(args) == 2:
		zc, err := client.DialZone(api.ZoneSockPath)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer zc.Close()
		_, err = zc.Do(api.ZoneRequest{Op: "project", Project: &api.ProjectRequest{Op: "add", Name: args[1]}})
		fmt.Println(err)
		return 0
	}
	fmt.Fprintln(os.Stderr, "xbtool: bad arguments", args)
	return 2
}

// newXBLab is a lab under the test's own temporary directory whose zone
// names start with xb.
func newXBLab(t *testing.T) *lab {
	t.Helper()
	needZones(t)
	dir := t.TempDir()
	l := &lab{t: t, root: dir, tag: fmt.Sprintf("xb%04x", rand.IntN(1<<16))}
	if err := os.Mkdir(filepath.Join(dir, "zones"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.cleanup)
	return l
}

// xbZone installs and boots a sparse zone with xbtool at /xbtool and a
// directory /tmp/xb every user of the zone may write.
func (l *lab) xbZone() (zone, shared string) {
	l.t.Helper()
	z := l.newZone("sparse")
	l.ok("zoneadm", "-z", z, "install")
	root := filepath.Join(l.zonepath(z), "root")
	self, err := os.ReadFile("/proc/self/exe")
	if err != nil {
		l.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "xbtool"), self, 0o755); err != nil {
		l.t.Fatal(err)
	}
	shared = filepath.Join(root, "tmp", "xb")
	if err := os.MkdirAll(shared, 0o777); err != nil {
		l.t.Fatal(err)
	}
	if err := os.Chmod(shared, 0o777); err != nil {
		l.t.Fatal(err)
	}
	l.ok("zoneadm", "-z", z, "boot")
	return z, shared
}

// One unprivileged zone user holding every connection it can: the zone's
// root still gets in, and the user's next client is told why it was
// refused instead of seeing a broken pipe.
func TestXBZoneSockConnFairness(t *testing.T) {
	l := newXBLab(t)
	z, shared := l.xbZone()
	hold := exec.Command(ztBin, "--root", l.root, "zlogin", "-l", "nobody", z, "/xbtool", "hold", "64", "/tmp/xb")
	var holdOut bytes.Buffer
	hold.Stdout, hold.Stderr = &holdOut, &holdOut
	if err := hold.Start(); err != nil {
		t.Fatal(err)
	}
	released := false
	release := func() {
		if !released {
			released = true
			_ = os.WriteFile(filepath.Join(shared, "release"), nil, 0o644)
			done := make(chan error, 1)
			go func() { done <- hold.Wait() }()
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				_ = hold.Process.Kill()
				<-done
			}
		}
	}
	t.Cleanup(release)
	report := ""
	for i := 0; i < 400 && report == ""; i++ {
		b, _ := os.ReadFile(filepath.Join(shared, "report"))
		report = string(b)
		time.Sleep(50 * time.Millisecond)
	}
	if report == "" {
		t.Fatalf("xbtool hold wrote no report: %s", holdOut.String())
	}
	uid := "65534"
	if !strings.HasPrefix(report, "held=8 refused=56 ") {
		t.Errorf("one zone user holds more than its share: %s", report)
	}
	wantRefusal := "zone socket: too many connections from uid " + uid + " (limit 8)"
	if !strings.Contains(report, wantRefusal) {
		t.Errorf("the refused connections were not told why: %s", report)
	}
	// The zone's administrator still gets in.
	if out, errOut, code := l.inZone(z, "", "projects"); code != 0 || !strings.Contains(out, "default") {
		t.Errorf("zone root locked out: exit %d: %s%s", code, out, errOut)
	}
	// The user's next client prints the server's refusal.
	_, errOut, code := l.inZone(z, "nobody", "projects")
	if code == 0 || !strings.Contains(errOut, wantRefusal) {
		t.Errorf("the user's 9th connection: exit %d, stderr %q, want %q", code, errOut, wantRefusal)
	}
	if strings.Contains(errOut, "broken pipe") {
		t.Errorf("the refusal shows as a broken pipe: %q", errOut)
	}
	release()
	// Once the user lets go, it gets in again: once the connections are
	// gone, and once the pace of new ones (10 a second) allows.
	var out string
	code = 1
	for try := 0; try < 20 && code != 0; try++ {
		if try > 0 {
			time.Sleep(250 * time.Millisecond)
		}
		out, errOut, code = l.inZone(z, "nobody", "projects")
	}
	if code != 0 {
		t.Errorf("nobody after letting go: exit %d: %s%s", code, out, errOut)
	}
	l.ok("zoneadm", "-z", z, "halt")
}

// An unprivileged zone user's flood of refused requests on one
// connection: the audit log grows by a bounded amount and says how many
// records it left out; the name it sent with escape sequences is shown
// escaped by zonetop audit.
func TestXBAuditFloodBounded(t *testing.T) {
	l := newXBLab(t)
	z, _ := l.xbZone()
	hostile := "p\x1b]0;owned\x07\r\nforged"
	if out, errOut, code := l.run("zlogin", "-l", "nobody", z, "/xbtool", "inject", hostile); code != 0 || !strings.Contains(out, "permission denied") {
		t.Fatalf("inject: exit %d: %s%s", code, out, errOut)
	}
	auditPath := audit.AuditPath(l.root)
	before := fileSize(auditPath)
	out, errOut, code := l.run("zlogin", "-l", "nobody", z, "/xbtool", "flood", "3000")
	if code != 0 {
		t.Fatalf("flood: exit %d: %s%s", code, out, errOut)
	}
	t.Logf("flood: %s", strings.TrimSpace(out))
	summary := "similar records from uid 65534 suppressed"
	var text string
	for i := 0; i < 300; i++ {
		b, _ := os.ReadFile(auditPath)
		if text = string(b); strings.Contains(text, summary) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if grown := fileSize(auditPath) - before; grown > 64<<10 {
		t.Errorf("the audit log grew by %d bytes from one connection's flood, want < 64 KiB", grown)
	}
	if !strings.Contains(text, summary) {
		t.Errorf("no suppression summary in the audit log")
	}
	show := l.ok("audit", "-z", z)
	for _, bad := range []string{"\x1b", "\x07", "\r"} {
		if strings.Contains(show, bad) {
			t.Errorf("zonetop audit shows %q raw", bad)
		}
	}
	if !strings.Contains(show, `project add p\x1b]0;owned\x07\x0d\x0aforged`) {
		t.Errorf("zonetop audit does not show the injected name escaped:\n%s", show)
	}
	l.ok("zoneadm", "-z", z, "halt")
}

func fileSize(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}
