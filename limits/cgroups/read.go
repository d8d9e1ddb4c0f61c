package cgroups

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// Sampling reads a handful of small kernel files per cgroup every second,
// for every zone and project: it reads exactly the files it needs into a
// buffer on the stack. The Stat of containerd's cgroups library, which
// zonetop used before, read every file of every controller (memory.stat,
// hugetlb, blkio) and its process listing stat'ed each interface file of
// each directory; over 100 zones with five projects that was a quarter of
// a core at one round a second.

// cgDirs keeps a group's directories open (O_PATH), one per hierarchy:
// files are opened relative to them, so a sample does not walk the whole
// cgroup path (often ten components deep on a nested host) for every file.
// The *os.File's finalizer closes a directory whose group was dropped
// without Delete.
type cgDirs struct {
	mu   sync.Mutex
	open map[string]*os.File
}

// at is the open directory at path.
func (c *cgDirs) at(path string) (*os.File, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if f, ok := c.open[path]; ok {
		return f, nil
	}
	f, err := os.OpenFile(path, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	if c.open == nil {
		c.open = map[string]*os.File{}
	}
	c.open[path] = f
	return f, nil
}

func (c *cgDirs) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for p, f := range c.open {
		f.Close()
		delete(c.open, p)
	}
}

// file is a path for readSmall: a name in a directory the group holds
// open, or (with no cache) a plain path.
type cgFile struct {
	dir  *os.File
	name string
	path string // for errors, and when dir is nil
}

func (c *cgDirs) file(dir, name string) cgFile {
	f, err := c.at(dir)
	if err != nil {
		return cgFile{name: name, path: filepath.Join(dir, name)}
	}
	return cgFile{dir: f, name: name, path: filepath.Join(dir, name)}
}

func (f cgFile) openRead() (int, error) {
	if f.dir == nil {
		return syscall.Open(f.path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	}
	fd, err := unix.Openat(int(f.dir.Fd()), f.name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	runtime.KeepAlive(f.dir)
	return fd, err
}

// readSmall reads a cgroup file of at most len(buf) bytes.
func readSmall(f cgFile, buf []byte) ([]byte, error) {
	fd, err := f.openRead()
	path := f.path
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer syscall.Close(fd)
	n := 0
	for n < len(buf) {
		m, err := syscall.Read(fd, buf[n:])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, &os.PathError{Op: "read", Path: path, Err: err}
		}
		if m == 0 {
			break
		}
		n += m
	}
	return buf[:n], nil
}

// readCounter reads a file holding one number; "max" is no limit (0). A
// file the kernel does not have (a controller not mounted, swap
// accounting off) reads as 0.
func readCounter(f cgFile) (uint64, error) {
	path := f.path
	var buf [64]byte
	b, err := readSmall(f, buf[:])
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	b = bytes.TrimSpace(b)
	if string(b) == "max" {
		return 0, nil
	}
	v, err := strconv.ParseUint(string(b), 10, 64)
	if err != nil {
		// v1 memory limits may print as a signed maximum
		if i, ierr := strconv.ParseInt(string(b), 10, 64); ierr == nil && i < 0 {
			return 0, nil
		}
		return 0, &os.PathError{Op: "parse", Path: path, Err: err}
	}
	return noLimit(v), nil
}

// readKeyed reads "key value" lines (cpu.stat) into the wanted fields.
func readKeyed(f cgFile, want map[string]*uint64) error {
	var buf [1024]byte
	b, err := readSmall(f, buf[:])
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	eachLine(b, func(line []byte) {
		k, v, ok := bytes.Cut(line, []byte{' '})
		if !ok {
			return
		}
		if p, ok := want[string(k)]; ok {
			if n, err := strconv.ParseUint(string(bytes.TrimSpace(v)), 10, 64); err == nil {
				*p = n
			}
		}
	})
	return nil
}

// eachLine calls f with each line of b, without its newline, and
// allocates nothing: the readers run for every zone at every sample.
func eachLine(b []byte, f func(line []byte)) {
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		f(line)
	}
}

// listProcs reads the pids in dir's cgroup.procs, and in every cgroup
// below it when recursive, sorted and without repeats.
func (c *cgDirs) listProcs(dir string, recursive bool) ([]int, error) {
	seen := map[int]bool{}
	var walk func(d string, top bool) error
	walk = func(d string, top bool) error {
		var b []byte
		var err error
		f := cgFile{name: "cgroup.procs", path: filepath.Join(d, "cgroup.procs")}
		if top {
			f = c.file(d, "cgroup.procs")
		}
		b, err = readAll(f)
		if err != nil {
			if !top && errors.Is(err, os.ErrNotExist) {
				return nil // removed while we looked
			}
			return err
		}
		eachLine(b, func(line []byte) {
			if pid, err := strconv.Atoi(string(bytes.TrimSpace(line))); err == nil {
				seen[pid] = true
			}
		})
		if !recursive {
			return nil
		}
		// A directory's link count is two plus its subdirectories
		// (cgroupfs keeps it so, as other file systems do): a leaf
		// group, the usual project, needs no directory read.
		var st unix.Stat_t
		if top && f.dir != nil {
			err := unix.Fstat(int(f.dir.Fd()), &st)
			runtime.KeepAlive(f.dir)
			if err == nil && st.Nlink == 2 {
				return nil
			}
		}
		ents, err := os.ReadDir(d)
		if err != nil {
			if !top && errors.Is(err, os.ErrNotExist) {
				return nil
			}
			return err
		}
		for _, e := range ents {
			if e.IsDir() { // d_type: no stat per interface file
				if err := walk(filepath.Join(d, e.Name()), false); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := walk(dir, true); err != nil {
		return nil, err
	}
	out := make([]int, 0, len(seen))
	for p := range seen {
		out = append(out, p)
	}
	sort.Ints(out)
	return out, nil
}

// readPath reads the interface file at path, of any size, without a
// directory held open: the reader for a group that is no Group's.
func readPath(path string) ([]byte, error) {
	return readAll(cgFile{name: filepath.Base(path), path: path})
}

// readAll reads a cgroup file of any size (cgroup.procs).
func readAll(f cgFile) ([]byte, error) {
	var buf [4096]byte
	b, err := readSmall(f, buf[:])
	if err != nil || len(b) < len(buf) {
		return append([]byte(nil), b...), err
	}
	return os.ReadFile(f.path)
}
