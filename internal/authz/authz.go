package authz

import (
	"fmt"
	"os/user"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"zonetop/api"
	"zonetop/zones"
)

// Actions lists every action, for tests and help.
var Actions = []api.Action{api.ActList, api.ActInfo, api.ActLogin, api.ActConsole, api.ActReady, api.ActBoot, api.ActHalt, api.ActReboot,
	api.ActShutdown, api.ActInstall, api.ActUninstall, api.ActConfigure, api.ActConfigureCaps, api.ActSetZoneCap,
	api.ActSetProjectLimit, api.ActCreateProject, api.ActDeleteProject, api.ActCloneFrom, api.ActReadUsage, api.ActSignal, api.ActReadConsoleLog, api.ActVerify}

// authNeeded is the admin auth a delegated host user needs for an action.
// Actions missing here are never delegated.
//
// Projects are the zone's own configuration (its /etc/project), so a host
// user edits them with the config auth, as root in the zone may.
var authNeeded = map[api.Action]string{
	api.ActLogin: "login", api.ActConsole: "login", api.ActReadConsoleLog: "login",
	api.ActReady: "manage", api.ActBoot: "manage", api.ActHalt: "manage", api.ActReboot: "manage", api.ActShutdown: "manage", api.ActVerify: "manage",
	api.ActCloneFrom: "clonefrom",
	api.ActConfigure: "config", api.ActSetProjectLimit: "config", api.ActCreateProject: "config", api.ActDeleteProject: "config",
}

// zoneAdminActions are what root inside a zone may do to its own zone.
var zoneAdminActions = map[api.Action]bool{
	api.ActList: true, api.ActInfo: true, api.ActReadUsage: true,
	api.ActSetProjectLimit: true, api.ActCreateProject: true, api.ActDeleteProject: true,
	// Root in the zone may kill(2) any process of it anyway; the console
	// does it through zoneadmd, which checks the process is the zone's.
	api.ActSignal: true,
	// What the zone's console said is the zone's own output; its other
	// users do not read it (a password typed at a console prompt).
	api.ActReadConsoleLog: true,
}

// readOnlyActions are what any other user of a zone may do to it.
var readOnlyActions = map[api.Action]bool{api.ActList: true, api.ActInfo: true, api.ActReadUsage: true}

func isCapAction(a api.Action) bool { return a == api.ActConfigureCaps || a == api.ActSetZoneCap }

// Authorize decides every engine call: may principal p perform action on
// zone (whose configuration is cfg; nil when it has none)? A refusal wraps
// ErrPermission and says why. The rules are the two levels of
// administration:
//   - the global administrator (root in the host) may do everything;
//   - root inside zone Z administers Z only: it reads Z's configuration,
//     caps and usage and manages Z's projects; zone caps stay the global
//     administrator's;
//   - any other user inside a zone may only read that zone;
//   - a host user named in Z's admin resource gets what its auths say
//     (login, manage, clonefrom, config) on Z and nothing else; zone caps,
//     install and uninstall are never delegated.
func Authorize(p api.Principal, zone string, action api.Action, cfg *zones.Config) error {
	if !slices.Contains(Actions, action) {
		return fmt.Errorf("%s %s: %w: unknown action", action, zone, api.ErrPermission)
	}
	if p.GlobalAdmin() {
		return nil
	}
	if action == api.ActList {
		// Listing is filtered to what the principal may see (VisibleTo).
		return nil
	}
	deny := func(why string) error {
		if zone == "" {
			return fmt.Errorf("%s: %w: %s", action, api.ErrPermission, why)
		}
		return fmt.Errorf("%s %s: %w: %s", action, zone, api.ErrPermission, why)
	}
	if isCapAction(action) {
		return deny("zone caps are set by the global administrator")
	}
	if p.Zone != "global" {
		if p.Zone == "" || zone != p.Zone {
			return deny(fmt.Sprintf("zone %s sees only itself", nonEmpty(p.Zone)))
		}
		if p.UID == 0 {
			if zoneAdminActions[action] {
				return nil
			}
			return deny("only the global administrator may do this")
		}
		if readOnlyActions[action] {
			return nil
		}
		return deny("only the zone administrator (root in the zone) may do this; other users read only")
	}
	auths := delegatedAuths(p, cfg)
	if len(auths) == 0 {
		return deny(fmt.Sprintf("user %s is not an administrator of this zone", p.Describe()))
	}
	if readOnlyActions[action] {
		return nil
	}
	need, ok := authNeeded[action]
	if !ok {
		return deny("only the global administrator may do this")
	}
	if !auths[need] {
		return deny(fmt.Sprintf("user %s lacks the %q auth for this zone", p.Describe(), need))
	}
	return nil
}

