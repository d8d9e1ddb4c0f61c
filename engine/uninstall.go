package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"zonetop/internal/mountinfo"
	"zonetop/internal/pathrs"

	"golang.org/x/sys/unix"
)

// uninstallRoot removes zonepath and everything under it. It refuses while
// anything is mounted at or below zonepath, and it never follows a symlink:
// the zonepath's parent is opened with no symlink on the way (a zonepath
// that is a symlink, or has one above it, is refused), entries are removed
// relative to their directory's fd, and a directory on another mount is
// never entered. A zonepath that does not exist is already uninstalled.
//
// Without force it also refuses a zonepath that does not look like one
// install made (not root's, or holding more than root), so a zonepath
// configured over some other directory by mistake is not wiped; force
// (uninstall -F) removes it anyway, as after a failed install.
func uninstallRoot(ctx context.Context, zonepath string, force bool) error {
	return uninstallBeneath(ctx, "/", zonepath, force)
}

// uninstallBeneath is uninstallRoot of a zonepath that must lie beneath the
// root prefix root; symlinks are refused only below root.
func uninstallBeneath(ctx context.Context, root, zonepath string, force bool) error {
	if !filepath.IsAbs(zonepath) {
		return fmt.Errorf("uninstall %s: zonepath is not absolute", zonepath)
	}
	if filepath.Clean(zonepath) == "/" {
		return errors.New("uninstall /: refusing to remove /")
	}
	zp, err := pathrs.OpenZonepath(root, zonepath)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("uninstall %s: %w", zonepath, err)
	}
	defer zp.Close()
	st, err := zp.Stat()
	switch {
	case errors.Is(err, unix.ENOENT):
		return nil
	case err != nil:
		return fmt.Errorf("uninstall %s: %w", zonepath, err)
	case st.Mode&unix.S_IFMT == unix.S_IFLNK:
		return fmt.Errorf("uninstall %s: zonepath is a symbolic link; refusing to follow it", zonepath)
	case st.Mode&unix.S_IFMT != unix.S_IFDIR:
		return fmt.Errorf("uninstall %s: zonepath is not a directory", zonepath)
	}
	mounts, err := mountsUnder(zp.Real)
	if err != nil {
		return fmt.Errorf("uninstall %s: %w", zonepath, err)
	}
	if len(mounts) > 0 {
		if len(mounts) > 5 {
			mounts = append(mounts[:5], fmt.Sprintf("and %d more", len(mounts)-5))
		}
		return fmt.Errorf("uninstall %s: still mounted: %s (halt the zone, or unmount them)", zonepath, strings.Join(mounts, ", "))
	}
	if !force {
		if err := looksInstalled(zp); err != nil {
			return fmt.Errorf("uninstall %s: %w; uninstall -F removes it anyway", zonepath, err)
		}
	}
	if err := removeZonepathAt(ctx, zp.Pfd, zp.Base, zonepath, false); err != nil {
		return fmt.Errorf("uninstall %s: %w", zonepath, err)
	}
	return nil
}

