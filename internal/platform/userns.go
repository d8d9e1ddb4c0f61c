package platform

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"zonetop/internal/configs"
	"zonetop/internal/pathrs"
	"zonetop/internal/seal"
	"zonetop/internal/wire"

	"golang.org/x/sys/unix"
)

// usernsBase and usernsSize: ranges are handed out from host id 1000000
// on, 65536 ids each (the zone sees 0..65535).
const (
	UsernsBase = 1000000
	UsernsSize = 65536
)

// usernsFile records the ranges zones hold, "NAME HOSTID COUNT" a line.
func UsernsFile(root string) string { return filepath.Join(root, "etc/zonetop/userns") }

// AllocUserns returns the zone's range, allocating one the first time:
// a range stays the zone's (its files on a non-idmapped root carry it)
// until ReleaseUserns.
func AllocUserns(root, name string) (configs.IDRange, error) {
	var got configs.IDRange
	err := editUserns(root, func(ranges map[string]configs.IDRange) error {
		if r, ok := ranges[name]; ok {
			got = r
			return nil
		}
		var starts []uint32
		for _, r := range ranges {
			starts = append(starts, r.HostID)
		}
		sort.Slice(starts, func(i, j int) bool { return starts[i] < starts[j] })
		next := uint32(UsernsBase)
		for _, s := range starts {
			if s >= next+UsernsSize {
				break
			}
			if s+UsernsSize > next {
				next = s + UsernsSize
			}
		}
		if uint64(next)+UsernsSize > 1<<32-1 {
			return errors.New("no host id range left for a user namespace")
		}
		got = configs.IDRange{HostID: next, Count: UsernsSize}
		ranges[name] = got
		return nil
	})
	return got, err
}

// ReleaseUserns gives the zone's range back once nothing on disk carries
// it (uninstall removed the zone's root): the next zone may have it.
func ReleaseUserns(root, name string) error {
	if _, err := os.Stat(UsernsFile(root)); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return editUserns(root, func(ranges map[string]configs.IDRange) error {
		delete(ranges, name)
		return nil
	})
}

// editUserns changes the range table under its lock, writing it back
// when edit changed it.
func editUserns(root string, edit func(map[string]configs.IDRange) error) error {
	path := UsernsFile(root)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	lock, err := os.OpenFile(path+".lock", os.O_CREATE|os.O_RDWR|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		return err
	}
	ranges, err := readUserns(path)
	if err != nil {
		return err
	}
	before := fmt.Sprint(ranges)
	if err := edit(ranges); err != nil {
		return err
	}
	if fmt.Sprint(ranges) == before {
		return nil
	}
	var b strings.Builder
	names := make([]string, 0, len(ranges))
	for n := range ranges {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(&b, "%s %d %d\n", n, ranges[n].HostID, ranges[n].Count)
	}
	return pathrs.WriteFileAtomic(path, []byte(b.String()), 0o644)
}

func readUserns(path string) (map[string]configs.IDRange, error) {
	out := map[string]configs.IDRange{}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		fs := strings.Fields(sc.Text())
		if len(fs) == 0 {
			continue
		}
		if len(fs) != 3 {
			return nil, fmt.Errorf("%s:%d: want NAME HOSTID COUNT", path, n)
		}
		h, err1 := strconv.ParseUint(fs[1], 10, 32)
		c, err2 := strconv.ParseUint(fs[2], 10, 32)
		if err1 != nil || err2 != nil || h == 0 || c == 0 {
			return nil, fmt.Errorf("%s:%d: bad range %q", path, n, sc.Text())
		}
		out[fs[0]] = configs.IDRange{HostID: uint32(h), Count: uint32(c)}
	}
	return out, sc.Err()
}

