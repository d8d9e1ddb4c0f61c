// Package client is how a front end that is not the engine reaches one:
// from inside a zone, the zone-administration socket zoneadmd serves
// there; as a delegated host user, the zonetop service and the zone's
// zoneadmd, which authorize the caller by its credentials. It speaks the
// wire protocol only; every decision is the server's.
package client
