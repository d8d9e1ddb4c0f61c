package zones

import (
	"errors"
	"fmt"
	"net/netip"
	"path"
	"slices"
	"strconv"
	"strings"
	"zonetop/rctl"
)

// VerifyError is one problem verify found, naming the zone and, where the
// problem sits in a resource, that resource and property.
type VerifyError struct {
	Zone     string
	Resource string // "" for global properties; "fs dir=/opt" style otherwise
	Property string
	Problem  string
}

func (e *VerifyError) Error() string {
	var b strings.Builder
	b.WriteString("zone ")
	b.WriteString(e.Zone)
	if e.Resource != "" {
		b.WriteString(": ")
		b.WriteString(e.Resource)
	}
	if e.Property != "" {
		b.WriteString(": ")
		b.WriteString(e.Property)
	}
	b.WriteString(": ")
	b.WriteString(e.Problem)
	return b.String()
}

// problem is a finding inside one resource before the zone name is known.
type problem struct{ prop, msg string }

// Verify checks c as zonecfg's verify does and reports every problem at
// once. others are the other configured zones, for the checks that span
// zones (name and zonepath must be unique); an entry with c's name is
// skipped, so callers may pass the whole store.
func Verify(c *Config, others []*Config) []error {
	if c == nil {
		return []error{errors.New("verify: no configuration")}
	}
	var errs []error
	add := func(res, prop, msg string) {
		errs = append(errs, &VerifyError{Zone: c.Name, Resource: res, Property: prop, Problem: msg})
	}
	global := c.Name == "global"
	if !global {
		if err := ValidateName(c.Name); err != nil {
			add("", "zonename", err.Error())
		}
		if c.Zonepath == "" {
			add("", "zonepath", "not set; every zone needs a zonepath (set zonepath=/zones/NAME)")
		}
	}
	for _, g := range globalProps {
		if g.check == nil || g.get == nil {
			continue
		}
		v := g.get(c)
		if v == "" || (g.name == "autoboot" && !c.Autoboot) {
			continue
		}
		if global && !g.global {
			add("", g.name, "cannot be set for the global zone")
			continue
		}
		if err := g.check(v); err != nil {
			add("", g.name, err.Error())
		}
	}
	if c.Zonepath != "" && !global {
		for _, o := range others {
			if o == nil || o.Name == c.Name {
				continue
			}
			if o.Zonepath != "" && path.Clean(o.Zonepath) == path.Clean(c.Zonepath) {
				add("", "zonepath", fmt.Sprintf("%s is already the zonepath of zone %s", c.Zonepath, o.Name))
			}
		}
	}
	seenNames := 0
	for _, o := range others {
		if o != nil && o.Name == c.Name && o != c {
			seenNames++
		}
	}
	if seenNames > 1 {
		add("", "zonename", fmt.Sprintf("%d other configurations carry the same name", seenNames))
	}

	if global {
		for _, what := range []struct {
			n   int
			res string
		}{{len(c.FS), "fs"}, {len(c.InheritPkgDirs), "inherit-pkg-dir"}, {len(c.Nets), "net"}, {len(c.Devices), "device"}, {len(c.Attrs), "attr"}, {len(c.Admins), "admin"}} {
			if what.n > 0 {
				add(what.res, "", "cannot be configured for the global zone")
			}
		}
	}

	ipType := c.EffectiveIPType()
	for i := range c.FS {
		for _, p := range fsProblems(&c.FS[i]) {
			add(resLabel("fs", i, "dir", c.FS[i].Dir), p.prop, p.msg)
		}
		for j := 0; j < i; j++ {
			if c.FS[i].Dir != "" && path.Clean(c.FS[j].Dir) == path.Clean(c.FS[i].Dir) {
				add(resLabel("fs", i, "dir", c.FS[i].Dir), "dir", "another fs resource already mounts on "+c.FS[i].Dir)
			}
		}
	}
	for i, d := range c.InheritPkgDirs {
		lbl := resLabel("inherit-pkg-dir", i, "dir", d.Dir)
		if err := checkAbsPath(d.Dir); err != nil {
			add(lbl, "dir", err.Error())
		}
		if c.EffectiveBrand() != "sparse" {
			add(lbl, "", "only the sparse brand inherits host directories (brand is "+c.EffectiveBrand()+")")
		}
		for j := 0; j < i; j++ {
			if path.Clean(c.InheritPkgDirs[j].Dir) == path.Clean(d.Dir) {
				add(lbl, "dir", d.Dir+" is inherited twice")
			}
		}
	}
	for i := range c.Nets {
		for _, p := range netProblems(&c.Nets[i], ipType) {
			add(resLabel("net", i, "physical", c.Nets[i].Physical), p.prop, p.msg)
		}
		for j := 0; j < i; j++ {
			a, b := c.Nets[j], c.Nets[i]
			if ipType == "shared" && a.Address != "" && addrOnly(a.Address) == addrOnly(b.Address) {
				add(resLabel("net", i, "physical", b.Physical), "address", b.Address+" is configured twice")
			}
			if ipType == "exclusive" && a.Physical != "" && a.Physical == b.Physical && a.AllowedAddress == b.AllowedAddress {
				add(resLabel("net", i, "physical", b.Physical), "physical", b.Physical+" is configured twice")
			}
		}
	}
	for i, d := range c.Devices {
		lbl := resLabel("device", i, "match", d.Match)
		if d.Match == "" {
			add(lbl, "match", "not set; a device resource needs a match pattern")
		} else if err := checkDeviceMatch(d.Match); err != nil {
			add(lbl, "match", err.Error())
		}
		for j := 0; j < i; j++ {
			if c.Devices[j].Match == d.Match && d.Match != "" {
				add(lbl, "match", d.Match+" is configured twice")
			}
		}
	}
	for i := range c.Rctls {
		for _, p := range rctlProblems(&c.Rctls[i]) {
			add(resLabel("rctl", i, "name", c.Rctls[i].Name), p.prop, p.msg)
		}
		for j := 0; j < i; j++ {
			if c.Rctls[j].Name == c.Rctls[i].Name && c.Rctls[i].Name != "" {
				add(resLabel("rctl", i, "name", c.Rctls[i].Name), "name", "rctl "+c.Rctls[i].Name+" is configured twice; add its values to one rctl resource")
			}
		}
	}
	for i := range c.Attrs {
		for _, p := range attrProblems(&c.Attrs[i]) {
			add(resLabel("attr", i, "name", c.Attrs[i].Name), p.prop, p.msg)
		}
		for j := 0; j < i; j++ {
			if c.Attrs[j].Name == c.Attrs[i].Name && c.Attrs[i].Name != "" {
				add(resLabel("attr", i, "name", c.Attrs[i].Name), "name", "attr "+c.Attrs[i].Name+" is configured twice")
			}
		}
	}
	if m := c.CappedMemory; m != nil {
		for _, p := range cappedMemoryProblems(m) {
			add("capped-memory", p.prop, p.msg)
		}
		if m.Swap != 0 && c.rctl(rctl.ZoneMaxSwap) != nil {
			add("capped-memory", "swap", "both capped-memory swap and rctl zone.max-swap are set; keep one")
		}
		if m.Locked != 0 && c.rctl(rctl.ZoneMaxLockedMemory) != nil {
			add("capped-memory", "locked", "both capped-memory locked and rctl zone.max-locked-memory (max-locked-memory) are set; keep one")
		}
		if m.Physical != 0 && c.rctl(rctl.ZoneMaxPhysicalMemory) != nil {
			add("capped-memory", "physical", "both capped-memory physical and rctl zone.max-physical-memory are set; keep one")
		}
	}
	if cc := c.CappedCPU; cc != nil {
		for _, p := range cappedCPUProblems(cc) {
			add("capped-cpu", p.prop, p.msg)
		}
		if c.rctl(rctl.ZoneCPUCap) != nil {
			add("capped-cpu", "ncpus", "both capped-cpu and rctl zone.cpu-cap are set; keep one")
		}
	}
	if d := c.DedicatedCPU; d != nil {
		for _, p := range dedicatedCPUProblems(d) {
			add("dedicated-cpu", p.prop, p.msg)
		}
		if c.rctl(rctl.ZoneCPUShares) != nil {
			add("dedicated-cpu", "", "incompatible with cpu-shares (zone.cpu-shares); clear cpu-shares or remove dedicated-cpu")
		}
		if c.Pool != "" {
			add("dedicated-cpu", "", "incompatible with the pool property; clear pool or remove dedicated-cpu")
		}
		if c.CappedCPU != nil || c.rctl(rctl.ZoneCPUCap) != nil {
			add("dedicated-cpu", "", "incompatible with capped-cpu (zone.cpu-cap); keep one")
		}
	}
	for i := range c.Admins {
		for _, p := range adminProblems(&c.Admins[i]) {
			add(resLabel("admin", i, "user", c.Admins[i].User), p.prop, p.msg)
		}
		for j := 0; j < i; j++ {
			if c.Admins[j].User == c.Admins[i].User && c.Admins[i].User != "" {
				add(resLabel("admin", i, "user", c.Admins[i].User), "user", "user "+c.Admins[i].User+" has two admin resources; merge their auths")
			}
		}
	}
	return errs
}

