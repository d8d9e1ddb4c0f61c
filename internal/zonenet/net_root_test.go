package zonenet

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"reflect"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
	"zonetop/internal/configs"
	"zonetop/internal/ztest"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// These tests build their "host" in a scratch network namespace owned by
// one locked thread, so they never touch the real host's interfaces and
// other tests scanning the host for zt* links never see theirs. The
// scratch namespace dies with its thread, but each test still checks that
// TeardownNet removed everything before that.

// netNeedPriv skips (fails under CI=true) when the test cannot make
// network namespaces.
func netNeedPriv(t *testing.T) {
	t.Helper()
	ztest.Ring(t)
	why := ""
	switch {
	case os.Geteuid() != 0:
		why = "needs root"
	default:
		if _, err := exec.LookPath("ip"); err != nil {
			why = "needs iproute2's ip to check the kernel's view"
		} else if _, err := exec.LookPath("nsenter"); err != nil {
			why = "needs nsenter"
		}
	}
	if why == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal(why)
	}
	t.Skip(why)
}

var errNetNoUnshare = errors.New("cannot unshare a network namespace")

// netInScratch runs fn on a thread moved into a fresh network namespace.
// The thread is never unlocked, so Go discards it and the namespace with
// it when fn returns. fn reports with t.Errorf (never t.Fatal: it is not
// the test goroutine) and returns at the first failed step.
func netInScratch(t *testing.T, fn func()) {
	t.Helper()
	netNeedPriv(t)
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			done <- fmt.Errorf("%w: %v", errNetNoUnshare, err)
			return
		}
		defer func() { done <- nil }()
		if err := netRun("ip", "link", "set", "lo", "up"); err != nil {
			t.Errorf("scratch namespace: %v", err)
			return
		}
		fn()
	}()
	if err := <-done; err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
}

// netRun runs a command in the calling thread's network namespace (exec
// forks from the current, locked thread) and returns its error with its
// output.
func netRun(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, out)
	}
	return nil
}

func netOutput(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// netStandIn starts a zsched stand-in: a sleeping child in new net and
// uts namespaces. It is killed by its pid when the test ends.
func netStandIn(t *testing.T) int {
	t.Helper()
	netNeedPriv(t)
	cmd := exec.Command("sleep", "600")
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWNET | syscall.CLONE_NEWUTS,
		Pdeathsig:  syscall.SIGKILL,
	}
	// Pdeathsig fires when the thread that forked the child exits, and
	// the tests discard threads (netInScratch, netListenIn): the fork
	// happens on a thread of its own, kept until the test ends.
	started, stop, stopped := make(chan error), make(chan struct{}), make(chan struct{})
	go func() {
		runtime.LockOSThread()
		defer close(stopped)
		err := cmd.Start()
		started <- err
		if err != nil {
			return
		}
		<-stop
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		runtime.UnlockOSThread()
	}()
	if err := <-started; err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("start zsched stand-in: %v", err)
		}
		t.Skipf("start zsched stand-in: %v", err)
	}
	t.Cleanup(func() {
		close(stop)
		<-stopped
	})
	return cmd.Process.Pid
}

// netRandNet returns a random /24 inside 198.18.0.0/15 as its first three
// octets, e.g. "198.19.23".
func netRandNet() string {
	return fmt.Sprintf("198.%d.%d", 18+rand.IntN(2), rand.IntN(256))
}

// netTestZoneID is far above the IDs real zones get, so a test's host
// links never share a name with a live zone's.
func netTestZoneID() int { return 60000 + rand.IntN(5000) }

// netLinksWithPrefix lists the calling thread's namespace's links whose
// names start with prefix.
func netLinksWithPrefix(prefix string) ([]string, error) {
	out, err := netOutput("ip", "-o", "link", "show")
	if err != nil {
		return nil, err
	}
	var names []string
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		name := strings.TrimSuffix(f[1], ":")
		name, _, _ = strings.Cut(name, "@")
		if strings.HasPrefix(name, prefix) {
			names = append(names, name)
		}
	}
	return names, nil
}

