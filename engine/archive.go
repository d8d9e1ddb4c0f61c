package engine

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"strings"
	"time"
	"zonetop/api"
	"zonetop/internal/pathrs"

	"golang.org/x/sys/unix"
)

// archiveFormat names how a root file system archive is compressed. The
// format comes from the file's first bytes, so a misnamed archive still
// unpacks and a non-archive is refused before anything is written.
type archiveFormat string

const (
	archiveTar   archiveFormat = "tar"
	archiveGzip  archiveFormat = "gzip"
	archiveXz    archiveFormat = "xz"
	archiveZstd  archiveFormat = "zstd"
	archiveBzip2 archiveFormat = "bzip2"
)

// sniffArchive reads enough of r to tell the format apart. Plain tar is
// recognised by its ustar magic or, for old v7 archives, by a header whose
// checksum adds up.
func sniffArchive(head []byte) (archiveFormat, error) {
	switch {
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		return archiveGzip, nil
	case bytes.HasPrefix(head, []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}):
		return archiveXz, nil
	case bytes.HasPrefix(head, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return archiveZstd, nil
	case bytes.HasPrefix(head, []byte("BZh")):
		return archiveBzip2, nil
	case len(head) >= 262 && bytes.Equal(head[257:262], []byte("ustar")):
		return archiveTar, nil
	case len(head) >= 512 && tarChecksumOK(head[:512]):
		return archiveTar, nil
	}
	return "", errors.New("not a tar archive (plain, gzip, xz, zstd or bzip2)")
}

// tarChecksumOK checks a v7 header's checksum: the unsigned byte sum of the
// block with the checksum field counted as spaces.
func tarChecksumOK(b []byte) bool {
	field := strings.TrimRight(strings.TrimSpace(string(b[148:156])), "\x00 ")
	if field == "" {
		return false
	}
	var want int64
	for _, c := range field {
		if c < '0' || c > '7' {
			return false
		}
		want = want*8 + int64(c-'0')
	}
	var sum int64
	for i, c := range b {
		if i >= 148 && i < 156 {
			c = ' '
		}
		sum += int64(c)
	}
	return sum == want && sum != 8*' '
}

// checkArchive opens an archive only to tell whether install could read it.
func checkArchive(name string) error {
	f, err := os.Open(name)
	if err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("archive %s: %w", name, err)
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("archive %s: not a regular file", name)
	}
	head := make([]byte, 512)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return fmt.Errorf("archive %s: %w", name, err)
	}
	format, err := sniffArchive(head[:n])
	if err != nil {
		return fmt.Errorf("archive %s: %w", name, err)
	}
	if tool := decompressTool(format); tool != "" {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("archive %s: %s-compressed, but the %s command is missing (Debian package %s)", name, format, tool, decompressPackage(format))
		}
	}
	return nil
}

func decompressTool(f archiveFormat) string {
	switch f {
	case archiveXz:
		return "xz"
	case archiveZstd:
		return "zstd"
	}
	return ""
}

func decompressPackage(f archiveFormat) string {
	if f == archiveXz {
		return "xz-utils"
	}
	return string(f)
}

// progressReader counts the compressed bytes install has consumed, so the
// bar moves with the file on disk whatever the compression ratio, and stops
// the read as soon as the install is cancelled.
type progressReader struct {
	ctx      context.Context
	r        io.Reader
	done     int64
	total    int64
	lastSent int64
	report   func(api.Progress)
}

func (p *progressReader) Read(b []byte) (int, error) {
	if err := p.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := p.r.Read(b)
	p.done += int64(n)
	// A report per percent (or per MiB for small totals) is enough for a
	// bar and keeps the callback off the hot path.
	step := max(p.total/100, 1<<20)
	if p.report != nil && (p.done-p.lastSent >= step || (errors.Is(err, io.EOF) && p.done != p.lastSent)) {
		p.lastSent = p.done
		p.report(api.Progress{Step: stepUnpack, Done: p.done, Total: p.total})
	}
	return n, err
}

