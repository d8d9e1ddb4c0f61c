package engine

import (
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// sealedSelf is a read-only, sealed in-memory copy of the running binary.
// Everything zoneadmd starts inside a zone (zsched, and through it init and
// joined commands) executes this copy, so a zone's root that gets hold of
// /proc/PID/exe of any of them reaches the memfd, never the zonetop binary
// on disk (CVE-2019-5736). The copy is made once per zoneadmd.
type sealedSelf struct {
	f *os.File
}

// newSealedSelf copies /proc/self/exe into a memfd and seals it against
// every kind of change.
func newSealedSelf() (*sealedSelf, error) {
	src, err := os.Open("/proc/self/exe")
	if err != nil {
		return nil, fmt.Errorf("sealed copy of self: %w", err)
	}
	defer src.Close()
	fd, err := unix.MemfdCreate("zonetop", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, fmt.Errorf("sealed copy of self: memfd_create: %w", err)
	}
	f := os.NewFile(uintptr(fd), "memfd:zonetop")
	if _, err := io.Copy(f, src); err != nil {
		f.Close()
		return nil, fmt.Errorf("sealed copy of self: copy: %w", err)
	}
	seals := unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE
	if _, err := unix.FcntlInt(f.Fd(), unix.F_ADD_SEALS, seals); err != nil {
		f.Close()
		return nil, fmt.Errorf("sealed copy of self: seal: %w", err)
	}
	return &sealedSelf{f: f}, nil
}

// path is what execve is given: the memfd through this process's fd table.
// The fd is close-on-exec, which execve tolerates for a binary (not for a
// script), so the executed program does not keep it open.
func (s *sealedSelf) path() string {
	return fmt.Sprintf("/proc/self/fd/%d", s.f.Fd())
}

// isSealedExe reports whether this process runs from a sealed memfd, for
// the checks zsched makes on itself before it builds anything.
func isSealedExe() bool {
	f, err := os.Open("/proc/self/exe")
	if err != nil {
		return false
	}
	defer f.Close()
	seals, err := unix.FcntlInt(f.Fd(), unix.F_GET_SEALS, 0)
	if err != nil {
		return false
	}
	return seals&unix.F_SEAL_WRITE != 0
}
