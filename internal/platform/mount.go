package platform

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"zonetop/internal/configs"

	"golang.org/x/sys/unix"
)

// Building the zone's mounts inside zsched's private mount namespace.
// Targets named by configurations are resolved inside the zone root with
// openat2(RESOLVE_IN_ROOT) and mounted through /proc/self/fd/N, so a
// symlink the zone planted can never send a mount outside its root
// (CVE-2021-30465).

func fdPath(fd int) string { return "/proc/self/fd/" + strconv.Itoa(fd) }

// openInRoot opens rel (relative to the zone root rootfd) as an O_PATH fd,
// resolving every component inside the root.
func openInRoot(rootfd int, rel string) (int, error) {
	how := unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS}
	for {
		fd, err := unix.Openat2(rootfd, rel, &how)
		if err == unix.EINTR || err == unix.EAGAIN {
			continue
		}
		return fd, err
	}
}

// mkdirAllInRoot makes rel and its parents inside the root (or, when file
// is set, an empty file at rel) and returns an O_PATH fd of it. A dangling
// symlink on the way has its target made, inside the root.
func mkdirAllInRoot(rootfd int, rel string, file bool) (int, error) {
	return mkdirAllInRootDepth(rootfd, rel, file, 0)
}

func mkdirAllInRootDepth(rootfd int, rel string, file bool, depth int) (int, error) {
	if depth > 40 {
		return -1, unix.ELOOP
	}
	rel = strings.TrimPrefix(filepath.Clean("/"+rel), "/")
	if rel == "" {
		return openInRoot(rootfd, ".")
	}
	if fd, err := openInRoot(rootfd, rel); err == nil {
		return fd, nil
	} else if !errors.Is(err, unix.ENOENT) {
		return -1, err
	}
	parentRel, base := filepath.Split(rel)
	pfd, err := mkdirAllInRootDepth(rootfd, parentRel, false, depth+1)
	if err != nil {
		return -1, err
	}
	defer unix.Close(pfd)
	if target, err := Readlinkat(pfd, base); err == nil {
		// A symlink to something missing: make what it names, read as a
		// path inside the root (an absolute target starts at the root).
		next := target
		if !filepath.IsAbs(target) {
			next = filepath.Join("/", parentRel, target)
		}
		if _, err := mkdirAllInRootDepth(rootfd, next, file, depth+1); err != nil {
			return -1, err
		}
		return openInRoot(rootfd, rel)
	}
	// O_PATH fds serve as dirfd for the *at calls. The parent was
	// resolved inside the root, and base is one plain name.
	if file {
		fd, err := unix.Openat(pfd, base, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
		if err != nil && !errors.Is(err, unix.EEXIST) {
			return -1, err
		}
		if err == nil {
			unix.Close(fd)
		}
	} else if err := unix.Mkdirat(pfd, base, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
		return -1, err
	}
	return openInRoot(rootfd, rel)
}

func Readlinkat(dirfd int, name string) (string, error) {
	buf := make([]byte, 4096)
	n, err := unix.Readlinkat(dirfd, name, buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}

// mountFlags splits zonecfg-style options into mount flags and the data
// string for the file system.
func mountFlags(opts []string) (uintptr, string) {
	var flags uintptr
	var data []string
	for _, o := range opts {
		switch strings.TrimSpace(o) {
		case "ro":
			flags |= unix.MS_RDONLY
		case "rw", "":
		case "nosuid", "nosetuid":
			flags |= unix.MS_NOSUID
		case "nodev", "nodevices":
			flags |= unix.MS_NODEV
		case "noexec":
			flags |= unix.MS_NOEXEC
		case "noatime":
			flags |= unix.MS_NOATIME
		case "relatime":
			flags |= unix.MS_RELATIME
		default:
			data = append(data, o)
		}
	}
	return flags, strings.Join(data, ",")
}

// mountInRoot mounts one inherit-pkg-dir or fs resource at its target
// inside the zone root.
func mountInRoot(rootfd int, m configs.MountSpec) error {
	rel := strings.TrimPrefix(filepath.Clean("/"+m.Target), "/")
	if rel == "" {
		return fmt.Errorf("mount %s: cannot mount over the zone root", m.Target)
	}
	flags, data := mountFlags(m.Options)
	typ := m.Type
	if typ == "lofs" {
		typ = "bind"
	}
	file := false
	if typ == "bind" {
		st, err := os.Stat(m.Source)
		if err != nil {
			return fmt.Errorf("mount %s: source: %w", m.Target, err)
		}
		file = !st.IsDir()
	}
	tfd, err := mkdirAllInRoot(rootfd, rel, file)
	if err != nil {
		return fmt.Errorf("mount %s: target in zone root: %w", m.Target, err)
	}
	defer unix.Close(tfd)
	if typ == "bind" {
		if err := unix.Mount(m.Source, fdPath(tfd), "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("mount %s on %s: %w", m.Source, m.Target, err)
		}
		if flags == 0 {
			return nil
		}
		// The remount must name the new mount, not the directory under
		// it, so resolve the target again.
		nfd, err := openInRoot(rootfd, rel)
		if err != nil {
			return fmt.Errorf("mount %s: %w", m.Target, err)
		}
		defer unix.Close(nfd)
		if err := unix.Mount("", fdPath(nfd), "", unix.MS_REMOUNT|unix.MS_BIND|flags, ""); err != nil {
			return fmt.Errorf("mount %s: apply %v: %w", m.Target, m.Options, err)
		}
		return nil
	}
	src := m.Source
	if src == "" {
		src = typ
	}
	if err := unix.Mount(src, fdPath(tfd), typ, flags, data); err != nil {
		return fmt.Errorf("mount %s (%s) on %s: %w", src, typ, m.Target, err)
	}
	return nil
}

// ensureDir makes sure path (after pivot_root, so inside the zone) is a
// real directory, not a symlink the zone planted.
func ensureDir(path string, mode os.FileMode) error {
	st, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return os.Mkdir(path, mode)
	}
	if err != nil {
		return err
	}
	if !st.IsDir() {
		return fmt.Errorf("%s in the zone root is not a directory", path)
	}
	return nil
}

// openNoFollow opens path as O_PATH without following any symlink on the
// way, for the mask checks.
func openNoFollow(path string) (int, error) {
	how := unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS}
	return unix.Openat2(unix.AT_FDCWD, path, &how)
}

