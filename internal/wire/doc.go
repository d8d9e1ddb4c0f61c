// Package wire is the framing of zonetop's control sockets: one JSON
// message per SOCK_SEQPACKET datagram with the descriptors that travel
// with it, bounded in size and count, and the peer checks (root, outside
// the zone's user namespace) the servers make. It touches only the
// connections it is given.
package wire
