package console

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// BenchmarkPtyCat is the host baseline of scripts/bench-console.sh: cat of
// the file named by ZONETOP_PTYCAT_FILE on a host pty, its master copied to
// nowhere, as zlogin copies a zone's pty. Without the variable it skips.
func BenchmarkPtyCat(b *testing.B) {
	file := os.Getenv("ZONETOP_PTYCAT_FILE")
	if file == "" {
		b.Skip("ZONETOP_PTYCAT_FILE not set (scripts/bench-console.sh sets it)")
	}
	st, err := os.Stat(file)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(st.Size())
	for i := 0; i < b.N; i++ {
		cmd := exec.Command("cat", file)
		p, err := pty.Start(cmd)
		if err != nil {
			b.Fatal(err)
		}
		// Ends with EIO once cat has exited and its output is drained.
		_, _ = io.Copy(io.Discard, p)
		if err := cmd.Wait(); err != nil {
			b.Fatal(err)
		}
		p.Close()
	}
}

// BenchmarkHubCat is BenchmarkPtyCat through a Hub as zoneadmd runs one: the
// master read by the hub into its ring, a rotating log and one attacher
// on a unix socket whose far end is copied to nowhere, as zlogin -C does.
// Its ratio to BenchmarkPtyCat in the same run is the hub's share of
// scripts/bench-console.sh's gap, without a zone or a second process.
func BenchmarkHubCat(b *testing.B) {
	file := os.Getenv("ZONETOP_PTYCAT_FILE")
	if file == "" {
		b.Skip("ZONETOP_PTYCAT_FILE not set (scripts/bench-console.sh sets it)")
	}
	st, err := os.Stat(file)
	if err != nil {
		b.Fatal(err)
	}
	log, err := OpenLog(filepath.Join(b.TempDir(), "console"), 0, -1)
	if err != nil {
		b.Fatal(err)
	}
	defer log.Close()
	h := NewHub(HubOptions{Log: log})
	defer h.Close()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		b.Fatal(err)
	}
	ours, theirs := os.NewFile(uintptr(fds[0]), "attacher"), os.NewFile(uintptr(fds[1]), "client")
	defer theirs.Close()
	h.Attach(ours, AttachOptions{})
	b.SetBytes(st.Size())
	for i := 0; i < b.N; i++ {
		cmd := exec.Command("cat", file)
		p, err := pty.Start(cmd)
		if err != nil {
			b.Fatal(err)
		}
		h.SetMaster(p)
		if _, err := io.CopyN(io.Discard, theirs, st.Size()); err != nil {
			b.Fatal(err)
		}
		if err := cmd.Wait(); err != nil {
			b.Fatal(err)
		}
	}
}
