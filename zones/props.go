package zones

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// globalProp describes one global property: how to read, check and store
// it. One table drives set, clear, info, export and verify so that they
// cannot disagree.
type globalProp struct {
	name   string
	get    func(*Config) string
	put    func(*Config, string)
	check  func(string) error
	global bool // may be set on the global zone's configuration
	// clearable is false for properties every zone must keep.
	clearable bool
}

var globalProps = []globalProp{
	{name: "zonepath", get: func(c *Config) string { return c.Zonepath }, put: func(c *Config, v string) { c.Zonepath = v }, check: checkZonepath},
	{name: "brand", get: func(c *Config) string { return c.Brand }, put: func(c *Config, v string) { c.Brand = v },
		check: func(v string) error { return checkOneOf(v, Brands) }},
	{name: "autoboot", get: func(c *Config) string { return strconv.FormatBool(c.Autoboot) },
		put: func(c *Config, v string) { c.Autoboot = v == "true" }, check: checkBool, clearable: true},
	{name: "bootargs", get: func(c *Config) string { return c.Bootargs }, put: func(c *Config, v string) { c.Bootargs = v }, check: checkText, clearable: true},
	{name: "pool", get: func(c *Config) string { return c.Pool }, put: func(c *Config, v string) { c.Pool = v }, check: checkPoolName, global: true, clearable: true},
	{name: "limitpriv", get: func(c *Config) string { return c.Limitpriv }, put: func(c *Config, v string) { c.Limitpriv = v }, check: checkLimitpriv, clearable: true},
	{name: "scheduling-class", get: func(c *Config) string { return c.SchedulingClass }, put: func(c *Config, v string) { c.SchedulingClass = v },
		check: func(v string) error { return checkOneOf(v, SchedulingClasses) }, global: true, clearable: true},
	{name: "ip-type", get: func(c *Config) string { return c.IPType }, put: func(c *Config, v string) { c.IPType = v },
		check: func(v string) error { return checkOneOf(v, []string{"shared", "exclusive"}) }},
	{name: "hostid", get: func(c *Config) string { return c.Hostid }, put: func(c *Config, v string) { c.Hostid = v }, check: checkHostid, clearable: true},
	{name: "fs-allowed", get: func(c *Config) string { return c.FSAllowed }, put: func(c *Config, v string) { c.FSAllowed = v }, check: checkFSAllowed, clearable: true},
	// init is zonetop's own: the init binary of a whole-root zone.
	// user-namespace is zonetop's own: whether zone root is host root.
	{name: "user-namespace", get: func(c *Config) string { return c.UserNamespace }, put: func(c *Config, v string) { c.UserNamespace = v },
		check: func(v string) error { return checkOneOf(v, UserNamespaceModes) }, clearable: true},
	{name: "init", get: func(c *Config) string { return c.Init }, put: func(c *Config, v string) { c.Init = v }, check: checkAbsPath, clearable: true},
}

// UserNamespaceModes are the values of user-namespace: none (zone root is
// host root) and auto (a host id range of the zone's own).
var UserNamespaceModes = []string{"none", "auto"}

func lookupGlobalProp(name string) (globalProp, bool) {
	for _, g := range globalProps {
		if g.name == name {
			return g, true
		}
	}
	return globalProp{}, false
}

func checkText(s string) error {
	if strings.ContainsAny(s, "\n\x00") {
		return errors.New("value may not contain a newline or NUL")
	}
	return nil
}

func checkPoolName(s string) error {
	if s == "" {
		return errors.New("pool name is empty")
	}
	return checkToken(s)
}

// parseRctlLimit reads an alias or limit value in the unit of its rctl:
// a size with k/m/g/t for bytes, an integer otherwise.
func parseRctlLimit(info rctlInfo, s string) (uint64, error) {
	if info.Unit == "bytes" {
		return ParseSize(s)
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a non-negative integer", s)
	}
	return n, nil
}

