package pathrs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Everything zonetop creates or removes at a zonepath goes through a
// zonepathAt: the zonepath's parent directory opened beneath the root
// prefix with no symlink and no ".." on the way, and the last component
// handled relative to that descriptor. The root prefix itself is the
// operator's and may hold symlinks (it is opened as given); below it a
// symlink, swapped in before or during the operation, can never send an
// install or an uninstall to another directory of the host.

// zonepathAt is a zonepath's parent directory, held open.
type ZonepathAt struct {
	Pfd  int    // the parent directory (O_PATH)
	Base string // the zonepath's last component
	path string // the zonepath as given, for messages
	Real string // where the kernel says it is (mountinfo's spelling)
}

func (z *ZonepathAt) Close() { unix.Close(z.Pfd) }

// errZonepathSymlink marks a zonepath with a symlink on its way.
var errZonepathSymlink = errors.New("is a symbolic link; zonetop never follows one in a zonepath")

// openZonepath opens the parent of host path zonepath, which must lie
// beneath root ("" is /). An error wrapping os.ErrNotExist means a
// directory on the way does not exist.
func OpenZonepath(root, zonepath string) (*ZonepathAt, error) {
	if root == "" {
		root = "/"
	}
	rel, err := zonepathRel(root, zonepath)
	if err != nil {
		return nil, err
	}
	rfd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("root prefix %s: %w", root, err)
	}
	defer unix.Close(rfd)
	pfd, err := OpenBeneath(rfd, filepath.Dir(rel), unix.O_PATH|unix.O_DIRECTORY)
	if err != nil {
		return nil, zonepathOpenError(rfd, root, filepath.Dir(rel), err)
	}
	real, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(pfd))
	if err != nil {
		unix.Close(pfd)
		return nil, fmt.Errorf("zonepath %s: where is its parent: %w", zonepath, err)
	}
	return &ZonepathAt{Pfd: pfd, Base: filepath.Base(rel), path: zonepath, Real: filepath.Join(real, filepath.Base(rel))}, nil
}

// zonepathRel is zonepath relative to root. A ".." element is refused as
// written, before any cleaning could hide where it leads.
func zonepathRel(root, zonepath string) (string, error) {
	if !filepath.IsAbs(zonepath) {
		return "", fmt.Errorf("zonepath %s is not absolute", zonepath)
	}
	for _, el := range strings.Split(zonepath, "/") {
		if el == ".." {
			return "", fmt.Errorf("zonepath %s contains a \"..\" element; refusing it", zonepath)
		}
	}
	rel, err := filepath.Rel(filepath.Clean(root), filepath.Clean(zonepath))
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return "", fmt.Errorf("zonepath %s is not beneath the root prefix %s", zonepath, root)
	}
	if rel == "." {
		return "", fmt.Errorf("zonepath %s is the root prefix itself; refusing it", zonepath)
	}
	return rel, nil
}

// zonepathOpenError says which component of dir (beneath rfd) stopped
// the walk: a symlink is named as such.
func zonepathOpenError(rfd int, root, dir string, err error) error {
	if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.EXDEV) || errors.Is(err, unix.ENOTDIR) {
		if link := firstSymlink(rfd, dir); link != "" {
			return fmt.Errorf("%s %w", filepath.Join(root, link), errZonepathSymlink)
		}
	}
	if errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("%s: %w", filepath.Join(root, dir), os.ErrNotExist)
	}
	return fmt.Errorf("%s: %w", filepath.Join(root, dir), err)
}

// firstSymlink is the first component of rel (beneath dirfd) that is a
// symlink, "" when none is.
func firstSymlink(dirfd int, rel string) string {
	cur, err := unix.Dup(dirfd)
	if err != nil {
		return ""
	}
	defer func() { unix.Close(cur) }()
	done := ""
	for _, c := range strings.Split(rel, "/") {
		if c == "" || c == "." {
			continue
		}
		done = filepath.Join(done, c)
		var st unix.Stat_t
		if unix.Fstatat(cur, c, &st, unix.AT_SYMLINK_NOFOLLOW) != nil {
			return ""
		}
		if st.Mode&unix.S_IFMT == unix.S_IFLNK {
			return done
		}
		next, err := unix.Openat(cur, c, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return ""
		}
		unix.Close(cur)
		cur = next
	}
	return ""
}

// stat is the zonepath's own entry, never followed.
func (z *ZonepathAt) Stat() (unix.Stat_t, error) {
	var st unix.Stat_t
	err := unix.Fstatat(z.Pfd, z.Base, &st, unix.AT_SYMLINK_NOFOLLOW)
	return st, err
}

// CheckZonepathOnHost reports what makes a configured zonepath unusable
// on this host whatever the operation: a ".." element, a place outside
// the root prefix, or a symlink at it or on its way. A zonepath that does
// not exist yet is fine.
func CheckZonepathOnHost(root, zonepath string) error {
	z, err := OpenZonepath(root, zonepath)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer z.Close()
	st, err := z.Stat()
	if err == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK {
		return fmt.Errorf("zonepath %s %w", zonepath, errZonepathSymlink)
	}
	return nil
}