func looksInstalled(zp *pathrs.ZonepathAt) error {
	fd, err := unix.Openat(zp.Pfd, zp.Base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	if st.Uid != 0 {
		return fmt.Errorf("zonepath is owned by uid %d, not root", st.Uid)
	}
	names, err := fdNames(fd)
	if err != nil {
		return err
	}
	var extra []string
	for _, n := range names {
		if n != "root" {
			extra = append(extra, n)
		}
	}
	if len(extra) > 0 {
		if len(extra) > 5 {
			extra = append(extra[:5], "...")
		}
		return fmt.Errorf("zonepath holds more than the zone root (%s)", strings.Join(extra, ", "))
	}
	return nil
}

// mountsUnder lists the mount points at or below dir in this process's
// mount namespace.
func mountsUnder(dir string) ([]string, error) {
	es, err := mountinfo.Self()
	if err != nil {
		return nil, fmt.Errorf("read mount table: %w", err)
	}
	var found []string
	for _, e := range es {
		if e.MountPoint == dir || strings.HasPrefix(e.MountPoint, dir+"/") {
			found = append(found, e.MountPoint)
		}
	}
	return found, nil
}

// removeZonepathAt empties the directory base of parent directory pfd
// (where names it in messages); unless keep is set, it then removes it
// too. The directory is opened with O_NOFOLLOW: a symlink there is
// refused, never followed.
func removeZonepathAt(ctx context.Context, pfd int, base, where string, keep bool) error {
	fd, err := unix.Openat(pfd, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("open %s: %w", where, err)
	}
	mnt, err := mountID(fd, "")
	if err != nil {
		unix.Close(fd)
		return fmt.Errorf("%s: %w", where, err)
	}
	err = removeContents(ctx, fd, where, mnt)
	unix.Close(fd)
	if err != nil {
		return err
	}
	if keep {
		return nil
	}
	if err := unix.Unlinkat(pfd, base, unix.AT_REMOVEDIR); err != nil {
		return fmt.Errorf("remove %s: %w", where, err)
	}
	return nil
}

// mountID names the mount an entry lives on. Inside one mount it is the same
// for every entry, so a different ID marks a mount point, even a bind of
// the same file system, which st_dev alone would miss.
func mountID(dirfd int, name string) (uint64, error) {
	var stx unix.Statx_t
	flags := unix.AT_SYMLINK_NOFOLLOW
	if name == "" {
		flags |= unix.AT_EMPTY_PATH
	}
	if err := unix.Statx(dirfd, name, flags, unix.STATX_TYPE|unix.STATX_MNT_ID, &stx); err != nil {
		return 0, err
	}
	if stx.Mask&unix.STATX_MNT_ID == 0 {
		// Before Linux 5.8: the device number is the next best mark.
		return uint64(stx.Dev_major)<<32 | uint64(stx.Dev_minor), nil
	}
	return stx.Mnt_id, nil
}

// removeContents removes every entry of the directory open as dirfd (whose
// path, for messages, is where). Each name is removed relative to dirfd;
// subdirectories are opened with O_NOFOLLOW, so a symlink is unlinked as a
// link and what it points to is never touched.
func removeContents(ctx context.Context, dirfd int, where string, mnt uint64) error {
	names, err := fdNames(dirfd)
	if err != nil {
		return fmt.Errorf("read %s: %w", where, err)
	}
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return err
		}
		p := where + "/" + name
		var st unix.Stat_t
		if err := unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			if errors.Is(err, unix.ENOENT) {
				continue
			}
			return fmt.Errorf("%s: %w", p, err)
		}
		if st.Mode&unix.S_IFMT != unix.S_IFDIR {
			if err := unix.Unlinkat(dirfd, name, 0); err != nil && !errors.Is(err, unix.ENOENT) {
				return fmt.Errorf("remove %s: %w", p, err)
			}
			continue
		}
		if removeHook != nil {
			removeHook(p)
		}
		// Swapped for a symlink since the stat: O_NOFOLLOW fails the
		// open, and the removal stops there.
		sub, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open %s: %w", p, err)
		}
		m, err := mountID(sub, "")
		switch {
		case err != nil:
			err = fmt.Errorf("%s: %w", p, err)
		case m != mnt:
			err = fmt.Errorf("%s: a file system is mounted there; refusing to cross into it", p)
		default:
			err = removeContents(ctx, sub, p, mnt)
		}
		unix.Close(sub)
		if err != nil {
			return err
		}
		if err := unix.Unlinkat(dirfd, name, unix.AT_REMOVEDIR); err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("remove %s: %w", p, err)
		}
	}
	return nil
}

// removeHook, set by tests only, runs between the stat that finds a
// directory and its opening, where a racing rename would strike.
var removeHook func(path string)

// fdNames lists a directory's names through a duplicate of its fd.
func fdNames(dirfd int) ([]string, error) {
	dup, err := unix.Openat(dirfd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(dup), "dir")
	defer f.Close()
	return f.Readdirnames(-1)
}