// Masks from the mature runtimes: files get /dev/null bound over them,
// directories an empty read-only tmpfs; the read-only ones are bound
// over themselves read-only.
var (
	maskedPaths = []string{"/proc/acpi", "/proc/asound", "/proc/interrupts", "/proc/kcore", "/proc/keys",
		"/proc/latency_stats", "/proc/sched_debug", "/proc/scsi", "/proc/timer_list", "/proc/timer_stats",
		"/sys/firmware", "/sys/devices/virtual/powercap"}
	readonlyPaths = []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}
)

func fsMagic(fd int) (int64, error) {
	var s unix.Statfs_t
	if err := unix.Fstatfs(fd, &s); err != nil {
		return 0, err
	}
	return int64(s.Type), nil
}

// checkProcOrSys refuses to mask anything that is not the procfs or sysfs
// file it claims to be.
func checkProcOrSys(fd int, path string) error {
	magic, err := fsMagic(fd)
	if err != nil {
		return fmt.Errorf("mask %s: %w", path, err)
	}
	if magic != unix.PROC_SUPER_MAGIC && magic != unix.SYSFS_MAGIC {
		return fmt.Errorf("mask %s: not on procfs or sysfs (magic %#x)", path, magic)
	}
	return nil
}

// applyMasks masks and write-protects the kernel interfaces a zone must
// not reach. It runs after pivot_root and after /dev (with its console
// bind) is built; the /dev/null bound over files is checked to be the
// null device this zsched made, so a symlink the zone left in its root
// cannot redirect a mask (CVE-2025-31133, -52565, -52881).
func applyMasks() error {
	nullfd, err := openNoFollow("/dev/null")
	if err != nil {
		return fmt.Errorf("masks: /dev/null: %w", err)
	}
	defer unix.Close(nullfd)
	var st unix.Stat_t
	if err := unix.Fstat(nullfd, &st); err != nil {
		return fmt.Errorf("masks: /dev/null: %w", err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != unix.Mkdev(1, 3) {
		return errors.New("masks: /dev/null is not the null device")
	}
	for _, p := range maskedPaths {
		fd, err := openNoFollow(p)
		if errors.Is(err, unix.ENOENT) {
			continue
		}
		if err != nil {
			return fmt.Errorf("mask %s: %w", p, err)
		}
		err = maskOne(fd, nullfd, p)
		unix.Close(fd)
		if err != nil {
			return err
		}
	}
	for _, p := range readonlyPaths {
		fd, err := openNoFollow(p)
		if errors.Is(err, unix.ENOENT) {
			continue
		}
		if err != nil {
			return fmt.Errorf("read-only %s: %w", p, err)
		}
		err = readonlyOne(fd, p)
		unix.Close(fd)
		if err != nil {
			return err
		}
	}
	return nil
}

func maskOne(fd, nullfd int, p string) error {
	if err := checkProcOrSys(fd, p); err != nil {
		return err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("mask %s: %w", p, err)
	}
	dir := st.Mode&unix.S_IFMT == unix.S_IFDIR
	if dir {
		if err := unix.Mount("tmpfs", fdPath(fd), "tmpfs", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "size=0,mode=555"); err != nil {
			return fmt.Errorf("mask %s: %w", p, err)
		}
	} else if err := unix.Mount(fdPath(nullfd), fdPath(fd), "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("mask %s: %w", p, err)
	}
	// Verify what is there now.
	vfd, err := openNoFollow(p)
	if err != nil {
		return fmt.Errorf("mask %s: verify: %w", p, err)
	}
	defer unix.Close(vfd)
	if dir {
		if m, err := fsMagic(vfd); err != nil || m != unix.TMPFS_MAGIC {
			return fmt.Errorf("mask %s: verify: not the masking tmpfs", p)
		}
		return nil
	}
	var vst unix.Stat_t
	if err := unix.Fstat(vfd, &vst); err != nil || vst.Mode&unix.S_IFMT != unix.S_IFCHR || vst.Rdev != unix.Mkdev(1, 3) {
		return fmt.Errorf("mask %s: verify: not the null device", p)
	}
	return nil
}

func readonlyOne(fd int, p string) error {
	if err := checkProcOrSys(fd, p); err != nil {
		return err
	}
	if err := unix.Mount(fdPath(fd), fdPath(fd), "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("read-only %s: %w", p, err)
	}
	nfd, err := openNoFollow(p)
	if err != nil {
		return fmt.Errorf("read-only %s: %w", p, err)
	}
	defer unix.Close(nfd)
	if err := checkProcOrSys(nfd, p); err != nil {
		return err
	}
	if err := unix.Mount("", fdPath(nfd), "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("read-only %s: %w", p, err)
	}
	var s unix.Statfs_t
	if err := unix.Fstatfs(nfd, &s); err != nil || s.Flags&unix.ST_RDONLY == 0 {
		return fmt.Errorf("read-only %s: verify: still writable", p)
	}
	return nil
}

// pivotInto makes root the process's root and drops every trace of the
// host's mount tree from its namespace.
func pivotInto(rootfd int) error {
	if err := unix.Fchdir(rootfd); err != nil {
		return fmt.Errorf("pivot_root: %w", err)
	}
	// pivot_root(".", ".") stacks the old root on top of the new one;
	// detaching "." then removes it without needing a directory for it.
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root: %w", err)
	}
	if err := unix.Mount("", ".", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("pivot_root: old root: %w", err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("pivot_root: detach old root: %w", err)
	}
	return unix.Chdir("/")
}

// sysctlAllowed are the keys a zone may set in its own ipc namespace.
func SysctlAllowed(key string) bool {
	if strings.Contains(key, "..") || strings.ContainsAny(key, "/ ") {
		return false
	}
	for _, p := range []string{"kernel.shm", "kernel.msg", "kernel.sem", "fs.mqueue."} {
		if strings.HasPrefix(key, p) {
			return true
		}
	}
	return false
}

func writeSysctls(s map[string]string) error {
	for k, v := range s {
		if !SysctlAllowed(k) {
			return fmt.Errorf("sysctl %s: not an IPC namespace sysctl", k)
		}
		p := "/proc/sys/" + strings.ReplaceAll(k, ".", "/")
		if err := os.WriteFile(p, []byte(v), 0o644); err != nil {
			return fmt.Errorf("sysctl %s=%s: %w", k, v, err)
		}
	}
	return nil
}
