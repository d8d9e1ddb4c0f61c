package engine

import (
	"context"
	"strings"
	"time"
	"zonetop/api"
	"zonetop/internal/configs"
	"zonetop/internal/fanout"
	"zonetop/internal/zoneadmd"
	"zonetop/zones"
)

// statusWait is how long a listing or an operation's state check waits
// for a zone's zoneadmd to answer before it goes by what the zoneadmd
// last recorded. A status is answered at once, under no operation's
// lock: only a host too loaded to run it, or a stuck zoneadmd, takes
// this long, and an operator's zoneadm list must not wait for good on
// either (illumos' reads the kernel and waits on no zoneadmd).
var statusWait = 5 * time.Second

// fillAllLive is fillLive for every row of a listing, fanout.Workers
// zoneadmds asked at once. The listing as a whole waits statusWait: a
// zone asked before that deadline gets until it, one asked after gets
// statusWait/10 (500 ms, some 75 times the 6.6 ms a status took at
// 1,000 running zones on a loaded 2-core host). So k held zoneadmds
// cost one statusWait while they fit the pool, and statusWait/10 per
// pool's worth beyond (1,000 of them about 36 s, not 83 minutes), while
// a zoneadmd that answers is never shown stale because others ahead of
// it were held.
// Each call writes its own row only; SetState, the one shared thing
// fillLive writes, takes the store's lock.
func (e *Engine) fillAllLive(ctx context.Context, rows []api.ZoneInfo) error {
	deadline := time.Now().Add(statusWait)
	return fanout.Each(ctx, len(rows), fanout.Workers, func(i int) {
		e.fillLiveWithin(&rows[i], max(time.Until(deadline), statusWait/10))
	})
}

// fillLive overlays what the zone's zoneadmd knows (state, zone ID, since)
// on the index entry. The index records only configured, incomplete and
// installed; the supervisor is the truth for a zone that is up.
func (e *Engine) fillLive(zi *api.ZoneInfo) { e.fillLiveWithin(zi, statusWait) }

// fillLiveWithin is fillLive waiting wait at most for the zoneadmd.
func (e *Engine) fillLiveWithin(zi *api.ZoneInfo, wait time.Duration) {
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
	st, err := zoneadmd.StatusWithin(e.Root, zi.Name, wait)
	if err != nil {
		if rec, ok := zoneadmd.RecordedStatus(e.Root, zi.Name); ok {
			// A platform is there and its zoneadmd did not answer (slow
			// on a loaded host, or stuck): what it last recorded, said
			// to be that, and never the index's "installed", which
			// would have every operation refuse a running zone.
			rec.Reason = strings.TrimPrefix(rec.Reason+"; ", "; ") + "as zoneadmd last recorded it; it did not answer: " + err.Error()
			st, zi.Stale = rec, true
		} else if !zoneadmd.ZoneadmdRunning(e.Root, zi.Name) {
			// The supervisor answered the liveness check, then finished
			// a halt and went away: no platform is left.
			zi.State, zi.Reason = string(zones.StateInstalled), ""
			return
		} else {
			zi.Reason = err.Error()
			return
		}
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