// resLabel names a resource for messages by its identifying property, or
// by its position when that property is empty.
func resLabel(kind string, i int, key, val string) string {
	if val == "" {
		return fmt.Sprintf("%s #%d", kind, i+1)
	}
	return fmt.Sprintf("%s %s=%s", kind, key, val)
}

func fsProblems(f *FS) []problem {
	var ps []problem
	if f.Dir == "" {
		ps = append(ps, problem{"dir", "not set; an fs resource needs dir, special and type"})
	} else if err := checkAbsPath(f.Dir); err != nil {
		ps = append(ps, problem{"dir", err.Error()})
	}
	if f.Special == "" {
		ps = append(ps, problem{"special", "not set; an fs resource needs dir, special and type"})
	}
	if f.Type == "" {
		ps = append(ps, problem{"type", "not set; an fs resource needs dir, special and type"})
	} else if err := checkToken(f.Type); err != nil {
		ps = append(ps, problem{"type", err.Error()})
	}
	if f.Raw != "" {
		if err := checkAbsPath(f.Raw); err != nil {
			ps = append(ps, problem{"raw", err.Error()})
		}
	}
	for _, o := range f.Options {
		if o == "" || strings.ContainsAny(o, ",\n\x00") {
			ps = append(ps, problem{"options", fmt.Sprintf("option %q is not a single mount option", o)})
		}
	}
	return ps
}