// VisibleTo reports whether p may see zone at all (in listings, the TUI).
func VisibleTo(p api.Principal, zone string, cfg *zones.Config) bool {
	return Authorize(p, zone, api.ActInfo, cfg) == nil
}

// delegatedAuths collects the auths cfg's admin resources give a host
// user, matched by login name or by numeric uid.
func delegatedAuths(p api.Principal, cfg *zones.Config) map[string]bool {
	if cfg == nil || p.Zone != "global" {
		return nil
	}
	uid := strconv.Itoa(p.UID)
	out := map[string]bool{}
	for _, a := range cfg.Admins {
		if a.User == "" || (a.User != p.User && a.User != uid) {
			continue
		}
		for _, au := range a.Auths {
			for _, one := range strings.Split(au, ",") {
				if one = strings.TrimSpace(one); one != "" {
					out[one] = true
				}
			}
		}
	}
	return out
}

// DelegatedAuths lists, sorted, the auths a host user holds on a zone.
func DelegatedAuths(p api.Principal, cfg *zones.Config) []string {
	m := delegatedAuths(p, cfg)
	out := make([]string, 0, len(m))
	for a := range m {
		out = append(out, a)
	}
	slices.Sort(out)
	return out
}

func nonEmpty(s string) string {
	if s == "" {
		return "(unknown)"
	}
	return s
}

