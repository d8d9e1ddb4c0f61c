// Package console is the terminal room of zonetop: pseudo-terminals, the
// zone console's ring buffer and log, attach/detach with the ~. escape, and
// the terminal-screen model (a VT emulator with scrollback) that TUI panes
// draw from.
//
// It knows nothing about zones: it is handed file descriptors and paths. It
// imports only the standard library and the pty/emulator modules.
package console
