package main

import (
	"archive/tar"
	"compress/gzip"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestLifeCycleBrands walks one zone of each brand through every state an
// operator sees: configured → installed → ready → running → installed
// (with nothing left) → running again with a new zone ID → configured.
func TestLifeCycleBrands(t *testing.T) {
	needZones(t)
	t.Run("sparse", func(t *testing.T) { lifeCycle(t, "sparse", "") })
	t.Run("busybox", func(t *testing.T) {
		if _, err := os.Stat("/bin/busybox"); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatal("no /bin/busybox (Debian busybox-static)")
			}
			t.Skip("no /bin/busybox")
		}
		lifeCycle(t, "busybox", "")
	})
	t.Run("tarball-gz", func(t *testing.T) {
		lifeCycle(t, "tarball", buildRootArchive(t, "gz"))
	})
	t.Run("tarball-zst", func(t *testing.T) {
		lifeCycle(t, "tarball", buildRootArchive(t, "zst"))
	})
}

func lifeCycle(t *testing.T, brand, archive string) {
	l := newLab(t)
	z := l.newZone(brand)
	l.state(z, "configured")
	if out := l.ok("zoneadm", "list", "-i"); strings.Contains(out, z) {
		t.Errorf("list -i shows configured zone %s:\n%s", z, out)
	}
	install := []string{"zoneadm", "-z", z, "install"}
	if archive != "" {
		install = append(install, "-a", archive)
	}
	l.ok(install...)
	l.state(z, "installed")
	checkMode(t, l.zonepath(z), 0o700)
	checkMode(t, filepath.Join(l.zonepath(z), "root"), 0o755)
	if out := l.ok("zoneadm", "list"); strings.Contains(out, z) {
		t.Errorf("plain list shows installed zone %s:\n%s", z, out)
	}

	l.ok("zoneadm", "-z", z, "ready")
	id := l.state(z, "ready")
	if got := strings.TrimSpace(l.zlogin(z, "hostname")); got != z {
		t.Errorf("hostname in ready zone: %q, want %q", got, z)
	}
	l.ok("zoneadm", "-z", z, "boot")
	if got := l.state(z, "running"); got != id {
		t.Errorf("boot from ready changed the zone ID %d → %d", id, got)
	}
	if out := l.ok("zoneadm", "list"); !strings.Contains(out, z) {
		t.Errorf("plain list does not show running zone %s:\n%s", z, out)
	}
	lv := strings.Split(l.ok("zoneadm", "list", "-v"), "\n")
	if len(lv) < 3 || strings.Join(strings.Fields(lv[0]), " ") != "ID NAME STATUS PATH BRAND IP" ||
		strings.Join(strings.Fields(lv[1])[:3], " ") != "0 global running" {
		t.Errorf("list -v: want the illumos header, then the global zone:\n%s", strings.Join(lv, "\n"))
	}
	v := strings.Fields(l.verbose(z))
	if len(v) < 6 || v[0] == "-" || v[2] != "running" || v[3] != "/zones/"+z || v[4] != brand {
		t.Errorf("list -v line %q: want ID NAME running /zones/%s %s IP", strings.Join(v, " "), z, brand)
	}
	if got := strings.TrimSpace(l.zlogin(z, "hostname")); got != z {
		t.Errorf("hostname in running zone: %q, want %q", got, z)
	}
	if _, _, code := l.run("zlogin", z, "sh", "-c", "exit 7"); code != 7 {
		t.Errorf("zlogin exit status %d, want 7", code)
	}

	l.ok("zoneadm", "-z", z, "halt")
	l.state(z, "installed")
	l.checkGone(z)

	l.ok("zoneadm", "-z", z, "boot")
	if id2 := l.state(z, "running"); id2 == id {
		t.Errorf("second boot reused zone ID %d; illumos gives a new one", id)
	}
	l.ok("zoneadm", "-z", z, "halt")
	l.state(z, "installed")
	l.checkGone(z)

	l.ok("zoneadm", "-z", z, "uninstall", "-F")
	l.state(z, "configured")
	if _, err := os.Lstat(filepath.Join(l.zonepath(z), "root")); err == nil {
		t.Errorf("uninstall left %s/root", l.zonepath(z))
	}
}

func checkMode(t *testing.T, p string, want os.FileMode) {
	t.Helper()
	st, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != want || st.Sys().(*syscall.Stat_t).Uid != 0 {
		t.Errorf("%s: mode %o uid %d, want %o root", p, st.Mode().Perm(), st.Sys().(*syscall.Stat_t).Uid, want)
	}
}

