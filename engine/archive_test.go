package engine

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
	"zonetop/api"
	"zonetop/internal/pathrs"

	"golang.org/x/sys/unix"
)

// tarEnt is one member of a test archive.
type tarEnt struct {
	name, link string
	typ        byte
	mode       int64
	uid, gid   int
	data       []byte
	major      int64
	minor      int64
}

var testMtime = time.Date(2001, 9, 9, 1, 46, 40, 0, time.UTC)

func tarBytes(t testing.TB, ents []tarEnt) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range ents {
		h := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: e.typ, Mode: e.mode, Uid: e.uid, Gid: e.gid,
			ModTime: testMtime, Size: int64(len(e.data)), Devmajor: e.major, Devminor: e.minor, Format: tar.FormatPAX}
		if e.typ != tar.TypeReg {
			h.Size = 0
		}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if e.typ == tar.TypeReg {
			if _, err := tw.Write(e.data); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// compress returns b compressed as format, through the same tools users
// make archives with.
func compress(t testing.TB, b []byte, format archiveFormat) []byte {
	t.Helper()
	switch format {
	case archiveTar:
		return b
	case archiveGzip:
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(b)
		zw.Close()
		return buf.Bytes()
	}
	tool := decompressTool(format)
	if _, err := exec.LookPath(tool); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s missing", tool)
		}
		t.Skipf("%s missing", tool)
	}
	cmd := exec.Command(tool, "-c", "-q")
	cmd.Stdin = bytes.NewReader(b)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v", tool, err)
	}
	return out
}

