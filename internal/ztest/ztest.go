// Package ztest holds what the root integration tests of several packages
// share: the checks that decide whether a test runs, skips or (under
// CI=true) fails, and small assertions. It is imported by tests only; it
// touches nothing itself.
package ztest

import (
	"io"
	"os"
	"runtime"
	"testing"
	"time"
)

// Must ends the test on a non-nil error.
func Must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// RequireRoot skips a test that needs root when not root, and fails it
// instead under CI=true, where every root test must run.
func RequireRoot(t testing.TB, what string) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s: needs root", what)
	}
	t.Skipf("%s: needs root", what)
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