func TestNetExclusive(t *testing.T) {
	pid := netStandIn(t)
	netInScratch(t, func() {
		sub := netRandNet()
		id := netTestZoneID()
		host := NetHostLinkName(id, 0)
		nets := []configs.NetSpec{{Physical: "net0", AllowedAddress: sub + ".2/24", Defrouter: sub + ".1", MACAddr: "02:7a:00:00:00:02"}}
		st, err := SetupNetFor("xz", "exclusive", nets, pid, id)
		if err != nil {
			t.Errorf("SetupNet: %v", err)
			return
		}
		defer func() { _ = TeardownNet(st) }()
		if st.IPType != "exclusive" || len(st.HostLinks) != 1 || st.HostLinks[0] != host || st.HostLinkMACs[host] == "" {
			t.Errorf("state = %+v", st)
		}
		// The host side was created with zonetop's address ("set", 3),
		// not a random one (1) that udev would rewrite.
		if want := netHostLinkMAC(netHostSalt(), "xz", host).String(); st.HostLinkMACs[host] != want {
			t.Errorf("host link %s has address %s, want %s", host, st.HostLinkMACs[host], want)
		}
		// sysfs shows the network namespace of its mounter: a sysfs of
		// this scratch namespace, in a throw-away mount namespace.
		if b, err := netOutput("unshare", "-m", "--propagation", "private", "sh", "-c",
			"mount -t sysfs sysfs /sys && cat /sys/class/net/"+host+"/addr_assign_type"); err != nil || strings.TrimSpace(b) != "3" {
			t.Errorf("host link %s addr_assign_type %q (%v), want 3 (set)", host, b, err)
		}
		if err := netRun("ip", "addr", "add", sub+".1/24", "dev", host); err != nil {
			t.Error(err)
			return
		}

		// The zone's view: lo up, net0 with the address and MAC, the
		// default route, and nothing of the host's.
		pidS := fmt.Sprint(pid)
		zone := func(args ...string) string {
			out, err := netOutput("nsenter", append([]string{"-t", pidS, "-n", "ip"}, args...)...)
			if err != nil {
				t.Error(err)
			}
			return out
		}
		links := zone("-o", "link", "show")
		if n := strings.Count(links, "\n"); n != 2 || !strings.Contains(links, ": lo:") || !strings.Contains(links, ": net0@") {
			t.Errorf("zone links, want only lo and net0:\n%s", links)
		}
		if !strings.Contains(zone("-o", "link", "show", "lo"), "UP") {
			t.Error("lo is not up in the zone")
		}
		net0 := zone("addr", "show", "dev", "net0")
		for _, want := range []string{"inet " + sub + ".2/24", "link/ether 02:7a:00:00:00:02", ",UP"} {
			if !strings.Contains(net0, want) {
				t.Errorf("zone net0 lacks %q:\n%s", want, net0)
			}
		}
		if r := zone("route", "show", "default"); !strings.Contains(r, "default via "+sub+".1 dev net0") {
			t.Errorf("zone default route: %q", r)
		}

		// Traffic: the host reaches a listener inside the zone over the veth.
		ln, err := netListenIn(pid, sub+".2:0")
		if err != nil {
			t.Error(err)
			return
		}
		defer ln.Close()
		go func() {
			c, err := ln.Accept()
			if err == nil {
				_, _ = c.Write([]byte("zone"))
				_ = c.Close()
			}
		}()
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Errorf("host to zone: %v", err)
			return
		}
		got, err := io.ReadAll(c)
		_ = c.Close()
		if err != nil || string(got) != "zone" {
			t.Errorf("host to zone read %q, %v", got, err)
		}
		if local := c.LocalAddr().(*net.TCPAddr).IP.String(); local != sub+".1" {
			t.Errorf("connection left the host from %s, not over the veth", local)
		}

		// What a new zoneadmd would find after the old one died.
		if rec, err := RecoverNetState("xz", "exclusive", nets, id); err != nil || !reflect.DeepEqual(rec, st) {
			t.Errorf("RecoverNetState = %+v, %v; want %+v", rec, err, st)
		}
		if left, err := NetLeftovers(id); err != nil || len(left) != 1 || left[0] != "link "+host {
			t.Errorf("NetLeftovers before teardown = %q, %v", left, err)
		}

		if err := TeardownNet(st); err != nil {
			t.Errorf("TeardownNet: %v", err)
		}
		if left, err := netLinksWithPrefix("zt"); err != nil || len(left) > 0 {
			t.Errorf("after teardown, zt links left: %v %v", left, err)
		}
		if left, err := NetLeftovers(0); err != nil || len(left) > 0 {
			t.Errorf("NetLeftovers after teardown = %q, %v", left, err)
		}
		if out := zone("-o", "link", "show"); strings.Contains(out, "net0") {
			t.Errorf("zone still has net0 after teardown:\n%s", out)
		}
		if err := TeardownNet(st); err != nil {
			t.Errorf("second TeardownNet: %v", err)
		}
	})
}

