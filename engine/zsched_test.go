package engine

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"zonetop/api"
	"zonetop/internal/seal"
	"zonetop/internal/zoneadmd"
	"zonetop/internal/ztest"

	"golang.org/x/sys/unix"
)

func TestZoneExecTTYAndUser(t *testing.T) {
	z := newBusyboxZone(t)
	z.ready()
	var out bytes.Buffer
	code, err := zoneadmd.Exec(z.root, z.spec.Name, api.ExecRequest{Argv: []string{"sh", "-c", "test -t 0 && tty && stty size"}, TTY: true, Rows: 33, Cols: 101}, nil, &out, nil)
	if err != nil || code != 0 {
		t.Fatalf("tty exec: %d %v %q", code, err, out.String())
	}
	if got := out.String(); !strings.Contains(got, "/dev/pts/") || !strings.Contains(got, "33 101") {
		t.Errorf("tty exec output %q", got)
	}
	if got := strings.TrimSpace(runAs(t, z, "nobody", "id -u")); got != "65534" {
		t.Errorf("exec as nobody: uid %q", got)
	}
	if _, err := zoneadmd.Exec(z.root, z.spec.Name, api.ExecRequest{Argv: []string{"true"}, User: "nosuchuser"}, nil, nil, nil); err == nil {
		t.Errorf("exec as an unknown user succeeded")
	}
	if code, _ := execCode(z, api.ExecRequest{Argv: []string{"/no/such/command"}}); code == 0 {
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
	code, err := zoneadmd.Exec(z.root, z.spec.Name, api.ExecRequest{Argv: []string{"sh", "-c", cmd}, User: user}, nil, &out, nil)
	if err != nil || code != 0 {
		t.Fatalf("exec as %s %q: %d %v", user, cmd, code, err)
	}
	return out.String()
}

func execCode(z *testZone, req api.ExecRequest) (int, error) {
	return zoneadmd.Exec(z.root, z.spec.Name, req, nil, nil, nil)
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
		if zoneadmd.ProcZombie(p) {
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
		if _, err := zoneadmd.Ready(z.root, z.spec); err != nil {
			b.Fatal(err)
		}
		if code, err := zoneadmd.Exec(z.root, z.spec.Name, api.ExecRequest{Argv: []string{"true"}}, nil, nil, nil); err != nil || code != 0 {
			b.Fatal(code, err)
		}
		if _, err := zoneadmd.Halt(z.root, z.spec.Name); err != nil {
			b.Fatal(err)
		}
	}
}

// TestSealedSelfReadOnly checks the copy of the binary zones execute:
// nothing can be written through it, not even through a reopen of its
// descriptor (the CVE-2019-5736 route). The test binary is deleted once
// running, so this is the sealed memfd fallback; TestROBindOpen covers
// the read-only mount the real binary gets.
func TestSealedSelfReadOnly(t *testing.T) {
	needZones(t)
	s, err := seal.NewSealedSelf(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.F.Close()
	if !seal.OnReadOnlyMount(s.F) {
		if seals, err := unix.FcntlInt(s.F.Fd(), unix.F_GET_SEALS, 0); err != nil || seals&unix.F_SEAL_WRITE == 0 {
			t.Fatalf("copy is neither on a read-only mount nor sealed")
		}
	}
	assertUnwritable(t, s.Path())
}

// TestROBindOpen makes the read-only view of a binary that exists on disk,
// as zoneadmd does for the installed zonetop.
func TestROBindOpen(t *testing.T) {
	needZones(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	scratch := filepath.Join(dir, "scratch")
	ztest.Must(t, os.Mkdir(scratch, 0o700))
	f, err := seal.RoBindOpen(bin, scratch)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if !seal.OnReadOnlyMount(f) || !seal.SameFile(f, bin) {
		t.Fatalf("view is not read-only or not the file")
	}
	assertUnwritable(t, fmt.Sprintf("/proc/self/fd/%d", f.Fd()))
	if b, err := os.ReadFile(bin); err != nil || string(b) != "#!/bin/sh\nexit 0\n" {
		t.Errorf("file changed: %q %v", b, err)
	}
	// The private namespace's mounts reach neither the host's mount table
	// nor the scratch directory as the host sees it.
	b, err := os.ReadFile("/proc/thread-self/mountinfo")
	ztest.Must(t, err)
	if strings.Contains(string(b), "zonetop-exe") || strings.Contains(string(b), scratch) {
		t.Errorf("scratch mount leaked into the host mount table")
	}
	if ents, _ := os.ReadDir(scratch); len(ents) != 0 {
		t.Errorf("scratch directory holds %d entries on the host", len(ents))
	}
}

// assertUnwritable tries every way of writing through path.
func assertUnwritable(t *testing.T, path string) {
	t.Helper()
	for _, flag := range []int{os.O_WRONLY, os.O_RDWR | os.O_APPEND, os.O_WRONLY | os.O_TRUNC} {
		f, err := os.OpenFile(path, flag, 0)
		if err != nil {
			continue
		}
		_, werr := f.Write([]byte("x"))
		terr := f.Truncate(1)
		f.Close()
		if werr == nil || terr == nil {
			t.Fatalf("wrote through %s (flags %#x): write %v, truncate %v", path, flag, werr, terr)
		}
	}
}
