package platform

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"zonetop/internal/configs"

	"golang.org/x/sys/unix"
)

// zoneMaxPtys is the most ptys a zone's devpts instance holds (its max=
// option), the console, zsched's spare and zlogin sessions included.
// Without it one zone could take every pty the kernel lets devpts
// instances other than the host's have (kernel.pty.max less
// kernel.pty.reserve, 4096 - 1024 by default, shared by all zones), and
// zlogin -t to every other zone would fail. That global limit still
// applies: it is the host administrator's to raise with the number of
// zones.
const ZoneMaxPtys = 1024

var standardDevs = []configs.DevNode{
	{Path: "/dev/null", Mode: unix.S_IFCHR | 0o666, Rdev: unix.Mkdev(1, 3)},
	{Path: "/dev/zero", Mode: unix.S_IFCHR | 0o666, Rdev: unix.Mkdev(1, 5)},
	{Path: "/dev/full", Mode: unix.S_IFCHR | 0o666, Rdev: unix.Mkdev(1, 7)},
	{Path: "/dev/random", Mode: unix.S_IFCHR | 0o666, Rdev: unix.Mkdev(1, 8)},
	{Path: "/dev/urandom", Mode: unix.S_IFCHR | 0o666, Rdev: unix.Mkdev(1, 9)},
	{Path: "/dev/tty", Mode: unix.S_IFCHR | 0o666, Rdev: unix.Mkdev(5, 0)},
}

// matchDevices finds the host device nodes the patterns match. It runs
// before pivot_root, while the host /dev is still visible.
func MatchDevices(patterns []string) ([]configs.DevNode, error) {
	if len(patterns) == 0 {
		return nil, nil
	}
	for _, p := range patterns {
		if _, err := filepath.Match(p, "/dev/x"); err != nil {
			return nil, fmt.Errorf("device match %q: %w", p, err)
		}
	}
	var out []configs.DevNode
	err := filepath.WalkDir("/dev", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() {
			if path == "/dev/pts" || path == "/dev/shm" || path == "/dev/mqueue" {
				return filepath.SkipDir
			}
			return nil
		}
		matched := false
		for _, p := range patterns {
			if ok, _ := filepath.Match(p, path); ok {
				matched = true
				break
			}
		}
		if !matched {
			return nil
		}
		var st unix.Stat_t
		if unix.Lstat(path, &st) != nil {
			return nil
		}
		if t := st.Mode & unix.S_IFMT; t != unix.S_IFCHR && t != unix.S_IFBLK {
			return nil
		}
		out = append(out, configs.DevNode{Path: path, Mode: st.Mode, Rdev: st.Rdev, Uid: st.Uid, Gid: st.Gid})
		return nil
	})
	return out, err
}

