package zonenet

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"zonetop/internal/configs"
)

// NetState records every network object SetupNet created for a zone, so
// that TeardownNet can remove exactly those, also from another process
// after zoneadmd died: it is plain data meant to be written next to the
// zone's other runtime state.
type NetState struct {
	Zone   string `json:"zone"`
	ZoneID int    `json:"zone-id"`
	IPType string `json:"ip-type"`
	// HostLinks are the host-side ends of an exclusive-IP zone's veth
	// pairs. Deleting one removes its zone-side peer as well.
	HostLinks []string `json:"host-links,omitempty"`
	// HostLinkMACs holds each host link's hardware address when it was
	// made. Host link names derive from the zone ID, which a later zone
	// may reuse, so teardown deletes a link only while it is still the
	// one this zone created.
	HostLinkMACs map[string]string `json:"host-link-macs,omitempty"`
	// ZoneLinks are a shared-IP zone's devices: one per physical its
	// nets name, made on that host NIC and living in the zone's network
	// namespace, where they carry the zone's addresses.
	ZoneLinks []ZoneLink `json:"zone-links,omitempty"`
	// ZschedPid and NetNS (the inode of zsched's network namespace)
	// let a teardown find the zone's namespace while zsched lives, and
	// tell it from a namespace a reused pid has since.
	ZschedPid int    `json:"zsched-pid,omitempty"`
	NetNS     uint64 `json:"netns,omitempty"`
	// SharedAddrs and SharedRoutes are what versions that gave shared-IP
	// zones the host's own stack made: addresses on host interfaces and
	// policy routes for their defrouters. They are only ever read back,
	// to clean up after zones such a version readied.
	SharedAddrs  []SharedAddr  `json:"shared-addrs,omitempty"`
	SharedRoutes []SharedRoute `json:"shared-routes,omitempty"`
}

// ZoneLink is a device made for a shared-IP zone on a host NIC (Lower)
// and moved into the zone's namespace under the NIC's name: an ipvlan
// where the kernel has it, a macvlan otherwise (Kind).
type ZoneLink struct {
	Name  string   `json:"name"`
	Lower string   `json:"lower"`
	Kind  string   `json:"kind"`
	Addrs []string `json:"addrs,omitempty"`
}

// SharedAddr is an address added to a host interface for a shared-IP zone,
// the Linux counterpart of an illumos logical interface.
type SharedAddr struct {
	Link    string `json:"link"`
	Address string `json:"address"` // with prefix length, as added
}

// SharedRoute is the routing rule and table a shared-IP zone's defrouter
// became: traffic from Source is looked up in Table, which holds only a
// default route via Gateway on Link.
type SharedRoute struct {
	Source   string `json:"source"` // address/32 or /128
	Gateway  string `json:"gateway"`
	Link     string `json:"link"`
	Table    int    `json:"table"`
	Priority int    `json:"priority"`
}

// Marshal encodes the state as JSON, the one encoding callers persist it
// in.
func (s NetState) Marshal() ([]byte, error) {
	return json.Marshal(s)
}

// UnmarshalNetState decodes a state written by Marshal.
func UnmarshalNetState(b []byte) (NetState, error) {
	var s NetState
	if err := json.Unmarshal(b, &s); err != nil {
		return NetState{}, fmt.Errorf("net state: %w", err)
	}
	return s, nil
}

const (
	// netIPShared and netIPExclusive are zonecfg's ip-type values.
	netIPShared    = "shared"
	NetIPExclusive = "exclusive"

	// netHostPrefix starts every link zonetop creates in the host's
	// namespace; leftover scanners rely on it.
	netHostPrefix = "zt"

	// netRulePriority places zone source rules ahead of the main
	// table's rule (32766) so a zone's defrouter wins for its addresses.
	netRulePriority = 31000
	// netTableBase is the first routing table number zonetop uses; it
	// keeps clear of the kernel's (253-255) and of small numbers that
	// administrators name in /etc/iproute2/rt_tables.
	netTableBase = 0x7a700000
	// netMaxPerZone bounds a zone's net resources so that table numbers
	// derived from the zone ID and net index cannot collide.
	netMaxPerZone = 256
	// netMaxZoneID keeps table numbers within 32 bits and host link
	// names within 15 bytes.
	NetMaxZoneID = 1<<23 - 1
)

// netHostLinkName is the host side of net i of the zone with this ID.
func NetHostLinkName(zoneID, i int) string {
	return fmt.Sprintf("%s%dn%d", netHostPrefix, zoneID, i)
}

