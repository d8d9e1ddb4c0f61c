package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"zonetop/internal/configs"
	"zonetop/internal/platform"
	"zonetop/internal/zoneadmd"
	"zonetop/rctl"
	"zonetop/zones"
)

// hostPath is where a zone path from a configuration lives on this host:
// under the root prefix, as illumos' alternate root (-R) places it.
func (e *Engine) hostPath(p string) string {
	return filepath.Join(e.Root, p)
}

// sparseDirs are the host directories a sparse zone inherits read-only,
// illumos' inherit-pkg-dir defaults moved to a Linux layout. Only those the
// host has are mounted; on a merged-/usr host /bin and friends are links
// into /usr and the bind follows them.
var sparseDirs = []string{"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"}

// alternativesDir is where Debian's update-alternatives keeps the links
// that some of /usr's commands are.
const alternativesDir = "/etc/alternatives"

// platformSpec turns a zone's configuration into the runtime's platform spec. It is
// the one place where zonecfg vocabulary becomes mounts, devices,
// capabilities and sysctls.
func (e *Engine) platformSpec(cfg *zones.Config) (configs.PlatformSpec, error) {
	return e.spec(cfg, true)
}

// spec builds the platform; without allocate it takes nothing from the
// host (no user namespace range), so verify can ask what ready would
// refuse.
func (e *Engine) spec(cfg *zones.Config, allocate bool) (configs.PlatformSpec, error) {
	s := configs.PlatformSpec{
		Name:         cfg.Name,
		Zonepath:     e.hostPath(cfg.Zonepath),
		RootPrefix:   e.Root,
		Brand:        cfg.Brand,
		Hostname:     cfg.Name,
		IPType:       cfg.IPType,
		CgroupParent: e.CgroupParent,
	}
	if s.Brand == "" {
		s.Brand = "sparse"
	}
	if s.IPType == "" {
		s.IPType = "shared"
	}
	inherited := map[string]bool{}
	addBind := func(dir string) {
		if inherited[dir] {
			return
		}
		if _, err := os.Stat(dir); err != nil {
			return
		}
		inherited[dir] = true
		s.Mounts = append(s.Mounts, configs.MountSpec{Source: dir, Target: dir, Type: "bind", Options: []string{"ro", "nodev", "nosuid"}})
	}
	if s.Brand == "sparse" {
		for _, d := range sparseDirs {
			addBind(d)
		}
		// The links in the host's /usr that go through Debian's
		// alternatives (vi, awk, editor, which) name /etc/alternatives,
		// which belongs with that /usr, not with the zone's own /etc: the
		// zone sees the host's, read-only, and so follows the host's
		// package updates as its /usr does.
		addBind(alternativesDir)
	}
	for _, ipd := range cfg.InheritPkgDirs {
		addBind(ipd.Dir)
	}
	for _, fs := range cfg.FS {
		typ := fs.Type
		opts := append([]string(nil), fs.Options...)
		if typ == "lofs" {
			typ = "bind"
		}
		s.Mounts = append(s.Mounts, configs.MountSpec{Source: fs.Special, Target: fs.Dir, Type: typ, Options: opts})
	}
	for _, d := range cfg.Devices {
		s.Devices = append(s.Devices, d.Match)
	}
	for _, n := range cfg.Nets {
		s.Nets = append(s.Nets, configs.NetSpec{Physical: n.Physical, Address: n.Address, AllowedAddress: n.AllowedAddress,
			Defrouter: n.Defrouter, GlobalNIC: n.GlobalNIC, MACAddr: n.MACAddr, VLANID: n.VLANID})
	}
	caps, err := ResolveLimitpriv(cfg.Limitpriv, s.IPType)
	if err != nil {
		return s, fmt.Errorf("zone %s: limitpriv: %w", cfg.Name, err)
	}
	s.Caps = caps
	s.NestedUserns = limitprivUserns(cfg.Limitpriv)
	for _, name := range []string{rctl.ZoneMaxShmMemory, rctl.ZoneMaxShmIDs, rctl.ZoneMaxSemIDs, rctl.ZoneMaxMsgIDs} {
		if v, ok := cfg.ZoneRctl(name); ok {
			if s.IPCRctls == nil {
				s.IPCRctls = map[string]string{}
			}
			act := v.Action
			if act == "" {
				act = "deny"
			}
			s.IPCRctls[name] = fmt.Sprintf("(privileged,%d,%s)", v.Limit, act)
		}
	}
	if cfg.Init != "" {
		s.Init = []string{cfg.Init}
	}
	if cfg.Bootargs != "" {
		s.BootArgs = strings.Fields(cfg.Bootargs)
	}
	if cfg.UserNamespace == "auto" && allocate {
		r, err := platform.AllocUserns(e.Root, cfg.Name)
		if err != nil {
			return s, fmt.Errorf("zone %s: user namespace: %w", cfg.Name, err)
		}
		s.UserNS = &r
	}
	if err := zoneadmd.SpecLimits(cfg, &s); err != nil {
		return s, err
	}
	return s, nil
}

