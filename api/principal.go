package api

import "time"

// Principal is who makes an engine call. Front ends never construct one from
// a flag: the CLI and TUI take it from the process credentials (global
// administrator = root in the host), zone sockets from SO_PEERCRED.
type Principal struct {
	// UID and GID of the caller as the kernel reported them.
	UID, GID int
	// User is the login name of UID in the host's /etc/passwd (host
	// callers) or the zone's (zone callers); empty when it has none.
	User string
	// Zone is "global" for callers in the host, or the zone the caller is in.
	Zone string
}

// GlobalAdmin is root in the host.
func (p Principal) GlobalAdmin() bool { return p.Zone == "global" && p.UID == 0 }

// ZoneInfo is one row of `zoneadm list` and of the console's zone table. It
// is plain data so that it can cross a process or host boundary unchanged.
type ZoneInfo struct {
	ID       int       `json:"id"` // zone ID; -1 when the zone is not ready or running
	Name     string    `json:"name"`
	State    string    `json:"state"` // zones state name: configured, installed, ready, ...
	Path     string    `json:"zonepath"`
	UUID     string    `json:"uuid"`
	Brand    string    `json:"brand"`
	IPType   string    `json:"ip_type"`
	Reason   string    `json:"reason,omitempty"` // why a zone is down or incomplete, empty otherwise
	Since    time.Time `json:"since"`            // when the zone entered its current runtime state (ready/running), zero otherwise
	Autoboot bool      `json:"autoboot"`
	// Auths are the delegated auths (login, manage, config, clonefrom)
	// the listing's principal holds on the zone, when it is a host user
	// named in the zone's admin resource; empty for everyone else.
	Auths []string `json:"auths,omitempty"`
	// Broken says why nothing acts on the zone: its configuration file
	// breaks a rule of verify (naming the file and the rule), or its
	// zonepath cannot be used on this host. Empty for a sound zone.
	Broken string `json:"broken,omitempty"`
	// Stale says State, ID and Since are what the zone's zoneadmd last
	// recorded: it did not answer in time (Reason says how it failed).
	// A zone with a platform is never shown as installed for that.
	Stale bool `json:"stale,omitempty"`
}

// ListOptions selects which zones List returns, as `zoneadm list` does:
// by default the running ones (and the global zone), -i adds installed and
// ready, -c adds configured and incomplete too.
type ListOptions struct {
	Configured bool // -c
	Installed  bool // -i
}

// HostInfo describes the host the engine runs on, for the console's header.
type HostInfo struct {
	Hostname   string
	Kernel     string // uname release
	CgroupMode string // "v1", "hybrid" or "v2"
	// Brands are the brands a new zone may have, the default first, for a
	// form to offer without knowing the configuration model.
	Brands []string
}