// netHostLinkMAC is the hardware address the host side of a zone's veth
// is created with: locally administered and unicast, from a hash of the
// host's identity (salt: its machine ID), the zone's name and the link's
// name, so that it is stable across a zone's reboots on one host and
// differs between hosts on one bridge. A veth the kernel gives a random
// address is one udev's MACAddressPolicy=persistent rewrites moments
// after it appears (addr_assign_type "random"); one created with an
// address ("set") is left alone, so the address zonetop records is the
// one the link keeps and halt recognises it as the zone's.
func netHostLinkMAC(salt []byte, zone, link string) net.HardwareAddr {
	h := sha256.New()
	h.Write(salt)
	h.Write([]byte{0})
	h.Write([]byte(zone))
	h.Write([]byte{0})
	h.Write([]byte(link))
	sum := h.Sum(nil)
	mac := net.HardwareAddr(sum[:6])
	mac[0] = mac[0]&^0x01 | 0x02 // unicast, locally administered
	return mac
}

// netHostSalt is what makes host link addresses differ between hosts:
// the machine ID where there is one, else random bytes for this process
// (addresses then differ between zoneadmds, which is all that matters).
var netHostSalt = sync.OnceValue(func() []byte {
	for _, f := range []string{"/etc/machine-id", "/var/lib/dbus/machine-id"} {
		if b, err := os.ReadFile(f); err == nil && len(strings.TrimSpace(string(b))) > 0 {
			return []byte(strings.TrimSpace(string(b)))
		}
	}
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return b
})

// netSharedTable is the routing table holding the default route of net i of
// the zone with this ID.
func netSharedTable(zoneID, i int) int {
	return netTableBase + zoneID*netMaxPerZone + i
}

// netSharedLabel is the IPv4 label of a shared-IP zone's address, in the
// spirit of illumos' logical interface names (net0:1). The kernel allows
// labels of at most 15 bytes; a name too long gets no label.
func netSharedLabel(physical string, zoneID int) string {
	l := fmt.Sprintf("%s:z%d", physical, zoneID)
	if len(l) > 15 {
		return ""
	}
	return l
}

// parseZoneAddr reads a zonecfg address. Without a prefix length an IPv4
// address gets /24 and an IPv6 address /64, the usual subnet sizes.
func netParseAddr(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return netip.Prefix{}, errors.New("empty address")
	}
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("address %q: %w", s, err)
		}
		if p.Addr().Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("address %q: zones (%%) are not allowed", s)
		}
		return p, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("address %q: %w", s, err)
	}
	if a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("address %q: zones (%%) are not allowed", s)
	}
	a = a.Unmap()
	if a.Is4() {
		return netip.PrefixFrom(a, 24), nil
	}
	return netip.PrefixFrom(a, 64), nil
}

// checkAddrUsable refuses addresses no interface should carry.
func netCheckAddrUsable(p netip.Prefix) error {
	a := p.Addr()
	switch {
	case a.IsUnspecified():
		return fmt.Errorf("address %s is unspecified", p)
	case a.IsMulticast():
		return fmt.Errorf("address %s is multicast", p)
	case a.IsLoopback():
		return fmt.Errorf("address %s is a loopback address", p)
	}
	return nil
}

// parseGateway reads a defrouter: a plain address of the same family as
// the net's address.
func netParseGateway(s string, addr netip.Prefix) (netip.Addr, error) {
	g, err := netip.ParseAddr(strings.TrimSpace(s))
	if err != nil {
		return netip.Addr{}, fmt.Errorf("defrouter %q: %w", s, err)
	}
	g = g.Unmap()
	if g.Is4() != addr.Addr().Is4() {
		return netip.Addr{}, fmt.Errorf("defrouter %s and address %s are of different families", g, addr)
	}
	if g.IsUnspecified() || g.IsMulticast() {
		return netip.Addr{}, fmt.Errorf("defrouter %s is not a unicast address", g)
	}
	return g, nil
}

// checkLinkName applies the kernel's rules for interface names.
func netCheckLinkName(what, name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%s is empty", what)
	case len(name) > 15:
		return fmt.Errorf("%s %q is longer than 15 bytes", what, name)
	case name == "." || name == "..":
		return fmt.Errorf("%s %q is not a valid interface name", what, name)
	case strings.ContainsAny(name, "/:% \t\n"):
		return fmt.Errorf("%s %q contains a character interface names cannot hold", what, name)
	}
	return nil
}

// netPlan is one net resource after validation.
type netPlan struct {
	index    int
	spec     configs.NetSpec
	addr     netip.Prefix // zero if none
	gateway  netip.Addr   // zero if none
	mac      net.HardwareAddr
	vlan     int
	hostLink string
}

// netErr names the zone, the net and the object an error concerns, which
// is what an operator needs to find the net resource in zonecfg.
func netErr(zone string, i int, obj string, err error) error {
	if obj == "" {
		return fmt.Errorf("zone %s: net %d: %w", zone, i, err)
	}
	return fmt.Errorf("zone %s: net %d (%s): %w", zone, i, obj, err)
}