// usernsAttr makes attr clone into a new user namespace mapping r, the
// child becoming its root before it executes.
func UsernsAttr(sys *syscall.SysProcAttr, r *configs.IDRange) {
	m := []syscall.SysProcIDMap{{ContainerID: 0, HostID: int(r.HostID), Size: int(r.Count)}}
	sys.Cloneflags |= syscall.CLONE_NEWUSER
	sys.UidMappings, sys.GidMappings = m, m
	// The zone's own login and su call setgroups.
	sys.GidMappingsEnableSetgroups = true
	sys.Credential = &syscall.Credential{Uid: 0, Gid: 0}
}

// usernsHello is zoneadmd's one message to a user-namespaced zsched. The
// descriptors come in this order: the control socket's listener, the
// zone root, one per entry of Binds, one per entry of Devs, one per
// entry of Cgroups.
type usernsHello struct {
	Spec    configs.PlatformSpec
	Binds   []int    // index into Spec.Mounts of each bind passed
	Devs    []string // /dev paths of the device nodes passed
	Cgroups []string // hierarchies (/sys/fs/cgroup/NAME) passed
	Idmap   []bool   // per bind: whether it is idmapped
}

// detachedTree clones path as a detached mount (open_tree), idmapped
// with usernsFD when idmap, with the attributes set. An idmap the file
// system refuses is reported by the caller's fallback.
func detachedTree(path string, recursive bool, usernsFD int, set uint64) (*os.File, error) {
	fl := uint(unix.OPEN_TREE_CLONE | unix.OPEN_TREE_CLOEXEC)
	af := uint(unix.AT_EMPTY_PATH)
	if recursive {
		fl |= unix.AT_RECURSIVE
		af |= unix.AT_RECURSIVE
	}
	fd, err := unix.OpenTree(unix.AT_FDCWD, path, fl)
	if err != nil {
		return nil, fmt.Errorf("open_tree %s: %w", path, err)
	}
	// A clone keeps its source's propagation on some kernels (6.1: the
	// zone root came out a peer of the host's shared "/"): the zone's
	// mounts would then appear on the host and the host's in the zone,
	// and pivot_root refuses a shared root. Private, whatever the source.
	attr := unix.MountAttr{Attr_set: set, Propagation: unix.MS_PRIVATE}
	if usernsFD >= 0 {
		attr.Attr_set |= unix.MOUNT_ATTR_IDMAP
		attr.Userns_fd = uint64(usernsFD)
	}
	if err := unix.MountSetattr(fd, "", af, &attr); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("mount_setattr %s: %w", path, err)
	}
	return os.NewFile(uintptr(fd), path), nil
}

// bindAttrs are the mount attributes of a bind's options.
func bindAttrs(opts []string) uint64 {
	var a uint64
	for _, o := range opts {
		switch o {
		case "ro":
			a |= unix.MOUNT_ATTR_RDONLY
		case "nosuid":
			a |= unix.MOUNT_ATTR_NOSUID
		case "nodev":
			a |= unix.MOUNT_ATTR_NODEV
		case "noexec":
			a |= unix.MOUNT_ATTR_NOEXEC
		}
	}
	return a
}

// usernsMountable are the file system types a user namespace may mount
// for itself; zsched mounts these in its own namespace. Every other type
// (a block device's ext4 or xfs, say) the kernel lets only host root
// mount, so zoneadmd mounts it detached and hands it over like a bind.
var usernsMountable = map[string]bool{"tmpfs": true, "proc": true, "sysfs": true, "mqueue": true, "devpts": true, "ramfs": true}