// setAlias sets a global rctl alias (cpu-shares, max-lwps, ...) the way
// illumos does: the rctl gets one privileged value, and only that rctl is
// stored. zonecfg couples nothing: at boot the platform derives max-lwps
// from max-processes when only the latter is set (never the reverse), so
// `set max-lwps=100; clear max-lwps` leaves no rctl behind.
func setAlias(c *Config, info rctlInfo, raw string) error {
	lim, err := parseRctlLimit(info, raw)
	if err != nil {
		return err
	}
	v := RctlValue{Priv: "privileged", Limit: lim, Action: aliasAction(info)}
	if msgs := rctlValueProblems(info, v); len(msgs) > 0 {
		return errors.New(msgs[0])
	}
	putRctl(c, info.Name, v)
	return nil
}

func putRctl(c *Config, name string, v RctlValue) {
	if r := c.rctl(name); r != nil {
		r.Values = []RctlValue{v}
		return
	}
	c.Rctls = append(c.Rctls, Rctl{Name: name, Values: []RctlValue{v}})
}

func clearRctl(c *Config, name string) bool {
	for i := range c.Rctls {
		if c.Rctls[i].Name == name {
			c.Rctls = slices.Delete(c.Rctls, i, i+1)
			return true
		}
	}
	return false
}

// resource kinds of the command language.
var resourceKinds = []string{"fs", "inherit-pkg-dir", "net", "device", "rctl", "attr", "capped-memory", "capped-cpu", "dedicated-cpu", "admin"}

// unsupportedKinds are illumos resources with no Linux meaning.
var unsupportedKinds = map[string]string{
	"dataset":        "ZFS datasets cannot be delegated to a zone on Linux; use an fs resource",
	"security-flags": "process security-flags have no Linux equivalent",
	"anet":           "anet belongs to Solaris 11; use net with ip-type=exclusive",
}

// singleKinds may appear at most once in a zone.
func singleKind(k string) bool {
	return k == "capped-memory" || k == "capped-cpu" || k == "dedicated-cpu"
}

// globalZoneKinds are the resources the global zone's configuration takes:
// only resource management, as illumos allows.
func globalZoneKind(k string) bool {
	return k == "rctl" || k == "capped-memory" || k == "capped-cpu" || k == "dedicated-cpu"
}

// resProps lists the properties of each resource kind, in export order.
var resProps = map[string][]string{
	"fs":              {"dir", "special", "raw", "type", "options"},
	"inherit-pkg-dir": {"dir"},
	"net":             {"address", "allowed-address", "physical", "defrouter", "global-nic", "mac-addr", "vlan-id"},
	"device":          {"match"},
	"rctl":            {"name", "value"},
	"attr":            {"name", "type", "value"},
	"capped-memory":   {"physical", "swap", "locked"},
	"capped-cpu":      {"ncpus"},
	"dedicated-cpu":   {"ncpus", "importance"},
	"admin":           {"user", "auths"},
}

// listProps are the properties that hold lists; add/remove work on them.
func listProp(kind, prop string) bool {
	return kind == "fs" && prop == "options" || kind == "rctl" && prop == "value" || kind == "admin" && prop == "auths"
}

// resource is a resource being edited: a pointer to a copy of one of the
// model's resource structs.
type resource struct {
	kind string
	fs   *FS
	ipd  *InheritPkgDir
	net  *Net
	dev  *Device
	rctl *Rctl
	attr *Attr
	mem  *CappedMemory
	ccpu *CappedCPU
	dcpu *DedicatedCPU
	adm  *Admin
}

func newResource(kind string) resource {
	r := resource{kind: kind}
	switch kind {
	case "fs":
		r.fs = &FS{}
	case "inherit-pkg-dir":
		r.ipd = &InheritPkgDir{}
	case "net":
		r.net = &Net{}
	case "device":
		r.dev = &Device{}
	case "rctl":
		r.rctl = &Rctl{}
	case "attr":
		r.attr = &Attr{}
	case "capped-memory":
		r.mem = &CappedMemory{}
	case "capped-cpu":
		r.ccpu = &CappedCPU{}
	case "dedicated-cpu":
		r.dcpu = &DedicatedCPU{}
	case "admin":
		r.adm = &Admin{}
	}
	return r
}

