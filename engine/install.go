package engine

import (
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"zonetop/api"
	"zonetop/internal/configs"
	"zonetop/internal/pathrs"

	"golang.org/x/sys/unix"
)

// installParams says what zoneadm install builds and where.
type installParams struct {
	Zonepath string // absolute host path; install creates it (700) and Zonepath/root (755)
	// Root is the root prefix ("" is /): Zonepath must lie beneath it,
	// with no symlink on the way below it.
	Root     string
	Brand    string // "sparse" (also ""), "busybox" or "tarball"
	Archive  string // tarball brand: .tar, .tar.gz/.tgz, .tar.xz, .tar.zst or .tar.bz2, recognised by content
	ZoneName string // written to /etc/hostname and /etc/hosts
	// Progress, when set, is called as install moves on: bytes of the
	// archive read for the tarball brand, steps done otherwise.
	Progress func(p api.Progress)
}

// busyboxCandidates are where Debian's busybox-static puts its binary. Only
// a static build will do: the zone has no host libraries to load.
var busyboxCandidates = []string{"/bin/busybox", "/usr/bin/busybox"}

// installDir is one directory of a zone root made by install.
type installDir struct {
	rel  string
	mode uint32
}

// installDirs is the skeleton every installed root gets. In a sparse zone
// bin, sbin, lib, lib64 and usr stay empty: they are the mount points the
// host's own directories are bound on read-only at ready.
var installDirs = []installDir{
	{"bin", 0o755}, {"sbin", 0o755}, {"lib", 0o755}, {"lib64", 0o755}, {"usr", 0o755},
	{"etc", 0o755}, {"dev", 0o755}, {"proc", 0o555}, {"sys", 0o555},
	{"tmp", 0o1777}, {"var", 0o755}, {"var/tmp", 0o1777}, {"var/log", 0o755},
	{"run", 0o755}, {"root", 0o700}, {"home", 0o755}, {"opt", 0o755}, {"mnt", 0o755},
}

func findBusybox() (string, error) {
	var problems []string
	for _, p := range busyboxCandidates {
		if err := checkStatic(p); err != nil {
			problems = append(problems, err.Error())
			continue
		}
		return p, nil
	}
	return "", fmt.Errorf("busybox brand needs a static busybox (Debian package busybox-static): %s", strings.Join(problems, "; "))
}

// checkStatic tells whether the ELF file at p runs without a dynamic loader.
func checkStatic(p string) error {
	f, err := elf.Open(p)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%s missing", p)
		}
		return fmt.Errorf("%s: %w", p, err)
	}
	defer f.Close()
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked", p)
		}
	}
	return nil
}

// verifyInstall reports every reason install could not run with o, all at
// once, without changing anything. An empty Archive is not reported for the
// tarball brand, so a configured zone verifies before an archive is chosen;
// Install itself insists on one.
func verifyInstall(o installParams) []error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	switch {
	case o.Zonepath == "":
		bad("zonepath is not set")
	case !filepath.IsAbs(o.Zonepath):
		bad("zonepath %s is not absolute", o.Zonepath)
	case filepath.Clean(o.Zonepath) == "/":
		bad("zonepath may not be /")
	default:
		if err := pathrs.CheckZonepathOnHost(o.Root, o.Zonepath); err != nil {
			errs = append(errs, err)
			break
		}
		zp := filepath.Clean(o.Zonepath)
		parent := filepath.Dir(zp)
		if st, err := os.Stat(parent); err != nil {
			bad("zonepath %s: parent directory %s: %w", zp, parent, err)
		} else if !st.IsDir() {
			bad("zonepath %s: parent %s is not a directory", zp, parent)
		}
		st, err := os.Lstat(zp)
		switch {
		case errors.Is(err, os.ErrNotExist):
		case err != nil:
			bad("zonepath %s: %w", zp, err)
		case st.Mode()&os.ModeSymlink != 0:
			bad("zonepath %s is a symbolic link", zp)
		case !st.IsDir():
			bad("zonepath %s exists and is not a directory", zp)
		default:
			if names, err := readNames(zp, 3); err != nil {
				bad("zonepath %s: %w", zp, err)
			} else if len(names) > 0 {
				bad("zonepath %s is not empty (holds %s)", zp, strings.Join(names, ", "))
			}
			if perm := st.Mode().Perm(); perm != 0o700 || st.Mode()&(os.ModeSetuid|os.ModeSetgid|os.ModeSticky) != 0 {
				bad("zonepath %s has mode %04o; it must be 0700", zp, uint32(perm))
			}
			if sys, ok := st.Sys().(*syscall.Stat_t); ok && (sys.Uid != 0 || sys.Gid != 0) {
				bad("zonepath %s is owned by %d:%d; it must be root's (0:0)", zp, sys.Uid, sys.Gid)
			}
		}
	}
	if !configs.ZoneNameSyntax(o.ZoneName) {
		bad("zone name %q is not usable as a host name", o.ZoneName)
	}
	switch o.Brand {
	case "", "sparse":
	case "busybox":
		if _, err := findBusybox(); err != nil {
			errs = append(errs, err)
		}
	case "tarball":
		if o.Archive != "" {
			if err := checkArchive(o.Archive); err != nil {
				errs = append(errs, err)
			}
		}
	default:
		bad("brand %q is unknown (sparse, busybox or tarball)", o.Brand)
	}
	if o.Archive != "" && o.Brand != "tarball" {
		bad("an archive is only used by the tarball brand, not %q", brandName(o.Brand))
	}
	return errs
}

