package zones

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"zonetop/rctl"
)

// Config is one zone's configuration: the illumos zonecfg(8) model, minus
// what has no meaning on Linux (dataset, security-flags, zfs-io-priority),
// plus zonetop's init property.
type Config struct {
	Name, Zonepath, Brand string
	Autoboot              bool
	Bootargs, IPType      string
	Limitpriv, Hostid     string
	SchedulingClass, Pool string
	FSAllowed             string
	// Init is a zonetop extension: the init binary zsched starts in a
	// whole-root zone instead of reading the zone's /etc/inittab.
	Init string
	UUID string
	// UserNamespace is a zonetop extension: "none" (or empty) runs the
	// zone's root as host root; "auto" gives the zone a user namespace
	// whose root is the first id of a host id range allocated to it.
	UserNamespace string

	FS             []FS
	InheritPkgDirs []InheritPkgDir
	Nets           []Net
	Devices        []Device
	Rctls          []Rctl
	Attrs          []Attr
	CappedMemory   *CappedMemory
	CappedCPU      *CappedCPU
	DedicatedCPU   *DedicatedCPU
	Admins         []Admin
}

// FS is an fs resource: a file system mounted into the zone at Dir.
type FS struct {
	Dir, Special, Raw, Type string
	Options                 []string
}

// InheritPkgDir is an inherit-pkg-dir resource: a host directory the
// sparse brand bind-mounts read-only into the zone.
type InheritPkgDir struct{ Dir string }

// Net is a net resource. Which properties are legal depends on ip-type.
type Net struct {
	Address, AllowedAddress, Physical, Defrouter string
	GlobalNIC, MACAddr, VLANID                   string
}

// Device is a device resource; Match is an fnmatch(3) pattern of /dev paths.
type Device struct{ Match string }

// RctlValue is one (priv,limit,action) triple of an rctl.
type RctlValue struct {
	Priv   string // basic, privileged or system
	Limit  uint64
	Action string // none, deny or signal=NAME
}

// Rctl is an rctl resource: a named resource control with its values.
type Rctl struct {
	Name   string
	Values []RctlValue
}

// Attr is a generic attr resource.
type Attr struct{ Name, Type, Value string }

// CappedMemory holds memory caps in bytes; 0 means unset.
type CappedMemory struct{ Physical, Swap, Locked uint64 }

// CappedCPU caps CPU time in CPUs (1.5 = 150 % of one CPU).
type CappedCPU struct{ NCPUs float64 }

// DedicatedCPU reserves CPUs for the zone; NCPUs is "2" or a range "1-3".
type DedicatedCPU struct {
	NCPUs      string
	Importance string
}

// Admin delegates zone administration to a host user.
type Admin struct {
	User  string
	Auths []string
}

// Defaults filled in by create and assumed when a property is empty.
const (
	DefaultBrand  = "sparse"
	DefaultIPType = "shared"
)

// Brands lists the install methods zonetop knows.
var Brands = []string{"sparse", "busybox", "tarball"}

// AdminAuths lists the admin auths: illumos' three plus zonetop's config,
// which lets the user edit the zone's configuration without being root.
var AdminAuths = []string{"login", "manage", "clonefrom", "config"}

// SchedulingClasses lists the scheduling-class values zonecfg accepts; the
// engine maps them onto Linux policies.
var SchedulingClasses = []string{"FSS", "TS", "IA", "FX", "RT"}

// SparseInherited lists the host directories the sparse brand always
// inherits; inherit-pkg-dir resources add to them. They are implicit (not
// in the configuration) so that a zone follows the host's layout.
var SparseInherited = []string{"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"}

// Clone returns a deep copy of c.
func (c *Config) Clone() *Config {
	if c == nil {
		return nil
	}
	n := *c
	n.FS = slices.Clone(c.FS)
	for i := range n.FS {
		n.FS[i].Options = slices.Clone(c.FS[i].Options)
	}
	n.InheritPkgDirs = slices.Clone(c.InheritPkgDirs)
	n.Nets = slices.Clone(c.Nets)
	n.Devices = slices.Clone(c.Devices)
	n.Rctls = slices.Clone(c.Rctls)
	for i := range n.Rctls {
		n.Rctls[i].Values = slices.Clone(c.Rctls[i].Values)
	}
	n.Attrs = slices.Clone(c.Attrs)
	n.Admins = slices.Clone(c.Admins)
	for i := range n.Admins {
		n.Admins[i].Auths = slices.Clone(c.Admins[i].Auths)
	}
	if c.CappedMemory != nil {
		m := *c.CappedMemory
		n.CappedMemory = &m
	}
	if c.CappedCPU != nil {
		m := *c.CappedCPU
		n.CappedCPU = &m
	}
	if c.DedicatedCPU != nil {
		m := *c.DedicatedCPU
		n.DedicatedCPU = &m
	}
	return &n
}

