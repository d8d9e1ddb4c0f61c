package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"zonetop/api"
	"zonetop/internal/authz"
	"zonetop/internal/zoneadmd"
	"zonetop/limits/cgroups"
	"zonetop/zones"

	"golang.org/x/sys/unix"
)

// Engine is the front ends' handle on one host's zones. It holds no zone
// runtime state of its own: configuration lives in the store, live state in
// each zone's zoneadmd, so any number of front ends may come and go.
type Engine struct {
	// Root is the root prefix every zonetop path lives under ("/" normally).
	Root string
	// CgroupParent overrides where zone cgroups are made; empty means a
	// "zonetop" child of the cgroup the engine was started in.
	CgroupParent string
	store        *zones.Store
	events       eventLog // what happened to each zone through this engine
	// ops carries out life-cycle steps once a call is authorized: the
	// zones' zoneadmds over their sockets, or the zoneadmd this engine
	// call runs in (a delegated user's request it received).
	ops zoneadmd.Ops
	// host keeps the previous /proc/stat sample, so HostUsage is a rate.
	host hostSampler
}

// New opens the engine on the state under root.
func New(root, cgroupParent string) (*Engine, error) {
	if !filepath.IsAbs(root) {
		return nil, fmt.Errorf("root %q is not an absolute path", root)
	}
	store := zones.NewStore(root)
	store.SetLive(func(name string) (zones.State, bool) { return zoneadmd.RuntimeState(root, name) })
	return &Engine{Root: root, CgroupParent: cgroupParent, store: store, ops: zoneadmd.Remote{Root: root}}, nil
}

// CurrentPrincipal is the principal of the calling process in the host.
func CurrentPrincipal() api.Principal {
	uid := os.Getuid()
	return api.Principal{UID: uid, GID: os.Getgid(), User: authz.HostUserName(uid), Zone: "global"}
}

// Host reports what the console's header shows about this machine.
func (e *Engine) Host() api.HostInfo {
	var h api.HostInfo
	h.Hostname, _ = os.Hostname()
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		h.Kernel = unix.ByteSliceToString(u.Release[:])
	}
	h.CgroupMode = cgroupMode()
	h.Brands = slices.Clone(zones.Brands)
	return h
}

// cgroupMode names the host's cgroup layout as the host info shows it.
func cgroupMode() string {
	switch cgroups.DetectMode() {
	case cgroups.ModeUnified:
		return "v2"
	case cgroups.ModeHybrid:
		return "hybrid"
	case cgroups.ModeV1:
		return "v1"
	}
	return "unknown"
}

// GlobalZone is the row the host itself has in every listing.
func GlobalZone() api.ZoneInfo {
	return api.ZoneInfo{ID: 0, Name: "global", State: string(zones.StateRunning), Path: "/", Brand: "native", IPType: "shared"}
}

// List returns the zones opts selects, global zone first, then by zone ID
// and name as zoneadm does. A zone whose configuration cannot be read still
// appears, with the reason, so one bad file never hides the others.
func (e *Engine) List(ctx context.Context, p api.Principal, opts api.ListOptions) ([]api.ZoneInfo, error) {
	entries, err := e.store.List()
	if err != nil {
		return nil, fmt.Errorf("list zones: %w", err)
	}
	out := []api.ZoneInfo{}
	if p.Zone == "global" {
		out = append(out, GlobalZone())
	}
	names := make([]string, 0, len(entries))
	for _, ent := range entries {
		if p.Zone == "global" || ent.Name == p.Zone {
			names = append(names, ent.Name)
		}
	}
	loaded, err := e.store.LoadMany(names)
	if err != nil {
		return nil, fmt.Errorf("list zones: %w", err)
	}
	// The zones this principal sees, in the index's order; their live
	// state is then asked of their zoneadmds together (fillAllLive), and
	// the rest is filled in this order again.
	var rows []api.ZoneInfo
	for _, ent := range entries {
		if p.Zone != "global" && ent.Name != p.Zone {
			continue
		}
		if !p.GlobalAdmin() {
			// Delegated users and zone users see only their zones.
			cfg := loaded[ent.Name].Config
			if !authz.VisibleTo(p, ent.Name, cfg) {
				continue
			}
		}
		rows = append(rows, api.ZoneInfo{ID: -1, Name: ent.Name, State: string(ent.State), Path: ent.Zonepath, UUID: ent.UUID, Reason: ent.Reason})
	}
	if err := e.fillAllLive(ctx, rows); err != nil {
		return nil, err
	}
	for _, zi := range rows {
		if zi.State == string(zones.StateIncomplete) {
			zi.Reason = e.incompleteReason(zi.Name, zi.Reason)
		}
		if !wanted(zones.State(zi.State), opts) {
			continue
		}
		cfg, err := loaded[zi.Name].Config, loaded[zi.Name].Err
		if err == nil {
			err = e.checkZonepath(cfg)
		}
		if err != nil {
			zi.Broken = err.Error()
			zi.Reason = strings.TrimSpace(zi.Reason + " " + err.Error())
		} else {
			zi.Brand, zi.IPType, zi.Autoboot = cfg.EffectiveBrand(), cfg.EffectiveIPType(), cfg.Autoboot
			if !p.GlobalAdmin() {
				zi.Auths = authz.DelegatedAuths(p, cfg)
			}
		}
		out = append(out, zi)
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if (a.ID >= 0) != (b.ID >= 0) {
			return a.ID >= 0
		}
		if a.ID != b.ID {
			return a.ID < b.ID
		}
		return a.Name < b.Name
	})
	return out, nil
}

func wanted(s zones.State, o api.ListOptions) bool {
	switch s {
	case zones.StateConfigured, zones.StateIncomplete:
		return o.Configured
	case zones.StateInstalled:
		return o.Configured || o.Installed
	default:
		// ready, running, shutting_down and down zones have a virtual
		// platform (or what is left of one) and always show.
		return true
	}
}
