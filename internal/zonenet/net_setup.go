package zonenet

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"zonetop/internal/configs"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// SetupNet gives a zone its network. Every zone has a network namespace
// of its own, which zsched (zschedPid) already lives in: its lo is brought
// up, and an exclusive-IP zone gets a veth per net resource, a shared-IP
// zone a device on each host NIC its nets name, carrying its addresses.
// zoneadmd calls it once zsched exists. On failure nothing it made is left
// behind; on success the returned state is what TeardownNet needs.
func SetupNet(spec configs.PlatformSpec, zschedPid, zoneID int) (NetState, error) {
	return SetupNetFor(spec.Name, spec.IPType, spec.Nets, zschedPid, zoneID)
}

// SetupNetFor is SetupNet with the platform spec's network fields spelled
// out. An empty ipType means shared, illumos' default.
func SetupNetFor(name, ipType string, nets []configs.NetSpec, zschedPid, zoneID int) (NetState, error) {
	if ipType == "" {
		ipType = netIPShared
	}
	plans, err := netValidate(name, ipType, zoneID, nets)
	if err != nil {
		return NetState{}, err
	}
	st := NetState{Zone: name, ZoneID: zoneID, IPType: ipType}
	// The host's namespace is the calling thread's. Front ends and
	// zoneadmd run there; tests may run this on a thread they moved into a
	// scratch namespace, and then that one is "the host". Only rtnetlink
	// is opened: the library's default adds xfrm and netfilter sockets
	// this never uses.
	host, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return st, fmt.Errorf("zone %s: netlink: %w", name, err)
	}
	defer host.Close()
	if ipType == netIPShared {
		err = netSetupShared(host, &st, plans, zschedPid)
	} else {
		err = netSetupExclusive(host, &st, plans, zschedPid)
	}
	if err != nil {
		if uerr := netTeardownWith(host, st); uerr != nil {
			err = errors.Join(err, fmt.Errorf("undo: %w", uerr))
		}
		return NetState{}, err
	}
	return st, nil
}

// TeardownNet removes what SetupNet recorded in st. What is already gone
// (a veth that vanished with its namespace, an address someone removed)
// counts as removed; everything that could not be removed is reported,
// and the rest is removed regardless.
func TeardownNet(st NetState) error {
	host, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return fmt.Errorf("zone %s: netlink: %w", st.Zone, err)
	}
	defer host.Close()
	return netTeardownWith(host, st)
}

func netTeardownWith(host *netlink.Handle, st NetState) error {
	var errs []error
	if err := netRemoveZoneLinks(st); err != nil {
		errs = append(errs, err)
	}
	// Routes before addresses: a rule naming an address is harmless once
	// the address is gone, but removing in creation's reverse order keeps
	// the host consistent at every step.
	for _, r := range st.SharedRoutes {
		if err := netRemoveSharedRoute(host, r); err != nil {
			errs = append(errs, fmt.Errorf("zone %s: route from %s via %s (table %d): %w", st.Zone, r.Source, r.Gateway, r.Table, err))
		}
	}
	for _, a := range st.SharedAddrs {
		if err := netRemoveSharedAddr(host, a, st.ZoneID); err != nil {
			errs = append(errs, fmt.Errorf("zone %s: address %s on %s: %w", st.Zone, a.Address, a.Link, err))
		}
	}
	for _, name := range st.HostLinks {
		if err := netRemoveHostLink(host, name, st.HostLinkMACs[name]); err != nil {
			errs = append(errs, fmt.Errorf("zone %s: link %s: %w", st.Zone, name, err))
		}
	}
	return errors.Join(errs...)
}

// netGone reports whether err means the object is not there any more.
func netGone(err error) bool {
	var nf netlink.LinkNotFoundError
	return errors.As(err, &nf) || errors.Is(err, unix.ENODEV) || errors.Is(err, unix.ENOENT) ||
		errors.Is(err, unix.ESRCH) || errors.Is(err, unix.EADDRNOTAVAIL)
}

