// Package zonenet gives a zone its network: an exclusive-IP zone its own
// links (veth, macvlan, VLAN), a shared-IP zone its own network namespace
// with its addresses and loopback, and takes them away again. It touches
// only links and namespaces it created, named so it can tell.
package zonenet