func writeArchive(t testing.TB, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSniffArchive(t *testing.T) {
	plain := tarBytes(t, []tarEnt{{name: "etc/", typ: tar.TypeDir, mode: 0o755}})
	for _, f := range []archiveFormat{archiveTar, archiveGzip, archiveXz, archiveZstd} {
		got, err := sniffArchive(compress(t, plain, f))
		if err != nil || got != f {
			t.Errorf("%s: got %q %v", f, got, err)
		}
	}
	// A v7 header without the ustar magic is still a tar.
	v7 := append([]byte(nil), plain[:512]...)
	copy(v7[257:265], make([]byte, 8))
	sum := 0
	for i, c := range v7 {
		if i >= 148 && i < 156 {
			c = ' '
		}
		sum += int(c)
	}
	copy(v7[148:156], fmt.Sprintf("%06o\x00 ", sum))
	if got, err := sniffArchive(v7); err != nil || got != archiveTar {
		t.Errorf("v7 header: %q %v", got, err)
	}
	for _, junk := range [][]byte{nil, []byte("PK\x03\x04zip"), bytes.Repeat([]byte{0}, 1024), bytes.Repeat([]byte("text "), 200)} {
		if f, err := sniffArchive(junk); err == nil {
			t.Errorf("%q sniffed as %s", junk[:min(len(junk), 8)], f)
		}
	}
}

// hostDashRoot builds the members of a minimal distribution root from the
// host: its dynamically linked dash as /bin/sh, the libraries ldd names at
// the paths ldd names, a hard link, a setuid file, a device node, a fifo
// and a directory owned by someone else.
func hostDashRoot(t *testing.T) []tarEnt {
	t.Helper()
	out, err := exec.Command("ldd", "/bin/dash").Output()
	if err != nil {
		t.Skipf("ldd /bin/dash: %v", err)
	}
	dash, err := os.ReadFile("/bin/dash")
	if err != nil {
		t.Skip(err)
	}
	dirs := map[string]bool{}
	var ents []tarEnt
	addDirs := func(p string) {
		var parts []string
		for d := path.Dir(p); d != "."; d = path.Dir(d) {
			parts = append([]string{d}, parts...)
		}
		for _, d := range parts {
			if !dirs[d] {
				dirs[d] = true
				ents = append(ents, tarEnt{name: d + "/", typ: tar.TypeDir, mode: 0o755})
			}
		}
	}
	addFile := func(rel string, data []byte, mode int64) {
		addDirs(rel)
		ents = append(ents, tarEnt{name: rel, typ: tar.TypeReg, mode: mode, data: data})
	}
	ents = append(ents, tarEnt{name: "./", typ: tar.TypeDir, mode: 0o755})
	addFile("bin/dash", dash, 0o755)
	ents = append(ents, tarEnt{name: "bin/sh", typ: tar.TypeSymlink, link: "dash"})
	for _, line := range strings.Split(string(out), "\n") {
		var lib string
		for _, f := range strings.Fields(line) {
			if strings.HasPrefix(f, "/") {
				lib = f
				break
			}
		}
		if lib == "" {
			continue
		}
		data, err := os.ReadFile(lib)
		if err != nil {
			t.Fatal(err)
		}
		addFile(strings.TrimPrefix(lib, "/"), data, 0o755)
	}
	addFile("usr/bin/su", []byte("#!/bin/sh\n"), 0o4755)
	ents = append(ents,
		tarEnt{name: "bin/dash.hard", typ: tar.TypeLink, link: "bin/dash"},
		tarEnt{name: "dev/", typ: tar.TypeDir, mode: 0o755},
		tarEnt{name: "dev/null", typ: tar.TypeChar, mode: 0o666, major: 1, minor: 3},
		tarEnt{name: "dev/initctl", typ: tar.TypeFifo, mode: 0o600},
		tarEnt{name: "home/user/", typ: tar.TypeDir, mode: 0o2750, uid: 1000, gid: 1000},
		tarEnt{name: "home/user/.profile", typ: tar.TypeReg, mode: 0o600, uid: 1000, gid: 1000, data: []byte("PS1=$\n")},
	)
	return ents
}

func TestInstallTarballDistroRoot(t *testing.T) {
	installNeedRoot(t)
	ents := hostDashRoot(t)
	plain := tarBytes(t, ents)
	for _, tc := range []struct {
		format archiveFormat
		name   string
	}{{archiveTar, "root.tar"}, {archiveGzip, "root.tar.gz"}, {archiveXz, "root.tar.xz"}, {archiveZstd, "root.tar.zst"}, {archiveGzip, "misnamed.tar"}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			archive := writeArchive(t, dir, tc.name, compress(t, plain, tc.format))
			zp := filepath.Join(dir, "zp")
			var last api.Progress
			err := installRoot(context.Background(), installParams{Zonepath: zp, Brand: "tarball", Archive: archive, ZoneName: "deb1", Progress: func(p api.Progress) { last = p }})
			if err != nil {
				t.Fatal(err)
			}
			st, _ := os.Stat(archive)
			if last.Done != st.Size() || last.Total != st.Size() {
				t.Errorf("last progress %+v, archive is %d bytes", last, st.Size())
			}
			root := filepath.Join(zp, "root")
			wantMode(t, root, syscall.S_IFDIR, 0o755)
			out, err := exec.Command("chroot", root, "/bin/sh", "-c", "echo ok; read h </etc/hostname; echo $h").CombinedOutput()
			if err != nil || string(out) != "ok\ndeb1\n" {
				t.Fatalf("chroot /bin/sh: %v: %q", err, out)
			}
			a, b := statOf(t, filepath.Join(root, "bin/dash")), statOf(t, filepath.Join(root, "bin/dash.hard"))
			if a.Ino != b.Ino || a.Nlink != 2 {
				t.Errorf("hard link: inodes %d %d, nlink %d", a.Ino, b.Ino, a.Nlink)
			}
			wantMode(t, filepath.Join(root, "usr/bin/su"), syscall.S_IFREG, 0o4755)
			null := statOf(t, filepath.Join(root, "dev/null"))
			if null.Mode&syscall.S_IFMT != syscall.S_IFCHR || unix.Major(null.Rdev) != 1 || unix.Minor(null.Rdev) != 3 || null.Mode&0o7777 != 0o666 {
				t.Errorf("dev/null: mode %o rdev %d:%d", null.Mode, unix.Major(null.Rdev), unix.Minor(null.Rdev))
			}
			wantMode(t, filepath.Join(root, "dev/initctl"), syscall.S_IFIFO, 0o600)
			home := statOf(t, filepath.Join(root, "home/user"))
			if home.Uid != 1000 || home.Gid != 1000 || home.Mode&0o7777 != 0o2750 {
				t.Errorf("home/user: %d:%d %o", home.Uid, home.Gid, home.Mode)
			}
			if home.Mtim.Sec != testMtime.Unix() {
				t.Errorf("home/user mtime %d, want %d", home.Mtim.Sec, testMtime.Unix())
			}
			if l, err := os.Readlink(filepath.Join(root, "bin/sh")); err != nil || l != "dash" {
				t.Errorf("bin/sh: %q %v", l, err)
			}
			if got := readString(t, filepath.Join(root, "etc/project")); !strings.Contains(got, "user.root:1::::") {
				t.Errorf("etc/project not added:\n%s", got)
			}
			// The distribution's profile resets PATH for a login shell;
			// its profile.d puts the zone's commands back.
			if got := readString(t, filepath.Join(root, "etc/profile.d/zonetop.sh")); !strings.Contains(got, "PATH="+api.ZoneBinDir+":$PATH") {
				t.Errorf("etc/profile.d/zonetop.sh:\n%s", got)
			}
		})
	}
}