func netProblems(n *Net, ipType string) []problem {
	var ps []problem
	if n.Physical == "" {
		ps = append(ps, problem{"physical", "not set; every net resource needs a physical interface"})
	} else if err := checkIface(n.Physical); err != nil {
		ps = append(ps, problem{"physical", err.Error()})
	}
	switch ipType {
	case "exclusive":
		if n.Address != "" {
			ps = append(ps, problem{"address", "cannot be set in an exclusive-IP zone; use allowed-address"})
		}
		// As illumos: defrouter is valid once the net has an
		// allowed-address, and becomes the zone's default route at ready.
		if n.Defrouter != "" && n.AllowedAddress == "" {
			ps = append(ps, problem{"defrouter", "needs allowed-address in an exclusive-IP zone (the route leaves from that address)"})
		}
	case "shared":
		if n.Address == "" {
			ps = append(ps, problem{"address", "not set; a shared-IP zone needs an address for each net resource"})
		}
		if n.AllowedAddress != "" {
			ps = append(ps, problem{"allowed-address", "only applies to exclusive-IP zones; use address"})
		}
		if n.MACAddr != "" || n.VLANID != "" || n.GlobalNIC != "" {
			ps = append(ps, problem{"", "mac-addr, vlan-id and global-nic only apply to exclusive-IP zones"})
		}
	}
	if n.Address != "" {
		if err := checkAddress(n.Address, true); err != nil {
			ps = append(ps, problem{"address", err.Error()})
		}
	}
	if n.AllowedAddress != "" {
		if err := checkAddress(n.AllowedAddress, true); err != nil {
			ps = append(ps, problem{"allowed-address", err.Error()})
		}
	}
	if n.Defrouter != "" {
		if err := checkAddress(n.Defrouter, false); err != nil {
			ps = append(ps, problem{"defrouter", err.Error()})
		}
	}
	if n.GlobalNIC != "" {
		if err := checkIface(n.GlobalNIC); err != nil {
			ps = append(ps, problem{"global-nic", err.Error()})
		}
	}
	if n.MACAddr != "" {
		if err := checkMAC(n.MACAddr); err != nil {
			ps = append(ps, problem{"mac-addr", err.Error()})
		}
	}
	if n.VLANID != "" {
		if err := checkVLAN(n.VLANID); err != nil {
			ps = append(ps, problem{"vlan-id", err.Error()})
		}
	}
	return ps
}

