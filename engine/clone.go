package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"zonetop/api"
	"zonetop/internal/pathrs"
	"zonetop/internal/platform"

	"golang.org/x/sys/unix"
)

// cloneParams says what Clone copies where.
type cloneParams struct {
	Zonepath   string // the new zone's; Clone creates it as Install does
	Root       string // the root prefix Zonepath lies beneath ("" is /)
	SourceRoot string // the source zone's ZONEPATH/root on the host
	ZoneName   string // the new zone's name, given to /etc/hostname and /etc/hosts
	SourceName string // the source zone's name, replaced there
	// Progress, when set, is called as the copy moves on, in bytes.
	Progress func(api.Progress)
}

// cloneRoot creates o.Zonepath and fills its root with a copy of o.SourceRoot:
// every file, directory, symlink, device node and FIFO with its owner,
// mode (setuid bits included), extended attributes (file capabilities,
// ACLs) and times, and hard links kept as links. Nothing is followed: a
// symlink is copied as a link, and a file system mounted inside the source
// stops the clone. As with Install, a failure removes what was made.
func cloneRoot(ctx context.Context, o cloneParams) error {
	if errs := verifyInstall(installParams{Zonepath: o.Zonepath, Root: o.Root, Brand: "sparse", ZoneName: o.ZoneName}); len(errs) > 0 {
		return fmt.Errorf("clone %s: %w", o.Zonepath, errors.Join(errs...))
	}
	total, err := cloneSize(o.SourceRoot)
	if err != nil {
		return fmt.Errorf("clone %s: source: %w", o.Zonepath, err)
	}
	err = makeZoneRoot(ctx, o.Root, o.Zonepath, func(_ string, rootfd int) error {
		src, err := unix.Open(o.SourceRoot, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("source root %s: %w", o.SourceRoot, err)
		}
		defer unix.Close(src)
		mnt, err := mountID(src, "")
		if err != nil {
			return fmt.Errorf("source root %s: %w", o.SourceRoot, err)
		}
		dst, err := unix.Openat(rootfd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(dst)
		c := &cloner{ctx: ctx, srcRoot: o.SourceRoot, rootfd: rootfd, mnt: mnt,
			links: map[[2]uint64]string{}, total: total, report: o.Progress}
		c.progress()
		if err := c.dir(src, dst, ""); err != nil {
			return err
		}
		c.progress()
		return renameIdentity(rootfd, o.SourceName, o.ZoneName)
	})
	if err != nil {
		return fmt.Errorf("clone %w", err)
	}
	return nil
}

// cloneSize adds up the bytes of the regular files under root, a file of
// several names once, for the progress report; WalkDir never follows a
// symlink.
func cloneSize(root string) (int64, error) {
	var total int64
	seen := map[[2]uint64]bool{}
	err := filepath.WalkDir(root, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return nil // gone since it was listed: the copy will say
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok && st.Nlink > 1 {
			key := [2]uint64{st.Dev, st.Ino}
			if seen[key] {
				return nil
			}
			seen[key] = true
		}
		total += info.Size()
		return nil
	})
	return total, err
}

// cloner copies one zone root to another.
type cloner struct {
	ctx     context.Context
	srcRoot string
	rootfd  int    // the new root
	mnt     uint64 // the source root's mount: the copy never leaves it
	// links maps a multiply-linked source inode to the path of its first
	// copy, so later names become hard links to it.
	links       map[[2]uint64]string
	done, total int64
	report      func(api.Progress)
}

func (c *cloner) progress() {
	if c.report != nil {
		c.report(api.Progress{Step: stepCopy, Done: c.done, Total: c.total})
	}
}

// dir copies the entries of directory sfd into dfd; rel is its path
// below the root, for messages and hard links.
func (c *cloner) dir(sfd, dfd int, rel string) error {
	names, err := fdNames(sfd)
	if err != nil {
		return fmt.Errorf("read %s: %w", c.where(rel), err)
	}
	for _, name := range names {
		if err := c.ctx.Err(); err != nil {
			return err
		}
		if err := c.entry(sfd, dfd, name, filepath.Join(rel, name)); err != nil {
			return err
		}
	}
	return nil
}

func (c *cloner) where(rel string) string { return filepath.Join(c.srcRoot, rel) }