func brandName(b string) string {
	if b == "" {
		return "sparse"
	}
	return b
}

// readNames returns up to n names from directory dir.
func readNames(dir string, n int) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	names, err := f.Readdirnames(n)
	if errors.Is(err, io.EOF) {
		err = nil
	}
	return names, err
}

// installRoot creates o.Zonepath and fills its root by brand. On any failure,
// cancellation included, it removes what it created, and only that: a
// zonepath that existed (empty) before is emptied again and kept.
func installRoot(ctx context.Context, o installParams) error {
	if errs := verifyInstall(o); len(errs) > 0 {
		return fmt.Errorf("install %s: %w", o.Zonepath, errors.Join(errs...))
	}
	if o.Brand == "tarball" && o.Archive == "" {
		return fmt.Errorf("install %s: the tarball brand needs an archive (install -a FILE)", o.Zonepath)
	}
	err := makeZoneRoot(ctx, o.Root, o.Zonepath, func(root string, rootfd int) error {
		switch o.Brand {
		case "", "sparse":
			return installSkeleton(ctx, rootfd, o, nil)
		case "busybox":
			return installBusybox(ctx, rootfd, o)
		default:
			return installTarball(ctx, root, rootfd, o)
		}
	})
	if err != nil {
		return fmt.Errorf("install %w", err)
	}
	return nil
}

// makeZoneRoot creates zonepath (700) and zonepath/root (755), both
// root's, and has fill fill the root. zonepath must lie beneath root
// ("" is /) with no symlink on the way: it is made and cleaned up
// through its parent's descriptor, so a symlink swapped in cannot send
// either elsewhere. On any failure, cancellation included, it removes
// what it created, and only that: a zonepath that existed (empty) before
// is emptied again and kept. Errors start with the zonepath.
func makeZoneRoot(ctx context.Context, root, zonepath string, fill func(root string, rootfd int) error) (err error) {
	zp := filepath.Clean(zonepath)
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: %w", zp, err)
	}
	at, err := pathrs.OpenZonepath(root, zonepath)
	if err != nil {
		return fmt.Errorf("%s: %w", zp, err)
	}
	defer at.Close()
	created := false
	if err := unix.Mkdirat(at.Pfd, at.Base, 0o700); err == nil {
		created = true
	} else if !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("%s: %w", zp, err)
	}
	defer func() {
		if err == nil {
			return
		}
		// Cleanup must run even when ctx is what failed.
		if cerr := removeZonepathAt(context.Background(), at.Pfd, at.Base, zp, !created); cerr != nil {
			err = fmt.Errorf("%w (and cleaning up failed: %v)", err, cerr)
		}
	}()
	zfd, err := unix.Openat(at.Pfd, at.Base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("%s: %w", zp, err)
	}
	defer unix.Close(zfd)
	if created {
		if err := fdOwnerMode(zfd, 0o700); err != nil {
			return fmt.Errorf("%s: %w", zp, err)
		}
	}
	if err := unix.Mkdirat(zfd, "root", 0o755); err != nil {
		return fmt.Errorf("%s: mkdir root: %w", zp, err)
	}
	rootfd, err := unix.Openat(zfd, "root", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("%s: open root: %w", zp, err)
	}
	defer unix.Close(rootfd)
	if err := fdOwnerMode(rootfd, 0o755); err != nil {
		return fmt.Errorf("%s: root: %w", zp, err)
	}
	if err := fill(filepath.Join(at.Real, "root"), rootfd); err != nil {
		return fmt.Errorf("%s: %w", zp, err)
	}
	return nil
}