func rctlProblems(r *Rctl) []problem {
	var ps []problem
	if r.Name == "" {
		ps = append(ps, problem{"name", "not set; an rctl resource needs a name"})
		return ps
	}
	info, ok := lookupRctl(r.Name)
	if why, unsupported := unsupportedRctls[r.Name]; unsupported {
		ps = append(ps, problem{"name", fmt.Sprintf("%s is not enforced on Linux (%s), so zonetop does not take it", r.Name, why)})
		return ps
	}
	if !ok {
		ps = append(ps, problem{"name", fmt.Sprintf("%q is not a zone rctl zonecfg knows (%s)", r.Name, rctlNameList())})
		return ps
	}
	if len(r.Values) == 0 {
		ps = append(ps, problem{"value", "no value; add value (priv=privileged,limit=N,action=deny)"})
	}
	for i, v := range r.Values {
		for _, msg := range rctlValueProblems(info, v) {
			ps = append(ps, problem{fmt.Sprintf("value #%d", i+1), msg})
		}
		for j := 0; j < i; j++ {
			if r.Values[j].Priv == v.Priv && r.Values[j].Limit == v.Limit {
				ps = append(ps, problem{fmt.Sprintf("value #%d", i+1), fmt.Sprintf("a %s value with limit %d is already set", v.Priv, v.Limit)})
			}
		}
	}
	return ps
}

func rctlValueProblems(info rctlInfo, v RctlValue) []string {
	var ps []string
	switch v.Priv {
	case "privileged":
	case "basic", "system":
		ps = append(ps, fmt.Sprintf("priv=%s is not allowed for zone rctls; use priv=privileged", v.Priv))
	default:
		ps = append(ps, fmt.Sprintf("priv=%q is not one of basic, privileged, system", v.Priv))
	}
	if v.Limit < info.Min || v.Limit > info.Max {
		ps = append(ps, fmt.Sprintf("limit %d is out of range for %s (%d..%d)", v.Limit, info.Name, info.Min, info.Max))
	}
	act := v.Action
	if strings.HasPrefix(act, "signal=") {
		if err := checkSignal(strings.TrimPrefix(act, "signal=")); err != nil {
			ps = append(ps, err.Error())
		} else if !slices.Contains(info.Actions, "deny") {
			ps = append(ps, fmt.Sprintf("action %s is not allowed for %s (allowed: %s)", act, info.Name, strings.Join(info.Actions, ", ")))
		}
	} else if !slices.Contains(info.Actions, act) {
		ps = append(ps, fmt.Sprintf("action %q is not allowed for %s (allowed: %s)", act, info.Name, strings.Join(info.Actions, ", ")))
	}
	return ps
}

func rctlNameList() string {
	names := make([]string, len(zoneRctls()))
	for i, r := range zoneRctls() {
		names[i] = r.Name
	}
	return strings.Join(names, ", ")
}

var signalNames = []string{"ABRT", "HUP", "TERM", "KILL", "STOP", "XRES", "XFSZ", "XCPU"}

