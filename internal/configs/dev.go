package configs

// The zone's /dev: a private tmpfs with the standard nodes, the nodes the
// zone's device resources match, a devpts instance of its own, and a
// console whose master side zoneadmd holds.

type DevNode struct {
	Path string // under /dev
	Mode uint32 // type and permissions
	Rdev uint64
	Uid  uint32
	Gid  uint32
}
