package zones

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"strconv"
	"strings"
)

// The on-disk form follows illumos' zone XML element names where the
// concept is the same, so an illumos administrator can read it.
type xmlZone struct {
	XMLName         xml.Name    `xml:"zone"`
	Version         string      `xml:"version,attr,omitempty"`
	Name            string      `xml:"name,attr"`
	Zonepath        string      `xml:"zonepath,attr,omitempty"`
	Autoboot        string      `xml:"autoboot,attr"`
	Brand           string      `xml:"brand,attr,omitempty"`
	IPType          string      `xml:"ip-type,attr,omitempty"`
	Bootargs        string      `xml:"bootargs,attr,omitempty"`
	Pool            string      `xml:"pool,attr,omitempty"`
	Limitpriv       string      `xml:"limitpriv,attr,omitempty"`
	SchedulingClass string      `xml:"scheduling-class,attr,omitempty"`
	Hostid          string      `xml:"hostid,attr,omitempty"`
	FSAllowed       string      `xml:"fs-allowed,attr,omitempty"`
	Init            string      `xml:"init,attr,omitempty"`
	UserNamespace   string      `xml:"user-namespace,attr,omitempty"`
	UUID            string      `xml:"uuid,attr,omitempty"`
	IPDs            []xmlIPD    `xml:"inherited-pkg-dir"`
	FS              []xmlFS     `xml:"filesystem"`
	Nets            []xmlNet    `xml:"network"`
	Devices         []xmlDevice `xml:"device"`
	Rctls           []xmlRctl   `xml:"rctl"`
	Attrs           []xmlAttr   `xml:"attr"`
	Mem             *xmlMem     `xml:"capped-memory"`
	CCPU            *xmlCCPU    `xml:"capped-cpu"`
	DCPU            *xmlDCPU    `xml:"dedicated-cpu"`
	Admins          []xmlAdmin  `xml:"admin"`
}

type xmlIPD struct {
	Dir string `xml:"directory,attr"`
}

type xmlFS struct {
	Dir     string      `xml:"directory,attr"`
	Special string      `xml:"special,attr"`
	Raw     string      `xml:"raw,attr,omitempty"`
	Type    string      `xml:"type,attr"`
	Options []xmlOption `xml:"fsoption"`
}

type xmlOption struct {
	Name string `xml:"name,attr"`
}

type xmlNet struct {
	Address        string `xml:"address,attr,omitempty"`
	AllowedAddress string `xml:"allowed-address,attr,omitempty"`
	Physical       string `xml:"physical,attr"`
	Defrouter      string `xml:"defrouter,attr,omitempty"`
	GlobalNIC      string `xml:"global-nic,attr,omitempty"`
	MACAddr        string `xml:"mac-addr,attr,omitempty"`
	VLANID         string `xml:"vlan-id,attr,omitempty"`
}

type xmlDevice struct {
	Match string `xml:"match,attr"`
}

type xmlRctl struct {
	Name   string         `xml:"name,attr"`
	Values []xmlRctlValue `xml:"rctl-value"`
}

type xmlRctlValue struct {
	Priv   string `xml:"priv,attr"`
	Limit  string `xml:"limit,attr"`
	Action string `xml:"action,attr"`
}

type xmlAttr struct {
	Name  string `xml:"name,attr"`
	Type  string `xml:"type,attr"`
	Value string `xml:"value,attr"`
}

type xmlMem struct {
	Physical string `xml:"physical,attr,omitempty"`
	Swap     string `xml:"swap,attr,omitempty"`
	Locked   string `xml:"locked,attr,omitempty"`
}

type xmlCCPU struct {
	NCPUs string `xml:"ncpus,attr"`
}

type xmlDCPU struct {
	NCPUs      string `xml:"ncpus,attr"`
	Importance string `xml:"importance,attr,omitempty"`
}

type xmlAdmin struct {
	User  string `xml:"user,attr"`
	Auths string `xml:"auths,attr"`
}

const xmlVersion = "1"

