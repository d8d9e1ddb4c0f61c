package seal

import (
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"runtime"

	"golang.org/x/sys/unix"
)

// sealedSelf is a copy of the running binary that nothing can write.
// Everything zoneadmd starts inside a zone (zsched, and through it init and
// joined commands) executes it, so a zone's root that gets hold of
// /proc/PID/exe of any of them reaches that copy, never a writable zonetop
// binary on disk (CVE-2019-5736). It is made once per zoneadmd.
//
// The preferred form is a read-only bind mount of the binary that exists
// only as an open descriptor: it is made in a private mount namespace of a
// throw-away thread and lives on, detached, as long as the descriptor does.
// Every open for writing through it (including a reopen of
// /proc/PID/exe or /proc/PID/fd/N) fails with EROFS, and no mount namespace
// anybody can enter holds it, so it cannot be remounted read-write. It costs
// a few mount calls instead of copying the whole binary (~10 MB, several
// milliseconds and as much shared memory per zone). When it cannot be made
// (no CAP_SYS_ADMIN for unshare), a sealed memfd copy is the fallback.
type SealedSelf struct {
	F *os.File
}

// newSealedSelf makes the read-only view of /proc/self/exe, or the sealed
// memfd copy. scratch is an existing directory the private namespace may
// cover with a tmpfs (the host never sees that mount).
func NewSealedSelf(scratch string) (*SealedSelf, error) {
	f, berr := roBindSelf(scratch)
	if berr != nil {
		log.Printf("no read-only view of the binary, copying it into a sealed memfd: %v", berr)
		var err error
		if f, err = memfdSelf(); err != nil {
			return nil, fmt.Errorf("%w (read-only bind: %v)", err, berr)
		}
	}
	high, err := aboveChildFds(f)
	if err != nil {
		return nil, err
	}
	return &SealedSelf{F: high}, nil
}

// NewSealedFile is NewSealedSelf for another executable, at path: the
// zone's init (zinit) is a program of its own beside the per-zone binary,
// and a zone must no more be able to replace it on the host than zsched.
func NewSealedFile(path, scratch string) (*SealedSelf, error) {
	f, berr := RoBindOpen(path, scratch)
	if berr != nil {
		log.Printf("no read-only view of %s, copying it into a sealed memfd: %v", path, berr)
		var err error
		if f, err = memfdCopy(path, filepath.Base(path)); err != nil {
			return nil, fmt.Errorf("%w (read-only bind: %v)", err, berr)
		}
	}
	high, err := aboveChildFds(f)
	if err != nil {
		return nil, err
	}
	return &SealedSelf{F: high}, nil
}

// MinFd is the lowest descriptor number the copy is kept at. Path names
// the copy by its number in this process's table, and execve resolves it
// in the child's, which fork-exec has rebuilt from 0 up out of the
// descriptors the child is given: a copy that sat at 3 was the child's
// status pipe there, and zsched's exec failed with EACCES (a zoneadmd
// that had adopted its zone, with low numbers free, could not reboot it).
const MinFd = 64

// aboveChildFds moves f to a descriptor at MinFd or above.
func aboveChildFds(f *os.File) (*os.File, error) {
	if f.Fd() >= MinFd {
		return f, nil
	}
	defer f.Close()
	fd, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, MinFd)
	if err != nil {
		return nil, fmt.Errorf("sealed copy of self: move its descriptor above %d: %w", MinFd, err)
	}
	return os.NewFile(uintptr(fd), f.Name()), nil
}

// roBindSelf opens the running binary through a read-only bind mount that
// nothing but the returned descriptor holds.
func roBindSelf(scratch string) (*os.File, error) {
	// /proc/self/exe names the binary through a mount of the namespace
	// this process started in, which cannot be bound from another one:
	// bind its path, and check that it is still the very file running.
	self, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return nil, fmt.Errorf("read-only view of self: %w", err)
	}
	if !filepath.IsAbs(self) {
		return nil, fmt.Errorf("read-only view of self: binary %q has no path", self)
	}
	f, err := RoBindOpen(self, scratch)
	if err != nil {
		return nil, fmt.Errorf("read-only view of self: %w", err)
	}
	if !SameFile(f, "/proc/self/exe") {
		f.Close()
		return nil, errors.New("read-only view of self: the binary on disk was replaced while running")
	}
	return f, nil
}