// unpackArchive extracts the archive at name into the directory root, which
// must exist. Every entry is checked and created beneath root without
// following any symlink, so a hostile archive cannot write outside it.
func unpackArchive(ctx context.Context, name, root string, report func(api.Progress)) error {
	f, err := os.Open(name)
	if err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("archive %s: %w", name, err)
	}
	pr := &progressReader{ctx: ctx, r: f, total: st.Size(), report: report}
	br := bufio.NewReaderSize(pr, 64<<10)
	head, _ := br.Peek(512)
	format, err := sniffArchive(head)
	if err != nil {
		return fmt.Errorf("archive %s: %w", name, err)
	}
	var tr io.Reader = br
	var wait func() error
	switch format {
	case archiveGzip:
		zr, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("archive %s: %w", name, err)
		}
		defer zr.Close()
		tr = zr
	case archiveBzip2:
		tr = bzip2.NewReader(br)
	case archiveXz, archiveZstd:
		tool := decompressTool(format)
		// The stdlib has neither codec; the Debian tools are fast and
		// audited, and only ever see the archive on stdin.
		cmd := exec.CommandContext(ctx, tool, "-dc")
		cmd.Stdin = br
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			return fmt.Errorf("archive %s: %w", name, err)
		}
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("archive %s: start %s: %w", name, tool, err)
		}
		defer func() {
			// On an early return the pipe must be drained or closed so
			// the tool exits and is reaped.
			out.Close()
			_ = cmd.Wait()
		}()
		tr = out
		wait = func() error {
			// Read what tar left after its end blocks so the tool
			// finishes writing and reports its own errors.
			_, _ = io.Copy(io.Discard, out)
			if err := cmd.Wait(); err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				return fmt.Errorf("%s: %w: %s", tool, err, strings.TrimSpace(stderr.String()))
			}
			return nil
		}
	}
	x, err := newTarExtractor(root)
	if err != nil {
		return err
	}
	defer x.close()
	if err := x.extract(ctx, tar.NewReader(tr)); err != nil {
		return fmt.Errorf("archive %s: %w", name, err)
	}
	if wait != nil {
		if err := wait(); err != nil {
			return fmt.Errorf("archive %s: %w", name, err)
		}
	}
	if report != nil {
		report(api.Progress{Step: stepUnpack, Done: pr.total, Total: pr.total})
	}
	return nil
}

// tarEntryPath turns an archive member name into a clean path relative to
// the zone root, or says why it may not be extracted. Absolute names and
// any ".." component are refused outright rather than rewritten: an archive
// that carries them was not made from a root file system by the usual tools.
// The root itself ("./") comes back as ".".
func tarEntryPath(name string) (string, error) {
	if name == "" {
		return "", errors.New("empty member name")
	}
	if strings.IndexByte(name, 0) >= 0 {
		return "", fmt.Errorf("member name %q holds a NUL byte", name)
	}
	if strings.HasPrefix(name, "/") {
		return "", fmt.Errorf("member %q: absolute path", name)
	}
	for _, c := range strings.Split(name, "/") {
		if c == ".." {
			return "", fmt.Errorf("member %q: \"..\" component", name)
		}
	}
	p := path.Clean(name)
	if p == "." {
		return ".", nil
	}
	if len(p) > unix.PathMax-1 {
		return "", fmt.Errorf("member %.40q...: path too long", name)
	}
	for _, c := range strings.Split(p, "/") {
		if len(c) > 255 {
			return "", fmt.Errorf("member %.40q...: name component too long", name)
		}
	}
	return p, nil
}

// tarExtractor writes archive members beneath one directory. It holds that
// directory open and resolves every parent relative to it with openat2
// RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS (or an O_NOFOLLOW walk where openat2
// is missing), so an entry whose path crosses a symlink is refused instead
// of followed, whether the symlink came from this archive or not.
type tarExtractor struct {
	rootfd int
	// The last parent opened, reused while members stay in one directory.
	lastDir   string
	lastDirfd int
	dirs      []dirTimes
}

