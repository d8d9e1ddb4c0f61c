package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"zonetop/internal/audit"
)

// TestCloneZone: zoneadm clone installs a configured zone as a copy of an
// installed one. A running source, another brand or a missing source name
// is refused; while the copy runs the source cannot be booted; a clone
// killed half-way leaves the new zone incomplete, and the next clone
// cleans up and finishes. The clone boots under its own name with the
// source's files, and the source is unchanged.
func TestCloneZone(t *testing.T) {
	l := newLab(t)
	src := l.newZone("busybox", "set max-lwps=300")
	l.ok("zoneadm", "-z", src, "install")
	marker := filepath.Join(l.zonepath(src), "root/root/marker")
	must(t, os.WriteFile(marker, []byte("from the source\n"), 0o600))
	dst := l.newZone("busybox")
	sparse := l.newZone("sparse")

	l.ok("zoneadm", "-z", src, "boot")
	l.fails(1, []string{src, "running", "halt it first"}, "zoneadm", "-z", dst, "clone", src)
	l.state(dst, "configured")
	l.ok("zoneadm", "-z", src, "halt")
	l.fails(1, []string{"brand busybox", "brand sparse"}, "zoneadm", "-z", sparse, "clone", src)
	l.fails(1, []string{"cannot be cloned from itself"}, "zoneadm", "-z", src, "clone", src)
	l.fails(2, []string{"name the source zone"}, "zoneadm", "-z", dst, "clone")
	l.fails(2, []string{"-m zfs"}, "zoneadm", "-z", dst, "clone", "-m", "zfs", src)
	l.state(dst, "configured")

	l.whilePaused = func() {
		l.fails(1, []string{"held by another operation"}, "zoneadm", "-z", src, "boot")
	}
	l.killAt("clone-begin", "zoneadm", "-z", dst, "clone", src)
	l.whilePaused = nil
	if v := l.verbose(dst); !strings.Contains(v, "incomplete") || !strings.Contains(v, "clone interrupted") {
		t.Errorf("after a killed clone: %q, want incomplete with the clone interrupted", v)
	}

	l.ok("zoneadm", "-z", dst, "clone", "-m", "copy", src)
	l.state(dst, "installed")
	l.ok("zoneadm", "-z", dst, "boot")
	if h := strings.TrimSpace(l.zlogin(dst, "hostname")); h != dst {
		t.Errorf("the clone's hostname is %q, want %q", h, dst)
	}
	if m := l.zlogin(dst, "cat", "/root/marker"); m != "from the source\n" {
		t.Errorf("the clone's /root/marker = %q", m)
	}
	l.ok("zoneadm", "-z", dst, "halt")

	l.ok("zoneadm", "-z", src, "boot")
	if h := strings.TrimSpace(l.zlogin(src, "hostname")); h != src {
		t.Errorf("the source's hostname is %q after the clone, want %q", h, src)
	}
	l.ok("zoneadm", "-z", src, "halt")
	l.checkGone(src)
	l.checkGone(dst)

	recs, _, err := audit.ReadAudit(l.root, audit.AuditQuery{Zone: dst})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range recs {
		// incomplete: the killed clone left it so.
		if r.What == "clone from "+src && r.Before == "incomplete" && r.After == "installed" && r.Result == "ok" {
			found = true
		}
	}
	if !found {
		t.Errorf("no audit record of the clone: %+v", recs)
	}
}