// setupDev builds /dev inside the zone (after pivot_root) and returns the
// console's master and slave sides. The caller keeps the slave open so the
// master never reports a hangup while no zone process has the console
// open, and output is never lost to one.
func setupDev(extra []configs.DevNode, trees map[string]*os.File) (*os.File, *os.File, error) {
	if err := ensureDir("/dev", 0o755); err != nil {
		return nil, nil, fmt.Errorf("/dev: %w", err)
	}
	if err := unix.Mount("tmpfs", "/dev", "tmpfs", unix.MS_NOSUID|unix.MS_STRICTATIME, "mode=755,size=65536k"); err != nil {
		return nil, nil, fmt.Errorf("/dev: %w", err)
	}
	nodes := append(append([]configs.DevNode(nil), standardDevs...), extra...)
	for _, n := range nodes {
		if err := os.MkdirAll(filepath.Dir(n.Path), 0o755); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", n.Path, err)
		}
		if t := trees[n.Path]; t != nil {
			// A user namespace may not make device nodes: bind the
			// host's, which zoneadmd cloned.
			if err := os.WriteFile(n.Path, nil, 0o600); err != nil {
				return nil, nil, fmt.Errorf("%s: %w", n.Path, err)
			}
			f, err := os.OpenFile(n.Path, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %w", n.Path, err)
			}
			err = attachAt(t, int(f.Fd()))
			f.Close()
			if err != nil {
				return nil, nil, fmt.Errorf("bind %s: %w", n.Path, err)
			}
			continue
		}
		if err := unix.Mknod(n.Path, n.Mode, int(n.Rdev)); err != nil {
			if errors.Is(err, unix.EEXIST) {
				continue
			}
			return nil, nil, fmt.Errorf("mknod %s: %w", n.Path, err)
		}
		if err := unix.Chmod(n.Path, n.Mode&0o7777); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", n.Path, err)
		}
		if err := unix.Lchown(n.Path, int(n.Uid), int(n.Gid)); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", n.Path, err)
		}
	}
	for _, l := range [][2]string{{"/proc/self/fd", "/dev/fd"}, {"/proc/self/fd/0", "/dev/stdin"},
		{"/proc/self/fd/1", "/dev/stdout"}, {"/proc/self/fd/2", "/dev/stderr"}, {"pts/ptmx", "/dev/ptmx"}} {
		if err := os.Symlink(l[0], l[1]); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", l[1], err)
		}
	}
	if err := os.Mkdir("/dev/pts", 0o755); err != nil {
		return nil, nil, fmt.Errorf("/dev/pts: %w", err)
	}
	if err := unix.Mount("devpts", "/dev/pts", "devpts", unix.MS_NOSUID|unix.MS_NOEXEC, fmt.Sprintf("newinstance,ptmxmode=0666,mode=0620,max=%d", ZoneMaxPtys)); err != nil {
		return nil, nil, fmt.Errorf("/dev/pts: %w", err)
	}
	if err := os.Mkdir("/dev/shm", 0o1777); err != nil {
		return nil, nil, fmt.Errorf("/dev/shm: %w", err)
	}
	if err := unix.Mount("shm", "/dev/shm", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=1777,size=65536k"); err != nil {
		return nil, nil, fmt.Errorf("/dev/shm: %w", err)
	}
	master, slave, err := openPty()
	if err != nil {
		return nil, nil, fmt.Errorf("console: %w", err)
	}
	if err := os.WriteFile("/dev/console", nil, 0o600); err != nil {
		master.Close()
		slave.Close()
		return nil, nil, fmt.Errorf("console: %w", err)
	}
	// Bind the slave through its fd: the pty was opened from this zone's
	// own devpts, so no path the zone controls is followed.
	if err := unix.Mount(fdPath(int(slave.Fd())), "/dev/console", "", unix.MS_BIND, ""); err != nil {
		master.Close()
		slave.Close()
		return nil, nil, fmt.Errorf("console: %w", err)
	}
	return master, slave, nil
}

// openPty opens a new pty pair on the zone's devpts (after pivot_root):
// the slave comes from TIOCGPTPEER, never from a path lookup.
func openPty() (master, slave *os.File, err error) {
	mfd, err := unix.Open("/dev/pts/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, ptyLimitError(err)
	}
	if err := unix.IoctlSetPointerInt(mfd, unix.TIOCSPTLCK, 0); err != nil {
		unix.Close(mfd)
		return nil, nil, fmt.Errorf("unlockpt: %w", err)
	}
	sfd, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(mfd), unix.TIOCGPTPEER, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC)
	if errno != 0 {
		unix.Close(mfd)
		return nil, nil, fmt.Errorf("TIOCGPTPEER: %w", errno)
	}
	return os.NewFile(uintptr(mfd), "ptmx"), os.NewFile(sfd, "pts"), nil
}

// errPtyLimit is the reason a zone can have no new pty.
var errPtyLimit = errors.New("pty limit reached")

// ptyLimitError says which pty limit an ENOSPC from the zone's ptmx is:
// the zone's own (its processes hold its devpts's max) or the host's.
func ptyLimitError(err error) error {
	if !errors.Is(err, unix.ENOSPC) {
		return err
	}
	n := 0
	if ents, rerr := os.ReadDir("/dev/pts"); rerr == nil {
		for _, e := range ents {
			if e.Name() != "ptmx" {
				n++
			}
		}
	}
	if n >= ZoneMaxPtys {
		return fmt.Errorf("the zone's %w: it holds %d ptys, the most its /dev/pts allows (max=%d)", errPtyLimit, n, ZoneMaxPtys)
	}
	return fmt.Errorf("the host's %w (kernel.pty.max less kernel.pty.reserve, shared by every zone; this zone holds %d): %w", errPtyLimit, n, err)
}
