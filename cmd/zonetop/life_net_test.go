package main

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Networks from zonecfg `net` resources, end to end. Addresses come from
// 198.18.0.0/15 and traffic only crosses links these tests make.

func needBusybox(t *testing.T) {
	t.Helper()
	if _, err := os.Stat("/bin/busybox"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("no /bin/busybox (Debian busybox-static)")
		}
		t.Skip("no /bin/busybox")
	}
}

// hostLink makes a veth pair in the host's namespace (the kernel may lack
// the dummy driver) for a shared-IP zone to plumb its address on; it is
// removed when the test ends.
func hostLink(t *testing.T) string {
	t.Helper()
	name := fmt.Sprintf("ztt%05x", rand.IntN(1<<20))
	if out, err := exec.Command("ip", "link", "add", name, "type", "veth", "peer", "name", name+"p").CombinedOutput(); err != nil {
		t.Fatalf("ip link add %s: %v: %s", name, err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "link", "del", name).Run() })
	if out, err := exec.Command("ip", "link", "set", name, "up").CombinedOutput(); err != nil {
		t.Fatalf("ip link set %s up: %v: %s", name, err, out)
	}
	return name
}

// linkAddrs lists the IPv4 addresses on a host link ("" if it is gone).
func linkAddrs(t *testing.T, link string) string {
	t.Helper()
	out, _ := exec.Command("ip", "-o", "-4", "addr", "show", "dev", link).CombinedOutput()
	return string(out)
}

func linkExists(link string) bool {
	_, err := os.Lstat("/sys/class/net/" + link)
	return err == nil
}

// TestSharedIPNet: the zone's address is on a device of its own on the
// physical interface, inside the zone and never on the host; the zone's
// root cannot reconfigure that device or its routes, nor open raw sockets;
// halt takes it all away.
func TestSharedIPNet(t *testing.T) {
	needZones(t)
	needBusybox(t)
	l := newLab(t)
	phys := hostLink(t)
	addr := fmt.Sprintf("198.18.%d.%d", 1+rand.IntN(250), 2+rand.IntN(250))
	z := l.newZone("busybox", "add net", "set physical="+phys, "set address="+addr+"/24", "end")
	l.ok("zoneadm", "-z", z, "install")
	l.ok("zoneadm", "-z", z, "ready")
	l.state(z, "ready")
	if strings.Contains(linkAddrs(t, phys), addr) {
		t.Errorf("ready zone's address %s is on the host's %s: %s", addr, phys, linkAddrs(t, phys))
	}
	zoneAddrs := func() string { return l.zlogin(z, "ip", "-o", "-4", "addr", "show", "dev", phys) }
	if out := zoneAddrs(); !strings.Contains(out, addr+"/24") {
		t.Errorf("zone's %s lacks its address %s:\n%s", phys, addr, out)
	}
	l.ok("zoneadm", "-z", z, "boot")
	// The zone cannot change its interface, addresses or routes.
	for _, argv := range [][]string{
		{"ip", "link", "set", phys, "down"},
		{"ip", "addr", "add", "198.18.254.254/32", "dev", phys},
		{"ip", "route", "add", "198.19.254.0/24", "dev", phys},
		{"ip", "addr", "del", addr + "/24", "dev", phys},
	} {
		out, errOut, code := l.run(append([]string{"zlogin", z}, argv...)...)
		if code == 0 {
			t.Errorf("zone root could run %v: %s%s", argv, out, errOut)
		}
	}
	if out := zoneAddrs(); !strings.Contains(out, addr+"/24") || strings.Contains(out, "198.18.254.254") {
		t.Errorf("zone changed its %s:\n%s", phys, out)
	}
	if out := l.zlogin(z, "ip", "route"); strings.Contains(out, "198.19.254.0") {
		t.Errorf("zone added a route: %s", out)
	}
	if out, _ := exec.Command("ip", "route", "show", "198.19.254.0/24").Output(); len(out) > 0 {
		t.Errorf("zone added a host route: %s", out)
		_ = exec.Command("ip", "route", "del", "198.19.254.0/24").Run()
	}
	// No raw sockets: arping needs a packet socket, traceroute a raw one.
	for _, argv := range [][]string{
		{"arping", "-c", "1", "-w", "1", "-I", phys, addr},
		{"traceroute", "-n", "-m", "1", "-w", "1", "-I", "198.18.0.1"},
	} {
		out, errOut, code := l.run(append([]string{"zlogin", z}, argv...)...)
		if code == 0 || !strings.Contains(strings.ToLower(errOut), "not permitted") && !strings.Contains(strings.ToLower(errOut), "denied") {
			t.Errorf("zone root %v: exit %d, want a permission error: %s%s", argv, code, out, errOut)
		}
	}
	caps := zoneCaps(t, l, z)
	if caps&(1<<12|1<<13) != 0 {
		t.Errorf("shared-IP zone's bounding set %#x holds net_admin or net_raw", caps)
	}
	l.ok("zoneadm", "-z", z, "halt")
	l.state(z, "installed")
	if strings.Contains(linkAddrs(t, phys), addr) {
		t.Errorf("address %s on %s after halt", addr, phys)
	}
	// Only the test's own veth peer may name phys as its link.
	out, _ := exec.Command("ip", "-o", "link").Output()
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 1 && strings.HasSuffix(f[1], "@"+phys+":") && f[1] != phys+"p@"+phys+":" {
			t.Errorf("a link on %s is left after halt: %s", phys, line)
		}
	}
	l.checkGone(z)
}

