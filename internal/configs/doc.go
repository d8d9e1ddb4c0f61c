// Package configs holds the zone's platform as the runtime applies it
// (PlatformSpec: mounts, devices, network, capabilities, caps) and the
// paths under a root prefix where each zone's supervisor keeps its socket,
// state and logs. It is a leaf every runtime package shares; it touches
// nothing.
package configs