func checkSignal(s string) error {
	n := strings.TrimPrefix(strings.ToUpper(s), "SIG")
	if slices.Contains(signalNames, n) {
		return nil
	}
	return fmt.Errorf("signal %q is not one an rctl may send (SIGABRT, SIGHUP, SIGTERM, SIGKILL, SIGSTOP, SIGXRES, SIGXFSZ, SIGXCPU)", s)
}

func attrProblems(a *Attr) []problem {
	var ps []problem
	if a.Name == "" {
		ps = append(ps, problem{"name", "not set; an attr resource needs name, type and value"})
	} else if err := checkAttrName(a.Name); err != nil {
		ps = append(ps, problem{"name", err.Error()})
	}
	if a.Type == "" {
		ps = append(ps, problem{"type", "not set; an attr resource needs name, type and value"})
	} else if err := checkAttrValue(a.Type, a.Value); err != nil {
		ps = append(ps, problem{"value", err.Error()})
	}
	if a.Value == "" && a.Type != "string" {
		ps = append(ps, problem{"value", "not set; an attr resource needs name, type and value"})
	}
	return ps
}

func checkAttrName(n string) error {
	if n == "" {
		return errors.New("attr name is empty")
	}
	for i := 0; i < len(n); i++ {
		ch := n[i]
		alnum := ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9'
		if i == 0 && !alnum {
			return fmt.Errorf("attr name %q must begin with a letter or digit", n)
		}
		if !alnum && ch != '-' && ch != '_' && ch != '.' {
			return fmt.Errorf("attr name %q may only hold letters, digits, '-', '_' and '.'", n)
		}
	}
	if strings.HasPrefix(n, "zone") {
		return fmt.Errorf("attr name %q is reserved: names starting with \"zone\" belong to the system", n)
	}
	return nil
}

func checkAttrValue(typ, v string) error {
	switch typ {
	case "int":
		if _, err := strconv.ParseInt(v, 10, 64); err != nil {
			return fmt.Errorf("%q is not an int", v)
		}
	case "uint":
		if _, err := strconv.ParseUint(v, 10, 64); err != nil {
			return fmt.Errorf("%q is not a uint (a non-negative integer)", v)
		}
	case "boolean":
		if v != "true" && v != "false" {
			return fmt.Errorf("%q is not a boolean (true or false)", v)
		}
	case "string":
	default:
		return fmt.Errorf("type %q is not one of int, uint, boolean, string", typ)
	}
	return nil
}

func cappedMemoryProblems(m *CappedMemory) []problem {
	if m.Physical == 0 && m.Swap == 0 && m.Locked == 0 {
		return []problem{{"", "set at least one of physical, swap, locked"}}
	}
	var ps []problem
	// illumos refuses a locked cap above the physical cap: locked pages are
	// resident by definition.
	if m.Physical != 0 && m.Locked > m.Physical {
		ps = append(ps, problem{"locked", fmt.Sprintf("%s is above physical %s", FormatSize(m.Locked), FormatSize(m.Physical))})
	}
	const minCap = 1 << 20
	for _, f := range []struct {
		n string
		v uint64
	}{{"physical", m.Physical}, {"swap", m.Swap}} {
		if f.v != 0 && f.v < minCap {
			ps = append(ps, problem{f.n, fmt.Sprintf("%s is below the 1M minimum", FormatSize(f.v))})
		}
	}
	return ps
}

func cappedCPUProblems(c *CappedCPU) []problem {
	if c.NCPUs <= 0 {
		return []problem{{"ncpus", "not set or not positive; give a decimal number of CPUs such as 1.5"}}
	}
	if c.NCPUs*100 < 1 {
		return []problem{{"ncpus", "below 0.01, the smallest cap"}}
	}
	return nil
}

