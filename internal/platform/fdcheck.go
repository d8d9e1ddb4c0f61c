package platform

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// What may cross into a zone as a command's stdio. A descriptor carries
// the file it was opened on with it, wherever it goes: a host directory
// (or an O_PATH of one) given to a zone process lets it walk the host's
// tree through /proc/self/fd/N/..; a host file or terminal is read,
// written or fed keystrokes (TIOCSTI) from inside; a memfd, eventfd,
// pidfd or the like reaches whatever made it. Sockets are refused too,
// even an unnamed end of a socket pair: whoever holds the other end can
// send more descriptors through it (SCM_RIGHTS) at any time, and an
// unconnected AF_UNIX socket connects to abstract names in the host's
// network namespace, where it was made. An anonymous pipe carries bytes
// and nothing else. A terminal session (zlogin -t) needs nothing from
// the client: zsched makes its pty in the zone's own devpts.

// errStdio is a stdio descriptor refused at a zone's border.
var errStdio = errors.New("only pipes cross into a zone")

var stdioNames = [3]string{"stdin", "stdout", "stderr"}

// checkZoneStdio refuses stdio descriptors that are not anonymous pipes,
// looking only at each descriptor itself (never at what a request says
// of it). host: the caller is on the host side (zoneadmd), where the
// file system type and /proc/self/fd may be consulted too; zsched, in
// the zone, goes by fstat and the descriptor's flags alone.
func CheckZoneStdio(op string, files []*os.File, host bool) error {
	for i, f := range files {
		name := "descriptor " + strconv.Itoa(i)
		if i < len(stdioNames) {
			name = stdioNames[i]
		}
		if what := refusedKind(f, host); what != "" {
			return fmt.Errorf("%s: %s: %s is not accepted; %w", op, name, what, errStdio)
		}
	}
	return nil
}

// refusedKind names what fd is when it is not an anonymous pipe; "" for
// a pipe.
func refusedKind(f *os.File, host bool) string {
	if f == nil {
		return "a missing descriptor"
	}
	fd := int(f.Fd())
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil {
		return fmt.Sprintf("a descriptor that cannot be examined (%v)", err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Sprintf("a descriptor that cannot be examined (%v)", err)
	}
	what := fileKind(fd, &st, host)
	if fl&unix.O_PATH != 0 {
		if what == "" {
			what = "a pipe"
		}
		return "an O_PATH descriptor of " + what
	}
	return what
}

// pipefsDev is the device of anonymous pipes.
var pipefsDev = sync.OnceValues(func() (uint64, bool) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		return 0, false
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	var st unix.Stat_t
	if err := unix.Fstat(p[0], &st); err != nil {
		return 0, false
	}
	return st.Dev, true
})

// fileKind says what st is, "" for an anonymous pipe.
func fileKind(fd int, st *unix.Stat_t, host bool) string {
	link := ""
	if host {
		link, _ = os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
	}
	if rest, ok := strings.CutPrefix(link, "anon_inode:"); ok {
		// eventfd, signalfd, timerfd, pidfd, epoll, io_uring...
		return "an anonymous-inode descriptor (" + strings.Trim(rest, "[]") + ")"
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFIFO:
		// A FIFO of a file system names a host path; an anonymous pipe
		// lives on the kernel's one pipefs, whose device every pipe
		// shows (learnt from a pipe of our own: fstat alone decides).
		if dev, ok := pipefsDev(); !ok || st.Dev != dev {
			return "a named FIFO"
		}
		return ""
	case unix.S_IFDIR:
		return "a directory"
	case unix.S_IFREG:
		if strings.HasPrefix(link, "/memfd:") {
			return "a memfd"
		}
		return "a regular file"
	case unix.S_IFCHR:
		switch major := unix.Major(st.Rdev); {
		case major == 4 || major == 5 || major >= 136 && major <= 143:
			return "a terminal"
		}
		return "a character device"
	case unix.S_IFBLK:
		return "a block device"
	case unix.S_IFSOCK:
		return "a socket"
	case unix.S_IFLNK:
		return "a symbolic link"
	}
	if link != "" {
		return "a descriptor of no file type (" + link + ")"
	}
	return "a descriptor of no file type"
}
