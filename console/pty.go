package console

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// The helpers here reach file descriptors through SyscallConn rather than
// (*os.File).Fd: Fd switches a descriptor to blocking mode, after which a
// read on a pty master can no longer be interrupted by a deadline or Close,
// and the Hub depends on both to re-point or shut down a console.

func control(f *os.File, op string, fn func(fd int) error) error {
	sc, err := f.SyscallConn()
	if err != nil {
		return fmt.Errorf("%s %s: %w", op, f.Name(), err)
	}
	var inner error
	if err := sc.Control(func(fd uintptr) { inner = fn(int(fd)) }); err != nil {
		return fmt.Errorf("%s %s: %w", op, f.Name(), err)
	}
	if inner != nil {
		return fmt.Errorf("%s %s: %w", op, f.Name(), inner)
	}
	return nil
}

// OpenPair opens a new pty on the host's /dev/ptmx and returns its master
// and slave (the slave opened without becoming anyone's controlling tty).
func OpenPair() (master, slave *os.File, err error) {
	master, slave, err = pty.Open()
	if err != nil {
		return nil, nil, fmt.Errorf("open pty: %w", err)
	}
	return master, slave, nil
}

// OpenPtmx allocates a new pty from the devpts instance behind ptmxPath (for
// a zone: the ptmx node of the zone's own devpts mount, seen from the
// caller's mount namespace) and unlocks it. It returns the master and the
// pty's index within that devpts. Open the slave with OpenPeer rather than
// by path: the path lives in a tree the zone controls.
func OpenPtmx(ptmxPath string) (master *os.File, index int, err error) {
	master, err = os.OpenFile(ptmxPath, os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, 0, fmt.Errorf("open ptmx: %w", err)
	}
	err = control(master, "unlock pty", func(fd int) error {
		if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
			return err
		}
		n, err := unix.IoctlGetUint32(fd, unix.TIOCGPTN)
		index = int(n)
		return err
	})
	if err != nil {
		master.Close()
		return nil, 0, err
	}
	return master, index, nil
}

// OpenPeer opens the slave side of master directly from the master
// (TIOCGPTPEER, Linux 4.13+), so no path lookup can be redirected by a
// symlink or a bind mount planted in the zone's /dev/pts.
func OpenPeer(master *os.File) (*os.File, error) {
	var sfd int
	err := control(master, "open pty peer", func(fd int) error {
		r, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.TIOCGPTPEER,
			uintptr(unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC))
		if errno != 0 {
			return errno
		}
		sfd = int(r)
		return nil
	})
	if err != nil {
		return nil, err
	}
	name := "pty-peer"
	if n, err := PtyIndex(master); err == nil {
		name = "/dev/pts/" + strconv.Itoa(n)
	}
	return os.NewFile(uintptr(sfd), name), nil
}

// PtyIndex reports the number of master's pty within its devpts instance.
func PtyIndex(master *os.File) (int, error) {
	var n uint32
	err := control(master, "get pty number", func(fd int) error {
		var err error
		n, err = unix.IoctlGetUint32(fd, unix.TIOCGPTN)
		return err
	})
	return int(n), err
}

// SlavePath names pty index's slave in the devpts instance behind ptmxPath:
// next to it when ptmxPath is a devpts's own ptmx (or a symlink to one), in
// the pts directory beside it when it is a legacy /dev/ptmx device node.
func SlavePath(ptmxPath string, index int) string {
	p := ptmxPath
	if r, err := filepath.EvalSymlinks(ptmxPath); err == nil {
		p = r
	}
	dir := filepath.Dir(p)
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err == nil && st.Type != unix.DEVPTS_SUPER_MAGIC {
		dir = filepath.Join(dir, "pts")
	}
	return filepath.Join(dir, strconv.Itoa(index))
}

// GetSize reads the window size of a terminal (either side of a pty).
func GetSize(f *os.File) (rows, cols int, err error) {
	err = control(f, "get window size", func(fd int) error {
		ws, err := unix.IoctlGetWinsize(fd, unix.TIOCGWINSZ)
		if err == nil {
			rows, cols = int(ws.Row), int(ws.Col)
		}
		return err
	})
	return rows, cols, err
}

// SetSize sets the window size of a pty; the kernel sends SIGWINCH to the
// foreground process group of its slave.
func SetSize(f *os.File, rows, cols int) error {
	if rows < 0 || cols < 0 || rows > 0xffff || cols > 0xffff {
		return fmt.Errorf("set window size of %s: %dx%d out of range", f.Name(), cols, rows)
	}
	return control(f, "set window size", func(fd int) error {
		return unix.IoctlSetWinsize(fd, unix.TIOCSWINSZ, &unix.Winsize{Row: uint16(rows), Col: uint16(cols)})
	})
}

// CopySize gives dst the window size of src (the user's terminal to the
// zone's pty).
func CopySize(dst, src *os.File) error {
	rows, cols, err := GetSize(src)
	if err != nil {
		return err
	}
	return SetSize(dst, rows, cols)
}

// WatchResize calls fn once at once and again after every SIGWINCH until ctx
// ends. fn runs on the watcher's goroutine, never concurrently with itself.
// It returns when the watcher is set up, not when ctx ends.
func WatchResize(ctx context.Context, fn func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, unix.SIGWINCH)
	go func() {
		defer signal.Stop(ch)
		fn()
		for {
			select {
			case <-ctx.Done():
				return
			case <-ch:
				fn()
			}
		}
	}()
}

// TermState is a terminal's saved mode, for Restore.
type TermState struct {
	termios unix.Termios
}

// MakeRaw puts the terminal f into raw mode (no echo, no line editing, no
// signals from ctrl-C/ctrl-Z, no output processing) so every key reaches the
// zone as typed, and returns the previous state.
func MakeRaw(f *os.File) (*TermState, error) {
	var old unix.Termios
	err := control(f, "make terminal raw", func(fd int) error {
		t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
		if err != nil {
			return err
		}
		old = *t
		raw := *t
		raw.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
		raw.Oflag &^= unix.OPOST
		raw.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
		raw.Cflag &^= unix.CSIZE | unix.PARENB
		raw.Cflag |= unix.CS8
		raw.Cc[unix.VMIN] = 1
		raw.Cc[unix.VTIME] = 0
		return unix.IoctlSetTermios(fd, unix.TCSETS, &raw)
	})
	if err != nil {
		return nil, err
	}
	return &TermState{termios: old}, nil
}

// Restore puts the terminal back the way MakeRaw found it.
func Restore(f *os.File, st *TermState) error {
	if st == nil {
		return nil
	}
	return control(f, "restore terminal", func(fd int) error {
		return unix.IoctlSetTermios(fd, unix.TCSETS, &st.termios)
	})
}

// IsTerminal reports whether f is a terminal.
func IsTerminal(f *os.File) bool {
	return control(f, "isatty", func(fd int) error {
		_, err := unix.IoctlGetTermios(fd, unix.TCGETS)
		return err
	}) == nil
}