// netValidate checks a zone's net resources against its ip-type the way
// illumos does: shared-IP nets take address and defrouter on an existing
// physical interface; exclusive-IP nets take allowed-address and, with it,
// defrouter (illumos accepts that pair since allowed-address arrived), and
// the datalink properties mac-addr, vlan-id and global-nic. Every problem
// is reported, not only the first.
func netValidate(zone, ipType string, zoneID int, nets []configs.NetSpec) ([]netPlan, error) {
	var errs []error
	if ipType != netIPShared && ipType != NetIPExclusive {
		return nil, fmt.Errorf("zone %s: ip-type %q is neither %q nor %q", zone, ipType, netIPShared, NetIPExclusive)
	}
	if zoneID <= 0 || zoneID > NetMaxZoneID {
		return nil, fmt.Errorf("zone %s: zone ID %d is outside 1-%d", zone, zoneID, NetMaxZoneID)
	}
	if len(nets) > netMaxPerZone {
		return nil, fmt.Errorf("zone %s: %d net resources, at most %d are supported", zone, len(nets), netMaxPerZone)
	}
	seenPhys := map[string]int{}
	seenAddr := map[netip.Addr]int{}
	plans := make([]netPlan, 0, len(nets))
	for i, n := range nets {
		p := netPlan{index: i, spec: n}
		bad := func(err error) { errs = append(errs, netErr(zone, i, n.Physical, err)) }
		if err := netCheckLinkName("physical", n.Physical); err != nil {
			bad(err)
		}
		var addrText, addrProp string
		switch ipType {
		case netIPShared:
			addrText, addrProp = n.Address, "address"
			if n.AllowedAddress != "" {
				bad(errors.New("allowed-address is for exclusive-IP zones; a shared-IP zone uses address"))
			}
			if n.Address == "" {
				bad(errors.New("a shared-IP zone's net needs an address"))
			}
			for prop, v := range map[string]string{"mac-addr": n.MACAddr, "vlan-id": n.VLANID, "global-nic": n.GlobalNIC} {
				if v != "" {
					bad(fmt.Errorf("%s is for exclusive-IP zones; a shared-IP zone uses the host's interface as it is", prop))
				}
			}
		case NetIPExclusive:
			addrText, addrProp = n.AllowedAddress, "allowed-address"
			if n.Address != "" {
				bad(errors.New("address cannot be set for an exclusive-IP zone; use allowed-address"))
			}
			if n.Defrouter != "" && n.AllowedAddress == "" {
				bad(errors.New("defrouter needs allowed-address in an exclusive-IP zone"))
			}
			if n.Physical == "lo" {
				bad(errors.New("physical cannot be lo, the zone's loopback interface"))
			}
			if prev, ok := seenPhys[n.Physical]; ok && n.Physical != "" {
				bad(fmt.Errorf("physical %s is already used by net %d", n.Physical, prev))
			}
			seenPhys[n.Physical] = i
			p.hostLink = NetHostLinkName(zoneID, i)
			switch strings.ToLower(n.MACAddr) {
			case "", "auto", "random", "factory":
				// The kernel picks a random locally administered address.
			default:
				mac, err := net.ParseMAC(n.MACAddr)
				switch {
				case err != nil:
					bad(fmt.Errorf("mac-addr %q: %w", n.MACAddr, err))
				case len(mac) != 6:
					bad(fmt.Errorf("mac-addr %q is not a 6-byte Ethernet address", n.MACAddr))
				case mac[0]&1 != 0:
					bad(fmt.Errorf("mac-addr %s is a multicast address", mac))
				case mac.String() == "00:00:00:00:00:00":
					bad(fmt.Errorf("mac-addr %s is all zeros", mac))
				default:
					p.mac = mac
				}
			}
			if n.VLANID != "" {
				v, err := strconv.Atoi(n.VLANID)
				switch {
				case err != nil || v < 1 || v > 4094:
					bad(fmt.Errorf("vlan-id %q is not a number from 1 to 4094", n.VLANID))
				case n.GlobalNIC == "":
					bad(errors.New("vlan-id needs global-nic naming the host bridge to tag on"))
				default:
					p.vlan = v
				}
			}
			if n.GlobalNIC != "" {
				if err := netCheckLinkName("global-nic", n.GlobalNIC); err != nil {
					bad(err)
				}
			}
		}
		if addrText != "" {
			a, err := netParseAddr(addrText)
			if err == nil {
				err = netCheckAddrUsable(a)
			}
			if err != nil {
				bad(fmt.Errorf("%s: %w", addrProp, err))
			} else {
				p.addr = a
				if prev, ok := seenAddr[a.Addr()]; ok {
					bad(fmt.Errorf("%s %s is already used by net %d", addrProp, a.Addr(), prev))
				}
				seenAddr[a.Addr()] = i
			}
		}
		if n.Defrouter != "" && p.addr.IsValid() {
			g, err := netParseGateway(n.Defrouter, p.addr)
			if err != nil {
				bad(err)
			} else {
				p.gateway = g
			}
		}
		plans = append(plans, p)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return plans, nil
}
