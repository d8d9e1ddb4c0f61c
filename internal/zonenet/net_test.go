package zonenet

import (
	"reflect"
	"runtime"
	"strings"
	"testing"
	"zonetop/internal/configs"

	"golang.org/x/sys/unix"
)

func TestNetParseAddr(t *testing.T) {
	for _, c := range []struct{ in, want, err string }{
		{in: "198.18.0.2", want: "198.18.0.2/24"},
		{in: "198.18.0.2/30", want: "198.18.0.2/30"},
		{in: " 198.18.0.2/16 ", want: "198.18.0.2/16"},
		{in: "2001:db8::5", want: "2001:db8::5/64"},
		{in: "2001:db8::5/127", want: "2001:db8::5/127"},
		{in: "::ffff:198.18.0.9", want: "198.18.0.9/24"},
		{in: "", err: "empty"},
		{in: "198.18.0.300", err: "198.18.0.300"},
		{in: "198.18.0.2/33", err: "198.18.0.2/33"},
		{in: "fe80::1%eth0", err: "zones"},
		{in: "host.example", err: "host.example"},
	} {
		p, err := netParseAddr(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("netParseAddr(%q) = %v, %v; want error containing %q", c.in, p, err, c.err)
			}
			continue
		}
		if err != nil || p.String() != c.want {
			t.Errorf("netParseAddr(%q) = %v, %v; want %s", c.in, p, err, c.want)
		}
	}
}

func TestNetValidateShared(t *testing.T) {
	good := []configs.NetSpec{
		{Physical: "eth0", Address: "198.18.1.2/24", Defrouter: "198.18.1.1"},
		{Physical: "eth0", Address: "198.18.2.2"},
	}
	plans, err := netValidate("z1", "shared", 3, good)
	if err != nil {
		t.Fatalf("valid shared nets refused: %v", err)
	}
	if len(plans) != 2 || plans[0].gateway.String() != "198.18.1.1" || plans[1].addr.String() != "198.18.2.2/24" {
		t.Errorf("plans = %+v", plans)
	}

	bad := []configs.NetSpec{
		{Physical: "eth0"}, // no address
		{Physical: "eth0", AllowedAddress: "198.18.3.2"},
		{Physical: "eth0", Address: "198.18.4.2", MACAddr: "02:00:00:00:00:01"},
		{Physical: "", Address: "198.18.5.2"},
		{Physical: "eth0", Address: "198.18.1.2/16"}, // same address as net 5
		{Physical: "eth0", Address: "198.18.6.2", Defrouter: "2001:db8::1"},
		{Physical: "eth0", Address: "127.0.0.2"},
		{Physical: "eth0", Address: "198.18.1.2"},
	}
	_, err = netValidate("z1", "shared", 3, bad)
	if err == nil {
		t.Fatal("invalid shared nets accepted")
	}
	msg := err.Error()
	for _, want := range []string{
		"zone z1: net 0 (eth0): a shared-IP zone's net needs an address",
		"net 1 (eth0): allowed-address is for exclusive-IP zones",
		"net 2 (eth0): mac-addr is for exclusive-IP zones",
		"net 3: physical is empty",
		"net 5 (eth0): defrouter 2001:db8::1 and address 198.18.6.2/24 are of different families",
		"net 6 (eth0): address: address 127.0.0.2/24 is a loopback address",
		"net 7 (eth0): address 198.18.1.2 is already used by net 4",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error does not say %q:\n%s", want, msg)
		}
	}
}