func (c *cloner) entry(sfd, dfd int, name, rel string) error {
	var st unix.Stat_t
	if err := unix.Fstatat(sfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("%s: %w", c.where(rel), err)
	}
	typ := st.Mode & unix.S_IFMT
	if typ != unix.S_IFDIR && st.Nlink > 1 {
		key := [2]uint64{st.Dev, st.Ino}
		if first, ok := c.links[key]; ok {
			return c.hardlink(first, dfd, name, rel)
		}
		c.links[key] = rel
	}
	switch typ {
	case unix.S_IFDIR:
		return c.subdir(sfd, dfd, name, rel, &st)
	case unix.S_IFREG:
		return c.file(sfd, dfd, name, rel, &st)
	case unix.S_IFLNK:
		target, err := platform.Readlinkat(sfd, name)
		if err != nil {
			return fmt.Errorf("readlink %s: %w", c.where(rel), err)
		}
		if err := unix.Symlinkat(target, dfd, name); err != nil {
			return fmt.Errorf("symlink %s: %w", rel, err)
		}
	case unix.S_IFCHR, unix.S_IFBLK, unix.S_IFIFO, unix.S_IFSOCK:
		if err := unix.Mknodat(dfd, name, typ|0o600, int(st.Rdev)); err != nil {
			return fmt.Errorf("mknod %s: %w", rel, err)
		}
		if err := unix.Fchownat(dfd, name, int(st.Uid), int(st.Gid), unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("chown %s: %w", rel, err)
		}
		// name was just made by mknod in a directory this copy made, so
		// chmod by name reaches that node.
		if err := unix.Fchmodat(dfd, name, st.Mode&0o7777, 0); err != nil {
			return fmt.Errorf("chmod %s: %w", rel, err)
		}
		return setTimesFrom(dfd, name, &st)
	default:
		return fmt.Errorf("%s: unknown file type %#o", c.where(rel), typ)
	}
	if err := unix.Fchownat(dfd, name, int(st.Uid), int(st.Gid), unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("chown %s: %w", rel, err)
	}
	return setTimesFrom(dfd, name, &st)
}

func (c *cloner) hardlink(first string, dfd int, name, rel string) error {
	tdir, tbase := filepath.Split(first)
	tfd, err := pathrs.OpenBeneath(c.rootfd, filepath.Clean("./"+tdir), unix.O_PATH|unix.O_DIRECTORY)
	if err != nil {
		return fmt.Errorf("hard link %s: %w", rel, err)
	}
	defer unix.Close(tfd)
	if err := unix.Linkat(tfd, tbase, dfd, name, 0); err != nil {
		return fmt.Errorf("hard link %s to %s: %w", rel, first, err)
	}
	return nil
}

func (c *cloner) subdir(sfd, dfd int, name, rel string, st *unix.Stat_t) error {
	s, err := unix.Openat(sfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", c.where(rel), err)
	}
	defer unix.Close(s)
	if m, err := mountID(s, ""); err != nil {
		return fmt.Errorf("%s: %w", c.where(rel), err)
	} else if m != c.mnt {
		return fmt.Errorf("%s: a file system is mounted there; unmount it before cloning", c.where(rel))
	}
	if err := unix.Mkdirat(dfd, name, 0o700); err != nil {
		return fmt.Errorf("mkdir %s: %w", rel, err)
	}
	d, err := unix.Openat(dfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", rel, err)
	}
	defer unix.Close(d)
	if err := c.dir(s, d, rel); err != nil {
		return err
	}
	// Owner, mode and times after the contents: writing into the
	// directory would move its mtime, and its mode may forbid writing.
	return c.meta(s, d, rel, st)
}

func (c *cloner) file(sfd, dfd int, name, rel string, st *unix.Stat_t) error {
	s, err := unix.Openat(sfd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NOCTTY, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", c.where(rel), err)
	}
	sf := os.NewFile(uintptr(s), rel)
	defer sf.Close()
	d, err := unix.Openat(dfd, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("create %s: %w", rel, err)
	}
	df := os.NewFile(uintptr(d), rel)
	defer df.Close()
	// A reflink where the file system shares blocks; otherwise io.Copy,
	// which uses copy_file_range between two files.
	if err := unix.IoctlFileClone(d, s); err != nil {
		if _, err := io.Copy(df, sf); err != nil {
			return fmt.Errorf("copy %s: %w", rel, err)
		}
	}
	c.done += st.Size
	c.progress()
	if err := c.meta(s, d, rel, st); err != nil {
		return err
	}
	return df.Close()
}

