package pathrs

import (
	"errors"
	"strings"

	"golang.org/x/sys/unix"
)

// openat2Missing makes openBeneath take the walk it uses on kernels without
// openat2, so tests can hold that path to the same hostile archives.
var Openat2Missing bool

// openBeneath opens rel (a clean relative path) under dirfd refusing every
// symlink on the way and any escape.
func OpenBeneath(dirfd int, rel string, flags uint64) (int, error) {
	if !Openat2Missing {
		how := unix.OpenHow{Flags: flags | unix.O_CLOEXEC | unix.O_NOFOLLOW, Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS}
		fd, err := unix.Openat2(dirfd, rel, &how)
		if err == nil || !errors.Is(err, unix.ENOSYS) {
			return fd, err
		}
	}
	// Kernels before 5.6: walk one component at a time.
	cur, err := unix.Dup(dirfd)
	if err != nil {
		return -1, err
	}
	comps := strings.Split(rel, "/")
	for i, c := range comps {
		fl := unix.O_PATH | unix.O_DIRECTORY
		if i == len(comps)-1 {
			fl = int(flags)
		}
		if c == "." {
			if i == len(comps)-1 && flags&unix.O_PATH == 0 {
				next, err := unix.Openat(cur, ".", fl|unix.O_CLOEXEC, 0)
				unix.Close(cur)
				return next, err
			}
			continue
		}
		next, err := unix.Openat(cur, c, fl|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		unix.Close(cur)
		if err != nil {
			if errors.Is(err, unix.ENOTDIR) {
				return -1, unix.ELOOP
			}
			return -1, err
		}
		cur = next
	}
	return cur, nil
}