// fsTree mounts an fs resource of a type a user namespace cannot mount
// (fsopen, fsconfig, fsmount: a detached mount in no namespace yet),
// idmapped with usernsFD where the file system allows it, as mountInRoot
// would have mounted it with the resource's options.
func fsTree(m configs.MountSpec, usernsFD int) (*os.File, bool, error) {
	flags, data := mountFlags(m.Options)
	fs, err := unix.Fsopen(m.Type, unix.FSOPEN_CLOEXEC)
	if err != nil {
		return nil, false, fmt.Errorf("mount %s: file system type %q: %w", m.Target, m.Type, err)
	}
	defer unix.Close(fs)
	if err := unix.FsconfigSetString(fs, "source", m.Source); err != nil {
		return nil, false, fmt.Errorf("mount %s: source %s: %w", m.Target, m.Source, err)
	}
	if flags&unix.MS_RDONLY != 0 {
		// Read-only for the file system too, not only this mount: no
		// journal replay or write reaches the device.
		if err := unix.FsconfigSetFlag(fs, "ro"); err != nil {
			return nil, false, fmt.Errorf("mount %s: ro: %w", m.Target, err)
		}
	}
	for _, o := range strings.Split(data, ",") {
		if o == "" {
			continue
		}
		if k, v, ok := strings.Cut(o, "="); ok {
			err = unix.FsconfigSetString(fs, k, v)
		} else {
			err = unix.FsconfigSetFlag(fs, o)
		}
		if err != nil {
			return nil, false, fmt.Errorf("mount %s: option %q: %w", m.Target, o, err)
		}
	}
	if err := unix.FsconfigCreate(fs); err != nil {
		return nil, false, fmt.Errorf("mount %s (%s) on %s: %w", m.Source, m.Type, m.Target, err)
	}
	var attrs int
	for f, a := range map[uintptr]int{unix.MS_RDONLY: unix.MOUNT_ATTR_RDONLY, unix.MS_NOSUID: unix.MOUNT_ATTR_NOSUID,
		unix.MS_NODEV: unix.MOUNT_ATTR_NODEV, unix.MS_NOEXEC: unix.MOUNT_ATTR_NOEXEC, unix.MS_NOATIME: unix.MOUNT_ATTR_NOATIME} {
		if flags&f != 0 {
			attrs |= a
		}
	}
	mfd, err := unix.Fsmount(fs, unix.FSMOUNT_CLOEXEC, attrs)
	if err != nil {
		return nil, false, fmt.Errorf("mount %s (%s) on %s: %w", m.Source, m.Type, m.Target, err)
	}
	attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_IDMAP, Userns_fd: uint64(usernsFD), Propagation: unix.MS_PRIVATE}
	if err := unix.MountSetattr(mfd, "", unix.AT_EMPTY_PATH, &attr); err == nil {
		return os.NewFile(uintptr(mfd), m.Source), true, nil
	}
	// A file system without idmapped mounts: its files show as nobody
	// in the zone, but it is still there.
	attr = unix.MountAttr{Propagation: unix.MS_PRIVATE}
	if err := unix.MountSetattr(mfd, "", unix.AT_EMPTY_PATH, &attr); err != nil {
		unix.Close(mfd)
		return nil, false, fmt.Errorf("mount %s: mount_setattr: %w", m.Target, err)
	}
	return os.NewFile(uintptr(mfd), m.Source), false, nil
}