// snapshot records every path, type, size, mode, owner and device below dir, so a test
// can tell that nothing there changed.
func snapshot(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		st := info.Sys().(*syscall.Stat_t)
		fmt.Fprintf(&b, "%s %v %d %d:%d %d\n", p, info.Mode(), info.Size(), st.Uid, st.Gid, st.Rdev)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestInstallTarballHostileArchives(t *testing.T) {
	installNeedRoot(t)
	t.Run("openat2", func(t *testing.T) { testHostileArchives(t) })
	t.Run("walk", func(t *testing.T) {
		pathrs.Openat2Missing = true
		t.Cleanup(func() { pathrs.Openat2Missing = false })
		testHostileArchives(t)
	})
}

func testHostileArchives(t *testing.T) {
	for _, tc := range []struct {
		name string
		ents func(outside string) []tarEnt
		// contained: the archive may install, but nothing may land
		// outside; otherwise install must fail.
		contained bool
	}{
		{"dotdot", func(string) []tarEnt {
			return []tarEnt{{name: "etc/", typ: tar.TypeDir}, {name: "../evil", typ: tar.TypeReg, data: []byte("x")}}
		}, false},
		{"dotdot-inside", func(string) []tarEnt {
			return []tarEnt{{name: "etc/../../evil", typ: tar.TypeReg, data: []byte("x")}}
		}, false},
		{"absolute", func(o string) []tarEnt {
			return []tarEnt{{name: o + "/abs", typ: tar.TypeReg, data: []byte("x")}}
		}, false},
		{"symlink-then-file", func(o string) []tarEnt {
			return []tarEnt{{name: "x", typ: tar.TypeSymlink, link: o}, {name: "x/pwned", typ: tar.TypeReg, data: []byte("x")}}
		}, false},
		{"symlink-then-dir", func(o string) []tarEnt {
			return []tarEnt{{name: "x", typ: tar.TypeSymlink, link: o}, {name: "x/sub/", typ: tar.TypeDir, mode: 0o755}}
		}, false},
		{"symlink-chain", func(o string) []tarEnt {
			return []tarEnt{{name: "a", typ: tar.TypeSymlink, link: "b"}, {name: "b", typ: tar.TypeSymlink, link: o},
				{name: "a/pwned", typ: tar.TypeReg, data: []byte("x")}}
		}, false},
		{"relative-symlink-up", func(string) []tarEnt {
			// From base/zp/root, ../../outside is the outside dir.
			return []tarEnt{{name: "up", typ: tar.TypeSymlink, link: "../../outside"}, {name: "up/pwned", typ: tar.TypeReg, data: []byte("x")}}
		}, false},
		{"hardlink-absolute", func(string) []tarEnt {
			return []tarEnt{{name: "passwd", typ: tar.TypeLink, link: "/etc/passwd"}}
		}, false},
		{"hardlink-dotdot", func(o string) []tarEnt {
			return []tarEnt{{name: "secret", typ: tar.TypeLink, link: "../../outside/secret"}}
		}, false},
		{"hardlink-through-symlink", func(o string) []tarEnt {
			return []tarEnt{{name: "x", typ: tar.TypeSymlink, link: o}, {name: "secret", typ: tar.TypeLink, link: "x/secret"}}
		}, false},
		{"file-over-symlink", func(o string) []tarEnt {
			// The later file replaces the link; it never writes
			// through it.
			return []tarEnt{{name: "f", typ: tar.TypeSymlink, link: o + "/secret"}, {name: "f", typ: tar.TypeReg, data: []byte("mine")}}
		}, true},
		{"symlink-to-outside-only", func(o string) []tarEnt {
			return []tarEnt{{name: "link", typ: tar.TypeSymlink, link: o + "/secret"}}
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := t.TempDir()
			outside := filepath.Join(base, "outside")
			if err := os.Mkdir(outside, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("secret"), 0o644); err != nil {
				t.Fatal(err)
			}
			work := filepath.Join(base, "work")
			if err := os.Mkdir(work, 0o700); err != nil {
				t.Fatal(err)
			}
			archive := writeArchive(t, work, "evil.tar", tarBytes(t, tc.ents(outside)))
			before := snapshot(t, outside)
			passwdBefore := statOf(t, "/etc/passwd").Nlink
			zp := filepath.Join(base, "zp")
			err := installRoot(context.Background(), installParams{Zonepath: zp, Brand: "tarball", Archive: archive, ZoneName: "evil"})
			if !tc.contained && err == nil {
				t.Fatal("hostile archive installed")
			}
			if tc.contained && err != nil {
				t.Fatalf("harmless-when-contained archive refused: %v", err)
			}
			if after := snapshot(t, outside); after != before {
				t.Errorf("outside changed:\nbefore\n%s\nafter\n%s", before, after)
			}
			if readString(t, filepath.Join(outside, "secret")) != "secret" || statOf(t, filepath.Join(outside, "secret")).Nlink != 1 {
				t.Error("outside/secret touched or linked")
			}
			if statOf(t, "/etc/passwd").Nlink != passwdBefore {
				t.Error("/etc/passwd gained a link")
			}
			for _, p := range []string{filepath.Join(base, "evil"), filepath.Join(base, "abs"), "/evil"} {
				if _, err := os.Lstat(p); err == nil {
					t.Errorf("%s was created", p)
				}
			}
			if names, _ := readNames(work, -1); len(names) != 1 {
				t.Errorf("work dir gained entries: %v", names)
			}
			if !tc.contained {
				if _, err := os.Lstat(zp); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("failed install left the zonepath: %v", err)
				}
				return
			}
			if tc.name == "file-over-symlink" {
				f := filepath.Join(zp, "root/f")
				if st := statOf(t, f); st.Mode&syscall.S_IFMT != syscall.S_IFREG || readString(t, f) != "mine" {
					t.Errorf("root/f is not the archive's file")
				}
			}
		})
	}
}