// get renders a property for info and for matching select/remove criteria.
func (r resource) get(prop string) (string, bool) {
	switch r.kind {
	case "fs":
		switch prop {
		case "dir":
			return r.fs.Dir, true
		case "special":
			return r.fs.Special, true
		case "raw":
			return r.fs.Raw, true
		case "type":
			return r.fs.Type, true
		case "options":
			return "[" + strings.Join(r.fs.Options, ",") + "]", true
		}
	case "inherit-pkg-dir":
		if prop == "dir" {
			return r.ipd.Dir, true
		}
	case "net":
		switch prop {
		case "address":
			return r.net.Address, true
		case "allowed-address":
			return r.net.AllowedAddress, true
		case "physical":
			return r.net.Physical, true
		case "defrouter":
			return r.net.Defrouter, true
		case "global-nic":
			return r.net.GlobalNIC, true
		case "mac-addr":
			return r.net.MACAddr, true
		case "vlan-id":
			return r.net.VLANID, true
		}
	case "device":
		if prop == "match" {
			return r.dev.Match, true
		}
	case "rctl":
		switch prop {
		case "name":
			return r.rctl.Name, true
		case "value":
			parts := make([]string, len(r.rctl.Values))
			for i, v := range r.rctl.Values {
				parts[i] = formatRctlValue(v)
			}
			return strings.Join(parts, ","), true
		}
	case "attr":
		switch prop {
		case "name":
			return r.attr.Name, true
		case "type":
			return r.attr.Type, true
		case "value":
			return r.attr.Value, true
		}
	case "capped-memory":
		var v uint64
		switch prop {
		case "physical":
			v = r.mem.Physical
		case "swap":
			v = r.mem.Swap
		case "locked":
			v = r.mem.Locked
		default:
			return "", false
		}
		if v == 0 {
			return "", true
		}
		return FormatSize(v), true
	case "capped-cpu":
		if prop == "ncpus" {
			if r.ccpu.NCPUs == 0 {
				return "", true
			}
			return formatNCPUs(r.ccpu.NCPUs), true
		}
	case "dedicated-cpu":
		switch prop {
		case "ncpus":
			return r.dcpu.NCPUs, true
		case "importance":
			return r.dcpu.Importance, true
		}
	case "admin":
		switch prop {
		case "user":
			return r.adm.User, true
		case "auths":
			return strings.Join(r.adm.Auths, ","), true
		}
	}
	return "", false
}

func formatRctlValue(v RctlValue) string {
	return fmt.Sprintf("(priv=%s,limit=%d,action=%s)", v.Priv, v.Limit, v.Action)
}

