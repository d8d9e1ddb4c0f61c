package pathrs

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Files of a zone root are the zone administrator's: any of them may be
// a FIFO (an open that never returns), a device (an open with effects on
// the host's hardware), a symlink to a host file, or a 100 MB sparse
// file. Everything zonetop reads or writes there, from zoneadmd or a
// front end on the host, or from zsched and init inside the zone, goes
// through the functions below, which hold every such file to one rule: a
// regular file beneath the zone root, at most so big, read whole or not
// at all, written only by rename over it.

// Size limits of the zone files zonetop reads. A file over its limit is
// refused, never read in part.
const (
	ZoneDBMax   = 4 << 20  // /etc/passwd, /etc/group, /etc/project
	ZoneTextMax = 1 << 20  // /etc/inittab, /etc/hosts
	HostnameMax = 64 << 10 // /etc/hostname
)

// ReadZoneFile reads path of a zone as the zone sees it. zoneRoot is the
// zone's root directory (its /proc/ZSCHED/root from the host, "/" from
// inside). path is resolved inside the root (openat2 RESOLVE_IN_ROOT: no
// symlink or ".." can lead out of it, magic links are refused) and its
// last component is never followed. It must be a regular file of at most
// max bytes; errors name path as the zone sees it and what it is instead.
// A missing file is an error wrapping fs.ErrNotExist.
func ReadZoneFile(zoneRoot, path string, max int64) ([]byte, error) {
	rootfd, err := unix.Open(zoneRoot, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("zone root %s: %w", zoneRoot, err)
	}
	defer unix.Close(rootfd)
	b, _, err := ReadZoneFileAt(rootfd, path, max)
	return b, err
}

// readZoneFileAt is ReadZoneFile beneath the zone root open as rootfd; it
// also returns the file's stat.
func ReadZoneFileAt(rootfd int, path string, max int64) ([]byte, unix.Stat_t, error) {
	var st unix.Stat_t
	name := "/" + strings.TrimPrefix(filepath.Clean("/"+path), "/")
	// O_PATH first: it opens nothing (no FIFO wait, no device driver);
	// only a regular file is then opened for reading, through the very
	// inode the O_PATH descriptor holds.
	pfd, err := OpenInZone(rootfd, name[1:], unix.O_PATH)
	if err != nil {
		if errors.Is(err, unix.ELOOP) {
			return nil, st, fmt.Errorf("%s: a symbolic link, not a regular file (zonetop does not follow it)", name)
		}
		return nil, st, &os.PathError{Op: "open in zone", Path: name, Err: err}
	}
	defer unix.Close(pfd)
	if err := unix.Fstat(pfd, &st); err != nil {
		return nil, st, &os.PathError{Op: "stat in zone", Path: name, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, st, fmt.Errorf("%s: %s, not a regular file", name, fileTypeName(st.Mode))
	}
	if st.Size > max {
		return nil, st, fmt.Errorf("%s: %d bytes, over the %d zonetop reads; refused", name, st.Size, max)
	}
	fd, err := unix.Open("/proc/self/fd/"+strconv.Itoa(pfd), unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, st, &os.PathError{Op: "open in zone", Path: name, Err: err}
	}
	f := os.NewFile(uintptr(fd), name)
	defer f.Close()
	var again unix.Stat_t
	if err := unix.Fstat(fd, &again); err != nil || again.Ino != st.Ino || again.Dev != st.Dev {
		return nil, st, fmt.Errorf("%s: changed while it was opened", name)
	}
	// The file may grow after the stat: read one byte past the limit to
	// tell.
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, st, fmt.Errorf("read %s: %w", name, err)
	}
	if int64(len(b)) > max {
		return nil, st, fmt.Errorf("%s: over the %d bytes zonetop reads; refused", name, max)
	}
	return b, st, nil
}

// openInZone opens rel beneath rootfd as the zone would resolve it, never
// following its last component.
func OpenInZone(rootfd int, rel string, flags uint64) (int, error) {
	if rel == "" {
		rel = "."
	}
	if !Openat2Missing {
		fd, err := unix.Openat2(rootfd, rel, &unix.OpenHow{Flags: flags | unix.O_NOFOLLOW | unix.O_CLOEXEC,
			Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS})
		if err == nil || !errors.Is(err, unix.ENOSYS) {
			return fd, err
		}
	}
	// Kernels before 5.6: no symlink at all, one component at a time.
	return OpenBeneath(rootfd, rel, flags)
}

// fileTypeName names a file type for messages.
func fileTypeName(mode uint32) string {
	switch mode & unix.S_IFMT {
	case unix.S_IFIFO:
		return "a FIFO"
	case unix.S_IFDIR:
		return "a directory"
	case unix.S_IFCHR:
		return "a character device"
	case unix.S_IFBLK:
		return "a block device"
	case unix.S_IFSOCK:
		return "a socket"
	case unix.S_IFLNK:
		return "a symbolic link"
	}
	return fmt.Sprintf("of type %#o", mode&unix.S_IFMT)
}

// writeZoneFile replaces a file of the zone's root; see writeZoneFileAt.
func WriteZoneFile(zoneRoot, rel string, data []byte, mode uint32) error {
	rootfd, err := unix.Open(zoneRoot, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("zone root %s: %w", zoneRoot, err)
	}
	defer unix.Close(rootfd)
	return WriteZoneFileAt(rootfd, rel, data, mode, -1, -1)
}

// writeZoneFileAt replaces file rel beneath rootfd atomically: a new file
// made in the same directory (O_EXCL, never an existing one), owned by
// uid:gid (-1 keeps zonetop's), renamed over the old entry. No component
// of the directory may be a symlink (RESOLVE_NO_SYMLINKS), and whatever
// the old entry was, symlink, FIFO or device, it is replaced, never
// written through.
func WriteZoneFileAt(rootfd int, rel string, data []byte, mode uint32, uid, gid int) error {
	rel = strings.TrimPrefix(filepath.Clean("/"+rel), "/")
	dir, base := filepath.Split(rel)
	dir = strings.TrimSuffix(dir, "/")
	if dir == "" {
		dir = "."
	}
	dfd, err := OpenBeneath(rootfd, dir, unix.O_PATH|unix.O_DIRECTORY)
	if err != nil {
		return fmt.Errorf("/%s: %w", dir, err)
	}
	defer unix.Close(dfd)
	var st unix.Stat_t
	if err := unix.Fstatat(dfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return fmt.Errorf("/%s: a directory, not a regular file; left alone", rel)
	}
	tmp := fmt.Sprintf(".%s.zonetop.%d", base, os.Getpid())
	// Debris of an earlier crash of this same pid would block O_EXCL.
	_ = unix.Unlinkat(dfd, tmp, 0)
	fd, err := unix.Openat(dfd, tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, mode)
	if err != nil {
		return fmt.Errorf("/%s: %w", rel, err)
	}
	f := os.NewFile(uintptr(fd), tmp)
	_, err = f.Write(data)
	if err == nil && (uid >= 0 || gid >= 0) {
		err = unix.Fchown(fd, uid, gid)
	}
	if err == nil {
		// After the chown, which clears set-id bits; and past the umask.
		err = unix.Fchmod(fd, mode)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = unix.Renameat(dfd, tmp, dfd, base)
	}
	if err != nil {
		_ = unix.Unlinkat(dfd, tmp, 0)
		return fmt.Errorf("/%s: %w", rel, err)
	}
	return nil
}
