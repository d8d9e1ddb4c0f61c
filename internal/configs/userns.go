package configs

// User-namespaced zones (zonecfg user-namespace=auto): zone root is the
// first id of a host id range of the zone's own, not host root.
//
// zoneadmd clones zsched with CLONE_NEWUSER beside the other namespaces;
// Go writes uid_map and gid_map before the child goes on (it waits on a
// pipe) and Credential makes the child setuid(0)/setgid(0) inside, so it
// execs zsched as the namespace's root with its capabilities. zsched
// cannot reach anything of the host owned by host root (ZONEPATH is 700,
// zoneadmd's run directory too, host ids are unmapped in its namespace):
// zoneadmd hands it what it needs as descriptors on a socket pair (fd 4):
// its control socket's listener, the zone root and each bind as detached
// mounts (open_tree) idmapped with zsched's own user namespace, the
// device nodes as detached binds (mknod is refused in a user namespace),
// and on cgroup v1 the zone's read-only cgroup mounts made by zoneadmd's
// thread inside the zone's cgroup namespace (which host root owns, so
// zsched could not mount cgroup file systems itself).

// IDRange is a zone's host id range: zone id 0 is host id HostID.
type IDRange struct {
	HostID uint32
	Count  uint32
}