// netListenIn opens a TCP listener in the network namespace of pid. The
// socket is made on a thread briefly moved there; it stays in that
// namespace whatever thread later uses it.
func netListenIn(pid int, addr string) (net.Listener, error) {
	type result struct {
		ln  net.Listener
		err error
	}
	res := make(chan result, 1)
	go func() {
		// Locked and never unlocked: should the move back fail, the
		// thread is discarded rather than reused in the wrong namespace.
		runtime.LockOSThread()
		zns, err := netns.GetFromPid(pid)
		if err != nil {
			res <- result{err: err}
			return
		}
		defer zns.Close()
		if err := netns.Set(zns); err != nil {
			res <- result{err: err}
			return
		}
		ln, err := net.Listen("tcp", addr)
		res <- result{ln, err}
	}()
	r := <-res
	return r.ln, r.err
}

// A failure half way leaves nothing behind: the second net's defrouter is
// not on its subnet, so its route fails after both veths exist.
func TestNetExclusiveUndo(t *testing.T) {
	pid := netStandIn(t)
	netInScratch(t, func() {
		sub := netRandNet()
		id := netTestZoneID()
		nets := []configs.NetSpec{
			{Physical: "net0", AllowedAddress: sub + ".2/24"},
			{Physical: "net1", AllowedAddress: sub + ".130/25", Defrouter: sub + ".1"},
		}
		_, err := SetupNetFor("uz", "exclusive", nets, pid, id)
		if err == nil {
			t.Error("SetupNet with an unreachable defrouter succeeded")
			return
		}
		for _, want := range []string{"zone uz: net 1 (defrouter " + sub + ".1)", "default route"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error does not say %q: %v", want, err)
			}
		}
		if left, err := netLinksWithPrefix("zt"); err != nil || len(left) > 0 {
			t.Errorf("after a failed setup, zt links left: %v %v", left, err)
		}
		out, err := netOutput("nsenter", "-t", fmt.Sprint(pid), "-n", "ip", "-o", "link", "show")
		if err != nil || strings.Contains(out, "net0") || strings.Contains(out, "net1") {
			t.Errorf("after a failed setup the zone still has links: %v\n%s", err, out)
		}
	})
}

// zsched in the host's own namespace must never make the host's
// interfaces the zone's.
func TestNetExclusiveRefusesHostNamespace(t *testing.T) {
	netInScratch(t, func() {
		// A child of this thread without CLONE_NEWNET shares the scratch
		// "host" namespace.
		cmd := exec.Command("sleep", "600")
		if err := cmd.Start(); err != nil {
			t.Error(err)
			return
		}
		defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
		_, err := SetupNetFor("hz", "exclusive", []configs.NetSpec{{Physical: "net0"}}, cmd.Process.Pid, netTestZoneID())
		if err == nil || !strings.Contains(err.Error(), "shares the host's network namespace") {
			t.Errorf("SetupNet into the host namespace: %v", err)
		}
		if left, _ := netLinksWithPrefix("zt"); len(left) > 0 {
			t.Errorf("zt links made: %v", left)
		}
	})
}

