package zoneadmd

import (
	"fmt"
	"zonetop/api"
)

// The front ends' share of resource controls: prctl, projadd/projmod/
// projdel, zonestat and the console's Caps and Projects tabs. Every call
// carries a principal; zone caps are the global administrator's, a zone's
// projects also its zone administrator's.

// errZoneCaps is the refusal a zone administrator gets for a zone cap.
var ErrZoneCaps = fmt.Errorf("%w: zone caps are set by the global administrator", api.ErrPermission)
