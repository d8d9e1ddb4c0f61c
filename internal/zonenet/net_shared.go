package zonenet

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"zonetop/internal/configs"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// A shared-IP zone on illumos binds and sees only its own addresses and
// has a loopback of its own, while sharing the global zone's NICs. Linux
// has no per-zone view of one stack, so a shared-IP zone gets a network
// namespace like an exclusive-IP one, and its addresses go on a device
// stacked on the host NIC they name (physical): the zone then cannot reach
// the host's loopback listeners or abstract unix sockets, cannot bind
// addresses that are not its own, and reads only its own /proc/net. What
// keeps it "shared" is what it is denied: no net_admin or net_raw (spec.go),
// so it cannot change addresses, routes or the device it was given.

const (
	netKindIPVlan  = "ipvlan"
	netKindMacvlan = "macvlan"
)

// netZoneNamespace opens zsched's network namespace and returns it with
// its inode. A zsched without a namespace of its own would have the zone's
// devices made on the host; that is refused.
func netZoneNamespace(zone string, zschedPid int) (netns.NsHandle, uint64, error) {
	if zschedPid <= 1 {
		return netns.None(), 0, fmt.Errorf("zone %s: zsched pid %d is not a zone's", zone, zschedPid)
	}
	zns, err := netns.GetFromPid(zschedPid)
	if err != nil {
		return netns.None(), 0, fmt.Errorf("zone %s: network namespace of zsched %d: %w", zone, zschedPid, err)
	}
	self, err := netns.GetFromPath("/proc/thread-self/ns/net")
	if err != nil {
		zns.Close()
		return netns.None(), 0, fmt.Errorf("zone %s: own network namespace: %w", zone, err)
	}
	same := self.Equal(zns)
	self.Close()
	if same {
		zns.Close()
		return netns.None(), 0, fmt.Errorf("zone %s: zsched %d shares the host's network namespace; a zone needs its own", zone, zschedPid)
	}
	var sb unix.Stat_t
	if err := unix.Fstat(int(zns), &sb); err != nil {
		zns.Close()
		return netns.None(), 0, fmt.Errorf("zone %s: network namespace of zsched %d: %w", zone, zschedPid, err)
	}
	return zns, sb.Ino, nil
}

// netPins holds, per namespace inode, a handle on each shared-IP zone's
// namespace from SetupNet to TeardownNet in the process that set it up.
// Halt kills zsched before it tears the network down; without the pin the
// namespace would then be freed asynchronously, and its devices with it,
// some time later, still on the wire until then: an ipvlan would keep its
// addresses on the NIC, and a zone readied again at once find them taken.
// With it, teardown first takes the devices off the wire (netQuiesce).
var netPins = struct {
	sync.Mutex
	m map[uint64]netns.NsHandle
}{m: map[uint64]netns.NsHandle{}}

func netPin(ino uint64, zns netns.NsHandle) error {
	fd, err := unix.FcntlInt(uintptr(zns), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return err
	}
	netPins.Lock()
	if old, ok := netPins.m[ino]; ok {
		old.Close()
	}
	netPins.m[ino] = netns.NsHandle(fd)
	netPins.Unlock()
	return nil
}

// netUnpin takes the pin of namespace ino out of the table; the caller
// closes it.
func netUnpin(ino uint64) (netns.NsHandle, bool) {
	netPins.Lock()
	defer netPins.Unlock()
	h, ok := netPins.m[ino]
	delete(netPins.m, ino)
	return h, ok
}