func TestNetExclusiveBridgeVLAN(t *testing.T) {
	pid := netStandIn(t)
	netInScratch(t, func() {
		id := netTestZoneID()
		host := NetHostLinkName(id, 0)
		br := fmt.Sprintf("ztbr%d", rand.IntN(10000))
		// Kernels built without CONFIG_BRIDGE_VLAN_FILTERING (these
		// machines) have bridges but no VLANs on them.
		vlans := netRun("ip", "link", "add", br, "type", "bridge", "vlan_filtering", "1") == nil
		if !vlans {
			t.Logf("bridge VLAN filtering unsupported here; testing the bridge attach without vlan-id")
			if err := netRun("ip", "link", "add", br, "type", "bridge"); err != nil {
				t.Error(err)
				return
			}
		}
		nets := []configs.NetSpec{{Physical: "eth0", GlobalNIC: br}}
		if vlans {
			nets[0].VLANID = "7"
		}
		st, err := SetupNetFor("bz", "exclusive", nets, pid, id)
		if err != nil {
			t.Errorf("SetupNet: %v", err)
			return
		}
		defer func() { _ = TeardownNet(st) }()
		if out, err := netOutput("ip", "-o", "link", "show", host); err != nil || !strings.Contains(out, "master "+br) {
			t.Errorf("host link not on bridge %s: %v\n%s", br, err, out)
		}
		if out, err := netOutput("bridge", "vlan", "show", "dev", host); !vlans {
			// nothing to check
		} else if err != nil {
			t.Error(err)
		} else if !strings.Contains(out, "7 PVID Egress Untagged") || strings.Contains(out, " 1 PVID") {
			t.Errorf("bridge vlans of %s, want only 7 untagged:\n%s", host, out)
		}
		if err := TeardownNet(st); err != nil {
			t.Errorf("TeardownNet: %v", err)
		}
		if left, _ := netLinksWithPrefix("zt"); len(left) != 1 || left[0] != br {
			t.Errorf("after teardown zt links are %v, want only the test's bridge", left)
		}

		_, err = SetupNetFor("bz", "exclusive", []configs.NetSpec{{Physical: "eth0", GlobalNIC: "lo"}}, pid, id)
		if err == nil || !strings.Contains(err.Error(), "global-nic lo") || !strings.Contains(err.Error(), "bridges only") {
			t.Errorf("non-bridge global-nic: %v", err)
		}
		_, err = SetupNetFor("bz", "exclusive", []configs.NetSpec{{Physical: "eth0", GlobalNIC: "ztnone0"}}, pid, id)
		if err == nil || !strings.Contains(err.Error(), "no such interface") {
			t.Errorf("missing global-nic: %v", err)
		}
	})
}

// netScratchNIC makes the stand-in for a host NIC a shared-IP zone's
// address goes on: a dummy link, or where the kernel has no dummy driver
// (these machines) one end of a veth pair, both inside the scratch
// namespace. It is up, without addresses. Its name is short enough for
// the zone label (ztdNNN:zIIIII) to fit in 15 bytes.
func netScratchNIC() (string, error) {
	name := fmt.Sprintf("ztd%d", rand.IntN(1000))
	err := netlink.LinkAdd(&netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Name: name}})
	if errors.Is(err, unix.EOPNOTSUPP) {
		err = netlink.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name}, PeerName: name + "p"})
		if err == nil {
			err = netRun("ip", "link", "set", name+"p", "up")
		}
	}
	if err != nil {
		return "", fmt.Errorf("make %s: %w", name, err)
	}
	return name, netRun("ip", "link", "set", name, "up")
}

// netScratchVeth makes a veth pair in the scratch namespace, both ends up
// and without addresses: the first stands in for the host NIC a shared-IP
// zone's device hangs off, the second for the wire beyond it (the host
// cannot reach a macvlan or ipvlan child through its own lower device,
// but it can through the far end of a veth).
func netScratchVeth() (nic, wire string, err error) {
	nic = fmt.Sprintf("ztxn%d", rand.IntN(10000))
	wire = nic + "w"
	if err := netlink.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: nic}, PeerName: wire}); err != nil {
		return "", "", fmt.Errorf("make %s: %w", nic, err)
	}
	if err := netRun("ip", "link", "set", nic, "up"); err != nil {
		return "", "", err
	}
	return nic, wire, netRun("ip", "link", "set", wire, "up")
}

// netZoneIP runs ip in the network namespace of pid.
func netZoneIP(t *testing.T, pid int, args ...string) string {
	t.Helper()
	out, err := netOutput("nsenter", append([]string{"-t", fmt.Sprint(pid), "-n", "ip"}, args...)...)
	if err != nil {
		t.Error(err)
	}
	return out
}

