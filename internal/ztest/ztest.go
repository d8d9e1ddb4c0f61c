// Package ztest holds what the root integration tests of several packages
// share: the checks that decide whether a test runs, skips or (under
// CI=true) fails, and small assertions. It is imported by tests only; it
// touches nothing itself.
package ztest

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"
	"zonetop/internal/testhook"
)

// Must ends the test on a non-nil error.
func Must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// Ring marks a test of the root integration ring: real zones, cgroups,
// namespaces or links. `go test -short` (make test-unit) skips the ring
// whoever runs it.
func Ring(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("root integration ring: skipped under -short")
	}
}

// Unavailable ends a ring test that cannot run here: skipped on a
// developer's machine, failed under CI=true, where every ring test must
// run.
func Unavailable(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(why)
	}
	t.Skip(why)
}

// RequireRoot is Ring for a test that needs root: skipped when not root,
// failed instead under CI=true.
func RequireRoot(t testing.TB, what string) {
	t.Helper()
	Ring(t)
	if os.Geteuid() != 0 {
		Unavailable(t, what+": needs root")
	}
}

// NeedSeccompRoot is RequireRoot for the System V IPC filter, which is
// written for x86-64 only.
func NeedSeccompRoot(t testing.TB) {
	t.Helper()
	if runtime.GOARCH != "amd64" {
		t.Skip("IPC filter is x86-64 only")
	}
	RequireRoot(t, "seccomp IPC tests (ipc namespace, filter without no_new_privs)")
}

// Released reports whether every writer of the pipe r reads from has gone:
// a descriptor the code under test was given and should have let go.
func Released(r *os.File) bool {
	_ = r.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := r.Read(make([]byte, 1))
	return n == 0 && err == io.EOF
}

// RequireTestHooks is for tests that stop a process at a fault-injection
// point or fake a v2 host: only a binary built with the zonetop_testhooks
// tag obeys those (make test builds so).
func RequireTestHooks(t testing.TB) {
	t.Helper()
	if testhook.Enabled {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("this test needs a binary built with -tags zonetop_testhooks (make test does)")
	}
	t.Skip("this test needs a binary built with -tags zonetop_testhooks (make test does)")
}

// Sleeper starts a child that sleeps, something to put into a cgroup,
// and kills and reaps it (by its pid only) when the test ends.
func Sleeper(t testing.TB) int {
	t.Helper()
	cmd := exec.Command("sleep", "600")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	t.Cleanup(func() {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		_ = cmd.Wait()
	})
	return pid
}

// ZinitEnv names a prebuilt zinit for BuildZinit to copy instead of
// compiling one (the v2 ring's guest has no C compiler).
const ZinitEnv = "ZONETOP_TEST_ZINIT"

// BuildZinit compiles the zones' init (cmd/zinit/zinit.c) into dir/zinit
// as make build does, and returns its path. A test puts it beside the
// per-zone binary it builds, where zoneadmd looks for it.
func BuildZinit(dir string) (string, error) {
	out := filepath.Join(dir, "zinit")
	if pre := os.Getenv(ZinitEnv); pre != "" {
		b, err := os.ReadFile(pre)
		if err == nil {
			err = os.WriteFile(out, b, 0o755)
		}
		if err != nil {
			return "", fmt.Errorf("zinit from %s=%s: %w", ZinitEnv, pre, err)
		}
		return out, nil
	}
	_, self, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("zinit: no source path")
	}
	src := filepath.Join(filepath.Dir(self), "..", "..", "cmd", "zinit", "zinit.c")
	cc := os.Getenv("CC")
	if cc == "" {
		cc = "cc"
	}
	cmd := exec.Command(cc, "-Wall", "-Wextra", "-Werror", "-static", "-O2", "-o", out, src)
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build zinit (%s %s): %v\n%s", cc, src, err, b)
	}
	return out, nil
}
