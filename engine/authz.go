package engine

import (
	"zonetop/api"
	"zonetop/internal/authz"
	"zonetop/zones"
)

// authorize is Authorize with the zone's configuration read from the
// store (only when the principal is not the global administrator, who
// needs none).
func (e *Engine) authorize(p api.Principal, zone string, action api.Action) error {
	if p.GlobalAdmin() {
		return nil
	}
	var cfg *zones.Config
	if zone != "" {
		cfg, _, _ = e.store.Load(zone)
	}
	return authz.Authorize(p, zone, action, cfg)
}