// A shared-IP zone's addresses live on a device of its own in its own
// namespace: the host shows none of them, the zone shows nothing else.
func TestNetShared(t *testing.T) {
	pid := netStandIn(t)
	netInScratch(t, func() {
		id := netTestZoneID()
		nic, wire, err := netScratchVeth()
		if err != nil {
			t.Error(err)
			return
		}
		nets := []configs.NetSpec{
			{Physical: nic, Address: "198.18.40.5/24", Defrouter: "198.18.40.1"},
			{Physical: nic, Address: "198.18.41.6"},
		}
		// The second net has no defrouter: it borrows the host's default
		// router on the same NIC and subnet.
		if err := netRun("ip", "route", "add", "default", "via", "198.18.41.1", "dev", nic, "onlink"); err != nil {
			t.Error(err)
			return
		}
		hostAddrs, _ := netOutput("ip", "-o", "addr")
		hostRules, _ := netOutput("ip", "rule")
		st, err := SetupNetFor("sz", "shared", nets, pid, id)
		if err != nil {
			t.Errorf("SetupNet: %v", err)
			return
		}
		defer func() { _ = TeardownNet(st) }()
		if len(st.ZoneLinks) != 1 || st.ZoneLinks[0].Name != nic || st.ZoneLinks[0].Lower != nic ||
			(st.ZoneLinks[0].Kind != "macvlan" && st.ZoneLinks[0].Kind != "ipvlan") ||
			len(st.SharedAddrs)+len(st.SharedRoutes)+len(st.HostLinks) != 0 || st.ZschedPid != pid || st.NetNS == 0 {
			t.Errorf("state = %+v", st)
			return
		}
		kind := st.ZoneLinks[0].Kind

		// The host: nothing changed, no upper link on the NIC.
		if out, _ := netOutput("ip", "-o", "addr"); out != hostAddrs {
			t.Errorf("the host's addresses changed:\n%s", out)
		}
		if out, _ := netOutput("ip", "rule"); out != hostRules {
			t.Errorf("the host's rules changed:\n%s", out)
		}
		if left, err := netLinksWithPrefix(""); err != nil || len(left) != 3 {
			t.Errorf("host links = %v, %v; want lo, %s, %s", left, err, nic, wire)
		}

		// The zone: lo up and the device, with both addresses and the
		// defrouter, and no IPv6 address it was not given.
		links := netZoneIP(t, pid, "-o", "link", "show")
		if n := strings.Count(links, "\n"); n != 2 || !strings.Contains(links, ": lo:") || !strings.Contains(links, ": "+nic+"@") {
			t.Errorf("zone links, want only lo and %s:\n%s", nic, links)
		}
		if !strings.Contains(netZoneIP(t, pid, "-o", "link", "show", "lo"), "UP") {
			t.Error("lo is not up in the zone")
		}
		dev := netZoneIP(t, pid, "-d", "addr", "show", "dev", nic)
		// iproute2 pads the kind with one space or two, by version.
		for _, want := range []string{"inet 198.18.40.5/24", "inet 198.18.41.6/24", ",UP", kind + " mode "} {
			if !strings.Contains(strings.Join(strings.Fields(dev), " "), want) {
				t.Errorf("zone %s lacks %q:\n%s", nic, want, dev)
			}
		}
		if strings.Contains(dev, "inet6") {
			t.Errorf("zone %s has an IPv6 address nobody configured:\n%s", nic, dev)
		}
		r := netZoneIP(t, pid, "route", "show", "default")
		for _, want := range []string{"default via 198.18.40.1 dev " + nic + " src 198.18.40.5 \n",
			"default via 198.18.41.1 dev " + nic + " src 198.18.41.6 metric 257"} {
			if !strings.Contains(r, want) {
				t.Errorf("zone default routes lack %q:\n%s", want, r)
			}
		}

		// Traffic: the far end of the wire reaches a listener on the
		// zone's address, and sees it from that address.
		if err := netRun("ip", "addr", "add", "198.18.40.1/24", "dev", wire); err != nil {
			t.Error(err)
			return
		}
		ln, err := netListenIn(pid, "198.18.40.5:0")
		if err != nil {
			t.Error(err)
			return
		}
		defer ln.Close()
		go func() {
			c, err := ln.Accept()
			if err == nil {
				_, _ = io.WriteString(c, c.RemoteAddr().String())
				_ = c.Close()
			}
		}()
		c, err := net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
		if err != nil {
			t.Errorf("wire to zone: %v", err)
			return
		}
		got, _ := io.ReadAll(c)
		_ = c.Close()
		if !strings.HasPrefix(string(got), "198.18.40.1:") {
			t.Errorf("zone saw the connection from %q", got)
		}

		// A new zoneadmd finds nothing of this zone on the host: its
		// network lives and dies with its namespace.
		if rec, err := RecoverNetState("sz", "shared", nets, id); err != nil || len(rec.SharedAddrs)+len(rec.SharedRoutes)+len(rec.ZoneLinks) != 0 {
			t.Errorf("RecoverNetState = %+v, %v; want nothing", rec, err)
		}
		if left, err := NetLeftovers(id); err != nil || len(left) != 0 {
			t.Errorf("NetLeftovers = %q, %v; want none", left, err)
		}

		if err := TeardownNet(st); err != nil {
			t.Errorf("TeardownNet: %v", err)
		}
		if out := netZoneIP(t, pid, "-o", "link", "show"); strings.Contains(out, nic) {
			t.Errorf("zone still has %s after teardown:\n%s", nic, out)
		}
		if err := TeardownNet(st); err != nil {
			t.Errorf("second TeardownNet: %v", err)
		}
		if _, err := netOutput("ip", "link", "show", nic); err != nil {
			t.Errorf("teardown took the host's %s: %v", nic, err)
		}
	})
}