// roBindOpen opens path through a read-only bind mount made in a private
// mount namespace of a locked thread. The thread is never unlocked, so the
// runtime destroys it (and its namespace) when the goroutine ends; the
// mount survives, detached, for the descriptor.
func RoBindOpen(path, scratch string) (*os.File, error) {
	type result struct {
		f   *os.File
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		f, err := func() (*os.File, error) {
			if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
				return nil, fmt.Errorf("unshare: %w", err)
			}
			// Nothing done below may reach the host's mount table.
			if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
				return nil, fmt.Errorf("make mounts private: %w", err)
			}
			if err := unix.Mount("zonetop-exe", scratch, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "size=4k,mode=700"); err != nil {
				return nil, fmt.Errorf("scratch tmpfs: %w", err)
			}
			target := filepath.Join(scratch, "exe")
			if err := os.WriteFile(target, nil, 0o500); err != nil {
				return nil, err
			}
			if err := unix.Mount(path, target, "", unix.MS_BIND, ""); err != nil {
				return nil, fmt.Errorf("bind %s: %w", path, err)
			}
			if err := unix.Mount("", target, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY|unix.MS_NODEV|unix.MS_NOSUID, ""); err != nil {
				return nil, fmt.Errorf("remount read-only: %w", err)
			}
			f, err := os.Open(target)
			if err != nil {
				return nil, err
			}
			if !OnReadOnlyMount(f) {
				f.Close()
				return nil, errors.New("bind mount is not read-only")
			}
			return f, nil
		}()
		ch <- result{f, err}
		// Returning with the thread locked ends the thread, unless it
		// is the main thread, which the runtime keeps, wedged, in the
		// private namespace: /proc/self (the main thread's view) may then
		// show that namespace, so zonetop reads its mount table from
		// /proc/thread-self, the asking thread's, which is the host's.
	}()
	r := <-ch
	return r.f, r.err
}

// memfdSelf copies /proc/self/exe into a memfd and seals it against every
// kind of change.
func memfdSelf() (*os.File, error) { return memfdCopy("/proc/self/exe", "zonetop") }

// memfdCopy copies the file at path into a memfd named name and seals it.
func memfdCopy(path, name string) (*os.File, error) {
	src, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("sealed copy of %s: %w", path, err)
	}
	defer src.Close()
	fd, err := unix.MemfdCreate(name, unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, fmt.Errorf("sealed copy of %s: memfd_create: %w", path, err)
	}
	f := os.NewFile(uintptr(fd), "memfd:"+name)
	if _, err := io.Copy(f, src); err != nil {
		f.Close()
		return nil, fmt.Errorf("sealed copy of %s: copy: %w", path, err)
	}
	seals := unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE
	if _, err := unix.FcntlInt(f.Fd(), unix.F_ADD_SEALS, seals); err != nil {
		f.Close()
		return nil, fmt.Errorf("sealed copy of %s: seal: %w", path, err)
	}
	return f, nil
}

// path is what execve is given: the copy through this process's fd table.
// The fd is close-on-exec, which execve tolerates for a binary (not for a
// script), so the executed program does not keep it open.
func (s *SealedSelf) Path() string {
	return fmt.Sprintf("/proc/self/fd/%d", s.F.Fd())
}

// isSealedExe reports whether this process runs from a copy nothing can
// write (a sealed memfd or a read-only mount), for the checks zsched makes
// on itself before it builds anything.
func IsSealedExe() bool {
	f, err := os.Open("/proc/self/exe")
	if err != nil {
		return false
	}
	defer f.Close()
	if seals, err := unix.FcntlInt(f.Fd(), unix.F_GET_SEALS, 0); err == nil && seals&unix.F_SEAL_WRITE != 0 {
		return true
	}
	return OnReadOnlyMount(f)
}

// onReadOnlyMount tells whether f lives on a mount that refuses writes.
func OnReadOnlyMount(f *os.File) bool {
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(f.Fd()), &st); err != nil {
		return false
	}
	return st.Flags&unix.ST_RDONLY != 0
}

// sameFile tells whether f is the file at path (same device and inode).
func SameFile(f *os.File, path string) bool {
	var a, b unix.Stat_t
	if unix.Fstat(int(f.Fd()), &a) != nil || unix.Stat(path, &b) != nil {
		return false
	}
	return a.Dev == b.Dev && a.Ino == b.Ino
}
