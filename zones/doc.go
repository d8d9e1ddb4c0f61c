// Package zones is the configuration room of zonetop: the zone
// configuration model (the illumos zonecfg(8) model), the zonecfg command
// language (interactive, -z NAME "sub; sub", -f scripts, export), the verify
// rules, the on-disk XML store with its index, and the table of zone states
// and legal transitions.
//
// It may touch only files under ROOT/etc/zonetop/zones and imports nothing
// but the standard library, so every other package can depend on it without
// pulling in the runtime.
package zones
