// Package engine is the API every zonetop front end uses: each call takes
// a principal and is authorized before anything happens. It orchestrates a
// zone's life cycle (install, clone, ready, boot, halt, reboot, shutdown,
// uninstall, verify, list) by driving the zone's supervisor
// (internal/zoneadmd), edits configurations and projects, records every
// change in the audit log, and serves delegated host users (serve).
//
// It may touch zonepaths it installs or removes, the configuration store
// and the audit log under the root prefix; everything a running zone needs
// is the supervisor's. The calls that skip authorization live in internal
// packages or are unexported here (the file-system install, clone and
// uninstall, the runtime side of console and login, the platform spec, the
// store), so only the engine and the hidden entry points reach them;
// internal/layout's test fails on any exported call without a principal
// that is not on its short list of harmless ones.
package engine
