package client

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"zonetop/api"
	"zonetop/rctl"
	"zonetop/zones"

	"golang.org/x/sys/unix"
)

// What the zone socket tells a zone's console beside Zones: the machine as
// the zone sees it, and the zone's own settings, read only.

// Host is the zone's view of the machine: its hostname, the kernel, the
// brands; the host's cgroup layout is not the zone's to know.
func (s *ZoneServer) Host() api.HostInfo {
	var h api.HostInfo
	h.Hostname, _ = os.Hostname()
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		h.Kernel = unix.ByteSliceToString(u.Release[:])
	}
	h.Brands = slices.Clone(zones.Brands)
	return h
}

// ZoneConfig shows what the zone may know of itself: its state, brand and
// IP type, and its caps, read only, as the zonecfg statements that set
// them.
func (s *ZoneServer) ZoneConfig(ctx context.Context, p api.Principal, name string) (string, string, error) {
	if err := s.Own(name); err != nil {
		return "", "", err
	}
	in, err := s.Info()
	if err != nil {
		return "", "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "zonename: %s\nstate: %s\nzoneid: %d\nbrand: %s\nip-type: %s\nautoboot: %t\nyou: uid %d (%s)\n",
		in.Name, in.State, in.ZoneID, in.Brand, in.IPType, in.Autoboot, in.UID, in.Role)
	// The caps in force, from zoneadmd, named as prctl names them.
	var caps []string
	if u, err := s.Usage(ctx, p, in.Name); err == nil {
		for name, v := range u.Caps {
			q := strconv.FormatUint(v, 10)
			if rc, err := rctl.Lookup(name); err == nil {
				q = rctl.FormatQuantity(v, rc.Unit)
			}
			caps = append(caps, name+"="+q)
		}
	}
	sort.Strings(caps)
	if len(caps) > 0 {
		b.WriteString("caps (set by the global administrator):\n")
		for _, c := range caps {
			fmt.Fprintf(&b, "\t%s\n", c)
		}
	}
	return b.String(), strings.Join(in.Caps, "\n"), nil
}

// Events: the audit log is the host's; the zone has none to show.
func (s *ZoneServer) Events(api.Principal, string) []api.Event { return nil }
