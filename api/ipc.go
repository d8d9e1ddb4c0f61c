package api

// IPCUsage is what a project (or the zone, Project "") holds of the
// System V IPC resources zoneadmd checks, against its effective limits.
type IPCUsage struct {
	Project string
	Used    map[string]uint64 // max-shm-memory, max-shm-ids, max-sem-ids, max-msg-ids
	Limit   map[string]uint64 // effective limit (min of own and zone), absent when unlimited
}