// meta gives the copy d the source s's owner, mode, extended attributes
// and times, in the order that keeps each: chown clears setuid bits and
// file capabilities, so mode and attributes come after it.
func (c *cloner) meta(s, d int, rel string, st *unix.Stat_t) error {
	if err := unix.Fchown(d, int(st.Uid), int(st.Gid)); err != nil {
		return fmt.Errorf("chown %s: %w", rel, err)
	}
	if err := unix.Fchmod(d, st.Mode&0o7777); err != nil {
		return fmt.Errorf("chmod %s: %w", rel, err)
	}
	if err := copyXattrs(s, d); err != nil {
		return fmt.Errorf("extended attributes of %s: %w", rel, err)
	}
	ts := []unix.Timespec{st.Atim, st.Mtim}
	if err := unix.UtimesNanoAt(d, "", ts, unix.AT_EMPTY_PATH); err != nil {
		// Older kernels take no empty path here; /proc/self/fd does.
		if err := unix.UtimesNano(fmt.Sprintf("/proc/self/fd/%d", d), ts); err != nil {
			return fmt.Errorf("times of %s: %w", rel, err)
		}
	}
	return nil
}

// copyXattrs copies every extended attribute of s to d.
func copyXattrs(s, d int) error {
	size, err := unix.Flistxattr(s, nil)
	if err != nil || size == 0 {
		if errors.Is(err, unix.ENOTSUP) {
			return nil
		}
		return err
	}
	buf := make([]byte, size)
	if size, err = unix.Flistxattr(s, buf); err != nil {
		return err
	}
	for _, attr := range strings.Split(strings.TrimRight(string(buf[:size]), "\x00"), "\x00") {
		n, err := unix.Fgetxattr(s, attr, nil)
		if err != nil {
			return fmt.Errorf("%s: %w", attr, err)
		}
		val := make([]byte, n)
		if n, err = unix.Fgetxattr(s, attr, val); err != nil {
			return fmt.Errorf("%s: %w", attr, err)
		}
		if err := unix.Fsetxattr(d, attr, val[:n], 0); err != nil {
			return fmt.Errorf("%s: %w", attr, err)
		}
	}
	return nil
}

func setTimesFrom(dirfd int, name string, st *unix.Stat_t) error {
	return unix.UtimesNanoAt(dirfd, name, []unix.Timespec{st.Atim, st.Mtim}, unix.AT_SYMLINK_NOFOLLOW)
}

// renameIdentity gives a cloned root the new zone's name where install
// wrote the old one: /etc/hostname, and the old name as a word of
// /etc/hosts. What is not a regular file of the root within the size
// zonetop reads (absent, a symlink, a FIFO, a device, too big) is the
// zone's own business and left as it is.
func renameIdentity(rootfd int, oldName, newName string) error {
	for _, f := range []struct {
		rel string
		max int64
	}{{"etc/hostname", pathrs.HostnameMax}, {"etc/hosts", pathrs.ZoneTextMax}} {
		b, st, err := pathrs.ReadZoneFileAt(rootfd, f.rel, f.max)
		if err != nil {
			continue
		}
		out := renameWord(string(b), oldName, newName)
		if out == string(b) {
			continue
		}
		if err := pathrs.WriteZoneFileAt(rootfd, f.rel, []byte(out), st.Mode&0o7777, int(st.Uid), int(st.Gid)); err != nil {
			return err
		}
	}
	return nil
}

// renameWord replaces old where it stands as a whole word, between blanks
// or line ends.
func renameWord(text, old, repl string) string {
	var b strings.Builder
	for len(text) > 0 {
		j := strings.IndexAny(text, " \t\r\n")
		if j == 0 {
			b.WriteByte(text[0])
			text = text[1:]
			continue
		}
		if j < 0 {
			j = len(text)
		}
		if w := text[:j]; w == old {
			b.WriteString(repl)
		} else {
			b.WriteString(w)
		}
		text = text[j:]
	}
	return b.String()
}