func TestNetValidateExclusive(t *testing.T) {
	good := []configs.NetSpec{
		{Physical: "net0", AllowedAddress: "198.18.1.2/24", Defrouter: "198.18.1.1", MACAddr: "02:aa:bb:cc:dd:ee"},
		{Physical: "eth1", GlobalNIC: "br0", VLANID: "12"},
		{Physical: "eth2", MACAddr: "random"},
	}
	plans, err := netValidate("z2", "exclusive", 42, good)
	if err != nil {
		t.Fatalf("valid exclusive nets refused: %v", err)
	}
	if plans[0].hostLink != "zt42n0" || plans[1].hostLink != "zt42n1" {
		t.Errorf("host links = %s, %s", plans[0].hostLink, plans[1].hostLink)
	}
	if plans[0].mac.String() != "02:aa:bb:cc:dd:ee" || plans[2].mac != nil || plans[1].vlan != 12 {
		t.Errorf("plans = %+v", plans)
	}

	bad := []configs.NetSpec{
		{Physical: "net0", Address: "198.18.1.2"},
		{Physical: "net1", Defrouter: "198.18.1.1"},
		{Physical: "net0"},
		{Physical: "lo"},
		{Physical: "net4", MACAddr: "01:00:5e:00:00:01"},
		{Physical: "net5", MACAddr: "zz"},
		{Physical: "net6", VLANID: "4095", GlobalNIC: "br0"},
		{Physical: "net7", VLANID: "5"},
		{Physical: "a-very-long-interface-name"},
		{Physical: "net9", GlobalNIC: "bad/name"},
	}
	_, err = netValidate("z2", "exclusive", 42, bad)
	if err == nil {
		t.Fatal("invalid exclusive nets accepted")
	}
	msg := err.Error()
	for _, want := range []string{
		"net 0 (net0): address cannot be set for an exclusive-IP zone; use allowed-address",
		"net 1 (net1): defrouter needs allowed-address",
		"net 2 (net0): physical net0 is already used by net 0",
		"net 3 (lo): physical cannot be lo",
		"net 4 (net4): mac-addr 01:00:5e:00:00:01 is a multicast address",
		`net 5 (net5): mac-addr "zz"`,
		`net 6 (net6): vlan-id "4095" is not a number from 1 to 4094`,
		"net 7 (net7): vlan-id needs global-nic",
		"longer than 15 bytes",
		`global-nic "bad/name"`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error does not say %q:\n%s", want, msg)
		}
	}

	if _, err := netValidate("z2", "exclusive", 0, nil); err == nil {
		t.Error("zone ID 0 (the global zone) accepted")
	}
	if _, err := netValidate("z2", "bridged", 1, nil); err == nil || !strings.Contains(err.Error(), `ip-type "bridged"`) {
		t.Errorf("unknown ip-type: %v", err)
	}
	if _, err := netValidate("z2", "exclusive", 1234567890, []configs.NetSpec{{Physical: "net0"}}); err == nil ||
		!strings.Contains(err.Error(), "zone ID 1234567890 is outside") {
		t.Errorf("zone ID too large for link names and tables: %v", err)
	}
	if n := NetHostLinkName(NetMaxZoneID, netMaxPerZone-1); len(n) > 15 {
		t.Errorf("largest host link name %q is too long", n)
	}
	if tb := netSharedTable(NetMaxZoneID, netMaxPerZone-1); tb > 1<<32-1 || tb < netTableBase {
		t.Errorf("largest table %d is out of range", tb)
	}
}

func TestNetNames(t *testing.T) {
	if got := NetHostLinkName(7, 2); got != "zt7n2" {
		t.Errorf("netHostLinkName = %q", got)
	}
	if got := netSharedLabel("eth0", 12); got != "eth0:z12" {
		t.Errorf("netSharedLabel = %q", got)
	}
	if got := netSharedLabel("enp0s31f6abcd", 12345); got != "" {
		t.Errorf("over-long label %q should be dropped", got)
	}
	if a, b := netSharedTable(1, 255), netSharedTable(2, 0); a >= b {
		t.Errorf("tables of different zones collide: %d, %d", a, b)
	}
}

func TestNetHostLinkZone(t *testing.T) {
	for name, want := range map[string]int{"zt7n0": 7, "zt65000n12": 65000, "ztbr0": 0, "zt7n": 0, "eth0": 0, "ztdummy5": 0, "zt0n1": 0} {
		id, ok := netHostLinkZone(name)
		if id != want || ok != (want != 0) {
			t.Errorf("netHostLinkZone(%q) = %d, %v; want %d", name, id, ok, want)
		}
	}
}

func TestNetStateJSONRoundTrip(t *testing.T) {
	in := NetState{
		Zone: "web", ZoneID: 9, IPType: "exclusive",
		HostLinks:    []string{"zt9n0", "zt9n1"},
		HostLinkMACs: map[string]string{"zt9n0": "02:00:00:00:00:01"},
		SharedAddrs:  []SharedAddr{{Link: "eth0", Address: "198.18.0.2/24"}},
		SharedRoutes: []SharedRoute{{Source: "198.18.0.2/32", Gateway: "198.18.0.1", Link: "eth0", Table: netSharedTable(9, 0), Priority: netRulePriority}},
		ZoneLinks:    []ZoneLink{{Name: "eth0", Lower: "eth0", Kind: "macvlan", Addrs: []string{"198.18.0.2/24"}}},
		ZschedPid:    4242, NetNS: 4026532000,
	}
	b, err := in.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	out, err := UnmarshalNetState(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Errorf("round trip changed the state:\n in %+v\nout %+v", in, out)
	}
	if _, err := UnmarshalNetState([]byte("{")); err == nil {
		t.Error("truncated JSON accepted")
	}
}

