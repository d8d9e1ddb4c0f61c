// Package ui is the zonetop console: the bubbletea program with its screens,
// keymaps and styles. It talks only to the engine API and draws panes from
// console's screen model; it never reads zone files or cgroups itself. It
// writes to the terminal through one writer: bubbletea's frames, and a
// focused pane's echo drawn between them (echo.go), under one lock.
package ui
