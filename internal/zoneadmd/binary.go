package zoneadmd

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
)

// The per-zone processes (zoneadmd, the keeper, zsched, the zhold stubs)
// run from a binary of their own, cmd/zoneadmd, that links none of
// the console's libraries: every one of them is started once per zone, and
// the front ends' binary paid ~7 ms of package init and 1-2 MiB of memory
// per process for screens none of them draws (DECISIONS.md). The two
// binaries sit side by side (bin/ after make build, PREFIX/bin after make
// install): a front end finds this one beside itself, and zoneadmd finds
// the front ends' binary beside itself for the zone's own tools.

// BinaryName is the per-zone binary's file name, beside zonetop's.
const BinaryName = "zoneadmd"

// ToolsName is the front ends' binary's file name, beside the per-zone
// binary; zones see it at api.ZoneBinaryPath.
const ToolsName = "zonetop"

// hidden is set once HiddenMain runs an entry point: this process is then
// the per-zone binary itself, and starts its kind from /proc/self/exe
// (the very file it runs from, even if a newer one replaced it on disk).
var hidden atomic.Bool

// binaryOverride replaces the lookup beside the executable (tests).
var binaryOverride atomic.Pointer[string]

// UseBinary makes this process start zoneadmd from path instead of the
// per-zone binary beside its executable. Tests use it: a test binary does
// not sit beside one.
func UseBinary(path string) { binaryOverride.Store(&path) }

// Binary is the per-zone binary this process starts zoneadmd from. A
// missing one is an error naming where it was looked for: zonetop never
// falls back to running the supervisor from another binary, which would
// quietly bring back the cost the split removed, or run a stale build.
func Binary() (string, error) {
	if hidden.Load() {
		return "/proc/self/exe", nil
	}
	if p := binaryOverride.Load(); p != nil {
		return *p, nil
	}
	return besideExecutable(BinaryName, "the per-zone binary", "zonetop")
}

// besideExecutable is the executable file name beside this process's
// executable, what it is called in errors; who needs it there is named
// when it is missing. os.Executable is /proc/self/exe resolved: a link
// such as zoneadm has been followed to the zonetop binary, whose
// directory counts.
func besideExecutable(name, what, who string) (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("find %s %s: %w", what, name, err)
	}
	p := filepath.Join(filepath.Dir(exe), name)
	st, err := os.Stat(p)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return "", fmt.Errorf("%s %s is missing: %s needs it beside itself (make build and make install put it there)", what, p, who)
	case err != nil:
		return "", fmt.Errorf("%s: %w", what, err)
	case !st.Mode().IsRegular() || st.Mode()&0o111 == 0:
		return "", fmt.Errorf("%s %s is not an executable file", what, p)
	}
	return p, nil
}

// ZinitName is the zone's init's file name, beside the per-zone binary: a
// static C program (cmd/zinit), which zoneadmd seals and zsched runs when
// a zone names no init of its own.
const ZinitName = "zinit"

// zinitBinary is the zinit beside this process's executable (zoneadmd's,
// the per-zone binary). A missing one is an error naming where it was
// looked for, as for the per-zone binary: there is no other init to fall
// back to.
func zinitBinary() (string, error) {
	return besideExecutable(ZinitName, "the zone init", "zoneadmd")
}

// toolsBinary is the front ends' binary zones get at api.ZoneBinaryPath
// (their prctl, projects, zonestat, newtask, and the console itself):
// zonetop beside the running per-zone binary. Those tools stay in the big
// binary: a person runs them now and then, nothing keeps them resident,
// and they share the front ends' CLI code. "" when there is none (a test's
// build of the per-zone binary alone), so the zone goes without.
func toolsBinary() string {
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	p := filepath.Join(filepath.Dir(exe), ToolsName)
	if st, err := os.Stat(p); err != nil || !st.Mode().IsRegular() {
		return ""
	}
	return p
}
