package zones

import (
	"fmt"
	"strings"
)

// Export renders c as a zonecfg command file. Running it with -f on a new
// zone yields a Config equal to c (its UUID aside, which belongs to the
// zone, not to the configuration). It starts from a blank configuration
// and sets exactly what c holds, so no template default can creep in.
// Rctls are written as rctl resources rather than alias properties so the
// max-lwps/max-processes coupling is not applied a second time.
func Export(c *Config) string {
	var b strings.Builder
	if c.Name == "global" {
		// The global zone is never created; its script only sets.
		b.WriteString("# resource management of the global zone\n")
	} else {
		b.WriteString("create -b\n")
	}
	for _, g := range globalProps {
		v := g.get(c)
		if g.name == "autoboot" {
			if c.Name == "global" {
				continue
			}
		} else if v == "" {
			continue
		}
		fmt.Fprintf(&b, "set %s=%s\n", g.name, quoteIfNeeded(v))
	}
	for _, kind := range resourceKinds {
		for _, r := range resourcesOf(c, kind) {
			fmt.Fprintf(&b, "add %s\n", kind)
			for _, prop := range resProps[kind] {
				writeResProp(&b, r, prop)
			}
			b.WriteString("end\n")
		}
	}
	return b.String()
}

func writeResProp(b *strings.Builder, r resource, prop string) {
	switch {
	case r.kind == "fs" && prop == "options":
		if len(r.fs.Options) > 0 {
			quoted := make([]string, len(r.fs.Options))
			for i, o := range r.fs.Options {
				quoted[i] = quoteIfNeeded(o)
			}
			fmt.Fprintf(b, "add options [%s]\n", strings.Join(quoted, ","))
		}
	case r.kind == "rctl" && prop == "value":
		for _, v := range r.rctl.Values {
			fmt.Fprintf(b, "add value %s\n", formatRctlValue(v))
		}
	case r.kind == "admin" && prop == "auths":
		if len(r.adm.Auths) > 0 {
			fmt.Fprintf(b, "set auths=%s\n", strings.Join(r.adm.Auths, ","))
		}
	default:
		v, _ := r.get(prop)
		if v != "" {
			fmt.Fprintf(b, "set %s=%s\n", prop, quoteIfNeeded(v))
		}
	}
}

// Info renders the configuration the way zonecfg's info does: global
// properties, then each resource with its properties indented. kind, when
// not empty, restricts the output to that property or resource type, and
// match to resources whose properties equal the given values.
func info(c *Config, kind string, match map[string]string) (string, error) {
	var b strings.Builder
	if kind == "" || kind == "zonename" {
		fmt.Fprintf(&b, "zonename: %s\n", c.Name)
	}
	for _, g := range globalProps {
		if kind != "" && kind != g.name {
			continue
		}
		v := g.get(c)
		switch g.name {
		case "brand":
			if v == "" {
				v = DefaultBrand
			}
		case "ip-type":
			if v == "" {
				v = DefaultIPType
			}
		}
		fmt.Fprintf(&b, "%s: %s\n", g.name, v)
	}
	for _, r := range zoneRctls() {
		if r.Alias == "" || (kind != "" && kind != r.Alias) {
			continue
		}
		if rc := c.rctl(r.Name); rc != nil && len(rc.Values) == 1 {
			v := rc.Values[0].Limit
			s := fmt.Sprint(v)
			if r.Unit == "bytes" {
				s = FormatSize(v)
			}
			fmt.Fprintf(&b, "[%s: %s]\n", r.Alias, s)
		} else if kind == r.Alias {
			fmt.Fprintf(&b, "%s not specified\n", r.Alias)
		}
	}
	for _, k := range resourceKinds {
		if kind != "" && kind != k {
			continue
		}
		for _, r := range resourcesOf(c, k) {
			ok, err := matches(r, match)
			if err != nil {
				return "", err
			}
			if ok {
				writeResInfo(&b, r)
			}
		}
	}
	if kind != "" && b.Len() == 0 {
		if _, ok := resProps[kind]; !ok && kind != "zonename" {
			return "", fmt.Errorf("info: %q is neither a property nor a resource type", kind)
		}
	}
	return b.String(), nil
}

func writeResInfo(b *strings.Builder, r resource) {
	fmt.Fprintf(b, "%s:\n", r.kind)
	for _, prop := range resProps[r.kind] {
		if r.kind == "rctl" && prop == "value" {
			for _, v := range r.rctl.Values {
				fmt.Fprintf(b, "\tvalue: %s\n", formatRctlValue(v))
			}
			continue
		}
		v, _ := r.get(prop)
		if v == "" || (r.kind == "fs" && prop == "options" && v == "[]") {
			if r.kind == "fs" && prop == "options" {
				fmt.Fprintf(b, "\toptions: []\n")
				continue
			}
			fmt.Fprintf(b, "\t%s not specified\n", prop)
			continue
		}
		fmt.Fprintf(b, "\t%s: %s\n", prop, v)
	}
}

// matches reports whether r has every property=value in match.
func matches(r resource, match map[string]string) (bool, error) {
	for p, want := range match {
		got, ok := r.get(p)
		if !ok {
			return false, r.unknownProp(p)
		}
		if r.kind == "fs" && p == "options" {
			got = strings.Trim(got, "[]")
			want = strings.Trim(want, "[]")
		}
		if got != want {
			return false, nil
		}
	}
	return true, nil
}
