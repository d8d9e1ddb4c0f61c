package platform

import (
	"debug/elf"
	"os"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// closeInheritedFDs closes every descriptor above keep that this process
// inherited. Go's exec passes on any descriptor its parent left without
// close-on-exec (a shell's job-control fds, a front end's open files), so
// the re-executed supervisor and zsched clean their own tables first: no
// host descriptor may reach a zone. It runs before the Go runtime's poller
// exists; its descriptors are kept just in case.
func CloseInheritedFDs(keep int) {
	dfd, err := unix.Open("/proc/self/fd", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return
	}
	var fds []int
	buf := make([]byte, 4096)
	for {
		n, err := unix.Getdents(dfd, buf)
		if err != nil || n <= 0 {
			break
		}
		var names []string
		_, _, names = unix.ParseDirent(buf[:n], -1, names)
		for _, name := range names {
			if fd, err := strconv.Atoi(name); err == nil && fd > keep && fd != dfd {
				fds = append(fds, fd)
			}
		}
	}
	unix.Close(dfd)
	for _, fd := range fds {
		target, _ := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
		// The Go runtime's own descriptors: its poller, and the cgroup CPU
		// quota files it keeps open to re-read GOMAXPROCS. Closing those
		// would let the runtime read whatever file reuses the number; they
		// only need to stay out of children.
		if target == "anon_inode:[eventpoll]" || target == "anon_inode:[eventfd]" || strings.HasPrefix(target, "/sys/fs/cgroup/") {
			unix.CloseOnExec(fd)
			continue
		}
		unix.Close(fd)
	}
}

// SetComm names the process for ps: a program run from a memfd would
// otherwise show the fd number. ps shows the main thread's name, and the
// Go scheduler may have moved the calling goroutine off that thread (it
// had, in zinit started through zhold on Linux 6.1), so the name goes
// through /proc/self/comm, which any thread may set for the group's
// leader; prctl, which names only the calling thread, is the fallback
// where /proc is not mounted.
func SetComm(name string) {
	if f, err := os.OpenFile("/proc/self/comm", os.O_WRONLY, 0); err == nil {
		_, err = f.WriteString(name)
		f.Close()
		if err == nil {
			return
		}
	}
	b := append([]byte(name), 0)
	_ = unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(&b[0])), 0, 0, 0)
}

// elfInterpreter returns the program interpreter a binary asks for, ""
// for a static binary.
func ElfInterpreter(f *os.File) string {
	ef, err := elf.NewFile(f)
	if err != nil {
		return ""
	}
	for _, p := range ef.Progs {
		if p.Type == elf.PT_INTERP {
			b := make([]byte, p.Filesz)
			if _, err := p.ReadAt(b, 0); err == nil {
				return strings.TrimRight(string(b), "\x00")
			}
		}
	}
	return ""
}

// OneProcEnv is the runtime setting zsched starts with (and zinit did,
// when it was a Go program): one P. Its work is serial (it forks from one
// locked thread), and on cgroup v2 every thread they keep counts
// against the zone's pids.max. Measured on 6 idle busybox zones: zsched
// 8.5 -> 7.7 threads and 1.63 -> 1.40 MiB PSS, zinit 6.8 -> 6.3 threads
// and 1.24 -> 1.04 MiB (DECISIONS.md, Per-zone binary). zoneadmd keeps
// the default: it serves the IPC check and consoles concurrently, and one
// P bought it nothing measurable. The runtime reads the variable at start;
// DropRuntimeEnv takes it out again before anything can pass it on.
const OneProcEnv = "GOMAXPROCS=1"

// DropRuntimeEnv removes OneProcEnv's variable from this process's
// environment once the runtime has read it, so that nothing zsched starts
// runs with one P.
func DropRuntimeEnv() {
	_ = os.Unsetenv(strings.SplitN(OneProcEnv, "=", 2)[0])
}