// defaultCaps is the bounding set a zone's root gets when limitpriv says
// "default": the set the mature container runtimes settled on, enough to
// run services and manage users but not to administer the host.
var defaultCaps = []string{
	"audit_write", "chown", "dac_override", "fowner", "fsetid", "kill", "mknod",
	"net_bind_service", "net_raw", "setfcap", "setgid", "setpcap", "setuid", "sys_chroot",
}

// exclusiveCaps are added for exclusive-IP zones, which own their network
// stack and may configure it (illumos grants sys_ip_config there). A
// shared-IP zone shares the host's stack, so it gets neither net_admin nor
// net_raw unless limitpriv names them.
var exclusiveCaps = []string{"net_admin"}

// linuxCaps is every capability name the kernel knows, for validation.
var linuxCaps = map[string]bool{}

func init() {
	for _, c := range strings.Fields(`chown dac_override dac_read_search fowner fsetid kill setgid setuid
		setpcap linux_immutable net_bind_service net_broadcast net_admin net_raw ipc_lock ipc_owner
		sys_module sys_rawio sys_chroot sys_ptrace sys_pacct sys_admin sys_boot sys_nice sys_resource
		sys_time sys_tty_config mknod lease audit_write audit_control setfcap mac_override mac_admin
		syslog wake_alarm block_suspend audit_read perfmon bpf checkpoint_restore`) {
		linuxCaps[c] = true
	}
}

// illumosPrivs maps the illumos privilege names operators type in limitpriv
// to the Linux capability that grants the nearest power.
var illumosPrivs = map[string]string{
	"sys_time": "sys_time", "proc_clock_highres": "sys_time", "sys_ip_config": "net_admin",
	"net_rawaccess": "net_raw", "net_icmpaccess": "net_raw", "sys_resource": "sys_resource",
	"proc_lock_memory": "ipc_lock", "proc_priocntl": "sys_nice", "sys_admin": "sys_admin",
	"file_dac_read": "dac_read_search", "file_dac_search": "dac_read_search", "proc_owner": "sys_ptrace",
	"sys_config": "sys_admin", "sys_mount": "sys_admin", "net_privaddr": "net_bind_service",
}

// LimitprivUserns is the limitpriv name that lets a zone's processes make
// user namespaces (rootless container tools, sandboxes of browsers and
// build systems want them). It is no capability: the zone's bounding set
// is the same with it, and in its user namespaces a process holds
// capabilities only over namespaces those make, never over the zone's
// own. The zonetop_ prefix keeps it apart from every capability and
// illumos privilege name, today's and tomorrow's. Even with it, no
// process of the zone makes an ipc namespace (see zoneFilterPolicy).
const LimitprivUserns = "zonetop_userns"

// limitprivUserns tells whether a limitpriv value grants LimitprivUserns:
// its last mention decides, "none" withdraws it with everything else.
func limitprivUserns(spec string) bool {
	on := false
	for _, raw := range strings.Split(spec, ",") {
		it := strings.ToLower(strings.TrimSpace(raw))
		switch {
		case it == "none":
			on = false
		case it == LimitprivUserns:
			on = true
		case strings.TrimSpace(strings.TrimLeft(it, "!-")) == LimitprivUserns:
			on = false
		}
	}
	return on
}

// ResolveLimitpriv turns a limitpriv value ("default,sys_time,!net_raw")
// into the zone's bounding set. Names may be Linux capability names (with
// or without "cap_") or illumos privilege names; "!" or "-" removes one.
func ResolveLimitpriv(spec, ipType string) ([]string, error) {
	set := map[string]bool{}
	addAll := func(names []string) {
		for _, n := range names {
			set[n] = true
		}
	}
	items := strings.Split(spec, ",")
	if strings.TrimSpace(spec) == "" {
		items = []string{"default"}
	}
	for i, raw := range items {
		it := strings.ToLower(strings.TrimSpace(raw))
		if it == "" {
			continue
		}
		remove := false
		if it[0] == '!' || it[0] == '-' {
			remove, it = true, strings.TrimSpace(it[1:])
		}
		switch it {
		case "default", "zone":
			if remove {
				return nil, fmt.Errorf("item %d: %q cannot be removed", i+1, raw)
			}
			addAll(defaultCaps)
			if ipType == "exclusive" {
				addAll(exclusiveCaps)
			} else {
				delete(set, "net_raw")
			}
			continue
		case "none":
			set = map[string]bool{}
			continue
		case LimitprivUserns:
			continue // limitprivUserns
		}
		name := strings.TrimPrefix(it, "cap_")
		if m, ok := illumosPrivs[name]; ok {
			name = m
		}
		if !linuxCaps[name] {
			return nil, fmt.Errorf("item %d: unknown privilege %q", i+1, strings.TrimSpace(raw))
		}
		if remove {
			delete(set, name)
		} else {
			set[name] = true
		}
	}
	out := make([]string, 0, len(set))
	for c := range set {
		out = append(out, c)
	}
	sort.Strings(out)
	return out, nil
}
