// Package zoneadmd is the per-zone supervisor and its client: the process
// that readies, boots, halts and watches one zone, holds its cgroups and
// network, checks System V IPC requests against the zone's limits, follows
// the zone's projects, serves the zone-administration socket, and outlives
// every front end. Its exported calls (Ready, Boot, Halt, Exec, ...) do not
// authorize: only the engine and the hidden entry points may call them.
// It may touch the zone's cgroups, run directory, log and network links.
package zoneadmd