// buildRootArchive makes a small distribution-like root from host files:
// a dynamically linked /bin/sh (dash) with the libraries ldd names, a few
// tools and /etc; compressed as gz (in Go) or zst (with zstd(1)).
func buildRootArchive(t *testing.T, comp string) string {
	t.Helper()
	return buildRootArchiveWith(t, comp, nil, nil, nil)
}

// buildRootArchiveWith is buildRootArchive with more host tools (archive
// path: name on PATH), host files (archive path: host path) and
// directories.
func buildRootArchiveWith(t *testing.T, comp string, moreTools, moreFiles map[string]string, moreDirs []string) string {
	t.Helper()
	needZones(t)
	dir := t.TempDir()
	tarPath := filepath.Join(dir, "root.tar")
	f, err := os.Create(tarPath)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(f)
	dirs := map[string]bool{}
	addDir := func(p string) {
		var parts []string
		for _, c := range strings.Split(strings.Trim(p, "/"), "/") {
			parts = append(parts, c)
			d := strings.Join(parts, "/")
			if dirs[d] {
				continue
			}
			dirs[d] = true
			must(t, tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755}))
		}
	}
	addFile := func(dst, src string, mode int64) {
		b, err := os.ReadFile(src)
		must(t, err)
		addDir(filepath.Dir(dst))
		must(t, tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: strings.TrimPrefix(dst, "/"), Mode: mode, Size: int64(len(b))}))
		_, err = tw.Write(b)
		must(t, err)
	}
	addData := func(dst, data string) {
		addDir(filepath.Dir(dst))
		must(t, tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: strings.TrimPrefix(dst, "/"), Mode: 0o644, Size: int64(len(data))}))
		_, err := io.WriteString(tw, data)
		must(t, err)
	}
	tools := map[string]string{"/bin/dash": "dash", "/bin/hostname": "hostname", "/bin/cat": "cat", "/bin/ls": "ls"}
	for dst, name := range moreTools {
		tools[dst] = name
	}
	libs := map[string]bool{}
	for dst, name := range tools {
		src, err := exec.LookPath(name)
		if err != nil {
			t.Fatalf("host has no %s for the test root: %v", name, err)
		}
		src, _ = filepath.EvalSymlinks(src)
		addFile(dst, src, 0o755)
		out, err := exec.Command("ldd", src).Output()
		if err != nil {
			t.Fatalf("ldd %s: %v", src, err)
		}
		for _, line := range strings.Split(string(out), "\n") {
			for _, w := range strings.Fields(line) {
				if strings.HasPrefix(w, "/") {
					libs[w] = true
				}
			}
		}
	}
	for lib := range libs {
		real, err := filepath.EvalSymlinks(lib)
		must(t, err)
		addFile(lib, real, 0o755)
	}
	for dst, src := range moreFiles {
		addFile(dst, src, 0o644)
	}
	for _, d := range moreDirs {
		addDir(d)
	}
	addDir("/bin")
	must(t, tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: "bin/sh", Linkname: "dash", Mode: 0o777}))
	addData("/etc/passwd", "root:x:0:0:root:/root:/bin/sh\n")
	addData("/etc/group", "root:x:0:\n")
	addData("/etc/os-release", "NAME=\"zonetop test root\"\n")
	for _, d := range []string{"/root", "/tmp", "/proc", "/sys", "/dev", "/var/run", "/usr/bin"} {
		addDir(d)
	}
	must(t, tw.Close())
	must(t, f.Close())
	switch comp {
	case "gz":
		in, err := os.Open(tarPath)
		must(t, err)
		defer in.Close()
		out, err := os.Create(tarPath + ".gz")
		must(t, err)
		zw := gzip.NewWriter(out)
		_, err = io.Copy(zw, in)
		must(t, err)
		must(t, zw.Close())
		must(t, out.Close())
		return tarPath + ".gz"
	case "zst":
		if _, err := exec.LookPath("zstd"); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatal("no zstd(1) to build a .tar.zst")
			}
			t.Skip("no zstd(1)")
		}
		if out, err := exec.Command("zstd", "-q", tarPath, "-o", tarPath+".zst").CombinedOutput(); err != nil {
			t.Fatalf("zstd: %v: %s", err, out)
		}
		return tarPath + ".zst"
	}
	return tarPath
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
