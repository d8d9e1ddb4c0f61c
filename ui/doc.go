// Package ui is the zonetop console: the bubbletea program with its screens,
// keymaps and styles. It talks only to the engine API and draws panes from
// console's screen model; it never reads zone files or cgroups itself.
package ui
