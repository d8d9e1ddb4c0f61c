// Package authz decides whether a principal may do an action on a zone:
// the global administrator, a zone's root and administrators, and host users
// delegated by the zone's admin resources. It is pure: it reads the
// configuration it is given and touches nothing.
package authz