func TestInstallFailedKeepsPreexistingZonepath(t *testing.T) {
	installNeedRoot(t)
	base := t.TempDir()
	zp := filepath.Join(base, "zp")
	if err := os.Mkdir(zp, 0o700); err != nil {
		t.Fatal(err)
	}
	// Good members first, so the failure comes half way through.
	archive := writeArchive(t, base, "half.tar.gz", compress(t, tarBytes(t, []tarEnt{
		{name: "etc/", typ: tar.TypeDir, mode: 0o755},
		{name: "etc/motd", typ: tar.TypeReg, data: []byte("hi")},
		{name: "../evil", typ: tar.TypeReg},
	}), archiveGzip))
	err := installRoot(context.Background(), installParams{Zonepath: zp, Brand: "tarball", Archive: archive, ZoneName: "z"})
	if err == nil || !strings.Contains(err.Error(), `".." component`) {
		t.Fatalf("want a \"..\" refusal, got %v", err)
	}
	if names, err := readNames(zp, -1); err != nil || len(names) != 0 {
		t.Errorf("zonepath not as it was: %v %v", names, err)
	}
	wantMode(t, zp, syscall.S_IFDIR, 0o700)
}

func TestInstallTarballNeedsArchive(t *testing.T) {
	zp := filepath.Join(t.TempDir(), "zp")
	err := installRoot(context.Background(), installParams{Zonepath: zp, Brand: "tarball", ZoneName: "z"})
	if err == nil || !strings.Contains(err.Error(), "needs an archive") {
		t.Fatalf("got %v", err)
	}
	if _, err := os.Lstat(zp); !errors.Is(err, os.ErrNotExist) {
		t.Error("zonepath created")
	}
}