// CheckConfigChange decides a configuration change from before to after
// (before nil: the zone is being created; after nil: deleted) for a
// principal already authorized for ActConfigure. The global administrator
// may change anything. A delegated user with the config auth may change
// only what neither runs code nor reaches the host: autoboot and attr
// resources. init and bootargs are code: they choose the command the
// zone's next boot runs as its root, which would give the config auth
// what the login auth gives. Everything else is the global
// administrator's, because it
// either is a cap (rctls, capped-memory, capped-cpu, dedicated-cpu) or
// reaches the host: zonepath and brand (where and how root writes on the
// host), fs, inherit-pkg-dir and fs-allowed (host paths mounted in),
// device (host devices), limitpriv (capabilities of the zone's root),
// ip-type and net (addresses on host NICs), scheduling-class and pool
// (host CPU policy), hostid, and admin (a delegated user could otherwise
// grant itself more auths), user-namespace (whether the zone's root is
// host root). Creating, renaming and deleting zones are the
// global administrator's too.
func CheckConfigChange(p api.Principal, before, after *zones.Config) error {
	if p.GlobalAdmin() {
		return nil
	}
	name := ""
	switch {
	case before != nil:
		name = before.Name
	case after != nil:
		name = after.Name
	}
	if before == nil || after == nil {
		return fmt.Errorf("configure %s: %w: only the global administrator creates and deletes zones", name, api.ErrPermission)
	}
	var caps, code, host []string
	b, a := before.Clone(), after.Clone()
	// Blank out what a delegated user may change; what differs after
	// that is refused, reported by name.
	for _, c := range []*zones.Config{b, a} {
		c.Autoboot, c.Attrs = false, nil
	}
	chk := func(list *[]string, what string, x, y any) {
		if !reflect.DeepEqual(x, y) {
			*list = append(*list, what)
		}
	}
	if !reflect.DeepEqual(b.Rctls, a.Rctls) {
		caps = append(caps, changedRctls(b.Rctls, a.Rctls)...)
	}
	chk(&caps, "capped-memory", b.CappedMemory, a.CappedMemory)
	chk(&caps, "capped-cpu", b.CappedCPU, a.CappedCPU)
	chk(&caps, "dedicated-cpu", b.DedicatedCPU, a.DedicatedCPU)
	chk(&code, "init", b.Init, a.Init)
	chk(&code, "bootargs", b.Bootargs, a.Bootargs)
	chk(&host, "zonename", b.Name, a.Name)
	chk(&host, "zonepath", b.Zonepath, a.Zonepath)
	chk(&host, "brand", b.Brand, a.Brand)
	chk(&host, "fs", b.FS, a.FS)
	chk(&host, "inherit-pkg-dir", b.InheritPkgDirs, a.InheritPkgDirs)
	chk(&host, "fs-allowed", b.FSAllowed, a.FSAllowed)
	chk(&host, "device", b.Devices, a.Devices)
	chk(&host, "limitpriv", b.Limitpriv, a.Limitpriv)
	chk(&host, "ip-type", b.IPType, a.IPType)
	chk(&host, "net", b.Nets, a.Nets)
	chk(&host, "scheduling-class", b.SchedulingClass, a.SchedulingClass)
	chk(&host, "pool", b.Pool, a.Pool)
	chk(&host, "hostid", b.Hostid, a.Hostid)
	chk(&host, "admin", b.Admins, a.Admins)
	chk(&host, "uuid", b.UUID, a.UUID)
	chk(&host, "user-namespace", b.UserNamespace, a.UserNamespace)
	if len(caps) > 0 {
		return fmt.Errorf("configure %s: %w: zone caps are set by the global administrator (%s)", name, api.ErrPermission, strings.Join(caps, ", "))
	}
	if len(code) > 0 {
		return fmt.Errorf("configure %s: %w: only the global administrator may change %s (%s)", name, api.ErrPermission, strings.Join(code, ", "), codeWhy)
	}
	if len(host) > 0 {
		return fmt.Errorf("configure %s: %w: only the global administrator may change %s", name, api.ErrPermission, strings.Join(host, ", "))
	}
	// Anything the checks above do not name (a field added to the model
	// later) is refused rather than let through.
	if !reflect.DeepEqual(b, a) {
		return fmt.Errorf("configure %s: %w: only the global administrator may make this change", name, api.ErrPermission)
	}
	return nil
}

// changedRctls names the rctls that differ between two lists.
func changedRctls(b, a []zones.Rctl) []string {
	vals := func(list []zones.Rctl) map[string][]zones.RctlValue {
		m := map[string][]zones.RctlValue{}
		for _, r := range list {
			m[r.Name] = append(m[r.Name], r.Values...)
		}
		return m
	}
	bm, am := vals(b), vals(a)
	var out []string
	for n, v := range bm {
		if !reflect.DeepEqual(v, am[n]) {
			out = append(out, n)
		}
	}
	for n := range am {
		if _, ok := bm[n]; !ok {
			out = append(out, n)
		}
	}
	if len(out) == 0 {
		out = append(out, "rctl")
	}
	slices.Sort(out)
	return out
}

// hostUserName is uid's login name in the host's /etc/passwd ("" when it
// has none). os/user reads the file itself in a static (CGO_ENABLED=0)
// build; zoneadmd runs in the host's mount namespace, so this is the
// host's file, never a zone's.
func HostUserName(uid int) string {
	u, err := user.LookupId(strconv.Itoa(uid))
	if err != nil {
		return ""
	}
	return u.Username
}

// requireGlobal refuses anything but the global administrator, for the
// operations no auth delegates: creating and deleting zones, and applying
// whole zonecfg scripts from the console.
func RequireGlobal(p api.Principal, what, zone string) error {
	if !p.GlobalAdmin() {
		return fmt.Errorf("%s %s: %w: only the global administrator may do this", what, zone, api.ErrPermission)
	}
	return nil
}

