// Package client is how a front end reaches zonetop: Server (with its part
// Zones) is the one interface the console and the rctl commands are
// written against, and this package holds the transports that are not the
// engine in process: from inside a zone, the zone-administration socket
// zoneadmd serves there (ZoneServer); as a delegated host user, the
// zonetop service and the zone's zoneadmd (Service). Both servers
// authorize the caller by its credentials. It speaks the wire protocol
// only and decides nothing: it may not link the engine, the supervisor or
// the authorization rules.
package client