// MarshalConfig renders c as the store's XML document.
func MarshalConfig(c *Config) ([]byte, error) {
	z := xmlZone{Version: xmlVersion, Name: c.Name, Zonepath: c.Zonepath, Autoboot: strconv.FormatBool(c.Autoboot),
		Brand: c.Brand, IPType: c.IPType, Bootargs: c.Bootargs, Pool: c.Pool, Limitpriv: c.Limitpriv,
		SchedulingClass: c.SchedulingClass, Hostid: c.Hostid, FSAllowed: c.FSAllowed, Init: c.Init, UUID: c.UUID,
		UserNamespace: c.UserNamespace}
	for _, d := range c.InheritPkgDirs {
		z.IPDs = append(z.IPDs, xmlIPD(d))
	}
	for _, f := range c.FS {
		xf := xmlFS{Dir: f.Dir, Special: f.Special, Raw: f.Raw, Type: f.Type}
		for _, o := range f.Options {
			xf.Options = append(xf.Options, xmlOption{o})
		}
		z.FS = append(z.FS, xf)
	}
	for _, n := range c.Nets {
		z.Nets = append(z.Nets, xmlNet(n))
	}
	for _, d := range c.Devices {
		z.Devices = append(z.Devices, xmlDevice(d))
	}
	for _, r := range c.Rctls {
		xr := xmlRctl{Name: r.Name}
		for _, v := range r.Values {
			xr.Values = append(xr.Values, xmlRctlValue{Priv: v.Priv, Limit: strconv.FormatUint(v.Limit, 10), Action: v.Action})
		}
		z.Rctls = append(z.Rctls, xr)
	}
	for _, a := range c.Attrs {
		z.Attrs = append(z.Attrs, xmlAttr(a))
	}
	if m := c.CappedMemory; m != nil {
		z.Mem = &xmlMem{Physical: sizeAttr(m.Physical), Swap: sizeAttr(m.Swap), Locked: sizeAttr(m.Locked)}
	}
	if cc := c.CappedCPU; cc != nil {
		z.CCPU = &xmlCCPU{NCPUs: formatNCPUs(cc.NCPUs)}
	}
	if d := c.DedicatedCPU; d != nil {
		z.DCPU = &xmlDCPU{NCPUs: d.NCPUs, Importance: d.Importance}
	}
	for _, a := range c.Admins {
		z.Admins = append(z.Admins, xmlAdmin{User: a.User, Auths: strings.Join(a.Auths, ",")})
	}
	var b bytes.Buffer
	b.WriteString(xml.Header)
	b.WriteString("<!-- zonetop zone configuration: edit with zonecfg, not by hand -->\n")
	enc := xml.NewEncoder(&b)
	enc.Indent("", "  ")
	if err := enc.Encode(z); err != nil {
		return nil, fmt.Errorf("encode zone %s: %w", c.Name, err)
	}
	b.WriteByte('\n')
	return b.Bytes(), nil
}

func sizeAttr(n uint64) string {
	if n == 0 {
		return ""
	}
	return strconv.FormatUint(n, 10)
}

// UnmarshalConfig reads the store's XML document. It checks structure
// and number formats; whether the values make a valid zone is Verify's job.
func UnmarshalConfig(data []byte) (*Config, error) {
	var z xmlZone
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = true
	if err := dec.Decode(&z); err != nil {
		return nil, fmt.Errorf("malformed XML: %w", err)
	}
	if z.Version != "" && z.Version != xmlVersion {
		return nil, fmt.Errorf("format version %q is not %s", z.Version, xmlVersion)
	}
	if z.Name == "" {
		return nil, fmt.Errorf("<zone> has no name attribute")
	}
	c := &Config{Name: z.Name, Zonepath: z.Zonepath, Brand: z.Brand, IPType: z.IPType, Bootargs: z.Bootargs,
		Pool: z.Pool, Limitpriv: z.Limitpriv, SchedulingClass: z.SchedulingClass, Hostid: z.Hostid,
		FSAllowed: z.FSAllowed, Init: z.Init, UUID: z.UUID, UserNamespace: z.UserNamespace}
	switch z.Autoboot {
	case "true":
		c.Autoboot = true
	case "false", "":
	default:
		return nil, fmt.Errorf("autoboot=%q is not true or false", z.Autoboot)
	}
	for _, d := range z.IPDs {
		c.InheritPkgDirs = append(c.InheritPkgDirs, InheritPkgDir(d))
	}
	for _, f := range z.FS {
		fs := FS{Dir: f.Dir, Special: f.Special, Raw: f.Raw, Type: f.Type}
		for _, o := range f.Options {
			fs.Options = append(fs.Options, o.Name)
		}
		c.FS = append(c.FS, fs)
	}
	for _, n := range z.Nets {
		c.Nets = append(c.Nets, Net(n))
	}
	for _, d := range z.Devices {
		c.Devices = append(c.Devices, Device(d))
	}
	for _, r := range z.Rctls {
		rc := Rctl{Name: r.Name}
		for _, v := range r.Values {
			lim, err := strconv.ParseUint(v.Limit, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("rctl %s: limit %q is not a non-negative integer", r.Name, v.Limit)
			}
			rc.Values = append(rc.Values, RctlValue{Priv: v.Priv, Limit: lim, Action: v.Action})
		}
		c.Rctls = append(c.Rctls, rc)
	}
	for _, a := range z.Attrs {
		c.Attrs = append(c.Attrs, Attr(a))
	}
	if z.Mem != nil {
		m := &CappedMemory{}
		for _, f := range []struct {
			name string
			s    string
			dst  *uint64
		}{{"physical", z.Mem.Physical, &m.Physical}, {"swap", z.Mem.Swap, &m.Swap}, {"locked", z.Mem.Locked, &m.Locked}} {
			if f.s == "" {
				continue
			}
			n, err := strconv.ParseUint(f.s, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("capped-memory %s=%q is not a byte count", f.name, f.s)
			}
			*f.dst = n
		}
		c.CappedMemory = m
	}
	if z.CCPU != nil {
		f, err := strconv.ParseFloat(z.CCPU.NCPUs, 64)
		if err != nil || f != f {
			return nil, fmt.Errorf("capped-cpu ncpus=%q is not a decimal number", z.CCPU.NCPUs)
		}
		c.CappedCPU = &CappedCPU{NCPUs: f}
	}
	if z.DCPU != nil {
		c.DedicatedCPU = &DedicatedCPU{NCPUs: z.DCPU.NCPUs, Importance: z.DCPU.Importance}
	}
	for _, a := range z.Admins {
		ad := Admin{User: a.User}
		if a.Auths != "" {
			ad.Auths = strings.Split(a.Auths, ",")
		}
		c.Admins = append(c.Admins, ad)
	}
	normalizeConfig(c)
	return c, nil
}