// netSetupShared gives a shared-IP zone's namespace its lo and, for each
// host NIC its nets name, one device carrying all of that NIC's addresses,
// as illumos puts a zone's logical interfaces on the physical one. One
// device per NIC rather than per net: two devices on one wire in one
// namespace would each answer ARP for the other's addresses, and each
// macvlan costs the NIC a MAC address filter entry.
func netSetupShared(host *netlink.Handle, st *NetState, plans []netPlan, zschedPid int) error {
	// Every refusal that needs no change comes first, so the common
	// mistakes change nothing at all.
	lowers := map[string]netlink.Link{}
	for _, p := range plans {
		if p.spec.Physical == "lo" {
			continue
		}
		if _, ok := lowers[p.spec.Physical]; !ok {
			l, err := host.LinkByName(p.spec.Physical)
			if netGone(err) {
				return netErr(st.Zone, p.index, p.spec.Physical, errors.New("no such interface on the host"))
			}
			if err != nil {
				return netErr(st.Zone, p.index, p.spec.Physical, err)
			}
			lowers[p.spec.Physical] = l
		}
		// The zone and the host would both answer for the address on the
		// same wire.
		if owner, err := netAddrOwner(host, p.addr.Addr()); err != nil {
			return netErr(st.Zone, p.index, p.spec.Physical, fmt.Errorf("list host addresses: %w", err))
		} else if owner != "" {
			return netErr(st.Zone, p.index, p.addr.String(), fmt.Errorf("address is already present on host interface %s", owner))
		}
	}
	zns, ino, err := netZoneNamespace(st.Zone, zschedPid)
	if err != nil {
		return err
	}
	defer zns.Close()
	st.ZschedPid, st.NetNS = zschedPid, ino
	// A zone with no device beyond lo has nothing to delete at halt and
	// no device for the sysctls to shape (it cannot make one itself):
	// it is spared the pin and the trip into its namespace.
	if len(lowers) > 0 {
		if err := netPin(ino, zns); err != nil {
			return fmt.Errorf("zone %s: hold network namespace: %w", st.Zone, err)
		}
		if err := netZoneSysctls(zns); err != nil {
			return fmt.Errorf("zone %s: %w", st.Zone, err)
		}
	}
	zone, lo, err := netZoneHandle(st.Zone, zns)
	if err != nil {
		return err
	}
	defer zone.Close()
	devs := map[string]netlink.Link{"lo": lo}
	for _, p := range plans {
		dev, ok := devs[p.spec.Physical]
		if !ok {
			if dev, err = netAddZoneLink(host, zone, zns, st, p, lowers[p.spec.Physical]); err != nil {
				return err
			}
			devs[p.spec.Physical] = dev
		}
		fail := func(obj string, err error) error { return netErr(st.Zone, p.index, obj, err) }
		if err := zone.AddrAdd(dev, &netlink.Addr{IPNet: netIPNet(p.addr)}); err != nil {
			return fail(p.addr.String()+" on "+p.spec.Physical, fmt.Errorf("add address in zone: %w", err))
		}
		for i := range st.ZoneLinks {
			if st.ZoneLinks[i].Name == p.spec.Physical {
				st.ZoneLinks[i].Addrs = append(st.ZoneLinks[i].Addrs, p.addr.String())
			}
		}
	}
	for name, dev := range devs {
		if name == "lo" {
			continue
		}
		if err := zone.LinkSetUp(dev); err != nil {
			return fmt.Errorf("zone %s: %s: bring up in zone: %w", st.Zone, name, err)
		}
	}
	for _, p := range plans {
		if p.spec.Physical == "lo" {
			continue
		}
		if err := netZoneRoutes(host, zone, st, p, lowers[p.spec.Physical], devs[p.spec.Physical]); err != nil {
			return err
		}
	}
	return nil
}