// At halt zsched is gone before the network is torn down: the devices are
// taken off the wire and the namespace pin released, so the kernel frees
// the namespace and its devices.
func TestNetSharedTeardownAfterZsched(t *testing.T) {
	netNeedPriv(t)
	netInScratch(t, func() {
		nic, _, err := netScratchVeth()
		if err != nil {
			t.Error(err)
			return
		}
		// The stand-in is this thread's child: it dies with the thread,
		// which netInScratch discards, at the latest.
		cmd := exec.Command("sleep", "600")
		cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET, Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			t.Error(err)
			return
		}
		st, err := SetupNetFor("hz", "shared", []configs.NetSpec{{Physical: nic, Address: "198.18.40.7/24"}}, cmd.Process.Pid, netTestZoneID())
		if err != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			t.Errorf("SetupNet: %v", err)
			return
		}
		pin, pinned := netPins.m[st.NetNS]
		if !pinned {
			t.Error("no pin on the zone's namespace")
			return
		}
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		// Through the pin, the device is still there: up, addressed.
		zone, err := netlink.NewHandleAt(pin, unix.NETLINK_ROUTE)
		if err != nil {
			t.Error(err)
			return
		}
		defer zone.Close()
		if err := TeardownNet(st); err != nil {
			t.Errorf("TeardownNet after zsched died: %v", err)
		}
		if _, still := netPins.m[st.NetNS]; still {
			t.Error("the pin outlived teardown")
		}
		l, err := zone.LinkByName(nic)
		if err != nil {
			t.Errorf("device gone before the namespace: %v", err)
			return
		}
		if l.Attrs().Flags&net.FlagUp != 0 {
			t.Error("device still up after teardown")
		}
		if addrs, _ := zone.AddrList(l, netlink.FAMILY_ALL); len(addrs) != 0 {
			t.Errorf("device still has addresses after teardown: %v", addrs)
		}
	})
}

// A shared-IP zone without net resources gets its loopback and nothing
// else.
func TestNetSharedNoNets(t *testing.T) {
	pid := netStandIn(t)
	netInScratch(t, func() {
		st, err := SetupNetFor("lz", "shared", nil, pid, netTestZoneID())
		if err != nil {
			t.Errorf("SetupNet: %v", err)
			return
		}
		if out := netZoneIP(t, pid, "-o", "link", "show"); strings.Count(out, "\n") != 1 || !strings.Contains(out, ": lo:") || !strings.Contains(out, "UP") {
			t.Errorf("zone links, want lo up only:\n%s", out)
		}
		if err := TeardownNet(st); err != nil {
			t.Errorf("TeardownNet: %v", err)
		}
	})
}