// EffectiveBrand is the brand with the default applied.
func (c *Config) EffectiveBrand() string {
	if c.Brand == "" {
		return DefaultBrand
	}
	return c.Brand
}

// EffectiveIPType is the ip-type with the default applied.
func (c *Config) EffectiveIPType() string {
	if c.IPType == "" {
		return DefaultIPType
	}
	return c.IPType
}

// rctlInfo describes one zone-level rctl zonecfg accepts.
type rctlInfo struct {
	Name    string
	Alias   string // global property that sets it, if any
	Unit    string // "count", "bytes" or "cpu-percent"
	Min     uint64
	Max     uint64
	Actions []string // legal local actions
	// Enforced is false for rctls accepted for illumos compatibility that
	// have no Linux mechanism behind them.
	Enforced bool
}

// RctlSpec is the public view of one zone.* rctl zonecfg accepts.
type RctlSpec struct {
	Name     string
	Alias    string
	Unit     string
	Min, Max uint64
	Actions  []string
	Enforced bool
}

var denyOnly = []string{"none", "deny"}

// zoneRctls are the zone.* controls zonecfg takes: the rctl catalogue's
// (one table for the whole product, with the kernel's real maxima), with
// zonecfg's aliases and its one lower bound. illumos controls Linux
// cannot enforce are not declared (unsupportedRctls says why).
func zoneRctls() []rctlInfo {
	zoneRctlsOnce.Do(func() {
		for _, r := range rctl.RctlsAt(rctl.LevelZone) {
			unit := "count"
			switch r.Unit {
			case rctl.UnitBytes:
				unit = "bytes"
			case rctl.UnitPercent:
				unit = "cpu-percent"
			}
			actions := denyOnly
			if r.Flags&rctl.FlagNoDeny != 0 {
				actions = []string{"none"}
			}
			zoneRctlTable = append(zoneRctlTable, rctlInfo{Name: r.Name, Alias: zoneRctlAliases[r.Name], Unit: unit,
				Min: zoneRctlMin[r.Name], Max: r.Max, Actions: actions, Enforced: true})
		}
	})
	return zoneRctlTable
}

var (
	zoneRctlTable []rctlInfo
	zoneRctlsOnce sync.Once
	// zonecfg's global properties that set one rctl each.
	zoneRctlAliases = map[string]string{
		rctl.ZoneCPUShares: "cpu-shares", rctl.ZoneMaxLockedMemory: "max-locked-memory", rctl.ZoneMaxLwps: "max-lwps",
		rctl.ZoneMaxMsgIDs: "max-msg-ids", rctl.ZoneMaxProcesses: "max-processes", rctl.ZoneMaxSemIDs: "max-sem-ids",
		rctl.ZoneMaxShmIDs: "max-shm-ids", rctl.ZoneMaxShmMemory: "max-shm-memory",
	}
	// A cpu-cap of 0 would stop the zone: illumos takes 1 and up.
	zoneRctlMin = map[string]uint64{rctl.ZoneCPUCap: 1}
	// unsupportedRctls are illumos zone controls Linux has nothing to
	// enforce with; a configuration naming one is refused, saying why.
	unsupportedRctls = rctl.Unsupported
)

// ZoneRctlNames lists the zone.* rctls zonecfg accepts, with their units,
// ranges and legal actions.
func ZoneRctlNames() []RctlSpec {
	out := make([]RctlSpec, len(zoneRctls()))
	for i, r := range zoneRctls() {
		out[i] = RctlSpec{Name: r.Name, Alias: r.Alias, Unit: r.Unit, Min: r.Min, Max: r.Max,
			Actions: slices.Clone(r.Actions), Enforced: r.Enforced}
	}
	return out
}

func lookupRctl(name string) (rctlInfo, bool) {
	for _, r := range zoneRctls() {
		if r.Name == name {
			return r, true
		}
	}
	return rctlInfo{}, false
}

// aliasRctl maps a global alias property (cpu-shares, max-lwps, ...) to its
// rctl.
func aliasRctl(prop string) (rctlInfo, bool) {
	for _, r := range zoneRctls() {
		if r.Alias != "" && r.Alias == prop {
			return r, true
		}
	}
	return rctlInfo{}, false
}

// aliasAction is the action an alias property gives its rctl value, as
// illumos does: shares cannot be denied, everything else denies.
func aliasAction(r rctlInfo) string {
	if slices.Contains(r.Actions, "deny") {
		return "deny"
	}
	return "none"
}

