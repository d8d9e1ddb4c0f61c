package main

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
	"zonetop/internal/zonenet"

	"github.com/vishvananda/netns"
)

// Shared-IP isolation, end to end: a shared-IP zone reaches the network
// from its own addresses only and sees nothing of the host's loopback,
// abstract sockets or addresses. Addresses come from 198.18.40.0/24; every
// host-side object these tests make is named ztxn*.

const (
	xnPeerNS   = "ztxnpeer"
	xnPeerAddr = "198.18.40.1"
	xnZoneAddr = "198.18.40.10"
)

// xnLab is a lab rooted in the test's own temporary directory, with zone
// names starting xn.
func xnLab(t *testing.T) *lab {
	t.Helper()
	needZones(t)
	needBusybox(t)
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "zones"), 0o755); err != nil {
		t.Fatal(err)
	}
	l := &lab{t: t, root: dir, tag: fmt.Sprintf("xn%03x", rand.IntN(1<<12))}
	t.Cleanup(l.cleanup)
	return l
}

func xnIP(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// xnPeer makes the veth pair ztxnA/ztxnB with ztxnB in the network
// namespace ztxnpeer holding 198.18.40.1/24, the far end a zone on ztxnA
// talks to. All of it goes when the test ends.
func xnPeer(t *testing.T) {
	t.Helper()
	// Leftovers of an earlier, killed run would make the names clash.
	_ = exec.Command("ip", "netns", "del", xnPeerNS).Run()
	_ = exec.Command("ip", "link", "del", "ztxnA").Run()
	t.Cleanup(func() {
		_ = exec.Command("ip", "link", "del", "ztxnA").Run()
		_ = exec.Command("ip", "netns", "del", xnPeerNS).Run()
	})
	xnIP(t, "netns", "add", xnPeerNS)
	xnIP(t, "link", "add", "ztxnA", "type", "veth", "peer", "name", "ztxnB")
	xnIP(t, "link", "set", "ztxnB", "netns", xnPeerNS)
	xnIP(t, "link", "set", "ztxnA", "up")
	xnIP(t, "-n", xnPeerNS, "addr", "add", xnPeerAddr+"/24", "dev", "ztxnB")
	xnIP(t, "-n", xnPeerNS, "link", "set", "ztxnB", "up")
	xnIP(t, "-n", xnPeerNS, "link", "set", "lo", "up")
}

// xnListenPeer opens a TCP listener in ztxnpeer. The socket is made on a
// thread moved there and never moved back (Go discards the thread); the
// socket stays in that namespace.
func xnListenPeer(t *testing.T, addr string) net.Listener {
	t.Helper()
	type res struct {
		ln  net.Listener
		err error
	}
	ch := make(chan res, 1)
	go func() {
		runtime.LockOSThread()
		ns, err := netns.GetFromName(xnPeerNS)
		if err != nil {
			ch <- res{err: err}
			return
		}
		defer ns.Close()
		if err := netns.Set(ns); err != nil {
			ch <- res{err: err}
			return
		}
		ln, err := net.Listen("tcp", addr)
		ch <- res{ln, err}
	}()
	r := <-ch
	if r.err != nil {
		t.Fatalf("listen in %s on %s: %v", xnPeerNS, addr, r.err)
	}
	t.Cleanup(func() { r.ln.Close() })
	return r.ln
}

// xnServe answers every connection with msg and reports each peer's
// address on the returned channel.
func xnServe(ln net.Listener, msg string) <-chan string {
	seen := make(chan string, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			select {
			case seen <- c.RemoteAddr().String():
			default:
			}
			_, _ = io.WriteString(c, msg)
			_ = c.Close()
		}
	}()
	return seen
}

// xnHostSecrets opens what a zone must not reach: a TCP listener on the
// host's 127.0.0.1 and an abstract unix socket. It returns the TCP port
// and the abstract name (with its @).
func xnHostSecrets(t *testing.T) (int, string) {
	t.Helper()
	tl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tl.Close() })
	xnServe(tl, "host-secret")
	name := fmt.Sprintf("@ztxn-%d-%x", os.Getpid(), rand.Uint32())
	ul, err := net.Listen("unix", name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ul.Close() })
	xnServe(ul, "host-secret")
	return tl.Addr().(*net.TCPAddr).Port, name
}

// xnProbe builds the static helper (testdata/netprobe) and copies it into
// the zone as /bin/netprobe.
func xnProbe(t *testing.T, l *lab, zone string) {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "netprobe")
	cmd := exec.Command("go", "build", "-o", bin, "./testdata/netprobe")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build netprobe: %v: %s", err, out)
	}
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(l.zonepath(zone), "root", "bin", "netprobe"), b, 0o755); err != nil {
		t.Fatal(err)
	}
}