func TestNetSharedRefusals(t *testing.T) {
	pid := netStandIn(t)
	netInScratch(t, func() {
		id := netTestZoneID()
		nic, _, err := netScratchVeth()
		if err != nil {
			t.Error(err)
			return
		}
		zoneLinks := func() string { return netZoneIP(t, pid, "-o", "link", "show") }
		_, err = SetupNetFor("rz", "shared", []configs.NetSpec{{Physical: "ztmissing0", Address: "198.18.40.2"}}, pid, id)
		if err == nil || !strings.Contains(err.Error(), "zone rz: net 0 (ztmissing0): no such interface on the host") {
			t.Errorf("missing physical: %v", err)
		}
		// The first device is made, the second net fails: the undo takes
		// the first away again.
		nets := []configs.NetSpec{{Physical: nic, Address: "198.18.40.3"}, {Physical: "ztmissing0", Address: "198.18.40.4"}}
		if _, err := SetupNetFor("rz", "shared", nets, pid, id); err == nil {
			t.Error("setup with a missing physical succeeded")
		}
		if out := zoneLinks(); strings.Contains(out, nic) {
			t.Errorf("failed setup left its first device in the zone:\n%s", out)
		}
		// A defrouter off the zone's subnet fails after the device and
		// its address exist.
		nets = []configs.NetSpec{{Physical: nic, Address: "198.18.40.3/25", Defrouter: "198.18.40.200"}}
		if _, err := SetupNetFor("rz", "shared", nets, pid, id); err == nil || !strings.Contains(err.Error(), "defrouter 198.18.40.200") {
			t.Errorf("unreachable defrouter: %v", err)
		}
		if out := zoneLinks(); strings.Contains(out, nic) {
			t.Errorf("failed setup left its device in the zone:\n%s", out)
		}
		// An address the host holds is refused: both would answer for it
		// on the same wire.
		if err := netRun("ip", "addr", "add", "198.18.40.9/32", "dev", "lo"); err != nil {
			t.Error(err)
			return
		}
		_, err = SetupNetFor("rz", "shared", []configs.NetSpec{{Physical: nic, Address: "198.18.40.9/24"}}, pid, id)
		if err == nil || !strings.Contains(err.Error(), "already present on host interface lo") {
			t.Errorf("address held by lo: %v", err)
		}
		// zsched in the host's namespace would put the zone's device on
		// the host: refused.
		cmd := exec.Command("sleep", "600")
		if err := cmd.Start(); err != nil {
			t.Error(err)
			return
		}
		defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
		_, err = SetupNetFor("rz", "shared", []configs.NetSpec{{Physical: nic, Address: "198.18.40.3"}}, cmd.Process.Pid, id)
		if err == nil || !strings.Contains(err.Error(), "shares the host's network namespace") {
			t.Errorf("SetupNet into the host namespace: %v", err)
		}
		if out, _ := netOutput("ip", "-o", "addr"); strings.Contains(out, "198.18.40.3") {
			t.Errorf("the host got the zone's address:\n%s", out)
		}
		if out := zoneLinks(); strings.Count(out, "\n") != 1 {
			t.Errorf("refused setups left links in the zone:\n%s", out)
		}
	})
}

