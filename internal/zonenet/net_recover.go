package zonenet

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"zonetop/internal/configs"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// RecoverNetState rebuilds, from what the host shows, the state SetupNet
// would have returned for a zone whose zoneadmd died before recording it,
// so that TeardownNet can finish a halt. It includes only objects it can
// tell are this zone's: host links named after the zone ID and net index,
// IPv4 addresses carrying the zone's label on their physical interface,
// and rules into the zone's routing tables. IPv6 addresses have no label
// to tell them apart from an address someone else added, so a shared-IP
// zone's IPv6 addresses are not recovered; the error says which ones
// remain, for the operator. A shared-IP zone this version readied has
// nothing on the host to find: its devices are in its namespace and go
// with it. The addresses and rules are those of zones an earlier version
// readied, which put them on the host.
func RecoverNetState(name, ipType string, nets []configs.NetSpec, zoneID int) (NetState, error) {
	if ipType == "" {
		ipType = netIPShared
	}
	st := NetState{Zone: name, ZoneID: zoneID, IPType: ipType}
	host, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return st, fmt.Errorf("zone %s: netlink: %w", name, err)
	}
	defer host.Close()
	var errs []error
	if ipType == NetIPExclusive {
		for i := range nets {
			ln := NetHostLinkName(zoneID, i)
			l, err := host.LinkByName(ln)
			if netGone(err) {
				continue
			}
			if err != nil {
				errs = append(errs, netErr(name, i, ln, err))
				continue
			}
			if l.Type() != "veth" {
				continue
			}
			st.HostLinks = append(st.HostLinks, ln)
			if st.HostLinkMACs == nil {
				st.HostLinkMACs = map[string]string{}
			}
			st.HostLinkMACs[ln] = l.Attrs().HardwareAddr.String()
		}
		return st, errors.Join(errs...)
	}
	for i, n := range nets {
		a, err := netParseAddr(n.Address)
		if err != nil {
			continue // SetupNet would have refused it too
		}
		l, err := host.LinkByName(n.Physical)
		if netGone(err) {
			continue
		}
		if err != nil {
			errs = append(errs, netErr(name, i, n.Physical, err))
			continue
		}
		addrs, err := host.AddrList(l, netFamily(a.Addr()))
		if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
			errs = append(errs, netErr(name, i, n.Physical, err))
			continue
		}
		for _, x := range addrs {
			ip, ok := netip.AddrFromSlice(x.IP)
			if !ok || ip.Unmap() != a.Addr() {
				continue
			}
			label := netSharedLabel(n.Physical, zoneID)
			switch {
			case a.Addr().Is4() && label != "" && x.Label == label:
				ones, _ := x.Mask.Size()
				st.SharedAddrs = append(st.SharedAddrs, SharedAddr{Link: n.Physical, Address: netip.PrefixFrom(a.Addr(), ones).String()})
			case a.Addr().Is6() || label == "":
				errs = append(errs, netErr(name, i, a.Addr().String()+" on "+n.Physical,
					errors.New("address present but not marked as this zone's; left for the operator")))
			}
		}
		if n.Defrouter == "" {
			continue
		}
		src := netip.PrefixFrom(a.Addr(), a.Addr().BitLen())
		table := netSharedTable(zoneID, i)
		rules, err := host.RuleListFiltered(netFamily(a.Addr()), &netlink.Rule{Table: table}, netlink.RT_FILTER_TABLE)
		if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
			errs = append(errs, netErr(name, i, "rules", err))
			continue
		}
		for _, r := range rules {
			if r.Priority == netRulePriority && r.Src != nil && r.Src.String() == src.String() {
				st.SharedRoutes = append(st.SharedRoutes, SharedRoute{Source: src.String(), Gateway: n.Defrouter,
					Link: n.Physical, Table: table, Priority: netRulePriority})
				break
			}
		}
	}
	return st, errors.Join(errs...)
}

// NetLeftovers lists the network objects of the zone with zoneID that the
// calling thread's namespace still holds, or of every zone when zoneID is
// 0: host links named zt<ID>n<i>, IPv4 addresses labelled <if>:z<ID>, and
// routing rules into zonetop's tables. Halt uses it to tell whether a zone
// is really gone; tests use it to prove it.
func NetLeftovers(zoneID int) ([]string, error) {
	host, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("netlink: %w", err)
	}
	defer host.Close()
	var out []string
	links, err := host.LinkList()
	if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
		return nil, fmt.Errorf("list links: %w", err)
	}
	for _, l := range links {
		if id, ok := netHostLinkZone(l.Attrs().Name); ok && (zoneID == 0 || id == zoneID) {
			out = append(out, "link "+l.Attrs().Name)
		}
	}
	addrs, err := host.AddrList(nil, netlink.FAMILY_V4)
	if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
		return nil, fmt.Errorf("list addresses: %w", err)
	}
	for _, a := range addrs {
		_, tag, ok := strings.Cut(a.Label, ":z")
		if !ok {
			continue
		}
		if id, err := strconv.Atoi(tag); err == nil && (zoneID == 0 || id == zoneID) {
			out = append(out, fmt.Sprintf("address %s (%s)", a.IPNet, a.Label))
		}
	}
	for _, fam := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		rules, err := host.RuleList(fam)
		if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
			return nil, fmt.Errorf("list rules: %w", err)
		}
		for _, r := range rules {
			if r.Table < netTableBase {
				continue
			}
			id := (r.Table - netTableBase) / netMaxPerZone
			if zoneID == 0 || id == zoneID {
				out = append(out, fmt.Sprintf("rule from %v lookup %d", r.Src, r.Table))
			}
		}
	}
	return out, nil
}

// netHostLinkZone reads the zone ID out of a host link name zt<ID>n<i>.
func netHostLinkZone(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, netHostPrefix)
	if !ok {
		return 0, false
	}
	idText, idx, ok := strings.Cut(rest, "n")
	if !ok {
		return 0, false
	}
	id, err1 := strconv.Atoi(idText)
	_, err2 := strconv.Atoi(idx)
	if err1 != nil || err2 != nil || id <= 0 {
		return 0, false
	}
	return id, true
}