// xnZoneIfaces reads `ip -o addr` in the zone: interface names and the
// addresses on them.
func xnZoneIfaces(t *testing.T, l *lab, zone string) (links, addrs []string) {
	t.Helper()
	for _, line := range strings.Split(l.zlogin(zone, "ip", "-o", "link"), "\n") {
		if f := strings.Fields(line); len(f) > 1 {
			name, _, _ := strings.Cut(strings.TrimSuffix(f[1], ":"), "@")
			links = append(links, name)
		}
	}
	for _, line := range strings.Split(l.zlogin(zone, "ip", "-o", "addr"), "\n") {
		f := strings.Fields(line)
		for i := 0; i+1 < len(f); i++ {
			if f[i] == "inet" || f[i] == "inet6" {
				addrs = append(addrs, f[i+1])
			}
		}
	}
	slices.Sort(links)
	slices.Sort(addrs)
	return links, addrs
}

// xnHostClean fails the test if the host shows anything of a shared-IP
// zone on ztxnA: its address, an upper link on ztxnA, a zonetop rule.
func xnHostClean(t *testing.T, when string) {
	t.Helper()
	if out := xnIP(t, "-o", "addr"); strings.Contains(out, xnZoneAddr) {
		t.Errorf("%s: the host holds the zone's address %s:\n%s", when, xnZoneAddr, out)
	}
	if out := xnIP(t, "-d", "-o", "link"); strings.Contains(out, "@ztxnA") {
		t.Errorf("%s: the host has a link on ztxnA:\n%s", when, out)
	}
	for _, fam := range []string{"-4", "-6"} {
		if out := xnIP(t, fam, "rule"); strings.Contains(out, xnZoneAddr) {
			t.Errorf("%s: the host has a rule for the zone:\n%s", when, out)
		}
	}
	if left, err := zonenet.NetLeftovers(0); err != nil {
		t.Error(err)
	} else {
		for _, x := range left {
			if strings.Contains(x, "ztxnA") || strings.Contains(x, xnZoneAddr) {
				t.Errorf("%s: zonetop leftover on the host: %s", when, x)
			}
		}
	}
}

