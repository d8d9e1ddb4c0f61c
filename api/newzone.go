package api

// NewZone is a zone to create as the console's new-zone form gathers it:
// every field as the operator typed it, so that what is valid is decided by
// the engine, which owns the configuration model, and not by each front end.
type NewZone struct {
	Name, Zonepath, Brand, IPType string
	// Address and Physical make one net resource when either is set; the
	// address is the allowed-address of an exclusive-IP zone.
	Address, Physical string
	// The caps, "" for none: zone.max-lwps as a whole number, capped-memory
	// physical as a size such as 512m, capped-cpu ncpus such as 1.5.
	MaxLWPs, Memory, CPU string
}

// FieldProblem is one reason a NewZone cannot be created. Field says which
// field the operator should fix, so a form can show the problem beside it;
// "" is a problem of the configuration as a whole, whose Problem then names
// the zone, resource and property itself.
type FieldProblem struct {
	Field   string
	Problem string
}

// The Field of a FieldProblem: the zonecfg property each NewZone field sets.
const (
	FieldName     = "zonename"
	FieldZonepath = "zonepath"
	FieldBrand    = "brand"
	FieldIPType   = "ip-type"
	FieldAddress  = "address"
	FieldPhysical = "physical"
	FieldMaxLWPs  = "max-lwps"
	// FieldMemory is named for its resource: its property, physical, is
	// also the net resource's, and a form must tell the two apart.
	FieldMemory = "capped-memory"
	FieldCPU    = "ncpus"
)