// usernsTrees builds what a user-namespaced zsched (pid) mounts: the zone
// root and every bind, idmapped with its user namespace, and the device
// nodes. The caller closes the files.
func usernsTrees(pid int, spec *configs.PlatformSpec, devs []configs.DevNode) (*usernsHello, []*os.File, error) {
	uns, err := unix.Open(fmt.Sprintf("/proc/%d/ns/user", pid), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("zone user namespace: %w", err)
	}
	defer unix.Close(uns)
	h := &usernsHello{Spec: *spec}
	var files []*os.File
	fail := func(err error) (*usernsHello, []*os.File, error) {
		wire.CloseAll(files)
		return nil, nil, err
	}
	root, err := detachedTree(filepath.Join(spec.Zonepath, "root"), false, uns, 0)
	if err != nil {
		return fail(fmt.Errorf("zone root: %w", err))
	}
	files = append(files, root)
	for i, m := range spec.Mounts {
		if m.Type != "bind" && m.Type != "lofs" {
			if usernsMountable[m.Type] {
				continue // zsched mounts it in its own namespace
			}
			t, idmapped, err := fsTree(m, uns)
			if err != nil {
				return fail(err)
			}
			files = append(files, t)
			h.Binds = append(h.Binds, i)
			h.Idmap = append(h.Idmap, idmapped)
			continue
		}
		attrs := bindAttrs(m.Options)
		idmapped := true
		t, err := detachedTree(m.Source, true, uns, attrs)
		if err != nil && (errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EPERM)) {
			// A file system without idmapped mounts: its files show
			// as nobody in the zone, but it is still there.
			idmapped = false
			t, err = detachedTree(m.Source, true, -1, attrs)
		}
		if err != nil {
			return fail(fmt.Errorf("mount %s: %w", m.Target, err))
		}
		files = append(files, t)
		h.Binds = append(h.Binds, i)
		h.Idmap = append(h.Idmap, idmapped)
	}
	for _, n := range append(append([]configs.DevNode(nil), standardDevs...), devs...) {
		t, err := detachedTree(n.Path, false, -1, unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NOEXEC)
		if err != nil {
			return fail(fmt.Errorf("device %s: %w", n.Path, err))
		}
		files = append(files, t)
		h.Devs = append(h.Devs, n.Path)
	}
	return h, files, nil
}

// cgroupTrees are the zone's read-only cgroup v1 mounts, made on the
// calling thread, which must be inside the zone's cgroup namespace: a
// cgroup file system mounted there shows the zone cgroup as its root.
func CgroupTrees() ([]string, []*os.File, error) {
	hs, err := cgroupHierarchiesOf("/proc/thread-self/cgroup")
	if err != nil {
		return nil, nil, err
	}
	var names []string
	var files []*os.File
	for _, h := range hs {
		if h == "" || strings.HasPrefix(h, "name=") {
			continue
		}
		f, err := cgroupV1Mount(h)
		if err != nil {
			wire.CloseAll(files)
			return nil, nil, fmt.Errorf("cgroup %s: %w", h, err)
		}
		names = append(names, h)
		files = append(files, f)
	}
	return names, files, nil
}

func cgroupV1Mount(h string) (*os.File, error) {
	fs, err := unix.Fsopen("cgroup", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fs)
	for _, c := range strings.Split(h, ",") {
		if err := unix.FsconfigSetFlag(fs, c); err != nil {
			return nil, fmt.Errorf("fsconfig %s: %w", c, err)
		}
	}
	if err := unix.FsconfigCreate(fs); err != nil {
		return nil, fmt.Errorf("fsconfig create: %w", err)
	}
	m, err := unix.Fsmount(fs, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOEXEC)
	if err != nil {
		return nil, fmt.Errorf("fsmount: %w", err)
	}
	return os.NewFile(uintptr(m), "cgroup:"+h), nil
}

