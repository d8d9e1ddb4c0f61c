package platform

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"zonetop/internal/seal"
)

// zinit, the init zsched starts at boot when the zone names no init of its
// own, is a small static C program (cmd/zinit/zinit.c) beside the per-zone
// binary: one runs per zone for the zone's whole life, and a Go runtime's
// floor was most of what it cost (DECISIONS.md, zinit in C). zoneadmd
// opens it sealed, as it does its own binary (a zone must not be able to
// replace the host file its init runs from), and gives zsched the
// descriptor; zsched starts it as "zinit zinit [BOOTARG...]" with the
// per-zone binary at ZinitExeFd, from which zinit runs the newtask form
// for an inittab entry that names a project.

// ZinitSealFd is the descriptor zoneadmd gives zsched the sealed zinit at.
const ZinitSealFd = 5

// ZinitExeFd is the descriptor zinit finds the per-zone binary at (the C
// side's EXE_FD).
const ZinitExeFd = 3

// holdZinit is the path a held stub takes as "execute the sealed zinit
// you were given": the stub then finds the per-zone binary at
// holdExeFd and zinit at holdZinitFd.
const (
	holdZinit   = "@zinit"
	holdExeFd   = 4
	holdZinitFd = 5
)

// takeZinit takes the sealed zinit zoneadmd handed zsched at ZinitSealFd,
// checks that nothing can write it and that it needs no dynamic loader
// (busybox and tarball zone roots have none), and keeps it at a
// descriptor at or above seal.MinFd: a path /proc/self/fd/N names it in
// the child, after the child's own descriptors are laid out.
func takeZinit() (*os.File, error) {
	if _, err := unix.FcntlInt(ZinitSealFd, unix.F_GETFD, 0); err != nil {
		return nil, fmt.Errorf("zinit: zoneadmd gave no sealed zinit at descriptor %d", ZinitSealFd)
	}
	f := os.NewFile(ZinitSealFd, "zinit")
	defer f.Close()
	sealed := seal.OnReadOnlyMount(f)
	if seals, err := unix.FcntlInt(ZinitSealFd, unix.F_GET_SEALS, 0); err == nil && seals&unix.F_SEAL_WRITE != 0 {
		sealed = true
	}
	if !sealed {
		return nil, errors.New("zinit: the descriptor zoneadmd gave is not sealed")
	}
	if interp := ElfInterpreter(f); interp != "" {
		return nil, fmt.Errorf("zinit is dynamically linked (it asks for %s, which a zone may lack): build it with -static", interp)
	}
	fd, err := unix.FcntlInt(ZinitSealFd, unix.F_DUPFD_CLOEXEC, seal.MinFd)
	if err != nil {
		return nil, fmt.Errorf("zinit: move its descriptor above %d: %w", seal.MinFd, err)
	}
	return os.NewFile(uintptr(fd), "zinit"), nil
}
