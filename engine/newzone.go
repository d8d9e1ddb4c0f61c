package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"zonetop/api"
	"zonetop/rctl"
	"zonetop/zones"
)

// newZoneFields are a new-zone form's fields in the order it shows them,
// each with the property zones.Verify names when it finds fault there. The
// memory cap's property is physical, like the net resource's before it; a
// Verify problem goes to the first field of its property that has none yet,
// which is where the console has always shown it.
var newZoneFields = []struct{ field, prop string }{
	{api.FieldName, "zonename"},
	{api.FieldZonepath, "zonepath"},
	{api.FieldBrand, "brand"},
	{api.FieldIPType, "ip-type"},
	{api.FieldAddress, "address"},
	{api.FieldPhysical, "physical"},
	{api.FieldMaxLWPs, "max-lwps"},
	{api.FieldMemory, "physical"},
	{api.FieldCPU, "ncpus"},
}

// NewZoneConfig builds the configuration z describes and lists every
// problem with it: those of single fields first, in form order, then those
// of the whole, each once. Verify runs without the other zones, so it reads
// nothing and is quick enough for every keystroke; CreateNewZone checks
// against the store again.
func NewZoneConfig(z api.NewZone) (*zones.Config, []api.FieldProblem) {
	cfg, own := newZoneConfig(z)
	var general []string
	for _, err := range zones.Verify(cfg, nil) {
		var ve *zones.VerifyError
		placed := false
		if errors.As(err, &ve) {
			for _, f := range newZoneFields {
				if _, taken := own[f.field]; f.prop == ve.Property && !taken {
					own[f.field] = ve.Problem
					placed = true
					break
				}
			}
		}
		// Verify's complaint about a field that already has one (the name,
		// whose own check ran first) still shows, once, with the whole.
		if !placed && !slices.Contains(general, err.Error()) {
			general = append(general, err.Error())
		}
	}
	var probs []api.FieldProblem
	for _, f := range newZoneFields {
		if p, ok := own[f.field]; ok {
			probs = append(probs, api.FieldProblem{Field: f.field, Problem: p})
		}
	}
	for _, g := range general {
		probs = append(probs, api.FieldProblem{Problem: g})
	}
	return cfg, probs
}

// newZoneConfig turns z into a configuration, with the problems of the
// fields that did not parse, and of the name, by field.
func newZoneConfig(z api.NewZone) (*zones.Config, map[string]string) {
	own := map[string]string{}
	v := strings.TrimSpace
	cfg := &zones.Config{Name: v(z.Name), Zonepath: v(z.Zonepath), Brand: v(z.Brand), IPType: v(z.IPType)}
	if err := zones.ValidateName(cfg.Name); err != nil {
		own[api.FieldName] = err.Error()
	}
	if addr, phys := v(z.Address), v(z.Physical); addr != "" || phys != "" {
		n := zones.Net{Physical: phys}
		if cfg.IPType == "exclusive" {
			n.AllowedAddress = addr
		} else {
			n.Address = addr
		}
		cfg.Nets = []zones.Net{n}
	}
	if s := v(z.MaxLWPs); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			own[api.FieldMaxLWPs] = fmt.Sprintf("max-lwps %q is not a whole number", s)
		} else {
			cfg.Rctls = append(cfg.Rctls, zones.Rctl{Name: rctl.ZoneMaxLwps,
				Values: []zones.RctlValue{{Priv: "privileged", Limit: n, Action: "deny"}}})
		}
	}
	if s := v(z.Memory); s != "" {
		n, err := zones.ParseSize(s)
		if err != nil {
			own[api.FieldMemory] = err.Error()
		} else {
			cfg.CappedMemory = &zones.CappedMemory{Physical: n}
		}
	}
	if s := v(z.CPU); s != "" {
		n, err := strconv.ParseFloat(s, 64)
		if err != nil {
			own[api.FieldCPU] = fmt.Sprintf("cpu cap %q is not a number of CPUs", s)
		} else {
			cfg.CappedCPU = &zones.CappedCPU{NCPUs: n}
		}
	}
	return cfg, own
}

// CheckNewZone is what a form shows while z is typed: NewZoneConfig's
// problems. It decides nothing, so it needs no principal; CreateNewZone
// authorizes and checks again.
func (e *Engine) CheckNewZone(z api.NewZone) []api.FieldProblem {
	_, probs := NewZoneConfig(z)
	return probs
}

// CreateNewZone creates the zone z describes, as CreateZone does its
// configuration. A field that does not parse would be left out of the
// configuration, and the zone created without the cap the operator asked
// for, so it refuses the whole.
func (e *Engine) CreateNewZone(ctx context.Context, p api.Principal, z api.NewZone) error {
	cfg, own := newZoneConfig(z)
	// The name has its check in createZone, which words it as CreateZone
	// always has.
	delete(own, api.FieldName)
	var bad []string
	for _, f := range newZoneFields {
		if s, ok := own[f.field]; ok {
			bad = append(bad, s)
		}
	}
	return e.createZone(p, cfg, bad)
}