// netAddZoneLink makes the zone's device on lower, directly in the zone's
// namespace under the NIC's own name, so it never appears on the host.
// ipvlan (L2 mode) comes first: it shares the NIC's MAC address, which a
// switch port that admits one address per port still accepts, and costs
// no filter entry. L2 rather than L3/L3S: in those the zone's packets are
// routed by the host's tables, which would ignore the zone's defrouter and
// show them to the host's netfilter. Where the kernel has no ipvlan
// (EOPNOTSUPP), or the NIC already carries macvlans, which ipvlan cannot
// share a NIC with (EBUSY), a macvlan in bridge mode, so that zones on one
// NIC reach each other as shared-IP zones on one illumos host do.
func netAddZoneLink(host, zone *netlink.Handle, zns netns.NsHandle, st *NetState, p netPlan, lower netlink.Link) (netlink.Link, error) {
	name := p.spec.Physical
	// Made under a name of its own and renamed inside the zone: a kernel
	// that makes the device beside its lower one before moving it (as
	// when the link's namespace is given) would find the NIC's name taken.
	tmp := fmt.Sprintf("zts%dn%d", os.Getpid()%1000000, p.index)
	attrs := func() netlink.LinkAttrs {
		return netlink.LinkAttrs{Name: tmp, ParentIndex: lower.Attrs().Index, Namespace: netlink.NsFd(zns)}
	}
	kind := netKindIPVlan
	err := host.LinkAdd(&netlink.IPVlan{LinkAttrs: attrs(), Mode: netlink.IPVLAN_MODE_L2, Flag: netlink.IPVLAN_FLAG_BRIDGE})
	if err != nil {
		// No ipvlan (EOPNOTSUPP), macvlans on the NIC already (EBUSY), or
		// any other refusal of ipvlan's: macvlan may still do.
		ierr := err
		kind = netKindMacvlan
		if err = host.LinkAdd(&netlink.Macvlan{LinkAttrs: attrs(), Mode: netlink.MACVLAN_MODE_BRIDGE}); err != nil {
			err = fmt.Errorf("%w (ipvlan: %v)", err, ierr)
		}
	}
	if err != nil {
		return nil, netErr(st.Zone, p.index, name, fmt.Errorf("create %s on the host's %s: %w", kind, name, err))
	}
	dev, err := zone.LinkByName(tmp)
	if err != nil {
		return nil, netErr(st.Zone, p.index, name, fmt.Errorf("find %s in zone: %w", kind, err))
	}
	if err := zone.LinkSetName(dev, name); err != nil {
		_ = zone.LinkDel(dev)
		return nil, netErr(st.Zone, p.index, name, fmt.Errorf("name the zone's %s %s: %w", kind, name, err))
	}
	st.ZoneLinks = append(st.ZoneLinks, ZoneLink{Name: name, Lower: name, Kind: kind})
	dev, err = zone.LinkByName(name)
	if err != nil {
		return nil, netErr(st.Zone, p.index, name, fmt.Errorf("find %s in zone: %w", kind, err))
	}
	if dev.Type() != kind {
		return nil, netErr(st.Zone, p.index, name, fmt.Errorf("zone has a %s of that name, not the %s just made", dev.Type(), kind))
	}
	return dev, nil
}

// netZoneRoutes gives net p its default route inside the zone: via its
// defrouter, or, without one, via each default router the host has on the
// same NIC and subnet, which is the route an illumos shared-IP zone
// without defrouter would use from the global zone's table. The host's
// routes are read once, at ready; later changes do not follow. A
// defrouter's metric is the net's index, so the first net's wins; routes
// borrowed from the host come after every defrouter.
func netZoneRoutes(host, zone *netlink.Handle, st *NetState, p netPlan, lower, dev netlink.Link) error {
	src := net.IP(p.addr.Addr().AsSlice())
	if p.gateway.IsValid() {
		r := &netlink.Route{LinkIndex: dev.Attrs().Index, Gw: net.IP(p.gateway.AsSlice()), Src: src,
			Priority: p.index, Family: netFamily(p.gateway)}
		if err := zone.RouteAdd(r); err != nil {
			return netErr(st.Zone, p.index, "defrouter "+p.gateway.String(), fmt.Errorf("add default route in zone: %w", err))
		}
		return nil
	}
	routes, err := host.RouteListFiltered(netFamily(p.addr.Addr()), &netlink.Route{Table: unix.RT_TABLE_MAIN, LinkIndex: lower.Attrs().Index},
		netlink.RT_FILTER_TABLE|netlink.RT_FILTER_OIF)
	if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
		return netErr(st.Zone, p.index, p.spec.Physical, fmt.Errorf("read the host's routes: %w", err))
	}
	for _, hr := range routes {
		if hr.Dst != nil {
			if ones, _ := hr.Dst.Mask.Size(); ones != 0 {
				continue
			}
		}
		gw, ok := netip.AddrFromSlice(hr.Gw)
		if !ok || !p.addr.Contains(gw.Unmap()) {
			continue
		}
		r := &netlink.Route{LinkIndex: dev.Attrs().Index, Gw: hr.Gw, Src: src,
			Priority: netMaxPerZone + p.index, Family: netFamily(p.addr.Addr())}
		if err := zone.RouteAdd(r); err != nil && !errors.Is(err, unix.EEXIST) {
			return netErr(st.Zone, p.index, "host default router "+gw.String(), fmt.Errorf("add default route in zone: %w", err))
		}
	}
	return nil
}