// attachAt moves the detached mount f onto target (a descriptor).
func attachAt(f *os.File, target int) error {
	return unix.MoveMount(int(f.Fd()), "", target, "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH)
}

// usernsEnv tells zsched that it runs in a user namespace and that fd 4
// is its socket to zoneadmd.
const UsernsEnv = "ZONETOP_ZSCHED_USERNS"

// setupUserns is setup for a zsched in a user namespace: what it needs of
// the host comes from zoneadmd as descriptors (see usernsHello), and
// /proc and /sys are mounted in the zone root before pivot_root (the
// kernel lets a user namespace mount them only while a full view of each
// is still visible in its mount namespace).
func (z *zsched) setupUserns() error {
	c, err := wire.FileConn(os.NewFile(4, "zoneadmd"))
	if err != nil {
		return fmt.Errorf("zoneadmd socket: %w", err)
	}
	defer c.Close()
	c.Fds = 128
	var h usernsHello
	files, err := c.Recv(&h)
	if err != nil {
		wire.CloseAll(files)
		return fmt.Errorf("platform from zoneadmd: %w", err)
	}
	if len(files) != 2+len(h.Binds)+len(h.Devs)+len(h.Cgroups) || len(h.Idmap) != len(h.Binds) {
		wire.CloseAll(files)
		return fmt.Errorf("platform from zoneadmd: %d descriptors do not match the message", len(files))
	}
	z.spec = h.Spec
	if err := configs.CheckZoneName(z.spec.Name); err != nil {
		return err
	}
	if !seal.IsSealedExe() {
		return errors.New("zsched must run from the sealed copy of zonetop")
	}
	if z.exe, err = os.Open("/proc/self/exe"); err != nil {
		return fmt.Errorf("own executable: %w", err)
	}
	if z.zinit, err = takeZinit(); err != nil {
		return err
	}
	lf := files[0]
	nl, err := net.FileListener(lf)
	lf.Close()
	if err != nil {
		return fmt.Errorf("control socket: %w", err)
	}
	var ok bool
	if z.lis, ok = nl.(*net.UnixListener); !ok {
		return errors.New("control socket: not a unix listener")
	}
	z.lis.SetUnlinkOnClose(false)
	root := files[1]
	rest := files[2:]
	binds := map[int]*os.File{}
	for i, idx := range h.Binds {
		binds[idx] = rest[i]
	}
	rest = rest[len(h.Binds):]
	devTrees := map[string]*os.File{}
	var devs []configs.DevNode
	std := map[string]bool{}
	for _, n := range standardDevs {
		std[n.Path] = true
	}
	for i, p := range h.Devs {
		devTrees[p] = rest[i]
		if !std[p] {
			devs = append(devs, configs.DevNode{Path: p})
		}
	}
	rest = rest[len(h.Devs):]
	cgTrees := map[string]*os.File{}
	for i, name := range h.Cgroups {
		cgTrees[name] = rest[i]
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make mounts private: %w", err)
	}
	// The zone root goes over this namespace's own root: zsched can
	// reach no directory of the host's to put it on (ZONEPATH is 700),
	// and a detached mount attaches only to one of its own namespace.
	if err := unix.MoveMount(int(root.Fd()), "", unix.AT_FDCWD, "/", unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("attach zone root: %w", err)
	}
	rootfd := int(root.Fd())
	for i, m := range z.spec.Mounts {
		if t := binds[i]; t != nil {
			if err := attachInRoot(rootfd, m, t); err != nil {
				return err
			}
			continue
		}
		if err := mountInRoot(rootfd, m); err != nil {
			return err
		}
	}
	for _, fsys := range []struct {
		dir, typ string
		flags    uintptr
	}{
		{"proc", "proc", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC},
		{"sys", "sysfs", unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC},
	} {
		tfd, err := mkdirAllInRoot(rootfd, fsys.dir, false)
		if err != nil {
			return fmt.Errorf("/%s: %w", fsys.dir, err)
		}
		err = unix.Mount(fsys.typ, fdPath(tfd), fsys.typ, fsys.flags, "")
		unix.Close(tfd)
		if err != nil {
			return fmt.Errorf("/%s: %w", fsys.dir, err)
		}
	}
	err = pivotInto(rootfd)
	root.Close()
	if err != nil {
		return err
	}
	if err := writeSysctls(z.spec.Sysctls); err != nil {
		return err
	}
	host := z.spec.Hostname
	if host == "" {
		host = z.spec.Name
	}
	if err := unix.Sethostname([]byte(host)); err != nil {
		return fmt.Errorf("hostname: %w", err)
	}
	if len(cgTrees) == 0 {
		cgTrees = nil
	}
	err = z.finish(devs, devTrees, cgTrees)
	for _, f := range devTrees {
		f.Close()
	}
	for _, f := range cgTrees {
		f.Close()
	}
	for _, f := range binds {
		f.Close()
	}
	return err
}

// attachInRoot puts the detached mount t on m's target in the zone root.
func attachInRoot(rootfd int, m configs.MountSpec, t *os.File) error {
	rel := strings.TrimPrefix(filepath.Clean("/"+m.Target), "/")
	if rel == "" {
		return fmt.Errorf("mount %s: cannot mount over the zone root", m.Target)
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(t.Fd()), &st); err != nil {
		return fmt.Errorf("mount %s: %w", m.Target, err)
	}
	tfd, err := mkdirAllInRoot(rootfd, rel, st.Mode&unix.S_IFMT != unix.S_IFDIR)
	if err != nil {
		return fmt.Errorf("mount %s: target in zone root: %w", m.Target, err)
	}
	defer unix.Close(tfd)
	if err := attachAt(t, tfd); err != nil {
		return fmt.Errorf("mount %s on %s: %w", m.Source, m.Target, err)
	}
	return nil
}

// attachCgroupfs is mountCgroupfs with the hierarchies zoneadmd mounted.
func attachCgroupfs(trees map[string]*os.File) error {
	flags := uintptr(unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC)
	if err := unix.Mount("cgroup", "/sys/fs/cgroup", "tmpfs", flags, "mode=755,size=64k"); err != nil {
		return fmt.Errorf("/sys/fs/cgroup: %w", err)
	}
	for h, t := range trees {
		d := "/sys/fs/cgroup/" + h
		if err := os.Mkdir(d, 0o555); err != nil {
			return fmt.Errorf("%s: %w", d, err)
		}
		fd, err := unix.Open(d, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("%s: %w", d, err)
		}
		err = attachAt(t, fd)
		unix.Close(fd)
		if err != nil {
			return fmt.Errorf("%s: %w", d, err)
		}
	}
	return unix.Mount("", "/sys/fs/cgroup", "", unix.MS_REMOUNT|unix.MS_RDONLY|flags, "")
}

// usernsStart is zoneadmd's side of starting a user-namespaced zsched.
type UsernsStart struct {
	Parent, Child *os.File // the socket pair; child is zsched's fd 4
	Lis           *os.File // zsched's control socket, bound by zoneadmd
	CgNames       []string
	CgFiles       []*os.File
}

func (u *UsernsStart) Close() {
	for _, f := range []*os.File{u.Parent, u.Child, u.Lis} {
		if f != nil {
			f.Close()
		}
	}
	wire.CloseAll(u.CgFiles)
}

// hello sends zsched (pid) its platform: spec, listener, mounts, devices.
func (u *UsernsStart) Hello(pid int, spec *configs.PlatformSpec) error {
	u.Child.Close()
	u.Child = nil
	devs, err := MatchDevices(spec.Devices)
	if err != nil {
		return err
	}
	h, files, err := usernsTrees(pid, spec, devs)
	if err != nil {
		return err
	}
	defer wire.CloseAll(files)
	h.Cgroups = u.CgNames
	all := append(append([]*os.File{u.Lis}, files...), u.CgFiles...)
	c, err := wire.FileConn(u.Parent)
	u.Parent = nil
	if err != nil {
		return err
	}
	defer c.Close()
	return c.Send(h, all...)
}

// zoneID is host id id as the zone whose zsched is pid sees it, by its
// uid_map or gid_map (which): itself in a zone without a user namespace,
// the overflow id when the zone has no mapping for it (host root, seen
// from a user-namespaced zone).
func ZoneID(pid int, which string, id uint32) uint32 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/%s", pid, which))
	if err != nil {
		return wire.OverflowUID()
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			continue
		}
		in, e1 := strconv.ParseUint(f[0], 10, 32)
		out, e2 := strconv.ParseUint(f[1], 10, 32)
		n, e3 := strconv.ParseUint(f[2], 10, 64)
		if e1 != nil || e2 != nil || e3 != nil {
			continue
		}
		if uint64(id) >= out && uint64(id)-out < n {
			return uint32(in + (uint64(id) - out))
		}
	}
	return wire.OverflowUID()
}
