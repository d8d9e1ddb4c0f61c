package engine

import (
	"zonetop/api"
	"zonetop/internal/configs"
	"zonetop/internal/zoneadmd"
	"zonetop/zones"
)

// fillLive overlays what the zone's zoneadmd knows (state, zone ID, since)
// on the index entry. The index records only configured, incomplete and
// installed; the supervisor is the truth for a zone that is up.
func (e *Engine) fillLive(zi *api.ZoneInfo) {
	if !zoneadmd.RuntimePresent(e.Root, zi.Name) {
		switch zones.State(zi.State) {
		case zones.StateReady, zones.StateRunning, zones.StateShuttingDown, zones.StateDown:
			// An index written by an older zonetop, which recorded
			// runtime states, names a platform that is no longer there
			// (the host restarted, or the zone died): without a
			// platform the zone is installed. The index is mended, so
			// that uninstall and zonecfg, which read it, agree.
			if !zoneadmd.ZoneadmdRunning(e.Root, zi.Name) {
				_ = e.store.SetState(zi.Name, []zones.State{zones.State(zi.State)}, zones.StateInstalled, "")
				zi.State, zi.Reason = string(zones.StateInstalled), ""
				return
			}
		default:
			return
		}
	}
	st, err := zoneadmd.Status(e.Root, zi.Name)
	if err != nil {
		if !zoneadmd.RuntimePresent(e.Root, zi.Name) && !zoneadmd.ZoneadmdRunning(e.Root, zi.Name) {
			// The supervisor answered the liveness check, then finished
			// a halt and went away: no platform is left.
			zi.State, zi.Reason = string(zones.StateInstalled), ""
			return
		}
		zi.Reason = err.Error()
		return
	}
	if st.State != "" {
		zi.State = st.State
	}
	// A zone that has no platform has no zone ID, whatever the
	// supervisor last held.
	if st.ZoneID > 0 && st.State != configs.StateInstalled {
		zi.ID = st.ZoneID
	}
	zi.Since = st.Since
	if st.Reason != "" {
		zi.Reason = st.Reason
	}
}
