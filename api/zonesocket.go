package api

import (
	"encoding/json"
)

// The zone-administration socket. From ready on, zoneadmd serves a stream
// socket in a per-zone directory of its run directory (ZoneSockDir); zsched
// bind-mounts that directory read-only at /run/zonetop in the zone, so the
// zone sees its own socket and nothing else of the host's run directory.
// Who is asking comes from the socket (SO_PEERCRED): root in the zone is
// the zone administrator, any other uid of the zone reads only; a peer
// outside the zone's pid namespace is refused.
//
// Each message is a 4-byte big-endian length and that many bytes of JSON,
// at most zoneSockMax. A malformed message is answered with an error and
// the connection keeps going; a bad length (too big, or the stream ends in
// the middle of a message) ends the connection, since its framing is lost.
// Every connection has its own goroutine and an idle deadline, so a client
// that connects and hangs holds up nobody.

const (
	// ZoneSockPath is where the socket appears inside a zone.
	ZoneSockPath = "/run/zonetop/zone.sock"
	// ZoneBinaryPath is where the zonetop binary appears inside a zone.
	ZoneBinaryPath = "/run/zonetop/zonetop"
	// ZoneBinDir holds a link to the binary for each of the zone
	// administrator's commands (ZoneCommands), so that they are on the
	// zone's PATH as illumos has them in /usr/bin and /usr/sbin, without
	// zonetop writing into the zone's own /usr, which a sparse zone
	// cannot change.
	ZoneBinDir = "/run/zonetop/bin"
	// ZonePath is the PATH of the zone's init and of zlogin's commands;
	// the zone's /etc/profile (or, in a distribution's root, a file in
	// its /etc/profile.d) gives login shells the same. ZoneBinDir comes
	// first: prctl is illumos' resource control tool here, not
	// another package's /usr/bin/prctl a sparse zone inherits.
	ZonePath = ZoneBinDir + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
)

// ZoneCommands are the names ZoneBinDir links to the binary under: the
// zone administrator's tools, the global zone's commands, which say
// there that they belong to the global zone (illumos ships them in every
// zone and they say so too), and the ones that reboot or halt the zone
// from inside.
var ZoneCommands = []string{"zonetop", "prctl", "projects", "projadd", "projmod", "projdel", "newtask", "zonestat",
	"zonecfg", "zoneadm", "zlogin", "reboot", "halt", "poweroff", "init", "shutdown"}

// ZoneRequest is one request on the zone socket.
type ZoneRequest struct {
	Op      string          `json:"op"`                // info, usage, processes, signal, newtask, set-zone-cap, set-task-rctl, project, console-log
	Project *ProjectRequest `json:"project,omitempty"` // for op "project"
	Rctl    string          `json:"rctl,omitempty"`    // for set-zone-cap and set-task-rctl
	Value   string          `json:"value,omitempty"`
	// Task is the project newtask puts the caller in.
	Task string `json:"task,omitempty"`
	// TaskID is the running task set-task-rctl changes.
	TaskID int `json:"taskid,omitempty"`
	// Signal is for op "signal": the process by its pid in the zone.
	Signal *SignalRequest `json:"signal,omitempty"`
}

// ZoneReply answers a ZoneRequest.
type ZoneReply struct {
	OK      bool            `json:"ok"`
	Error   string          `json:"error,omitempty"`
	Code    Code            `json:"code,omitempty"` // the kind of Error (FromWire)
	Info    *ZoneSelfInfo   `json:"info,omitempty"`
	Project json.RawMessage `json:"project,omitempty"`
	Usage   *ZoneUsage      `json:"usage,omitempty"`
	// Processes of the zone, with pids as the zone sees them.
	Processes []Process `json:"processes,omitempty"`
	TaskID    int       `json:"taskid,omitempty"` // newtask: the caller's new task
	// ConsoleLog is the end of the zone's console log (console-log), as
	// much of it as one message holds, from a whole line.
	ConsoleLog string `json:"console_log,omitempty"`
}

// ZoneSelfInfo is what a zone may know about itself: no host paths, no
// delegated host users, no other zone.
type ZoneSelfInfo struct {
	Name     string   `json:"name"`
	State    string   `json:"state"`
	ZoneID   int      `json:"zoneid"`
	Brand    string   `json:"brand"`
	IPType   string   `json:"ip_type"`
	Autoboot bool     `json:"autoboot"`
	Caps     []string `json:"caps,omitempty"` // zone caps, read only, as zonecfg statements
	Role     string   `json:"role"`           // zone-admin or read-only
	UID      int      `json:"uid"`
}

// ProjectRequest is a project operation on the zone socket, and what the
// host's projadd/projmod/projdel apply (ApplyProject): one shape for both levels.
type ProjectRequest struct {
	Op      string   `json:"op"` // list, add, mod, del, set-limit
	Name    string   `json:"name,omitempty"`
	ID      *int     `json:"id,omitempty"`      // add: none picks the next free ID; mod: -p
	Comment *string  `json:"comment,omitempty"` // add, mod: -c
	Users   []string `json:"users,omitempty"`   // add; mod with SetUsers: -U
	Groups  []string `json:"groups,omitempty"`  // add; mod with SetGroups: -G
	// Attrs are project(5) attributes as -K takes them, e.g.
	// "project.max-lwps=(privileged,100,deny)" (add; mod with SetAttrs).
	Attrs []string `json:"attrs,omitempty"`
	// mod only: projmod's -a/-r/-s ("add", "remove", "substitute"; empty
	// replaces), -l, and which lists were given (an empty one clears).
	Mode      string `json:"mode,omitempty"`
	NewName   string `json:"new_name,omitempty"`
	SetUsers  bool   `json:"set_users,omitempty"`
	SetGroups bool   `json:"set_groups,omitempty"`
	SetAttrs  bool   `json:"set_attrs,omitempty"`
	// Limits, for set-limit: rctl name → values in project(5) form,
	// e.g. project.max-lwps → (privileged,100,deny); "" removes it.
	Limits map[string]string `json:"limits,omitempty"`
}

// ProjectResult answers a change.
type ProjectResult struct {
	// Notes are limits accepted above the zone's cap: the zone cap wins.
	Notes []string `json:"notes,omitempty"`
}