func netRemoveHostLink(host *netlink.Handle, name, mac string) error {
	if !strings.HasPrefix(name, netHostPrefix) {
		// Only links zonetop named are ever deleted, whatever a state
		// file says.
		return errors.New("not a zonetop link name, left alone")
	}
	l, err := host.LinkByName(name)
	if netGone(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if mac != "" && l.Attrs().HardwareAddr.String() != mac {
		return fmt.Errorf("now has address %s, not the %s this zone created; left alone", l.Attrs().HardwareAddr, mac)
	}
	if l.Type() != "veth" {
		return fmt.Errorf("is a %s, not the veth this zone created; left alone", l.Type())
	}
	if err := host.LinkDel(l); err != nil && !netGone(err) {
		return err
	}
	return nil
}

func netRemoveSharedAddr(host *netlink.Handle, a SharedAddr, zoneID int) error {
	p, err := netip.ParsePrefix(a.Address)
	if err != nil {
		return fmt.Errorf("recorded address: %w", err)
	}
	l, err := host.LinkByName(a.Link)
	if netGone(err) {
		return nil // the interface went, and its addresses with it
	}
	if err != nil {
		return err
	}
	// A repeated teardown may come after another zone took the same
	// address; its label (another zone ID) says it is no longer ours.
	if want := netSharedLabel(a.Link, zoneID); p.Addr().Is4() && want != "" {
		addrs, err := host.AddrList(l, netlink.FAMILY_V4)
		if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
			return err
		}
		ours := false
		for _, x := range addrs {
			if ip, ok := netip.AddrFromSlice(x.IP); ok && ip.Unmap() == p.Addr() && x.Label == want {
				ours = true
			}
		}
		if !ours {
			return nil
		}
	}
	if err := host.AddrDel(l, &netlink.Addr{IPNet: netIPNet(p)}); err != nil && !netGone(err) {
		return err
	}
	return nil
}

func netRemoveSharedRoute(host *netlink.Handle, r SharedRoute) error {
	src, err := netip.ParsePrefix(r.Source)
	if err != nil {
		return fmt.Errorf("recorded source: %w", err)
	}
	if r.Table < netTableBase {
		// Never flush a table zonetop does not number, whatever a
		// state file says.
		return fmt.Errorf("table %d is not a zonetop table, left alone", r.Table)
	}
	fam := netFamily(src.Addr())
	rule := netlink.NewRule()
	rule.Family = fam
	rule.Src = netIPNet(src)
	rule.Table = r.Table
	rule.Priority = r.Priority
	var errs []error
	if err := host.RuleDel(rule); err != nil && !netGone(err) {
		errs = append(errs, fmt.Errorf("rule: %w", err))
	}
	// Flushing the table by its number rather than matching the route
	// removes it even if its link has since been renamed or removed.
	routes, err := host.RouteListFiltered(fam, &netlink.Route{Table: r.Table}, netlink.RT_FILTER_TABLE)
	if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
		errs = append(errs, fmt.Errorf("list table: %w", err))
	}
	for i := range routes {
		if err := host.RouteDel(&routes[i]); err != nil && !netGone(err) {
			errs = append(errs, fmt.Errorf("route: %w", err))
		}
	}
	return errors.Join(errs...)
}

// netAddrOwner returns the name of the host interface holding a, or "".
func netAddrOwner(host *netlink.Handle, a netip.Addr) (string, error) {
	var addrs []netlink.Addr
	var err error
	// A dump interrupted by a concurrent change is retried: a partial
	// list could hide the very duplicate this looks for.
	for range 5 {
		addrs, err = host.AddrList(nil, netFamily(a))
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			break
		}
	}
	if err != nil {
		return "", err
	}
	for _, x := range addrs {
		ip, ok := netip.AddrFromSlice(x.IP)
		if !ok || ip.Unmap() != a {
			continue
		}
		if l, err := host.LinkByIndex(x.LinkIndex); err == nil {
			return l.Attrs().Name, nil
		}
		return fmt.Sprintf("index %d", x.LinkIndex), nil
	}
	return "", nil
}

func netSetupExclusive(host *netlink.Handle, st *NetState, plans []netPlan, zschedPid int) error {
	zns, _, err := netZoneNamespace(st.Zone, zschedPid)
	if err != nil {
		return err
	}
	defer zns.Close()
	zone, _, err := netZoneHandle(st.Zone, zns)
	if err != nil {
		return err
	}
	defer zone.Close()
	for _, p := range plans {
		if err := netAddVeth(host, zone, zns, st, p); err != nil {
			return err
		}
	}
	return nil
}