// netZoneSysctlDefaults apply to every device made in the zone's
// namespace afterwards: no router advertisements, no addresses from them
// and no link-local address, so the zone has the addresses its net
// resources give it and no others (illumos runs in.ndpd for a shared-IP
// zone in the global zone, not in the zone).
var netZoneSysctlDefaults = [][2]string{
	{"ipv6/conf/default/accept_ra", "0"},
	{"ipv6/conf/default/autoconf", "0"},
	{"ipv6/conf/default/addr_gen_mode", "1"},
}

// netZoneSysctls writes netZoneSysctlDefaults in the zone's namespace.
// /proc/sys/net shows the namespace of the thread that opens it, so the
// writes happen on a thread moved there. That thread goes back to the
// host's namespace before it is unlocked, or stays locked and is
// discarded with its goroutine.
func netZoneSysctls(zns netns.NsHandle) error {
	if _, err := os.Stat("/proc/sys/net/ipv6"); errors.Is(err, os.ErrNotExist) {
		return nil // no IPv6 in this kernel: nothing to keep out
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("sysctls: own namespace: %w", err)
			return
		}
		defer orig.Close()
		if err := netns.Set(zns); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("sysctls: enter zone namespace: %w", err)
			return
		}
		var errs []error
		for _, kv := range netZoneSysctlDefaults {
			p := filepath.Join("/proc/sys/net", kv[0])
			if err := os.WriteFile(p, []byte(kv[1]), 0); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, fmt.Errorf("sysctl net.%s: %w", strings.ReplaceAll(kv[0], "/", "."), err))
			}
		}
		if err := netns.Set(orig); err != nil {
			errc <- errors.Join(append(errs, fmt.Errorf("sysctls: leave zone namespace: %w", err))...)
			return
		}
		runtime.UnlockOSThread()
		errc <- errors.Join(errs...)
	}()
	return <-errc
}

// netRemoveZoneLinks deletes a shared-IP zone's devices from its
// namespace: through the pin SetupNet left in this process, else through
// zsched while it lives. When neither is there the namespace has gone,
// and its devices with it.
func netRemoveZoneLinks(st NetState) error {
	if len(st.ZoneLinks) == 0 || st.NetNS == 0 {
		if st.NetNS != 0 {
			if h, ok := netUnpin(st.NetNS); ok {
				h.Close()
			}
		}
		return nil
	}
	zns, ok := netUnpin(st.NetNS)
	if !ok && st.ZschedPid > 1 {
		h, err := netns.GetFromPid(st.ZschedPid)
		if err == nil {
			var sb unix.Stat_t
			if unix.Fstat(int(h), &sb) == nil && sb.Ino == st.NetNS {
				zns, ok = h, true
			} else {
				h.Close() // a reused pid: not the zone's namespace
			}
		}
	}
	if !ok {
		return nil
	}
	defer zns.Close()
	// Whatever a state file says, the host's own devices are never the
	// zone's to delete.
	if self, err := netns.GetFromPath("/proc/thread-self/ns/net"); err == nil {
		same := self.Equal(zns)
		self.Close()
		if same {
			return fmt.Errorf("zone %s: recorded namespace is the host's; its links are left alone", st.Zone)
		}
	}
	// While zsched lives (an undo during ready) the devices are deleted:
	// the namespace stays. At halt only the pin holds it, and closing
	// the pin lets the kernel free it, devices and all.
	lives := netNamespaceLives(st.ZschedPid, st.NetNS)
	zone, err := netlink.NewHandleAt(zns, unix.NETLINK_ROUTE)
	if err != nil {
		return fmt.Errorf("zone %s: netlink in zone namespace: %w", st.Zone, err)
	}
	defer zone.Close()
	var errs []error
	for _, zl := range st.ZoneLinks {
		l, err := zone.LinkByName(zl.Name)
		if netGone(err) {
			continue
		}
		if err == nil && l.Type() != zl.Kind {
			err = fmt.Errorf("is a %s, not the %s this zone was given; left alone", l.Type(), zl.Kind)
		}
		if err == nil {
			if lives {
				err = zone.LinkDel(l)
			} else {
				err = netQuiesce(zone, l)
			}
			if netGone(err) {
				err = nil
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("zone %s: %s %s: %w", st.Zone, zl.Kind, zl.Name, err))
		}
	}
	return errors.Join(errs...)
}