// fdOwnerMode makes the directory open as fd root's with exactly mode
// (Mkdirat's went through the umask).
func fdOwnerMode(fd int, mode uint32) error {
	if err := unix.Fchown(fd, 0, 0); err != nil {
		return err
	}
	return unix.Fchmod(fd, mode)
}

// The steps of an install as an operator reads them in the progress line.
const (
	stepDirs    = "making the zone's directories"
	stepEtc     = "writing the zone's /etc"
	stepBusybox = "copying the static busybox"
	stepApplets = "linking busybox's commands"
	stepUnpack  = "unpacking the archive"
	stepCopy    = "copying the source zone's files"
)

// report sends a step-count progress report if anyone listens.
func (o installParams) report(step string, done, total int64) {
	if o.Progress != nil {
		o.Progress(api.Progress{Step: step, Done: done, Total: total})
	}
}

// installSkeleton makes the directory tree and /etc of a sparse zone; the
// busybox brand uses it too, passing the work it will do next so the step
// count covers the whole install.
func installSkeleton(ctx context.Context, rootfd int, o installParams, more []string) error {
	steps := append([]string{stepDirs, stepEtc}, more...)
	total := int64(len(steps))
	o.report(steps[0], 0, total)
	for _, d := range installDirs {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := mkdirModeAt(rootfd, d.rel, d.mode); err != nil {
			return err
		}
	}
	// /var/run is /run, as on every current Linux distribution.
	if err := symlinkInRoot(rootfd, "var/run", "../run"); err != nil {
		return err
	}
	o.report(steps[1], 1, total)
	if err := writeEtc(rootfd, o.ZoneName, false); err != nil {
		return err
	}
	o.report(steps[1], 2, total)
	return nil
}

// mkdirModeAt makes rel (parents exist) under rootfd, root-owned, exact mode.
func mkdirModeAt(rootfd int, rel string, mode uint32) error {
	pfd, err := mkdirBeneath(rootfd, filepath.Dir(rel))
	if err != nil {
		return fmt.Errorf("mkdir %s: %w", rel, err)
	}
	defer unix.Close(pfd)
	base := filepath.Base(rel)
	if err := unix.Mkdirat(pfd, base, 0o700); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("mkdir %s: %w", rel, err)
	}
	fd, err := unix.Openat(pfd, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("mkdir %s: %w", rel, err)
	}
	defer unix.Close(fd)
	if err := unix.Fchown(fd, 0, 0); err != nil {
		return fmt.Errorf("chown %s: %w", rel, err)
	}
	if err := unix.Fchmod(fd, mode); err != nil {
		return fmt.Errorf("chmod %s: %w", rel, err)
	}
	return nil
}

func symlinkInRoot(rootfd int, rel, target string) error {
	pfd, err := mkdirBeneath(rootfd, filepath.Dir(rel))
	if err != nil {
		return fmt.Errorf("symlink %s: %w", rel, err)
	}
	defer unix.Close(pfd)
	if err := unix.Symlinkat(target, pfd, filepath.Base(rel)); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("symlink %s: %w", rel, err)
	}
	return nil
}