// TestSharedIPIsolation: a shared-IP zone with an address on ztxnA reaches
// a peer from that address and nothing of the host's private endpoints,
// as root and as an unprivileged zone user; halt leaves nothing behind.
func TestSharedIPIsolation(t *testing.T) {
	l := xnLab(t)
	xnPeer(t)
	port, abstract := xnHostSecrets(t)
	peerLn := xnListenPeer(t, xnPeerAddr+":0")
	peerSeen := xnServe(peerLn, "peer-hello")

	z := l.newZone("busybox", "add net", "set physical=ztxnA", "set address="+xnZoneAddr+"/24",
		"set defrouter="+xnPeerAddr, "end")
	l.ok("zoneadm", "-z", z, "install")
	xnProbe(t, l, z)
	l.ok("zoneadm", "-z", z, "boot")
	l.state(z, "running")
	xnHostClean(t, "running")

	links, addrs := xnZoneIfaces(t, l, z)
	if !slices.Equal(links, []string{"lo", "ztxnA"}) {
		t.Errorf("zone links = %v, want only lo and ztxnA", links)
	}
	want := []string{"127.0.0.1/8", xnZoneAddr + "/24"}
	if slices.Contains(addrs, "::1/128") {
		want = append(want, "::1/128")
		slices.Sort(want)
	}
	if !slices.Equal(addrs, want) {
		t.Errorf("zone addresses = %v, want %v", addrs, want)
	}
	if out := l.zlogin(z, "ip", "route"); !strings.Contains(out, "default via "+xnPeerAddr+" dev ztxnA") {
		t.Errorf("zone has no default route via its defrouter:\n%s", out)
	}
	log, _ := os.ReadFile(filepath.Join(l.root, "var", "log", "zonetop", z+".zoneadmd.log"))
	if !strings.Contains(string(log), "ztxnA macvlan") && !strings.Contains(string(log), "ztxnA ipvlan") {
		t.Errorf("zoneadmd log does not say which device carries the zone's address:\n%s", log)
	}

	hostTCP := fmt.Sprintf("127.0.0.1:%d", port)
	for _, user := range [][]string{nil, {"-l", "nobody"}} {
		who := "root"
		if user != nil {
			who = "nobody"
		}
		probe := func(args ...string) string {
			argv := append(append([]string{"zlogin"}, user...), z, "/bin/netprobe")
			return strings.TrimSpace(l.ok(append(argv, args...)...))
		}
		if out := probe("tcp", hostTCP); strings.HasPrefix(out, "ok") || strings.Contains(out, "host-secret") {
			t.Errorf("%s in the zone reached the host's loopback listener %s: %s", who, hostTCP, out)
		} else if out != "err ECONNREFUSED" && out != "err ENETUNREACH" {
			t.Errorf("%s: connect to %s: %s, want ECONNREFUSED or ENETUNREACH", who, hostTCP, out)
		}
		if out := probe("unix", abstract); out != "err ECONNREFUSED" {
			t.Errorf("%s: connect to the host's abstract socket %s: %s, want err ECONNREFUSED", who, abstract, out)
		}
		if out := probe("bind", "198.18.40.99"); out != "err EADDRNOTAVAIL" {
			t.Errorf("%s: bind 198.18.40.99: %s, want err EADDRNOTAVAIL", who, out)
		}
		if out := probe("bind", xnZoneAddr); !strings.HasPrefix(out, "ok "+xnZoneAddr+":") {
			t.Errorf("%s: bind the zone's own %s: %s", who, xnZoneAddr, out)
		}
		if out := probe("tcp", xnPeerAddr+":"+fmt.Sprint(peerLn.Addr().(*net.TCPAddr).Port)); !strings.HasPrefix(out, "ok local="+xnZoneAddr+":") || !strings.Contains(out, "peer-hello") {
			t.Errorf("%s: connect to the peer: %s", who, out)
		} else {
			select {
			case from := <-peerSeen:
				if h, _, _ := net.SplitHostPort(from); h != xnZoneAddr {
					t.Errorf("%s: the peer saw the zone's connection from %s, want %s", who, from, xnZoneAddr)
				}
			case <-time.After(5 * time.Second):
				t.Errorf("%s: the peer saw no connection", who)
			}
		}
		argv := append(append([]string{"zlogin"}, user...), z, "cat", "/proc/net/unix", "/proc/net/tcp")
		procNet := l.ok(argv...)
		if strings.Contains(procNet, abstract) {
			t.Errorf("%s: /proc/net/unix in the zone shows the host's %s", who, abstract)
		}
		if hex := fmt.Sprintf("0100007F:%04X", port); strings.Contains(procNet, hex) {
			t.Errorf("%s: /proc/net/tcp in the zone shows the host's listener (%s):\n%s", who, hex, procNet)
		}
	}

	// The host no longer sees the zone's address, but a second zone
	// asking for it is still refused, and the first keeps it.
	z2 := l.newZone("busybox", "add net", "set physical=ztxnA", "set address="+xnZoneAddr+"/24", "end")
	l.ok("zoneadm", "-z", z2, "install")
	l.fails(1, []string{xnZoneAddr, "already used by zone " + z}, "zoneadm", "-z", z2, "ready")
	l.state(z2, "installed")
	if _, addrs := xnZoneIfaces(t, l, z); !slices.Contains(addrs, xnZoneAddr+"/24") {
		t.Errorf("after the refused zone, the first zone's addresses are %v", addrs)
	}

	l.ok("zoneadm", "-z", z, "halt")
	l.state(z, "installed")
	xnHostClean(t, "after halt")
	if !linkExists("ztxnA") {
		t.Errorf("halt took the host's ztxnA away")
	}
	l.checkGone(z)
}

// TestSharedIPNoNet: a shared-IP zone without net resources has only its
// own loopback, which works, and nothing of the host's.
func TestSharedIPNoNet(t *testing.T) {
	l := xnLab(t)
	port, abstract := xnHostSecrets(t)
	z := l.newZone("busybox")
	l.ok("zoneadm", "-z", z, "install")
	xnProbe(t, l, z)
	l.ok("zoneadm", "-z", z, "ready")
	links, addrs := xnZoneIfaces(t, l, z)
	if !slices.Equal(links, []string{"lo"}) {
		t.Errorf("zone links = %v, want only lo", links)
	}
	for _, a := range addrs {
		if a != "127.0.0.1/8" && a != "::1/128" {
			t.Errorf("zone without net has address %s", a)
		}
	}
	if out := l.zlogin(z, "ip", "-o", "link", "show", "lo"); !strings.Contains(out, "UP") {
		t.Errorf("zone's lo is not up: %s", out)
	}
	if out := strings.TrimSpace(l.zlogin(z, "/bin/netprobe", "loop", "127.0.0.1")); out != `ok read="loop"` {
		t.Errorf("listener on the zone's own 127.0.0.1: %s", out)
	}
	if out := strings.TrimSpace(l.zlogin(z, "/bin/netprobe", "tcp", fmt.Sprintf("127.0.0.1:%d", port))); out != "err ECONNREFUSED" {
		t.Errorf("zone reached the host's loopback listener: %s", out)
	}
	if out := strings.TrimSpace(l.zlogin(z, "/bin/netprobe", "unix", abstract)); out != "err ECONNREFUSED" {
		t.Errorf("zone reached the host's abstract socket: %s", out)
	}
	l.ok("zoneadm", "-z", z, "halt")
	l.checkGone(z)
}