func dedicatedCPUProblems(d *DedicatedCPU) []problem {
	var ps []problem
	if d.NCPUs == "" {
		ps = append(ps, problem{"ncpus", "not set; give a number of CPUs or a range such as 1-3"})
	} else if err := checkNCPUsRange(d.NCPUs); err != nil {
		ps = append(ps, problem{"ncpus", err.Error()})
	}
	if d.Importance != "" {
		if _, err := strconv.ParseUint(d.Importance, 10, 32); err != nil {
			ps = append(ps, problem{"importance", fmt.Sprintf("%q is not a non-negative integer", d.Importance)})
		}
	}
	return ps
}

func checkNCPUsRange(s string) error {
	lo, hi, isRange := strings.Cut(s, "-")
	a, err := strconv.ParseUint(lo, 10, 16)
	if err != nil || a == 0 {
		return fmt.Errorf("%q is not a positive number of CPUs or a range such as 1-3", s)
	}
	if isRange {
		b, err := strconv.ParseUint(hi, 10, 16)
		if err != nil || b < a {
			return fmt.Errorf("%q is not a range low-high with low <= high", s)
		}
	}
	return nil
}

func adminProblems(a *Admin) []problem {
	var ps []problem
	if a.User == "" {
		ps = append(ps, problem{"user", "not set; an admin resource needs user and auths"})
	} else if err := checkUser(a.User); err != nil {
		ps = append(ps, problem{"user", err.Error()})
	}
	if len(a.Auths) == 0 {
		ps = append(ps, problem{"auths", "not set; give one or more of " + strings.Join(AdminAuths, ", ")})
	}
	for _, au := range a.Auths {
		if !slices.Contains(AdminAuths, au) {
			ps = append(ps, problem{"auths", fmt.Sprintf("%q is not one of %s", au, strings.Join(AdminAuths, ", "))})
		}
	}
	return ps
}

func checkUser(u string) error {
	if len(u) > 32 {
		return fmt.Errorf("user %q is longer than 32 characters", u)
	}
	for i := 0; i < len(u); i++ {
		ch := u[i]
		ok := ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '_' || ch == '.' || (ch == '-' && i > 0)
		if !ok {
			return fmt.Errorf("user %q is not a valid login name", u)
		}
	}
	return nil
}

func checkAbsPath(p string) error {
	if !strings.HasPrefix(p, "/") {
		return fmt.Errorf("%q is not an absolute path", p)
	}
	if strings.ContainsAny(p, "\n\x00:") {
		return fmt.Errorf("%q contains a newline, NUL or ':' character", p)
	}
	for _, el := range strings.Split(p, "/") {
		if el == ".." {
			return fmt.Errorf("%q contains a \"..\" element", p)
		}
	}
	return nil
}

func checkZonepath(p string) error {
	if err := checkAbsPath(p); err != nil {
		return err
	}
	if path.Clean(p) == "/" {
		return errors.New("the zonepath cannot be /")
	}
	return nil
}

// checkToken accepts a short word: letters, digits and a few separators.
func checkToken(s string) error {
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '-' || ch == '_' || ch == '.') {
			return fmt.Errorf("%q may only hold letters, digits, '-', '_' and '.'", s)
		}
	}
	return nil
}

// checkIface accepts a Linux interface name (at most 15 bytes, no '/' or
// whitespace).
func checkIface(s string) error {
	if len(s) > 15 {
		return fmt.Errorf("interface name %q is longer than 15 characters", s)
	}
	if s == "." || s == ".." {
		return fmt.Errorf("interface name %q is not valid", s)
	}
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if ch <= ' ' || ch == '/' || ch == ':' || ch >= 0x7f {
			return fmt.Errorf("interface name %q may not contain '/', ':' or whitespace", s)
		}
	}
	return nil
}