// writeInRoot writes a root-owned file rel beneath rootfd without following
// any symlink. An existing entry is replaced only when replace is set.
func writeInRoot(rootfd int, rel string, data []byte, mode uint32, replace bool) error {
	pfd, err := pathrs.OpenBeneath(rootfd, filepath.Dir(rel), unix.O_PATH|unix.O_DIRECTORY)
	if err != nil {
		return fmt.Errorf("write %s: directory: %w", rel, err)
	}
	defer unix.Close(pfd)
	base := filepath.Base(rel)
	if replace {
		if err := replaceable(pfd, base, rel); err != nil {
			return err
		}
	}
	fd, err := unix.Openat(pfd, base, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		if errors.Is(err, unix.EEXIST) && !replace {
			return nil
		}
		return fmt.Errorf("write %s: %w", rel, err)
	}
	f := os.NewFile(uintptr(fd), rel)
	defer f.Close()
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", rel, err)
	}
	if err := f.Chown(0, 0); err != nil {
		return fmt.Errorf("chown %s: %w", rel, err)
	}
	if err := unix.Fchmod(fd, mode); err != nil {
		return fmt.Errorf("chmod %s: %w", rel, err)
	}
	return f.Close()
}

// zonetopProfile is /etc/profile.d/zonetop.sh in every zone: api.ZoneBinDir
// first on PATH, once.
const zonetopProfile = "# Written by zonetop install: the zone administrator's commands\n" +
	"# (prctl, projadd, zonestat, ...) first on PATH, as zlogin gives them.\n" +
	"case \":$PATH:\" in\n" +
	"*:" + api.ZoneBinDir + ":*) ;;\n" +
	"*) PATH=" + api.ZoneBinDir + ":$PATH; export PATH ;;\n" +
	"esac\n"

// etcFiles is the minimal /etc a zone needs to take logins and to name its
// projects. The zone's administrator owns them after install.
func etcFiles(zone string) []struct {
	name string
	mode uint32
	data string
} {
	resolv := ""
	// The host's resolver is the best first guess for the zone's; a
	// stub such as 127.0.0.53 is replaced by the zone admin if needed.
	if b, err := os.ReadFile("/etc/resolv.conf"); err == nil && len(b) < 64<<10 {
		resolv = string(b)
	}
	return []struct {
		name string
		mode uint32
		data string
	}{
		{"passwd", 0o644, "root:x:0:0:Super-User:/root:/bin/sh\n" +
			"daemon:x:1:1:daemon:/:/usr/sbin/nologin\n" +
			"bin:x:2:2:bin:/bin:/usr/sbin/nologin\n" +
			"sys:x:3:3:sys:/:/usr/sbin/nologin\n" +
			"nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"},
		{"group", 0o644, "root:x:0:\ndaemon:x:1:\nbin:x:2:\nsys:x:3:\nadm:x:4:\ntty:x:5:\nstaff:x:10:\nnogroup:x:65534:\n"},
		// Locked: root reaches the zone through zlogin, which needs no
		// password, until the zone admin sets one.
		{"shadow", 0o600, "root:!:0:0:99999:7:::\ndaemon:*:0:0:99999:7:::\nbin:*:0:0:99999:7:::\nsys:*:0:0:99999:7:::\nnobody:*:0:0:99999:7:::\n"},
		{"hosts", 0o644, "# Internet host table of zone " + zone + "\n" +
			"127.0.0.1\tlocalhost loghost\n" +
			"127.0.1.1\t" + zone + "\n" +
			"::1\tlocalhost ip6-localhost ip6-loopback\n"},
		{"hostname", 0o644, zone + "\n"},
		{"nsswitch.conf", 0o644, "passwd:\tfiles\ngroup:\tfiles\nshadow:\tfiles\nhosts:\tfiles dns\nnetworks:\tfiles\nprotocols:\tfiles\nservices:\tfiles\n"},
		{"resolv.conf", 0o644, resolv},
		// busybox init syntax (id::action:process), which zonetop's init
		// reads too. The console offers a shell, as illumos' offers a
		// login: root's password is locked until the administrator sets
		// one, and whoever may attach to the console may zlogin as root
		// anyway (the same auth), so a password prompt would only stop
		// them. Its leading '-' makes it a login shell, which reads
		// /etc/profile (PATH, prompt) and gets the console as its
		// controlling terminal (ctrl-C, job control).
		{"inittab", 0o644, "# /etc/inittab of zone " + zone + " (busybox syntax: id::action:process)\n" +
			"::sysinit:/bin/touch /var/run/utmp\n" +
			"# A root shell on the zone console (zlogin -C), started again when it exits.\n" +
			"console::respawn:-/bin/sh\n" +
			"::shutdown:/bin/sync\n"},
		// The Solaris default projects, with their Solaris IDs.
		{"project", 0o644, "system:0::::\nuser.root:1::::\nnoproject:2::::\ndefault:3::::\ngroup.staff:10::::\n"},
		// The prompt is user@host:directory and # or $, in the syntax
		// every POSIX shell understands (dash does not know bash's \u
		// escapes): the names are fixed at login, the directory is a
		// parameter each prompt expands.
		{"profile", 0o644, "# /etc/profile of zone " + zone + "\n" +
			"PATH=" + api.ZonePath + "\n" +
			"umask 022\n" +
			"if [ \"$(id -u)\" = 0 ]; then PS1='# '; else PS1='$ '; fi\n" +
			"PS1=\"$(id -un)@$(uname -n):\"'${PWD}'\"$PS1\"\n" +
			"export PATH PS1\n" +
			"for i in /etc/profile.d/*.sh; do\n" +
			"\tif [ -r \"$i\" ]; then . \"$i\"; fi\n" +
			"done\n" +
			"unset i\n"},
		// A distribution's /etc/profile sets PATH again for a login
		// shell; this puts the zone administrator's commands back
		// first, as zlogin's commands and init have them.
		{"profile.d/zonetop.sh", 0o644, zonetopProfile},
	}
}