// What a delegated host user with the config auth may change with
// zonecfg, command by command; CheckConfigChange decides the result again
// before it is stored. Resource types and properties outside these lists
// are caps, code run as the zone's root, or reach the host (see
// CheckConfigChange).
var (
	delegatedProps     = map[string]bool{"autoboot": true}
	delegatedResources = map[string]bool{"attr": true}
	capResources       = map[string]bool{"rctl": true, "capped-memory": true, "capped-cpu": true, "dedicated-cpu": true}
	// codeProps name what a boot runs: refused to the config auth,
	// which does not give login.
	codeProps = map[string]bool{"init": true, "bootargs": true}
	// hostReach says, for the global properties and resource types a
	// delegated user may not change, what they give power over.
	hostReach = map[string]string{
		"zonename": "the zone's name", "zonepath": "where the zone lives on the host",
		"brand": "how the zone is installed", "limitpriv": "the privileges of the zone's root",
		"ip-type": "the host's network", "pool": "host CPU policy", "scheduling-class": "host CPU policy",
		"hostid": "the zone's identity", "fs-allowed": "host file systems", "fs": "host file systems",
		"inherit-pkg-dir": "host file systems", "device": "host devices", "net": "the host's network",
		"admin": "who administers the zone", "user-namespace": "whether the zone's root is host root",
	}
)

const codeWhy = "they choose what runs as the zone's root"

// isRctlAlias reports whether prop is a global rctl alias (max-lwps, ...).
func isRctlAlias(prop string) bool {
	for _, r := range zones.ZoneRctlNames() {
		if r.Alias != "" && r.Alias == prop {
			return true
		}
	}
	return false
}

// CheckDelegatedCommand decides one zonecfg command of a delegated host
// user holding the config auth on zone: autoboot and attr resources are
// its; caps, init and bootargs (code run as the zone's root), what
// reaches the host and the admin resource are refused by name, and
// creating, copying and deleting zones stay the global administrator's.
func CheckDelegatedCommand(zone string, ch zones.Change) error {
	deny := func(what, why string) error {
		if what == "" {
			return fmt.Errorf("%s: %w: %s", ch.Op, api.ErrPermission, why)
		}
		return fmt.Errorf("%s %s: %w: %s", ch.Op, what, api.ErrPermission, why)
	}
	switch ch.Op {
	case "create":
		return deny("", fmt.Sprintf("only the global administrator creates zones; change %s with set, add, select and remove", zone))
	case "delete":
		return deny("", "only the global administrator deletes zones")
	}
	what := ch.Property
	if ch.Resource != "" {
		what = ch.Resource
		if ch.Property != "" {
			what = ch.Resource + " " + ch.Property
		}
	}
	switch {
	case ch.Resource == "" && ch.Property == "":
		// A malformed command; the session reports it.
		return nil
	case capResources[ch.Resource] || (ch.Resource == "" && isRctlAlias(ch.Property)):
		name := ch.Resource
		if name == "" {
			name = ch.Property
		}
		return deny(what, name+" is a zone cap; zone caps are set by the global administrator")
	case ch.Resource != "" && delegatedResources[ch.Resource]:
		return nil
	case ch.Resource == "" && delegatedProps[ch.Property]:
		return nil
	case ch.Resource == "" && codeProps[ch.Property]:
		return deny(what, "only the global administrator may change init and bootargs ("+codeWhy+")")
	}
	name := ch.Resource
	if name == "" {
		name = ch.Property
	}
	if why, ok := hostReach[name]; ok {
		return deny(what, fmt.Sprintf("only the global administrator may change %s (%s)", name, why))
	}
	return deny(what, fmt.Sprintf("only the global administrator may change %s", name))
}

// AuthorizeAuths is Authorize for a host user known to hold auths on
// zone, for a front end that has the user's auths (from the zonetop
// service's list) but not the zone's configuration: it gives the answer,
// and the words, the engine will give. It decides nothing by itself; the
// service and zoneadmd decide again.
func AuthorizeAuths(p api.Principal, zone string, auths []string, action api.Action) error {
	var cfg *zones.Config
	if len(auths) > 0 {
		who := p.User
		if who == "" {
			who = strconv.Itoa(p.UID)
		}
		cfg = &zones.Config{Name: zone, Admins: []zones.Admin{{User: who, Auths: []string{strings.Join(auths, ",")}}}}
	}
	return Authorize(p, zone, action, cfg)
}