func formatNCPUs(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func (r resource) unknownProp(prop string) error {
	return fmt.Errorf("%s has no property %q (properties: %s)", r.kind, prop, strings.Join(resProps[r.kind], ", "))
}

// set assigns a property from a parsed value, checking its form.
func (r resource) set(prop string, v Value) error {
	if _, ok := r.get(prop); !ok {
		return r.unknownProp(prop)
	}
	if listProp(r.kind, prop) {
		return r.setList(prop, v)
	}
	if v.Kind != Simple {
		return fmt.Errorf("%s %s takes a simple value, not %s", r.kind, prop, v.String())
	}
	s := v.Str
	if err := checkText(s); err != nil {
		return fmt.Errorf("%s %s: %w", r.kind, prop, err)
	}
	var err error
	switch r.kind {
	case "fs":
		switch prop {
		case "dir":
			err = checkAbsPath(s)
			r.fs.Dir = s
		case "special":
			r.fs.Special = s
		case "raw":
			err = checkAbsPath(s)
			r.fs.Raw = s
		case "type":
			err = checkToken(s)
			r.fs.Type = s
		}
	case "inherit-pkg-dir":
		err = checkAbsPath(s)
		r.ipd.Dir = s
	case "net":
		switch prop {
		case "address":
			err = checkAddress(s, true)
			r.net.Address = s
		case "allowed-address":
			err = checkAddress(s, true)
			r.net.AllowedAddress = s
		case "physical":
			err = checkIface(s)
			r.net.Physical = s
		case "defrouter":
			err = checkAddress(s, false)
			r.net.Defrouter = s
		case "global-nic":
			err = checkIface(s)
			r.net.GlobalNIC = s
		case "mac-addr":
			err = checkMAC(s)
			r.net.MACAddr = s
		case "vlan-id":
			err = checkVLAN(s)
			r.net.VLANID = s
		}
	case "device":
		err = checkDeviceMatch(s)
		r.dev.Match = s
	case "rctl":
		if why, unsupported := unsupportedRctls[s]; unsupported {
			err = fmt.Errorf("%s is not enforced on Linux (%s), so zonetop does not take it", s, why)
		} else if _, ok := lookupRctl(s); !ok {
			err = fmt.Errorf("%q is not a zone rctl zonecfg knows (%s)", s, rctlNameList())
		}
		r.rctl.Name = s
	case "attr":
		switch prop {
		case "name":
			err = checkAttrName(s)
			r.attr.Name = s
		case "type":
			err = checkOneOf(s, []string{"int", "uint", "boolean", "string"})
			r.attr.Type = s
		case "value":
			r.attr.Value = s
		}
	case "capped-memory":
		var n uint64
		n, err = ParseSize(s)
		if err == nil && n == 0 {
			err = errors.New("a memory cap of 0 would stop the zone; give a size such as 512m")
		}
		if err == nil {
			switch prop {
			case "physical":
				r.mem.Physical = n
			case "swap":
				r.mem.Swap = n
			case "locked":
				r.mem.Locked = n
			}
		}
	case "capped-cpu":
		var f float64
		f, err = strconv.ParseFloat(s, 64)
		if err != nil || f <= 0 || f > 1<<20 || s != strings.TrimSpace(s) || strings.ContainsAny(s, "eEnNxXpP") {
			err = fmt.Errorf("%q is not a positive decimal number of CPUs such as 1.5 or .75", s)
		} else {
			r.ccpu.NCPUs = f
		}
	case "dedicated-cpu":
		switch prop {
		case "ncpus":
			err = checkNCPUsRange(s)
			r.dcpu.NCPUs = s
		case "importance":
			if _, e := strconv.ParseUint(s, 10, 32); e != nil {
				err = fmt.Errorf("%q is not a non-negative integer", s)
			}
			r.dcpu.Importance = s
		}
	case "admin":
		err = checkUser(s)
		r.adm.User = s
	}
	if err != nil {
		return fmt.Errorf("%s %s: %w", r.kind, prop, err)
	}
	return nil
}

// setList replaces a list property.
func (r resource) setList(prop string, v Value) error {
	switch r.kind {
	case "fs":
		r.fs.Options = nil
	case "rctl":
		r.rctl.Values = nil
	case "admin":
		r.adm.Auths = nil
	}
	if v.Kind == List && len(v.List) == 0 {
		return nil
	}
	return r.add(prop, v)
}

// add appends to a list property (add options [ro,nodevices]; add value
// (priv=...,limit=...,action=...)).
func (r resource) add(prop string, v Value) error {
	if _, ok := r.get(prop); !ok {
		return r.unknownProp(prop)
	}
	if !listProp(r.kind, prop) {
		return fmt.Errorf("%s %s is not a list property; use set %s=VALUE", r.kind, prop, prop)
	}
	for _, el := range v.elements() {
		switch r.kind {
		case "fs":
			if el.Kind != Simple {
				return fmt.Errorf("fs options: %s is not a simple mount option", el.String())
			}
			for _, o := range strings.Split(el.Str, ",") {
				if o == "" || checkText(o) != nil {
					return fmt.Errorf("fs options: %q is not a mount option", el.Str)
				}
				if !slices.Contains(r.fs.Options, o) {
					r.fs.Options = append(r.fs.Options, o)
				}
			}
		case "rctl":
			rv, err := parseRctlValue(el)
			if err != nil {
				return fmt.Errorf("rctl value: %w", err)
			}
			if info, ok := lookupRctl(r.rctl.Name); ok {
				if msgs := rctlValueProblems(info, rv); len(msgs) > 0 {
					return fmt.Errorf("rctl %s value: %s", r.rctl.Name, msgs[0])
				}
			}
			r.rctl.Values = append(r.rctl.Values, rv)
		case "admin":
			if el.Kind != Simple {
				return fmt.Errorf("admin auths: %s is not an auth name", el.String())
			}
			for _, a := range strings.Split(el.Str, ",") {
				if !slices.Contains(AdminAuths, a) {
					return fmt.Errorf("admin auths: %q is not one of %s", a, strings.Join(AdminAuths, ", "))
				}
				if !slices.Contains(r.adm.Auths, a) {
					r.adm.Auths = append(r.adm.Auths, a)
				}
			}
		}
	}
	return nil
}

// remove takes one element out of a list property, or clears a simple one
// when the value matches (remove PROP VALUE).
func (r resource) remove(prop string, v Value) error {
	if _, ok := r.get(prop); !ok {
		return r.unknownProp(prop)
	}
	if !listProp(r.kind, prop) {
		cur, _ := r.get(prop)
		if v.Kind != Simple || cur != v.Str {
			return fmt.Errorf("%s %s is %q, not %s", r.kind, prop, cur, v.String())
		}
		return r.clear(prop)
	}
	for _, el := range v.elements() {
		found := false
		switch r.kind {
		case "fs":
			for _, o := range strings.Split(el.Str, ",") {
				if i := slices.Index(r.fs.Options, o); i >= 0 && el.Kind == Simple {
					r.fs.Options = slices.Delete(r.fs.Options, i, i+1)
					found = true
				}
			}
		case "rctl":
			rv, err := parseRctlValue(el)
			if err != nil {
				return fmt.Errorf("rctl value: %w", err)
			}
			if i := slices.Index(r.rctl.Values, rv); i >= 0 {
				r.rctl.Values = slices.Delete(r.rctl.Values, i, i+1)
				found = true
			}
		case "admin":
			for _, a := range strings.Split(el.Str, ",") {
				if i := slices.Index(r.adm.Auths, a); i >= 0 && el.Kind == Simple {
					r.adm.Auths = slices.Delete(r.adm.Auths, i, i+1)
					found = true
				}
			}
		}
		if !found {
			return fmt.Errorf("%s %s has no element %s", r.kind, prop, el.String())
		}
	}
	r.normalize()
	return nil
}

// clear empties a property.
func (r resource) clear(prop string) error {
	if _, ok := r.get(prop); !ok {
		return r.unknownProp(prop)
	}
	switch r.kind {
	case "fs":
		switch prop {
		case "dir":
			r.fs.Dir = ""
		case "special":
			r.fs.Special = ""
		case "raw":
			r.fs.Raw = ""
		case "type":
			r.fs.Type = ""
		case "options":
			r.fs.Options = nil
		}
	case "inherit-pkg-dir":
		r.ipd.Dir = ""
	case "net":
		n := r.net
		for p, f := range map[string]*string{"address": &n.Address, "allowed-address": &n.AllowedAddress, "physical": &n.Physical,
			"defrouter": &n.Defrouter, "global-nic": &n.GlobalNIC, "mac-addr": &n.MACAddr, "vlan-id": &n.VLANID} {
			if p == prop {
				*f = ""
			}
		}
	case "device":
		r.dev.Match = ""
	case "rctl":
		if prop == "name" {
			r.rctl.Name = ""
		} else {
			r.rctl.Values = nil
		}
	case "attr":
		switch prop {
		case "name":
			r.attr.Name = ""
		case "type":
			r.attr.Type = ""
		case "value":
			r.attr.Value = ""
		}
	case "capped-memory":
		switch prop {
		case "physical":
			r.mem.Physical = 0
		case "swap":
			r.mem.Swap = 0
		case "locked":
			r.mem.Locked = 0
		}
	case "capped-cpu":
		r.ccpu.NCPUs = 0
	case "dedicated-cpu":
		if prop == "ncpus" {
			r.dcpu.NCPUs = ""
		} else {
			r.dcpu.Importance = ""
		}
	case "admin":
		if prop == "user" {
			r.adm.User = ""
		} else {
			r.adm.Auths = nil
		}
	}
	return nil
}

// normalize turns emptied lists into nil so that a configuration compares
// equal however it was reached.
func (r resource) normalize() {
	switch r.kind {
	case "fs":
		if len(r.fs.Options) == 0 {
			r.fs.Options = nil
		}
	case "rctl":
		if len(r.rctl.Values) == 0 {
			r.rctl.Values = nil
		}
	case "admin":
		if len(r.adm.Auths) == 0 {
			r.adm.Auths = nil
		}
	}
}

// problems are the checks end runs before a resource joins the
// configuration (the same as verify's for that resource).
func (r resource) problems(ipType string) []problem {
	switch r.kind {
	case "fs":
		return fsProblems(r.fs)
	case "inherit-pkg-dir":
		if err := checkAbsPath(r.ipd.Dir); err != nil {
			if r.ipd.Dir == "" {
				return []problem{{"dir", "not set"}}
			}
			return []problem{{"dir", err.Error()}}
		}
	case "net":
		return netProblems(r.net, ipType)
	case "device":
		if r.dev.Match == "" {
			return []problem{{"match", "not set"}}
		}
	case "rctl":
		return rctlProblems(r.rctl)
	case "attr":
		return attrProblems(r.attr)
	case "capped-memory":
		return cappedMemoryProblems(r.mem)
	case "capped-cpu":
		return cappedCPUProblems(r.ccpu)
	case "dedicated-cpu":
		return dedicatedCPUProblems(r.dcpu)
	case "admin":
		return adminProblems(r.adm)
	}
	return nil
}

// parseRctlValue reads (priv=privileged,limit=300,action=none).
func parseRctlValue(v Value) (RctlValue, error) {
	if v.Kind != Complex {
		return RctlValue{}, fmt.Errorf("%s is not a complex value; expected (priv=privileged,limit=N,action=deny)", v.String())
	}
	var rv RctlValue
	var haveLimit bool
	for _, p := range v.Pairs {
		switch p.Name {
		case "priv":
			if p.Value != "basic" && p.Value != "privileged" && p.Value != "system" {
				return rv, fmt.Errorf("priv=%q is not one of basic, privileged, system", p.Value)
			}
			rv.Priv = p.Value
		case "limit":
			n, err := strconv.ParseUint(p.Value, 10, 64)
			if err != nil {
				return rv, fmt.Errorf("limit=%q is not a non-negative integer", p.Value)
			}
			rv.Limit, haveLimit = n, true
		case "action":
			a := p.Value
			if a != "none" && a != "deny" {
				sig, ok := strings.CutPrefix(a, "signal=")
				if !ok {
					return rv, fmt.Errorf("action=%q is not one of none, deny, signal=NAME", a)
				}
				if err := checkSignal(sig); err != nil {
					return rv, err
				}
			}
			rv.Action = a
		default:
			return rv, fmt.Errorf("%q is not a part of an rctl value; expected priv, limit and action", p.Name)
		}
	}
	if rv.Priv == "" || !haveLimit || rv.Action == "" {
		return rv, fmt.Errorf("%s needs priv, limit and action", v.String())
	}
	return rv, nil
}

// resourcesOf returns the configuration's resources of one kind as
// editable copies, in order.
func resourcesOf(c *Config, kind string) []resource {
	var out []resource
	switch kind {
	case "fs":
		for i := range c.FS {
			f := c.FS[i]
			f.Options = slices.Clone(f.Options)
			out = append(out, resource{kind: kind, fs: &f})
		}
	case "inherit-pkg-dir":
		for i := range c.InheritPkgDirs {
			d := c.InheritPkgDirs[i]
			out = append(out, resource{kind: kind, ipd: &d})
		}
	case "net":
		for i := range c.Nets {
			n := c.Nets[i]
			out = append(out, resource{kind: kind, net: &n})
		}
	case "device":
		for i := range c.Devices {
			d := c.Devices[i]
			out = append(out, resource{kind: kind, dev: &d})
		}
	case "rctl":
		for i := range c.Rctls {
			r := c.Rctls[i]
			r.Values = slices.Clone(r.Values)
			out = append(out, resource{kind: kind, rctl: &r})
		}
	case "attr":
		for i := range c.Attrs {
			a := c.Attrs[i]
			out = append(out, resource{kind: kind, attr: &a})
		}
	case "capped-memory":
		if c.CappedMemory != nil {
			m := *c.CappedMemory
			out = append(out, resource{kind: kind, mem: &m})
		}
	case "capped-cpu":
		if c.CappedCPU != nil {
			m := *c.CappedCPU
			out = append(out, resource{kind: kind, ccpu: &m})
		}
	case "dedicated-cpu":
		if c.DedicatedCPU != nil {
			m := *c.DedicatedCPU
			out = append(out, resource{kind: kind, dcpu: &m})
		}
	case "admin":
		for i := range c.Admins {
			a := c.Admins[i]
			a.Auths = slices.Clone(a.Auths)
			out = append(out, resource{kind: kind, adm: &a})
		}
	}
	return out
}

// putResource stores r at index i of its kind (-1 appends).
func putResource(c *Config, r resource, i int) {
	r.normalize()
	switch r.kind {
	case "fs":
		c.FS = putAt(c.FS, *r.fs, i)
	case "inherit-pkg-dir":
		c.InheritPkgDirs = putAt(c.InheritPkgDirs, *r.ipd, i)
	case "net":
		c.Nets = putAt(c.Nets, *r.net, i)
	case "device":
		c.Devices = putAt(c.Devices, *r.dev, i)
	case "rctl":
		c.Rctls = putAt(c.Rctls, *r.rctl, i)
	case "attr":
		c.Attrs = putAt(c.Attrs, *r.attr, i)
	case "capped-memory":
		m := *r.mem
		c.CappedMemory = &m
	case "capped-cpu":
		m := *r.ccpu
		c.CappedCPU = &m
	case "dedicated-cpu":
		m := *r.dcpu
		c.DedicatedCPU = &m
	case "admin":
		c.Admins = putAt(c.Admins, *r.adm, i)
	}
}

func putAt[T any](s []T, v T, i int) []T {
	if i < 0 || i >= len(s) {
		return append(s, v)
	}
	s[i] = v
	return s
}

// deleteResource removes the resource at index i of its kind.
func deleteResource(c *Config, kind string, i int) {
	switch kind {
	case "fs":
		c.FS = slices.Delete(c.FS, i, i+1)
	case "inherit-pkg-dir":
		c.InheritPkgDirs = slices.Delete(c.InheritPkgDirs, i, i+1)
	case "net":
		c.Nets = slices.Delete(c.Nets, i, i+1)
	case "device":
		c.Devices = slices.Delete(c.Devices, i, i+1)
	case "rctl":
		c.Rctls = slices.Delete(c.Rctls, i, i+1)
	case "attr":
		c.Attrs = slices.Delete(c.Attrs, i, i+1)
	case "capped-memory":
		c.CappedMemory = nil
	case "capped-cpu":
		c.CappedCPU = nil
	case "dedicated-cpu":
		c.DedicatedCPU = nil
	case "admin":
		c.Admins = slices.Delete(c.Admins, i, i+1)
	}
	normalizeConfig(c)
}

// normalizeConfig makes empty slices nil, so that equal configurations
// compare equal with reflect.DeepEqual whichever way they were built.
func normalizeConfig(c *Config) {
	if len(c.FS) == 0 {
		c.FS = nil
	}
	for i := range c.FS {
		if len(c.FS[i].Options) == 0 {
			c.FS[i].Options = nil
		}
	}
	if len(c.InheritPkgDirs) == 0 {
		c.InheritPkgDirs = nil
	}
	if len(c.Nets) == 0 {
		c.Nets = nil
	}
	if len(c.Devices) == 0 {
		c.Devices = nil
	}
	if len(c.Rctls) == 0 {
		c.Rctls = nil
	}
	for i := range c.Rctls {
		if len(c.Rctls[i].Values) == 0 {
			c.Rctls[i].Values = nil
		}
	}
	if len(c.Attrs) == 0 {
		c.Attrs = nil
	}
	if len(c.Admins) == 0 {
		c.Admins = nil
	}
	for i := range c.Admins {
		if len(c.Admins[i].Auths) == 0 {
			c.Admins[i].Auths = nil
		}
	}
}
