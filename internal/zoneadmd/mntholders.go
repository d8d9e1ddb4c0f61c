package zoneadmd

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"unsafe"
	"zonetop/internal/mountinfo"

	"golang.org/x/sys/unix"
)

// A zone's mounts live in its mount namespace and go with it, without an
// unmount of zoneadmd's: the namespace ends when the last process in it
// exits. A host process that entered it (nsenter -m), a descriptor of its
// /proc/PID/ns/mnt or a bind mount of that file keeps it, and every mount
// of the zone with it, after the zone's processes are gone. Halt must not
// call such a zone installed: it finds the holders and leaves the zone
// down, naming them, as it does for a mount that will not go.

// mntNS names a zone's mount namespace: the kernel's 64-bit namespace id
// where the kernel gives one (Linux 6.11 on), which is never reused, and
// the nsfs inode, which the fallback search compares.
type mntNS struct {
	ID  uint64 `json:"id,omitempty"`
	Dev uint64 `json:"dev"`
	Ino uint64 `json:"ino"`
}

// zoneMntNS reads the mount namespace of pid (zsched).
func zoneMntNS(pid int) (*mntNS, error) {
	fd, err := unix.Open("/proc/"+strconv.Itoa(pid)+"/ns/mnt", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("mount namespace of pid %d: %w", pid, err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, fmt.Errorf("mount namespace of pid %d: %w", pid, err)
	}
	ns := &mntNS{Dev: st.Dev, Ino: st.Ino}
	var id uint64
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.NS_GET_MNTNS_ID, uintptr(unsafe.Pointer(&id))); errno == 0 {
		ns.ID = id
	}
	return ns, nil
}

// mntIDReq is struct mnt_id_req, version 1 (with the namespace id).
type mntIDReq struct {
	Size    uint32
	Spare   uint32
	MntID   uint64
	Param   uint64
	MntNsID uint64
}

const lsmtRoot = ^uint64(0)

// gone tells whether the namespace has ended, asking the kernel for its
// root mount by namespace id: one system call. ok is false where the
// kernel cannot say (no namespace ids, no listmount).
func (ns *mntNS) gone() (gone, ok bool) {
	if ns.ID == 0 {
		return false, false
	}
	req := mntIDReq{Size: uint32(unsafe.Sizeof(mntIDReq{})), MntID: lsmtRoot, MntNsID: ns.ID}
	var ids [1]uint64
	_, _, errno := unix.Syscall6(unix.SYS_LISTMOUNT, uintptr(unsafe.Pointer(&req)), uintptr(unsafe.Pointer(&ids[0])), 1, 0, 0, 0)
	switch errno {
	case 0:
		return false, true
	case unix.ENOENT:
		return true, true
	}
	return false, false
}

// holders lists what keeps the namespace: processes in it, descriptors of
// it and bind mounts of it on the host. It reads every process's
// namespace link (a few milliseconds on a busy host), so halt calls it
// only when gone could not rule holders out.
func (ns *mntNS) holders() []string {
	var out []string
	d, err := os.Open("/proc")
	if err != nil {
		return []string{"/proc: " + err.Error()}
	}
	names, _ := d.Readdirnames(-1)
	d.Close()
	self := strconv.Itoa(os.Getpid())
	for _, n := range names {
		if n == "" || n[0] < '0' || n[0] > '9' || n == self {
			continue
		}
		var st unix.Stat_t
		if unix.Stat("/proc/"+n+"/ns/mnt", &st) == nil && st.Dev == ns.Dev && st.Ino == ns.Ino {
			out = append(out, "host pid "+n+" ("+procComm(n)+") is in the zone's mount namespace")
			continue
		}
		if fd := ns.heldByFD(n); fd != "" {
			out = append(out, "host pid "+n+" ("+procComm(n)+") holds it open as descriptor "+fd)
		}
	}
	// A bind mount of the namespace file shows in the host's mount table
	// as an nsfs mount whose root is "mnt:[INODE]".
	if es, err := mountinfo.Read("/proc/self/mountinfo"); err == nil {
		want := "mnt:[" + strconv.FormatUint(ns.Ino, 10) + "]"
		for _, e := range es {
			if e.Root == want {
				out = append(out, "a bind mount of it at "+e.MountPoint)
			}
		}
	}
	return out
}

func (ns *mntNS) heldByFD(pid string) string {
	dir := "/proc/" + pid + "/fd"
	d, err := os.Open(dir)
	if err != nil {
		return ""
	}
	fds, _ := d.Readdirnames(-1)
	d.Close()
	want := "mnt:[" + strconv.FormatUint(ns.Ino, 10) + "]"
	for _, fd := range fds {
		if l, err := os.Readlink(dir + "/" + fd); err == nil && l == want {
			return fd
		}
	}
	return ""
}

func procComm(pid string) string {
	b, err := os.ReadFile("/proc/" + pid + "/comm")
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(b))
}

// mountHolders is halt's check once the zone's processes are gone: nil
// when the namespace ended, else what keeps it.
func (ns *mntNS) mountHolders() []string {
	if ns == nil {
		return nil
	}
	gone, ok := ns.gone()
	if ok && gone {
		return nil
	}
	held := ns.holders()
	if len(held) == 0 && ok {
		// The kernel says it lives, and nothing on the host that this
		// search can see holds it (a process of another pid namespace's
		// /proc, say): still not halted.
		held = []string{"a holder this host's /proc does not show"}
	}
	return held
}
