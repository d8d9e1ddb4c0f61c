package engine

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

func TestZoneExecTTYAndUser(t *testing.T) {
	z := newBusyboxZone(t)
	z.ready()
	var out bytes.Buffer
	code, err := Exec(z.root, z.spec.Name, ExecRequest{Argv: []string{"sh", "-c", "test -t 0 && tty && stty size"}, TTY: true, Rows: 33, Cols: 101}, nil, &out, nil)
	if err != nil || code != 0 {
		t.Fatalf("tty exec: %d %v %q", code, err, out.String())
	}
	if got := out.String(); !strings.Contains(got, "/dev/pts/") || !strings.Contains(got, "33 101") {
		t.Errorf("tty exec output %q", got)
	}
	if got := strings.TrimSpace(runAs(t, z, "nobody", "id -u")); got != "65534" {
		t.Errorf("exec as nobody: uid %q", got)
	}
	if _, err := Exec(z.root, z.spec.Name, ExecRequest{Argv: []string{"true"}, User: "nosuchuser"}, nil, nil, nil); err == nil {
		t.Errorf("exec as an unknown user succeeded")
	}
	if code, _ := execCode(z, ExecRequest{Argv: []string{"/no/such/command"}}); code == 0 {
		t.Errorf("missing command succeeded")
	}
	// zsched is not dumpable: the zone cannot read its environment or
	// memory, and neither can it for a command joining the zone before
	// that command has executed its own program (it inherits the flag).
	z.mustFail("read zsched's environ", "cat /proc/1/environ")
	z.mustFail("read zsched's memory", "head -c 1 /proc/1/mem")
	z.halt()
}

func runAs(t *testing.T, z *testZone, user, cmd string) string {
	var out bytes.Buffer
	code, err := Exec(z.root, z.spec.Name, ExecRequest{Argv: []string{"sh", "-c", cmd}, User: user}, nil, &out, nil)
	if err != nil || code != 0 {
		t.Fatalf("exec as %s %q: %d %v", user, cmd, code, err)
	}
	return out.String()
}

func execCode(z *testZone, req ExecRequest) (int, error) {
	return Exec(z.root, z.spec.Name, req, nil, nil, nil)
}

func TestZonesCannotSeeEachOther(t *testing.T) {
	a := newBusyboxZone(t)
	b := newBusyboxZone(t)
	b.spec.IPType = "exclusive"
	b.root, b.spec.RootPrefix = a.root, a.root // zone IDs are unique per root prefix
	sa := a.ready()
	sb := b.ready()
	if sa.ZoneID == sb.ZoneID {
		t.Errorf("two zones share zone ID %d", sa.ZoneID)
	}
	a.mustFail("signal the other zone's zsched", fmt.Sprintf("kill -0 %d", sb.ZschedPid))
	// The exclusive-IP zone has only its own loopback.
	if got := b.sh("ls /sys/class/net"); strings.TrimSpace(got) != "lo" {
		t.Errorf("exclusive zone links: %q", got)
	}
	// The host sees both zones' processes.
	for _, p := range []int{sa.ZschedPid, sb.ZschedPid} {
		if procZombie(p) {
			t.Errorf("host cannot see zsched %d", p)
		}
	}
	a.halt()
	b.halt()
}

// BenchmarkZoneCycle measures ready → exec true → halt of a busybox zone.
func BenchmarkZoneCycle(b *testing.B) {
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		z := newBusyboxZone(b)
		b.StartTimer()
		if _, err := Ready(z.root, z.spec); err != nil {
			b.Fatal(err)
		}
		if code, err := Exec(z.root, z.spec.Name, ExecRequest{Argv: []string{"true"}}, nil, nil, nil); err != nil || code != 0 {
			b.Fatal(code, err)
		}
		if _, err := Halt(z.root, z.spec.Name); err != nil {
			b.Fatal(err)
		}
	}
}