// netAddVeth makes net p's veth pair. The zone side is created directly in
// the zone's namespace under its final name, so it never appears on the
// host, where a name such as eth0 is usually taken.
func netAddVeth(host, zone *netlink.Handle, zns netns.NsHandle, st *NetState, p netPlan) error {
	fail := func(obj string, err error) error { return netErr(st.Zone, p.index, obj, err) }
	var bridge netlink.Link
	if p.spec.GlobalNIC != "" {
		b, err := host.LinkByName(p.spec.GlobalNIC)
		if netGone(err) {
			return fail("global-nic "+p.spec.GlobalNIC, errors.New("no such interface on the host"))
		}
		if err != nil {
			return fail("global-nic "+p.spec.GlobalNIC, err)
		}
		if b.Type() != "bridge" {
			return fail("global-nic "+p.spec.GlobalNIC, fmt.Errorf("is a %s; zonetop attaches exclusive-IP nets to host bridges only", b.Type()))
		}
		bridge = b
	}
	veth := &netlink.Veth{
		LinkAttrs:        netlink.LinkAttrs{Name: p.hostLink, HardwareAddr: netHostLinkMAC(netHostSalt(), st.Zone, p.hostLink)},
		PeerName:         p.spec.Physical,
		PeerHardwareAddr: p.mac,
		PeerNamespace:    netlink.NsFd(zns),
	}
	if bridge != nil {
		// A port with a smaller MTU than its bridge would lower the
		// bridge's; match it instead.
		veth.MTU = bridge.Attrs().MTU
	}
	if err := host.LinkAdd(veth); err != nil {
		if errors.Is(err, unix.EEXIST) {
			err = fmt.Errorf("%w (a link of that name exists on the host, or %s in the zone)", err, p.spec.Physical)
		}
		return fail(p.hostLink, fmt.Errorf("create veth: %w", err))
	}
	st.HostLinks = append(st.HostLinks, p.hostLink)
	hl, err := host.LinkByName(p.hostLink)
	if err != nil {
		return fail(p.hostLink, err)
	}
	if st.HostLinkMACs == nil {
		st.HostLinkMACs = map[string]string{}
	}
	st.HostLinkMACs[p.hostLink] = hl.Attrs().HardwareAddr.String()
	if bridge != nil {
		if err := host.LinkSetMaster(hl, bridge); err != nil {
			return fail(p.hostLink, fmt.Errorf("attach to bridge %s: %w", bridge.Attrs().Name, err))
		}
		if p.vlan != 0 {
			// The zone sees untagged frames; the bridge tags them.
			if err := host.BridgeVlanAdd(hl, uint16(p.vlan), true, true, false, true); err != nil {
				return fail(p.hostLink, fmt.Errorf("vlan %d on bridge %s: %w", p.vlan, bridge.Attrs().Name, err))
			}
			// Without this the port would stay in the bridge's default
			// VLAN as well and see traffic outside its own.
			if p.vlan != 1 {
				_ = host.BridgeVlanDel(hl, 1, false, false, false, true)
			}
		}
	}
	if err := host.LinkSetUp(hl); err != nil {
		return fail(p.hostLink, fmt.Errorf("bring up: %w", err))
	}
	zl, err := zone.LinkByName(p.spec.Physical)
	if err != nil {
		return fail(p.spec.Physical, fmt.Errorf("find zone side: %w", err))
	}
	if err := zone.LinkSetUp(zl); err != nil {
		return fail(p.spec.Physical, fmt.Errorf("bring up in zone: %w", err))
	}
	if !p.addr.IsValid() {
		return nil
	}
	if err := zone.AddrAdd(zl, &netlink.Addr{IPNet: netIPNet(p.addr)}); err != nil {
		return fail(p.addr.String()+" on "+p.spec.Physical, fmt.Errorf("add allowed-address: %w", err))
	}
	if p.gateway.IsValid() {
		route := &netlink.Route{LinkIndex: zl.Attrs().Index, Gw: net.IP(p.gateway.AsSlice()), Family: netFamily(p.gateway)}
		if err := zone.RouteAdd(route); err != nil {
			return fail("defrouter "+p.gateway.String(), fmt.Errorf("add default route in zone: %w", err))
		}
	}
	return nil
}

func netFamily(a netip.Addr) int {
	if a.Is4() {
		return netlink.FAMILY_V4
	}
	return netlink.FAMILY_V6
}

func netIPNet(p netip.Prefix) *net.IPNet {
	a := p.Addr()
	return &net.IPNet{IP: net.IP(a.AsSlice()), Mask: net.CIDRMask(p.Bits(), a.BitLen())}
}

// netZoneHandle opens netlink in the zone's network namespace and brings
// its loopback up, which every zone has whatever its ip-type.
func netZoneHandle(zoneName string, zns netns.NsHandle) (*netlink.Handle, netlink.Link, error) {
	zone, err := netlink.NewHandleAt(zns, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, nil, fmt.Errorf("zone %s: netlink in zone namespace: %w", zoneName, err)
	}
	lo, err := zone.LinkByName("lo")
	if err == nil {
		err = zone.LinkSetUp(lo)
	}
	if err != nil {
		zone.Close()
		return nil, nil, fmt.Errorf("zone %s: bring up lo: %w", zoneName, err)
	}
	return zone, lo, nil
}