func (c *Config) rctl(name string) *Rctl {
	for i := range c.Rctls {
		if c.Rctls[i].Name == name {
			return &c.Rctls[i]
		}
	}
	return nil
}

// ZoneRctl returns the effective privileged value of a zone.* rctl: from an
// rctl resource, else from the capped-memory or capped-cpu resource that
// illumos maps onto it. name may be the rctl name or its alias property
// (cpu-shares, max-lwps, ...). With several privileged values the lowest
// limit is the one that binds first.
func (c *Config) ZoneRctl(name string) (RctlValue, bool) {
	if r, ok := aliasRctl(name); ok {
		name = r.Name
	} else if !strings.HasPrefix(name, "zone.") {
		name = "zone." + name
	}
	if r := c.rctl(name); r != nil {
		var best RctlValue
		found := false
		for _, v := range r.Values {
			if v.Priv != "privileged" {
				continue
			}
			if !found || v.Limit < best.Limit {
				best, found = v, true
			}
		}
		if found {
			return best, true
		}
	}
	if m := c.CappedMemory; m != nil {
		var lim uint64
		switch name {
		case rctl.ZoneMaxSwap:
			lim = m.Swap
		case rctl.ZoneMaxLockedMemory:
			lim = m.Locked
		case rctl.ZoneMaxPhysicalMemory:
			lim = m.Physical
		}
		if lim != 0 {
			return RctlValue{Priv: "privileged", Limit: lim, Action: "deny"}, true
		}
	}
	if name == rctl.ZoneCPUCap && c.CappedCPU != nil && c.CappedCPU.NCPUs > 0 {
		return RctlValue{Priv: "privileged", Limit: uint64(math.Round(c.CappedCPU.NCPUs * 100)), Action: "deny"}, true
	}
	return RctlValue{}, false
}

// ValidateName checks a zone name the way illumos does: a letter or digit
// first, then letters, digits, '-', '_' and '.', at most 64 characters;
// "global" and names starting with "SUNW" are reserved.
func ValidateName(name string) error {
	if name == "" {
		return errors.New("zone name is empty")
	}
	if len(name) > 64 {
		return fmt.Errorf("zone name %q is longer than 64 characters", name)
	}
	if name == "global" {
		return errors.New(`zone name "global" is reserved for the global zone`)
	}
	if strings.HasPrefix(name, "SUNW") {
		return fmt.Errorf("zone name %q is reserved: names starting with SUNW belong to the system", name)
	}
	for i := 0; i < len(name); i++ {
		ch := name[i]
		alnum := ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9'
		if i == 0 && !alnum {
			return fmt.Errorf("zone name %q must begin with a letter or digit", name)
		}
		if !alnum && ch != '-' && ch != '_' && ch != '.' {
			return fmt.Errorf("zone name %q contains %q: only letters, digits, '-', '_' and '.' are allowed", name, string(rune(ch)))
		}
	}
	return nil
}

// ParseSize parses a byte count with an optional k, m, g or t scale
// (binary, case-insensitive, an optional trailing "b"): "512m", "1G", "2048".
func ParseSize(s string) (uint64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	if t == "" {
		return 0, errors.New("size is empty")
	}
	t = strings.TrimSuffix(t, "b")
	shift := 0
	if t != "" {
		switch t[len(t)-1] {
		case 'k':
			shift = 10
		case 'm':
			shift = 20
		case 'g':
			shift = 30
		case 't':
			shift = 40
		}
		if shift != 0 {
			t = t[:len(t)-1]
		}
	}
	if t == "" || t[0] < '0' || t[0] > '9' {
		return 0, fmt.Errorf("size %q is not a number with an optional k, m, g or t scale", s)
	}
	n, err := strconv.ParseUint(t, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("size %q is not a number with an optional k, m, g or t scale", s)
	}
	if shift > 0 && n > math.MaxUint64>>shift {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return n << shift, nil
}

// FormatSize renders a byte count with the largest binary scale that
// divides it exactly, so that ParseSize(FormatSize(n)) == n.
func FormatSize(n uint64) string {
	units := []struct {
		shift  uint
		suffix string
	}{{40, "T"}, {30, "G"}, {20, "M"}, {10, "K"}}
	for _, u := range units {
		if n != 0 && n%(1<<u.shift) == 0 {
			return strconv.FormatUint(n>>u.shift, 10) + u.suffix
		}
	}
	return strconv.FormatUint(n, 10)
}

func sortStrings(s []string) { sort.Strings(s) }