// writeEtc writes the zone's /etc. For an unpacked distribution (onlyIdentity)
// only the zone's name, the project database and profile.d/zonetop.sh are
// added; its own users, resolver, profile and init configuration are kept.
func writeEtc(rootfd int, zone string, onlyIdentity bool) error {
	for _, f := range etcFiles(zone) {
		replace := true
		switch {
		case !onlyIdentity:
		case f.name == "hostname" || f.name == "hosts" || f.name == "profile.d/zonetop.sh":
		case f.name == "project":
			replace = false
		default:
			continue
		}
		if dir := filepath.Dir(f.name); dir != "." {
			if err := mkdirModeAtIfMissing(rootfd, "etc/"+dir); err != nil {
				return err
			}
		}
		if err := writeInRoot(rootfd, "etc/"+f.name, []byte(f.data), f.mode, replace); err != nil {
			return err
		}
	}
	return nil
}

func installBusybox(ctx context.Context, rootfd int, o installParams) error {
	bb, err := findBusybox()
	if err != nil {
		return err
	}
	if err := installSkeleton(ctx, rootfd, o, []string{stepBusybox, stepApplets}); err != nil {
		return err
	}
	o.report(stepBusybox, 2, 4)
	src, err := os.ReadFile(bb)
	if err != nil {
		return fmt.Errorf("read %s: %w", bb, err)
	}
	if err := writeInRoot(rootfd, "bin/busybox", src, 0o755, false); err != nil {
		return err
	}
	o.report(stepApplets, 3, 4)
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, bb, "--list-full")
	cmd.Stdout = &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s --list-full: %w", bb, err)
	}
	for _, line := range strings.Split(out.String(), "\n") {
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, err := tarEntryPath(strings.TrimSpace(line))
		// linuxrc is for initrds; bin/busybox is the binary itself.
		if err != nil || rel == "." || rel == "bin/busybox" || !strings.Contains(rel, "/") {
			continue
		}
		if err := symlinkInRoot(rootfd, rel, "/bin/busybox"); err != nil {
			return err
		}
	}
	o.report(stepApplets, 4, 4)
	return nil
}

func installTarball(ctx context.Context, root string, rootfd int, o installParams) error {
	if err := unpackArchive(ctx, o.Archive, root, o.Progress); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	// An archive that made /etc a symlink is refused here by writeInRoot;
	// one without /etc gets a plain one.
	if err := mkdirModeAtIfMissing(rootfd, "etc"); err != nil {
		return err
	}
	return writeEtc(rootfd, o.ZoneName, true)
}

func mkdirModeAtIfMissing(rootfd int, rel string) error {
	var st unix.Stat_t
	if err := unix.Fstatat(rootfd, rel, &st, unix.AT_SYMLINK_NOFOLLOW); err == nil {
		return nil
	}
	return mkdirModeAt(rootfd, rel, 0o755)
}