type dirTimes struct {
	rel   string
	mtime time.Time
}

func newTarExtractor(root string) (*tarExtractor, error) {
	fd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open zone root %s: %w", root, err)
	}
	return &tarExtractor{rootfd: fd, lastDirfd: -1}, nil
}

func (x *tarExtractor) close() {
	x.dropDir()
	if x.rootfd >= 0 {
		unix.Close(x.rootfd)
		x.rootfd = -1
	}
}

func (x *tarExtractor) dropDir() {
	if x.lastDirfd >= 0 {
		unix.Close(x.lastDirfd)
	}
	x.lastDir, x.lastDirfd = "", -1
}

// mkdirBeneath walks rel under dirfd one component at a time, never
// following a symlink, and makes the directories that are missing (root
// owned, 755).
func mkdirBeneath(dirfd int, rel string) (int, error) {
	cur, err := unix.Dup(dirfd)
	if err != nil {
		return -1, err
	}
	for _, c := range strings.Split(rel, "/") {
		if c == "." || c == "" {
			continue
		}
		next, err := unix.Openat(cur, c, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if errors.Is(err, unix.ENOENT) {
			if err = unix.Mkdirat(cur, c, 0o755); err == nil || errors.Is(err, unix.EEXIST) {
				next, err = unix.Openat(cur, c, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			}
		}
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

// parent returns an fd for rel's directory and rel's last component.
func (x *tarExtractor) parent(rel string) (int, string, error) {
	dir, base := path.Split(rel)
	dir = strings.TrimSuffix(dir, "/")
	if dir == "" {
		dir = "."
	}
	if dir == x.lastDir && x.lastDirfd >= 0 {
		return x.lastDirfd, base, nil
	}
	fd, err := pathrs.OpenBeneath(x.rootfd, dir, unix.O_PATH|unix.O_DIRECTORY)
	if errors.Is(err, unix.ENOENT) {
		// Archives may omit directory members; tar(1) makes them.
		fd, err = mkdirBeneath(x.rootfd, dir)
	}
	if err != nil {
		if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.EXDEV) || errors.Is(err, unix.ENOTDIR) {
			return -1, "", fmt.Errorf("%s: parent %s is a symlink or not a directory; refusing to follow it", rel, dir)
		}
		return -1, "", fmt.Errorf("%s: parent %s: %w", rel, dir, err)
	}
	x.dropDir()
	x.lastDir, x.lastDirfd = dir, fd
	return fd, base, nil
}

// invalidate forgets the cached parent when an entry replaces it or one of
// its ancestors.
func (x *tarExtractor) invalidate(rel string) {
	if x.lastDir == rel || strings.HasPrefix(x.lastDir, rel+"/") {
		x.dropDir()
	}
}

func (x *tarExtractor) extract(ctx context.Context, tr *tar.Reader) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("read: %w", err)
		}
		if err := x.entry(h, tr); err != nil {
			return err
		}
	}
	return x.finishDirs()
}

