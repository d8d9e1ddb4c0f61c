// Package screen is the terminal-screen model a TUI pane draws from: a VT
// emulator with scrollback fed with a pty's output, and the key and mouse
// encoder that turns what the user does in a pane into the bytes the
// program on the pty expects.
//
// It is a room of its own, apart from the console package, because it is
// the one piece of the terminal room that needs the emulator modules
// (Charm's vt and ultraviolet): zoneadmd and the zone's processes, which
// hold consoles but never draw one, import console and stay without them.
// It knows nothing about zones; ui is its one user.
package screen
