package engine

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
	if err := cmd.Start(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("start zsched stand-in: %v", err)
		}
		t.Skipf("start zsched stand-in: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
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
		host := netHostLinkName(id, 0)
		nets := []NetSpec{{Physical: "net0", AllowedAddress: sub + ".2/24", Defrouter: sub + ".1", MACAddr: "02:7a:00:00:00:02"}}
		st, err := SetupNetFor("xz", "exclusive", nets, pid, id)
		if err != nil {
			t.Errorf("SetupNet: %v", err)
			return
		}
		defer func() { _ = TeardownNet(st) }()
		if st.IPType != "exclusive" || len(st.HostLinks) != 1 || st.HostLinks[0] != host || st.HostLinkMACs[host] == "" {
			t.Errorf("state = %+v", st)
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
		nets := []NetSpec{
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
		_, err := SetupNetFor("hz", "exclusive", []NetSpec{{Physical: "net0"}}, cmd.Process.Pid, netTestZoneID())
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
		host := netHostLinkName(id, 0)
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
		nets := []NetSpec{{Physical: "eth0", GlobalNIC: br}}
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

		_, err = SetupNetFor("bz", "exclusive", []NetSpec{{Physical: "eth0", GlobalNIC: "lo"}}, pid, id)
		if err == nil || !strings.Contains(err.Error(), "global-nic lo") || !strings.Contains(err.Error(), "bridges only") {
			t.Errorf("non-bridge global-nic: %v", err)
		}
		_, err = SetupNetFor("bz", "exclusive", []NetSpec{{Physical: "eth0", GlobalNIC: "ztnone0"}}, pid, id)
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

func TestNetShared(t *testing.T) {
	netInScratch(t, func() {
		sub, sub2 := netRandNet(), netRandNet()
		id := netTestZoneID()
		dummy, err := netScratchNIC()
		if err != nil {
			t.Error(err)
			return
		}
		nets := []NetSpec{
			{Physical: dummy, Address: sub + ".5/24", Defrouter: sub + ".1"},
			{Physical: dummy, Address: sub2 + ".6"},
		}
		st, err := SetupNetFor("sz", "shared", nets, 0, id)
		if err != nil {
			t.Errorf("SetupNet: %v", err)
			return
		}
		defer func() { _ = TeardownNet(st) }()
		if len(st.SharedAddrs) != 2 || len(st.HostLinks) != 0 || len(st.SharedRoutes) != 1 {
			t.Errorf("state = %+v", st)
		}
		addrs, _ := netOutput("ip", "-o", "addr", "show", "dev", dummy)
		label := netSharedLabel(dummy, id)
		for _, want := range []string{"inet " + sub + ".5/24", "inet " + sub2 + ".6/24", label} {
			if !strings.Contains(addrs, want) {
				t.Errorf("%s lacks %q:\n%s", dummy, want, addrs)
			}
		}
		table := fmt.Sprint(netSharedTable(id, 0))
		if out, _ := netOutput("ip", "rule", "show"); !strings.Contains(out, "from "+sub+".5 lookup "+table) {
			t.Errorf("no rule for the zone's source address:\n%s", out)
		}
		if out, _ := netOutput("ip", "route", "show", "table", table); !strings.Contains(out, "default via "+sub+".1 dev "+dummy) {
			t.Errorf("table %s: %q", table, out)
		}
		if out, _ := netOutput("ip", "route", "show", "default"); out != "" {
			t.Errorf("the host's main table got a default route: %q", out)
		}

		if rec, err := RecoverNetState("sz", "shared", nets, id); err != nil || !reflect.DeepEqual(rec, st) {
			t.Errorf("RecoverNetState = %+v, %v; want %+v", rec, err, st)
		}
		if left, err := NetLeftovers(id); err != nil || len(left) != 3 {
			t.Errorf("NetLeftovers = %q, %v; want two addresses and a rule", left, err)
		}

		// A second zone asking for an address the host already has is
		// refused and changes nothing.
		_, err = SetupNetFor("other", "shared", []NetSpec{{Physical: dummy, Address: sub2 + ".6/24"}}, 0, id+1)
		if err == nil || !strings.Contains(err.Error(), "zone other: net 0 ("+sub2+".6/24): address is already present on host interface "+dummy) {
			t.Errorf("duplicate address: %v", err)
		}
		if after, _ := netOutput("ip", "-o", "addr", "show", "dev", dummy); after != addrs {
			t.Errorf("a refused setup changed %s:\n%s", dummy, after)
		}

		if err := TeardownNet(st); err != nil {
			t.Errorf("TeardownNet: %v", err)
		}
		out, _ := netOutput("ip", "-o", "addr", "show", "dev", dummy)
		if strings.Contains(out, sub+".5") || strings.Contains(out, sub2+".6") {
			t.Errorf("addresses left after teardown:\n%s", out)
		}
		if out, _ := netOutput("ip", "rule", "show"); strings.Contains(out, "lookup "+table) {
			t.Errorf("rule left after teardown:\n%s", out)
		}
		if out, _ := netOutput("ip", "route", "show", "table", table); strings.TrimSpace(out) != "" {
			t.Errorf("table %s left after teardown: %q", table, out)
		}
		// Another zone now holds one of the addresses: a stale repeat of
		// the first zone's teardown must leave it alone.
		other, err := SetupNetFor("other", "shared", nets[1:], 0, id+1)
		if err != nil {
			t.Errorf("SetupNet of a second zone: %v", err)
			return
		}
		if err := TeardownNet(st); err != nil {
			t.Errorf("second TeardownNet: %v", err)
		}
		if out, _ := netOutput("ip", "-o", "addr", "show", "dev", dummy); !strings.Contains(out, sub2+".6/24") {
			t.Errorf("a repeated teardown removed another zone's address:\n%s", out)
		}
		if err := TeardownNet(other); err != nil {
			t.Errorf("TeardownNet of the second zone: %v", err)
		}
		if left, err := NetLeftovers(0); err != nil || len(left) > 0 {
			t.Errorf("NetLeftovers after teardown = %q, %v", left, err)
		}
		// The interface itself may vanish before teardown.
		st2, err := SetupNetFor("sz", "shared", nets[:1], 0, id)
		if err != nil {
			t.Errorf("SetupNet again: %v", err)
			return
		}
		if err := netRun("ip", "link", "del", dummy); err != nil {
			t.Error(err)
		}
		if err := TeardownNet(st2); err != nil {
			t.Errorf("TeardownNet after the interface went: %v", err)
		}
		if out, _ := netOutput("ip", "rule", "show"); strings.Contains(out, "lookup "+table) {
			t.Errorf("rule left after teardown:\n%s", out)
		}
	})
}

func TestNetSharedRefusals(t *testing.T) {
	netInScratch(t, func() {
		sub := netRandNet()
		id := netTestZoneID()
		dummy, err := netScratchNIC()
		if err != nil {
			t.Error(err)
			return
		}
		_, err = SetupNetFor("rz", "shared", []NetSpec{{Physical: "ztmissing0", Address: sub + ".2"}}, 0, id)
		if err == nil || !strings.Contains(err.Error(), "zone rz: net 0 (ztmissing0): no such interface on the host") {
			t.Errorf("missing physical: %v", err)
		}
		// The first address is made, the second net fails: the undo
		// takes the first away again.
		nets := []NetSpec{{Physical: dummy, Address: sub + ".3"}, {Physical: "ztmissing0", Address: sub + ".4"}}
		if _, err := SetupNetFor("rz", "shared", nets, 0, id); err == nil {
			t.Error("setup with a missing physical succeeded")
		}
		if out, _ := netOutput("ip", "-o", "addr", "show", "dev", dummy); strings.Contains(out, sub+".3") {
			t.Errorf("failed setup left its first address:\n%s", out)
		}
		// An address the host holds on another interface counts too.
		if err := netRun("ip", "addr", "add", sub+".9/32", "dev", "lo"); err != nil {
			t.Error(err)
			return
		}
		_, err = SetupNetFor("rz", "shared", []NetSpec{{Physical: dummy, Address: sub + ".9/24"}}, 0, id)
		if err == nil || !strings.Contains(err.Error(), "already present on host interface lo") {
			t.Errorf("address held by lo: %v", err)
		}
		// Recovery claims only addresses marked as the zone's.
		if err := netRun("ip", "addr", "add", sub+".10/24", "dev", dummy); err != nil {
			t.Error(err)
			return
		}
		rec, err := RecoverNetState("rz", "shared", []NetSpec{{Physical: dummy, Address: sub + ".10/24"}}, id)
		if err != nil || len(rec.SharedAddrs) != 0 {
			t.Errorf("RecoverNetState claimed an address the zone never added: %+v, %v", rec, err)
		}
	})
}

// BenchmarkNetExclusiveCycle measures one exclusive-IP net's setup and
// teardown, the network share of a zone's ready and halt.
func BenchmarkNetExclusiveCycle(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
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
		nets := []NetSpec{{Physical: "net0", AllowedAddress: "198.18.200.2/24", Defrouter: "198.18.200.1"}}
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
