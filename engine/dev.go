package engine

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// The zone's /dev: a private tmpfs with the standard nodes, the nodes the
// zone's device resources match, a devpts instance of its own, and a
// console whose master side zoneadmd holds.

type devNode struct {
	path string // under /dev
	mode uint32 // type and permissions
	rdev uint64
	uid  uint32
	gid  uint32
}

// zoneMaxPtys is the most ptys a zone's devpts instance holds (its max=
// option), the console, zsched's spare and zlogin sessions included.
// Without it one zone could take every pty the kernel lets devpts
// instances other than the host's have (kernel.pty.max less
// kernel.pty.reserve, 4096 - 1024 by default, shared by all zones), and
// zlogin -t to every other zone would fail. That global limit still
// applies: it is the host administrator's to raise with the number of
// zones.
const zoneMaxPtys = 1024

var standardDevs = []devNode{
	{"/dev/null", unix.S_IFCHR | 0o666, unix.Mkdev(1, 3), 0, 0},
	{"/dev/zero", unix.S_IFCHR | 0o666, unix.Mkdev(1, 5), 0, 0},
	{"/dev/full", unix.S_IFCHR | 0o666, unix.Mkdev(1, 7), 0, 0},
	{"/dev/random", unix.S_IFCHR | 0o666, unix.Mkdev(1, 8), 0, 0},
	{"/dev/urandom", unix.S_IFCHR | 0o666, unix.Mkdev(1, 9), 0, 0},
	{"/dev/tty", unix.S_IFCHR | 0o666, unix.Mkdev(5, 0), 0, 0},
}

// matchDevices finds the host device nodes the patterns match. It runs
// before pivot_root, while the host /dev is still visible.
func matchDevices(patterns []string) ([]devNode, error) {
	if len(patterns) == 0 {
		return nil, nil
	}
	for _, p := range patterns {
		if _, err := filepath.Match(p, "/dev/x"); err != nil {
			return nil, fmt.Errorf("device match %q: %w", p, err)
		}
	}
	var out []devNode
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
		out = append(out, devNode{path, st.Mode, st.Rdev, st.Uid, st.Gid})
		return nil
	})
	return out, err
}

// setupDev builds /dev inside the zone (after pivot_root) and returns the
// console's master and slave sides. The caller keeps the slave open so the
// master never reports a hangup while no zone process has the console
// open, and output is never lost to one.
func setupDev(extra []devNode, trees map[string]*os.File) (*os.File, *os.File, error) {
	if err := ensureDir("/dev", 0o755); err != nil {
		return nil, nil, fmt.Errorf("/dev: %w", err)
	}
	if err := unix.Mount("tmpfs", "/dev", "tmpfs", unix.MS_NOSUID|unix.MS_STRICTATIME, "mode=755,size=65536k"); err != nil {
		return nil, nil, fmt.Errorf("/dev: %w", err)
	}
	nodes := append(append([]devNode(nil), standardDevs...), extra...)
	for _, n := range nodes {
		if err := os.MkdirAll(filepath.Dir(n.path), 0o755); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", n.path, err)
		}
		if t := trees[n.path]; t != nil {
			// A user namespace may not make device nodes: bind the
			// host's, which zoneadmd cloned.
			if err := os.WriteFile(n.path, nil, 0o600); err != nil {
				return nil, nil, fmt.Errorf("%s: %w", n.path, err)
			}
			f, err := os.OpenFile(n.path, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %w", n.path, err)
			}
			err = attachAt(t, int(f.Fd()))
			f.Close()
			if err != nil {
				return nil, nil, fmt.Errorf("bind %s: %w", n.path, err)
			}
			continue
		}
		if err := unix.Mknod(n.path, n.mode, int(n.rdev)); err != nil {
			if errors.Is(err, unix.EEXIST) {
				continue
			}
			return nil, nil, fmt.Errorf("mknod %s: %w", n.path, err)
		}
		if err := unix.Chmod(n.path, n.mode&0o7777); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", n.path, err)
		}
		if err := unix.Lchown(n.path, int(n.uid), int(n.gid)); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", n.path, err)
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
	if err := unix.Mount("devpts", "/dev/pts", "devpts", unix.MS_NOSUID|unix.MS_NOEXEC, fmt.Sprintf("newinstance,ptmxmode=0666,mode=0620,max=%d", zoneMaxPtys)); err != nil {
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
	if n >= zoneMaxPtys {
		return fmt.Errorf("the zone's %w: it holds %d ptys, the most its /dev/pts allows (max=%d)", errPtyLimit, n, zoneMaxPtys)
	}
	return fmt.Errorf("the host's %w (kernel.pty.max less kernel.pty.reserve, shared by every zone; this zone holds %d): %w", errPtyLimit, n, err)
}
