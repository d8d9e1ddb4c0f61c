// Package platform is what runs inside a zone and builds it: zsched (the
// zone's PID 1 and the spawner of every process in it), the start of zinit
// (a C program of its own, cmd/zinit), the zone's mounts, /dev, capabilities, seccomp filter and user namespace. Its code
// runs in the re-executed sealed binary after zoneadmd started it; it may
// touch only the zone's namespaces and the files of its root.
package platform