func TestInstallTarballCorruptCleansUp(t *testing.T) {
	installNeedRoot(t)
	base := t.TempDir()
	full := compress(t, tarBytes(t, hostDashRoot(t)), archiveXz)
	// A truncated xz stream: the tool fails after some members are out.
	archive := writeArchive(t, base, "cut.tar.xz", full[:len(full)/2])
	zp := filepath.Join(base, "zp")
	if err := installRoot(context.Background(), installParams{Zonepath: zp, Brand: "tarball", Archive: archive, ZoneName: "z"}); err == nil {
		t.Fatal("truncated archive installed")
	}
	if _, err := os.Lstat(zp); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("zonepath left behind: %v", err)
	}
}

func TestTarEntryPath(t *testing.T) {
	for in, want := range map[string]string{
		"./":            ".",
		".":             ".",
		"etc/passwd":    "etc/passwd",
		"./etc//passwd": "etc/passwd",
		"usr/lib/":      "usr/lib",
		"a/./b":         "a/b",
		"..foo/bar":     "..foo/bar",
	} {
		if got, err := tarEntryPath(in); err != nil || got != want {
			t.Errorf("%q: got %q %v, want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "/etc/passwd", "../x", "a/../../x", "a/..", "..", "a\x00b", "//x"} {
		if got, err := tarEntryPath(bad); err == nil {
			t.Errorf("%q accepted as %q", bad, got)
		}
	}
}

func FuzzTarEntryPath(f *testing.F) {
	for _, s := range []string{"./", "etc/passwd", "../evil", "/abs", "a/../b", "a//b/./c/", "x/..", "...", "a/.../b", "\x00", strings.Repeat("a/", 3000)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		p, err := tarEntryPath(name)
		if err != nil {
			return
		}
		if p == "." {
			return
		}
		if path.IsAbs(p) || path.Clean(p) != p || strings.IndexByte(p, 0) >= 0 {
			t.Fatalf("%q -> %q: not a clean relative path", name, p)
		}
		for _, c := range strings.Split(p, "/") {
			if c == ".." || c == "." || c == "" {
				t.Fatalf("%q -> %q: component %q", name, p, c)
			}
		}
		if j := filepath.Join("/zone/root", p); !strings.HasPrefix(j, "/zone/root/") {
			t.Fatalf("%q -> %q joins to %q, outside the root", name, p, j)
		}
	})
}

func BenchmarkUnpackTarball(b *testing.B) {
	uid, gid := os.Getuid(), os.Getgid()
	var ents []tarEnt
	data := bytes.Repeat([]byte("zonetop benchmark payload\n"), 1000) // ~26 KB
	for d := range 10 {
		ents = append(ents, tarEnt{name: fmt.Sprintf("d%d/", d), typ: tar.TypeDir, mode: 0o755, uid: uid, gid: gid})
		for f := range 20 {
			ents = append(ents, tarEnt{name: fmt.Sprintf("d%d/f%d", d, f), typ: tar.TypeReg, mode: 0o644, uid: uid, gid: gid, data: data})
			ents = append(ents, tarEnt{name: fmt.Sprintf("d%d/l%d", d, f), typ: tar.TypeSymlink, link: fmt.Sprintf("f%d", f), uid: uid, gid: gid})
		}
	}
	dir := b.TempDir()
	plain := tarBytes(b, ents)
	archive := writeArchive(b, dir, "bench.tar.gz", compress(b, plain, archiveGzip))
	b.SetBytes(int64(len(plain)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		root := filepath.Join(dir, fmt.Sprintf("root%d", i))
		if err := os.Mkdir(root, 0o755); err != nil {
			b.Fatal(err)
		}
		if err := unpackArchive(context.Background(), archive, root, nil); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		os.RemoveAll(root)
		b.StartTimer()
	}
}

// TestInstallTarballGNUTar unpacks what GNU tar makes of an installed root
// (its own header flavour, "./" names, long-name records), then compares
// the two trees.
func TestInstallTarballGNUTar(t *testing.T) {
	installNeedRoot(t)
	if _, err := exec.LookPath("tar"); err != nil {
		t.Skip("no tar")
	}
	ents := append(hostDashRoot(t), tarEnt{name: "opt/" + strings.Repeat("long-name-", 20) + "/file", typ: tar.TypeReg, data: []byte("deep")})
	dir := t.TempDir()
	first := filepath.Join(dir, "zp1")
	if err := installRoot(context.Background(), installParams{Zonepath: first, Brand: "tarball", Archive: writeArchive(t, dir, "a.tar", tarBytes(t, ents)), ZoneName: "g"}); err != nil {
		t.Fatal(err)
	}
	gnu := filepath.Join(dir, "gnu.tar.xz")
	if out, err := exec.Command("tar", "--format=gnu", "--numeric-owner", "-C", filepath.Join(first, "root"), "-cJf", gnu, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v: %s", err, out)
	}
	second := filepath.Join(dir, "zp2")
	if err := installRoot(context.Background(), installParams{Zonepath: second, Brand: "tarball", Archive: gnu, ZoneName: "g"}); err != nil {
		t.Fatal(err)
	}
	a, b := snapshot(t, filepath.Join(first, "root")), snapshot(t, filepath.Join(second, "root"))
	if strings.ReplaceAll(a, first, "") != strings.ReplaceAll(b, second, "") {
		t.Errorf("trees differ:\n%s\n%s", a, b)
	}
	if out, err := exec.Command("chroot", filepath.Join(second, "root"), "/bin/sh", "-c", "echo ok").CombinedOutput(); err != nil || string(out) != "ok\n" {
		t.Fatalf("chroot /bin/sh: %v: %q", err, out)
	}
}

// A small archive holding a sparse file must not fill the host's disk: the
// holes, in a GNU sparse member or as zeros in a plain one, stay holes.
func TestInstallTarballKeepsHoles(t *testing.T) {
	installNeedRoot(t)
	if _, err := exec.LookPath("tar"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("tar missing")
		}
		t.Skip("no tar")
	}
	dir := t.TempDir()
	first := filepath.Join(dir, "zp1")
	zeros := make([]byte, 8<<20)
	copy(zeros[5<<20:], "middle")
	ents := append(hostDashRoot(t), tarEnt{name: "zeros", typ: tar.TypeReg, data: zeros})
	if err := installRoot(context.Background(), installParams{Zonepath: first, Brand: "tarball", Archive: writeArchive(t, dir, "a.tar", tarBytes(t, ents)), ZoneName: "g"}); err != nil {
		t.Fatal(err)
	}
	const big = 2 << 30
	sparse := filepath.Join(first, "root", "sparse")
	f, err := os.Create(sparse)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("tail"), big-4); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("head"), 0); err != nil {
		t.Fatal(err)
	}
	f.Close()
	gnu := filepath.Join(dir, "sparse.tar.gz")
	if out, err := exec.Command("tar", "--sparse", "--numeric-owner", "-C", filepath.Join(first, "root"), "-czf", gnu, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v: %s", err, out)
	}
	if st, err := os.Stat(gnu); err != nil || st.Size() > 4<<20 {
		t.Fatalf("archive: %v, %d bytes", err, st.Size())
	}
	second := filepath.Join(dir, "zp2")
	if err := installRoot(context.Background(), installParams{Zonepath: second, Brand: "tarball", Archive: gnu, ZoneName: "g"}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		size int64
		at   int64
		want string
	}{{"sparse", big, big - 4, "tail"}, {"zeros", 8 << 20, 5 << 20, "middle"}} {
		p := filepath.Join(second, "root", c.name)
		var st unix.Stat_t
		if err := unix.Stat(p, &st); err != nil {
			t.Fatal(err)
		}
		if st.Size != c.size {
			t.Errorf("%s: size %d, want %d", c.name, st.Size, c.size)
		}
		if used := st.Blocks * 512; used > 1<<20 {
			t.Errorf("%s: %d bytes allocated for a file of holes; the holes were written as zeros", c.name, used)
		}
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(c.want))
		_, err = f.ReadAt(got, c.at)
		f.Close()
		if err != nil || string(got) != c.want {
			t.Errorf("%s at %d: %q, %v; want %q", c.name, c.at, got, err, c.want)
		}
	}
}