func (x *tarExtractor) entry(h *tar.Header, r io.Reader) error {
	rel, err := tarEntryPath(h.Name)
	if err != nil {
		return err
	}
	mode := uint32(h.Mode) & 0o7777
	if rel == "." {
		// The root's own entry: its owner and mode are install's to
		// decide (root, 755).
		if h.Typeflag == tar.TypeDir {
			return nil
		}
		return fmt.Errorf("member %q: the root must be a directory", h.Name)
	}
	switch h.Typeflag {
	case tar.TypeXGlobalHeader:
		return nil
	case tar.TypeDir:
		return x.mkdir(rel, h, mode)
	case tar.TypeReg, tar.TypeChar, tar.TypeBlock, tar.TypeFifo, tar.TypeSymlink, tar.TypeLink:
	case tar.TypeCont, tar.TypeGNUSparse:
		// archive/tar hands their contents over as a plain file's.
		h.Typeflag = tar.TypeReg
	default:
		// Sparse files, long-name headers and the like are folded into
		// their entries by archive/tar; anything else is unexpected.
		return fmt.Errorf("member %q: unsupported type %q", h.Name, h.Typeflag)
	}
	x.invalidate(rel)
	pfd, base, err := x.parent(rel)
	if err != nil {
		return err
	}
	if err := replaceable(pfd, base, rel); err != nil {
		return err
	}
	switch h.Typeflag {
	case tar.TypeReg:
		return x.writeFile(pfd, base, rel, h, mode, r)
	case tar.TypeSymlink:
		if h.Linkname == "" || strings.IndexByte(h.Linkname, 0) >= 0 {
			return fmt.Errorf("member %q: bad symlink target", h.Name)
		}
		// The target is stored as is: it is resolved later inside the
		// zone, after pivot_root, where it cannot reach the host.
		if err := unix.Symlinkat(h.Linkname, pfd, base); err != nil {
			return fmt.Errorf("symlink %s: %w", rel, err)
		}
	case tar.TypeLink:
		trel, err := tarEntryPath(h.Linkname)
		if err != nil {
			return fmt.Errorf("hard link %s: target: %w", rel, err)
		}
		if trel == "." {
			return fmt.Errorf("hard link %s: target is the root", rel)
		}
		tdir, tbase := path.Split(trel)
		tdir = strings.TrimSuffix(tdir, "/")
		if tdir == "" {
			tdir = "."
		}
		tfd, err := pathrs.OpenBeneath(x.rootfd, tdir, unix.O_PATH|unix.O_DIRECTORY)
		if err != nil {
			return fmt.Errorf("hard link %s: target %s: not inside the root without symlinks: %w", rel, trel, err)
		}
		// flags 0: link the named inode itself, never what a symlink
		// there points at.
		err = unix.Linkat(tfd, tbase, pfd, base, 0)
		unix.Close(tfd)
		if err != nil {
			return fmt.Errorf("hard link %s to %s: %w", rel, trel, err)
		}
		return nil
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		typ := map[byte]uint32{tar.TypeChar: unix.S_IFCHR, tar.TypeBlock: unix.S_IFBLK, tar.TypeFifo: unix.S_IFIFO}[h.Typeflag]
		dev := unix.Mkdev(uint32(h.Devmajor), uint32(h.Devminor))
		if err := unix.Mknodat(pfd, base, typ|0o600, int(dev)); err != nil {
			return fmt.Errorf("mknod %s: %w", rel, err)
		}
		if err := unix.Fchownat(pfd, base, h.Uid, h.Gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("chown %s: %w", rel, err)
		}
		// base was just made by mknod in a directory opened without
		// symlinks, so chmod by name reaches that node.
		if err := unix.Fchmodat(pfd, base, mode, 0); err != nil {
			return fmt.Errorf("chmod %s: %w", rel, err)
		}
		return setTimesAt(pfd, base, h.ModTime)
	}
	if err := unix.Fchownat(pfd, base, h.Uid, h.Gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("chown %s: %w", rel, err)
	}
	return setTimesAt(pfd, base, h.ModTime)
}

// replaceable makes room for a new non-directory member: a later member
// overrides an earlier one, as with tar(1), but a non-empty directory is
// never removed to make room.
func replaceable(pfd int, base, rel string) error {
	var st unix.Stat_t
	if err := unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		return fmt.Errorf("%s: %w", rel, err)
	}
	flags := 0
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		flags = unix.AT_REMOVEDIR
	}
	if err := unix.Unlinkat(pfd, base, flags); err != nil {
		return fmt.Errorf("%s: replace existing entry: %w", rel, err)
	}
	return nil
}

func (x *tarExtractor) writeFile(pfd int, base, rel string, h *tar.Header, mode uint32, r io.Reader) error {
	fd, err := unix.Openat(pfd, base, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("create %s: %w", rel, err)
	}
	f := os.NewFile(uintptr(fd), rel)
	defer f.Close()
	if err := copySparse(f, r); err != nil {
		return fmt.Errorf("write %s: %w", rel, err)
	}
	// chown before chmod: chown clears setuid and setgid bits.
	if err := f.Chown(h.Uid, h.Gid); err != nil {
		return fmt.Errorf("chown %s: %w", rel, err)
	}
	if err := unix.Fchmod(fd, mode); err != nil {
		return fmt.Errorf("chmod %s: %w", rel, err)
	}
	if err := setTimesAt(pfd, base, h.ModTime); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", rel, err)
	}
	return nil
}

