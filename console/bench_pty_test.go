package console

import (
	"io"
	"os"
	"os/exec"
	"testing"

	"github.com/creack/pty"
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