// checkAddress accepts an IPv4 address with an optional /prefix or an IPv6
// address with a /prefix, as illumos does; withPrefix false (defrouter)
// refuses a prefix. Host names are refused: resolving them would make a
// configuration's validity depend on the resolver of the moment.
func checkAddress(s string, withPrefix bool) error {
	addr, pfx, hasPfx := strings.Cut(s, "/")
	ip, err := netip.ParseAddr(addr)
	if err != nil || ip.Zone() != "" {
		return fmt.Errorf("%q is not an IPv4 or IPv6 address", s)
	}
	if hasPfx && !withPrefix {
		return fmt.Errorf("%q: a default router takes no /prefix", s)
	}
	if hasPfx {
		n, err := strconv.Atoi(pfx)
		if err != nil || n < 0 || n > ip.BitLen() || strings.HasPrefix(pfx, "+") {
			return fmt.Errorf("%q: prefix length must be 0..%d", s, ip.BitLen())
		}
	} else if ip.Is6() && withPrefix {
		return fmt.Errorf("%q: an IPv6 address needs a /prefix length", s)
	}
	return nil
}

func addrOnly(s string) string {
	a, _, _ := strings.Cut(s, "/")
	return a
}

func checkMAC(s string) error {
	if s == "random" || s == "auto" {
		return nil
	}
	parts := strings.Split(s, ":")
	if len(parts) != 6 {
		return fmt.Errorf("mac-addr %q is not six ':'-separated hex bytes (or random)", s)
	}
	for _, p := range parts {
		if len(p) < 1 || len(p) > 2 {
			return fmt.Errorf("mac-addr %q is not six ':'-separated hex bytes (or random)", s)
		}
		if _, err := strconv.ParseUint(p, 16, 8); err != nil {
			return fmt.Errorf("mac-addr %q is not six ':'-separated hex bytes (or random)", s)
		}
	}
	return nil
}

func checkVLAN(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 4094 {
		return fmt.Errorf("vlan-id %q is not a number 1..4094", s)
	}
	return nil
}

func checkHostid(s string) error {
	h := strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X")
	n, err := strconv.ParseUint(h, 16, 64)
	if err != nil || h == "" || n > 0xFFFFFFFE {
		return fmt.Errorf("%q is not a hexadecimal host id between 0 and FFFFFFFE", s)
	}
	return nil
}

func checkBool(s string) error {
	if s != "true" && s != "false" {
		return fmt.Errorf("%q is not true or false", s)
	}
	return nil
}

// checkLimitpriv checks the syntax of a privilege set: comma-separated
// names, each optionally negated with '-' or '!', "default" only first and
// "zone" refused, as zonecfg(8) says. Which names exist is the engine's
// business (it maps them onto Linux capabilities).
func checkLimitpriv(s string) error {
	for i, tok := range strings.Split(s, ",") {
		name := strings.TrimLeft(tok, "-!")
		if name == "" {
			return fmt.Errorf("%q has an empty privilege name", s)
		}
		if name == "zone" {
			return fmt.Errorf("%q: the special set \"zone\" is not supported here", s)
		}
		if name == "default" && i != 0 {
			return fmt.Errorf("%q: \"default\" may only be the first entry", s)
		}
		for j := 0; j < len(name); j++ {
			ch := name[j]
			if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '_') {
				return fmt.Errorf("%q: privilege %q may only hold letters, digits and '_'", s, name)
			}
		}
	}
	return nil
}

func checkFSAllowed(s string) error {
	for i, tok := range strings.Split(s, ",") {
		if tok == "-" && i == 0 {
			continue
		}
		if tok == "" || checkToken(tok) != nil || tok == "-" {
			return fmt.Errorf("%q is not a comma-separated list of file system types (optionally starting with -)", s)
		}
	}
	return nil
}

func checkDeviceMatch(s string) error {
	if !strings.HasPrefix(s, "/dev/") {
		return fmt.Errorf("%q is not a pattern under /dev/", s)
	}
	if _, err := path.Match(s, "/dev/null"); err != nil {
		return fmt.Errorf("%q is not a valid fnmatch pattern", s)
	}
	for _, el := range strings.Split(s, "/") {
		if el == ".." {
			return fmt.Errorf("%q contains a \"..\" element", s)
		}
	}
	return nil
}

func checkOneOf(s string, set []string) error {
	if slices.Contains(set, s) {
		return nil
	}
	return fmt.Errorf("%q is not one of %s", s, strings.Join(set, ", "))
}
