// Package console is the terminal room of zonetop: pseudo-terminals, the
// zone console's ring buffer and log, and attach/detach with the ~. escape.
// The terminal-screen model TUI panes draw from is its sub-room
// console/screen, so that zoneadmd, which imports this package, does not
// carry a VT emulator it never runs.
//
// The pieces, server side first:
//
//   - Ring and Log keep a console's output: the newest megabyte in memory
//     for replay, everything in a rotated 0600 file.
//   - Hub reads a console pty master into the ring, the log and any number
//     of attachers, and writes what they type back; it outlives reboots
//     (SetMaster) and tells attachers what happens (Notice).
//   - OpenPtmx and OpenPeer allocate a pty from a zone's own devpts without
//     trusting paths inside the zone; OpenPair is the host-side equivalent.
//
// Client side:
//
//   - MakeRaw, Restore, GetSize, SetSize, CopySize and WatchResize attach a
//     user's terminal; Escaper filters its keystrokes for ~. and ~~.
//
// It knows nothing about zones: it is handed file descriptors and paths. It
// imports only the standard library, golang.org/x/sys and the pty module.
package console