func (x *tarExtractor) mkdir(rel string, h *tar.Header, mode uint32) error {
	x.invalidate(rel)
	pfd, base, err := x.parent(rel)
	if err != nil {
		return err
	}
	var st unix.Stat_t
	err = unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW)
	switch {
	case err == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR:
		// A directory named twice keeps its contents; its metadata is
		// the later entry's.
	case err == nil:
		if err := unix.Unlinkat(pfd, base, 0); err != nil {
			return fmt.Errorf("%s: replace existing entry: %w", rel, err)
		}
		fallthrough
	case errors.Is(err, unix.ENOENT):
		if err := unix.Mkdirat(pfd, base, 0o700); err != nil {
			return fmt.Errorf("mkdir %s: %w", rel, err)
		}
	default:
		return fmt.Errorf("%s: %w", rel, err)
	}
	dfd, err := unix.Openat(pfd, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", rel, err)
	}
	defer unix.Close(dfd)
	if err := unix.Fchown(dfd, h.Uid, h.Gid); err != nil {
		return fmt.Errorf("chown %s: %w", rel, err)
	}
	if err := unix.Fchmod(dfd, mode); err != nil {
		return fmt.Errorf("chmod %s: %w", rel, err)
	}
	// Times are set once every member is in, since each one written
	// into the directory moves its mtime.
	x.dirs = append(x.dirs, dirTimes{rel: rel, mtime: h.ModTime})
	return nil
}

func (x *tarExtractor) finishDirs() error {
	x.dropDir()
	for i := len(x.dirs) - 1; i >= 0; i-- {
		d := x.dirs[i]
		pfd, base, err := x.parent(d.rel)
		if err != nil {
			return err
		}
		if err := setTimesAt(pfd, base, d.mtime); err != nil {
			return err
		}
	}
	return nil
}

func setTimesAt(dirfd int, base string, mtime time.Time) error {
	ts := []unix.Timespec{unix.NsecToTimespec(mtime.UnixNano()), unix.NsecToTimespec(mtime.UnixNano())}
	if err := unix.UtimesNanoAt(dirfd, base, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("set times of %s: %w", base, err)
	}
	return nil
}

// holeBlock is the run of zeros copySparse leaves as a hole: the common
// file system block, so a hole never splits a block that holds data.
const holeBlock = 4096

// copySparse copies r to f leaving every block-aligned run of zeros as a
// hole. archive/tar hands a sparse member's holes over as zeros, and so
// would a plain member that is mostly zeros: a 2 MiB archive holding a
// sparse 2 GiB file must not cost the host 2 GiB of disk.
func copySparse(f *os.File, r io.Reader) error {
	buf := make([]byte, 32*holeBlock)
	var off int64
	holeAtEnd := false
	for {
		n, rerr := io.ReadFull(r, buf)
		for i := 0; i < n; i += holeBlock {
			end := min(i+holeBlock, n)
			blk := buf[i:end]
			if end-i == holeBlock && allZero(blk) {
				holeAtEnd = true
				off += int64(len(blk))
				continue
			}
			if _, err := f.WriteAt(blk, off); err != nil {
				return err
			}
			holeAtEnd = false
			off += int64(len(blk))
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			return rerr
		}
	}
	if holeAtEnd {
		// Only a trailing hole needs the size set: WriteAt past a hole
		// already extended the file over it.
		return f.Truncate(off)
	}
	return nil
}

var zeroBlock [holeBlock]byte

// allZero compares with bytes.Equal, whose assembly is several times
// faster than a byte loop over gigabytes of holes.
func allZero(b []byte) bool {
	return bytes.Equal(b, zeroBlock[:len(b)])
}