// Zones readied by a version that put shared-IP addresses on the host
// NIC (labelled <if>:z<ID>) with a policy rule for their defrouter are
// still found and cleaned up when this version halts them.
func TestNetSharedLegacyCleanup(t *testing.T) {
	netInScratch(t, func() {
		id := netTestZoneID()
		nic, err := netScratchNIC()
		if err != nil {
			t.Error(err)
			return
		}
		table := fmt.Sprint(netSharedTable(id, 0))
		for _, argv := range [][]string{
			{"addr", "add", "198.18.40.5/24", "dev", nic, "label", netSharedLabel(nic, id)},
			{"route", "add", "default", "via", "198.18.40.1", "dev", nic, "table", table},
			{"rule", "add", "from", "198.18.40.5", "lookup", table, "priority", fmt.Sprint(netRulePriority)},
		} {
			if err := netRun("ip", argv...); err != nil {
				t.Error(err)
				return
			}
		}
		nets := []configs.NetSpec{{Physical: nic, Address: "198.18.40.5/24", Defrouter: "198.18.40.1"}}
		want := NetState{Zone: "oz", ZoneID: id, IPType: "shared",
			SharedAddrs:  []SharedAddr{{Link: nic, Address: "198.18.40.5/24"}},
			SharedRoutes: []SharedRoute{{Source: "198.18.40.5/32", Gateway: "198.18.40.1", Link: nic, Table: netSharedTable(id, 0), Priority: netRulePriority}}}
		rec, err := RecoverNetState("oz", "shared", nets, id)
		if err != nil || !reflect.DeepEqual(rec, want) {
			t.Errorf("RecoverNetState = %+v, %v; want %+v", rec, err, want)
		}
		if left, err := NetLeftovers(id); err != nil || len(left) != 2 {
			t.Errorf("NetLeftovers = %q, %v; want the address and the rule", left, err)
		}
		// The state such a version recorded is what halt reads.
		if err := TeardownNet(want); err != nil {
			t.Errorf("TeardownNet: %v", err)
		}
		if left, err := NetLeftovers(0); err != nil || len(left) > 0 {
			t.Errorf("NetLeftovers after teardown = %q, %v", left, err)
		}
		if out, _ := netOutput("ip", "route", "show", "table", table); strings.TrimSpace(out) != "" {
			t.Errorf("table %s left after teardown: %q", table, out)
		}
		// An address without the zone's label is not the zone's.
		if err := netRun("ip", "addr", "add", "198.18.40.10/24", "dev", nic); err != nil {
			t.Error(err)
			return
		}
		rec, err = RecoverNetState("oz", "shared", []configs.NetSpec{{Physical: nic, Address: "198.18.40.10/24"}}, id)
		if err != nil || len(rec.SharedAddrs) != 0 {
			t.Errorf("RecoverNetState claimed an address the zone never added: %+v, %v", rec, err)
		}
	})
}

// BenchmarkNetExclusiveCycle measures one exclusive-IP net's setup and
// teardown, the network share of a zone's ready and halt.
func BenchmarkNetExclusiveCycle(b *testing.B) {
	ztest.RequireRoot(b, "net benchmark")
	cmd := exec.Command("sleep", "600")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		b.Skip(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			b.Error(err)
			return
		}
		nets := []configs.NetSpec{{Physical: "net0", AllowedAddress: "198.18.200.2/24", Defrouter: "198.18.200.1"}}
		for b.Loop() {
			st, err := SetupNetFor("bench", "exclusive", nets, cmd.Process.Pid, 65000)
			if err != nil {
				b.Error(err)
				return
			}
			if err := TeardownNet(st); err != nil {
				b.Error(err)
				return
			}
		}
	}()
	<-done
}

// BenchmarkNetSharedCycle measures one shared-IP net's setup and teardown:
// the zone's lo, its sysctls, the device on the NIC, its address and
// defrouter.
func BenchmarkNetSharedCycle(b *testing.B) {
	ztest.RequireRoot(b, "net benchmark")
	cmd := exec.Command("sleep", "600")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET, Pdeathsig: syscall.SIGKILL}
	runtime.LockOSThread() // Pdeathsig follows the forking thread
	defer runtime.UnlockOSThread()
	if err := cmd.Start(); err != nil {
		b.Skip(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			b.Error(err)
			return
		}
		nic, _, err := netScratchVeth()
		if err != nil {
			b.Error(err)
			return
		}
		nets := []configs.NetSpec{{Physical: nic, Address: "198.18.40.2/24", Defrouter: "198.18.40.1"}}
		for b.Loop() {
			st, err := SetupNetFor("bench", "shared", nets, cmd.Process.Pid, 65000)
			if err != nil {
				b.Error(err)
				return
			}
			if err := TeardownNet(st); err != nil {
				b.Error(err)
				return
			}
		}
	}()
	<-done
}