// zoneCaps is the capability bounding set of a process in the zone.
func zoneCaps(t *testing.T, l *lab, z string) uint64 {
	t.Helper()
	out := l.zlogin(z, "cat", "/proc/self/status")
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(line, "CapBnd:"); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				t.Fatalf("CapBnd %q: %v", v, err)
			}
			return n
		}
	}
	t.Fatalf("no CapBnd in the zone's /proc/self/status:\n%s", out)
	return 0
}

// TestExclusiveIPNet: the zone owns a veth whose host side (zt*) the test
// addresses; the host pings the zone and connects to a port in it; halt
// removes the veth.
func TestExclusiveIPNet(t *testing.T) {
	needZones(t)
	needBusybox(t)
	l := newLab(t)
	sub := fmt.Sprintf("198.18.%d", 1+rand.IntN(250))
	// defrouter with allowed-address, as illumos' zonecfg accepts it.
	z := l.newZone("busybox", "set ip-type=exclusive", "add net", "set physical=net0", "set allowed-address="+sub+".2/24", "set defrouter="+sub+".1", "end")
	l.ok("zoneadm", "-z", z, "install")
	l.ok("zoneadm", "-z", z, "boot")
	id := l.state(z, "running")
	host := fmt.Sprintf("zt%dn0", id)
	if !linkExists(host) {
		t.Fatalf("no host veth %s for zone ID %d", host, id)
	}
	if out, err := exec.Command("ip", "addr", "add", sub+".1/24", "dev", host).CombinedOutput(); err != nil {
		t.Fatalf("address the host veth: %v: %s", err, out)
	}
	if out := l.zlogin(z, "ip", "-o", "-4", "addr", "show", "dev", "net0"); !strings.Contains(out, sub+".2/24") {
		t.Errorf("zone's net0 lacks %s.2/24:\n%s", sub, out)
	}
	if out := l.zlogin(z, "ip", "-4", "route", "show", "default"); !strings.Contains(out, "via "+sub+".1") {
		t.Errorf("zone has no default route via its defrouter %s.1:\n%s", sub, out)
	}
	if out, err := exec.Command("/bin/busybox", "ping", "-c", "1", "-W", "5", sub+".2").CombinedOutput(); err != nil {
		t.Errorf("host cannot ping the zone: %v: %s", err, out)
	}
	// A listener in the zone, detached from zlogin's pipes.
	l.zlogin(z, "sh", "-c", "nc -l -p 7777 -e echo hello-from-zone </dev/null >/dev/null 2>&1 &")
	var got string
	for i := 0; i < 50 && got == ""; i++ {
		c, err := net.DialTimeout("tcp", sub+".2:7777", 2*time.Second)
		if err != nil {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		b := make([]byte, 64)
		n, _ := c.Read(b)
		c.Close()
		got = strings.TrimSpace(string(b[:n]))
	}
	if got != "hello-from-zone" {
		t.Errorf("TCP from host to zone: got %q, want hello-from-zone", got)
	}
	if caps := zoneCaps(t, l, z); caps&(1<<12) == 0 {
		t.Errorf("exclusive-IP zone's bounding set %#x lacks net_admin", caps)
	}
	l.ok("zoneadm", "-z", z, "halt")
	l.state(z, "installed")
	if linkExists(host) {
		t.Errorf("host veth %s left after halt", host)
	}
	l.checkGone(z)
}

// TestExclusiveIPNoNets: an exclusive-IP zone without net resources still
// gets a network namespace of its own with lo up.
func TestExclusiveIPNoNets(t *testing.T) {
	needZones(t)
	needBusybox(t)
	l := newLab(t)
	z := l.newZone("busybox", "set ip-type=exclusive")
	l.ok("zoneadm", "-z", z, "install")
	l.ok("zoneadm", "-z", z, "ready")
	out := l.zlogin(z, "ip", "-o", "link")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], " lo:") || !strings.Contains(lines[0], "UP") {
		t.Errorf("exclusive zone without nets: want only lo, up:\n%s", out)
	}
	if out := l.zlogin(z, "ping", "-c", "1", "-W", "2", "127.0.0.1"); !strings.Contains(out, "1 packets received") {
		t.Errorf("ping lo in zone:\n%s", out)
	}
	l.ok("zoneadm", "-z", z, "halt")
	l.checkGone(z)
}