// netQuiesce takes a device of a namespace about to be freed off the
// wire: down, so it neither sends nor answers ARP, and without addresses,
// so an ipvlan NIC holds none of them for a zone readied next. Deleting it
// would cost halt the kernel's wait for unregistration (some 10 ms); the
// kernel deletes it with the namespace once the pin is closed.
func netQuiesce(zone *netlink.Handle, l netlink.Link) error {
	var errs []error
	if err := zone.LinkSetDown(l); err != nil {
		errs = append(errs, fmt.Errorf("down: %w", err))
	}
	for _, fam := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		addrs, err := zone.AddrList(l, fam)
		if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
			errs = append(errs, fmt.Errorf("list addresses: %w", err))
			continue
		}
		for i := range addrs {
			if err := zone.AddrDel(l, &addrs[i]); err != nil && !netGone(err) {
				errs = append(errs, fmt.Errorf("remove %s: %w", addrs[i].IPNet, err))
			}
		}
	}
	return errors.Join(errs...)
}

// Describe names, for the zoneadmd log, the devices a shared-IP zone got
// and what they carry, e.g. "net0 macvlan on net0 (192.0.2.5/24)".
func (s NetState) Describe() string {
	var parts []string
	for _, zl := range s.ZoneLinks {
		parts = append(parts, fmt.Sprintf("%s %s on %s (%s)", zl.Name, zl.Kind, zl.Lower, strings.Join(zl.Addrs, ", ")))
	}
	for _, h := range s.HostLinks {
		parts = append(parts, "veth "+h)
	}
	if len(parts) == 0 {
		return "lo only"
	}
	return strings.Join(parts, "; ")
}

// netLockClaims serialises, among the zones of one root, checking that a
// shared-IP zone's addresses are free and recording them: two zones
// readying at once must not both take one address. The lock goes with
// the returned function, or with the process.
func NetLockClaims(rootPrefix string) (func(), error) {
	if err := os.MkdirAll(configs.RunBase(rootPrefix), 0o755); err != nil {
		return nil, fmt.Errorf("address lock: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(configs.RunBase(rootPrefix), ".net.lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("address lock: %w", err)
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("address lock: %w", err)
	}
	return func() { f.Close() }, nil
}

// netCheckClaims refuses a shared-IP zone an address another zone of the
// same root holds. The host's own addresses are checked at setup; other
// zones' are in their namespaces, out of the host's sight, and are read
// from their recorded state. A record whose namespace is gone (a zone
// that died without a halt) holds nothing.
func NetCheckClaims(rootPrefix, name string, spec *configs.PlatformSpec) error {
	if spec.IPType == NetIPExclusive || len(spec.Nets) == 0 {
		return nil
	}
	want := map[netip.Addr]int{}
	for i, n := range spec.Nets {
		if p, err := netParseAddr(n.Address); err == nil {
			want[p.Addr()] = i
		}
	}
	ents, err := os.ReadDir(configs.RunBase(rootPrefix))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("zone %s: read other zones' addresses: %w", name, err)
	}
	var errs []error
	for _, e := range ents {
		if !e.IsDir() || e.Name() == name || configs.CheckZoneName(e.Name()) != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join(configs.RunDir(rootPrefix, e.Name()), "state.json"))
		if err != nil {
			continue // not active, or being set up under this lock's predecessor
		}
		var rs struct {
			Net json.RawMessage `json:"net"`
		}
		if json.Unmarshal(b, &rs) != nil || len(rs.Net) == 0 {
			continue
		}
		other, err := UnmarshalNetState(rs.Net)
		if err != nil || !netNamespaceLives(other.ZschedPid, other.NetNS) {
			continue
		}
		for _, zl := range other.ZoneLinks {
			for _, a := range zl.Addrs {
				p, err := netip.ParsePrefix(a)
				if err != nil {
					continue
				}
				if i, ok := want[p.Addr()]; ok {
					errs = append(errs, netErr(name, i, p.Addr().String(), fmt.Errorf("address is already used by zone %s", e.Name())))
				}
			}
		}
	}
	return errors.Join(errs...)
}

// netNamespaceLives reports whether pid still lives in the network
// namespace with inode ino.
func netNamespaceLives(pid int, ino uint64) bool {
	if pid <= 1 || ino == 0 {
		return false
	}
	var sb unix.Stat_t
	return unix.Stat(fmt.Sprintf("/proc/%d/ns/net", pid), &sb) == nil && sb.Ino == ino
}