// A state naming links or tables zonetop never makes must not lead
// teardown to delete them.
func TestNetTeardownRefusesForeignObjects(t *testing.T) {
	err := TeardownNet(NetState{Zone: "z", HostLinks: []string{"lo"},
		SharedRoutes: []SharedRoute{{Source: "198.18.0.2/32", Table: 254}}})
	if err == nil || !strings.Contains(err.Error(), "link lo: not a zonetop link") ||
		!strings.Contains(err.Error(), "table 254 is not a zonetop table") {
		t.Errorf("teardown of foreign objects: %v", err)
	}
}

func TestNetStateDescribe(t *testing.T) {
	st := NetState{ZoneLinks: []ZoneLink{
		{Name: "net0", Lower: "net0", Kind: "ipvlan", Addrs: []string{"198.18.40.5/24", "198.18.41.6/24"}},
		{Name: "net1", Lower: "net1", Kind: "macvlan", Addrs: []string{"2001:db8::5/64"}},
	}}
	want := "net0 ipvlan on net0 (198.18.40.5/24, 198.18.41.6/24); net1 macvlan on net1 (2001:db8::5/64)"
	if got := st.Describe(); got != want {
		t.Errorf("Describe = %q, want %q", got, want)
	}
	if got := (NetState{}).Describe(); got != "lo only" {
		t.Errorf("Describe of a zone without nets = %q", got)
	}
}

// A state whose namespace is the host's (a corrupt or forged file) must
// not have teardown delete the host's devices.
func TestNetTeardownRefusesHostNamespace(t *testing.T) {
	// This thread's id names it in /proc as a pid would: root tests may
	// leave the process's main thread in a scratch namespace.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var sb unix.Stat_t
	if err := unix.Stat("/proc/thread-self/ns/net", &sb); err != nil {
		t.Skip(err)
	}
	err := TeardownNet(NetState{Zone: "z", ZschedPid: unix.Gettid(), NetNS: sb.Ino,
		ZoneLinks: []ZoneLink{{Name: "lo", Lower: "lo", Kind: "device"}}})
	if err == nil || !strings.Contains(err.Error(), "namespace is the host's") {
		t.Errorf("teardown in the host's namespace: %v", err)
	}
}

// The host side of a veth gets a locally administered unicast address of
// its own (udev rewrites a random one), stable for one host, zone and
// link, and different when any of them differs.
func TestNetHostLinkMAC(t *testing.T) {
	a := netHostLinkMAC([]byte("host-a"), "web", "zt1n0")
	if len(a) != 6 || a[0]&0x01 != 0 || a[0]&0x02 == 0 {
		t.Fatalf("%s: want a 6-byte unicast, locally administered address", a)
	}
	if b := netHostLinkMAC([]byte("host-a"), "web", "zt1n0"); b.String() != a.String() {
		t.Errorf("same inputs, different addresses: %s %s", a, b)
	}
	seen := map[string]string{a.String(): "host-a web zt1n0"}
	for _, c := range []struct{ salt, zone, link string }{
		{"host-b", "web", "zt1n0"}, {"host-a", "db", "zt1n0"}, {"host-a", "web", "zt1n1"}, {"host-a", "web", "zt2n0"},
		// The parts are kept apart: moving a byte across does not collide.
		{"host-a", "webz", "t1n0"},
	} {
		m := netHostLinkMAC([]byte(c.salt), c.zone, c.link)
		if m[0]&0x01 != 0 || m[0]&0x02 == 0 {
			t.Errorf("%v: %s is not unicast and locally administered", c, m)
		}
		if prev, dup := seen[m.String()]; dup {
			t.Errorf("%v: %s, the address of %s too", c, m, prev)
		}
		seen[m.String()] = c.salt + " " + c.zone + " " + c.link
	}
	if s := netHostSalt(); len(s) == 0 {
		t.Error("no host salt")
	}
}
