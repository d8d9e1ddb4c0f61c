// Package zones is the configuration room of zonetop: the zone
// configuration model (the illumos zonecfg(8) model), the zonecfg command
// language (interactive, -z NAME "sub; sub", -f scripts, export), the verify
// rules, the on-disk XML store with its index, and the table of zone states
// and legal transitions.
//
// It may touch only files under ROOT/etc/zonetop/zones and imports nothing
// but the standard library, so every other package can depend on it without
// pulling in the runtime.
//
// Decisions where illumos and Linux part ways, or illumos is silent:
//
//   - The sparse brand always inherits the host's /usr, /bin, /sbin and
//     /lib* (SparseInherited) without listing them in the configuration, so
//     a zone follows the host's layout; inherit-pkg-dir resources add more
//     directories. The default template therefore holds only brand=sparse
//     and ip-type=shared; create -b is blank; create -t copies a configured
//     zone (SUNWdefault and SUNWblank name the two built-in templates).
//   - zonetop adds the global property init (the init binary of a
//     whole-root zone) and the admin auth config (edit the zone's
//     configuration).
//   - Net addresses must be IP addresses (IPv4 with an optional /prefix,
//     IPv6 with a /prefix); host names are refused so that whether a
//     configuration verifies never depends on the resolver.
//   - dataset, security-flags, anet and zfs-io-priority are refused with a
//     reason: they have no Linux meaning, and so are the zone.max-lofi and
//     zone.zfs-io-priority rctls. The zone rctls zonecfg takes are the rctl
//     catalogue's, with its maxima (the kernel's where it has one).
//   - Zone rctl values must be privileged, as illumos requires; aliases set
//     one privileged value with action deny (none for cpu-shares) and store
//     only that rctl; the platform derives max-lwps from max-processes set
//     alone, at boot, as illumos' zoneadmd does.
//   - Scripts (-f and command-line subcommands) are parsed whole before
//     anything runs, stop at the first error with FILE:LINE:COL, and write
//     the store only when every command succeeded. Destructive subcommands
//     (delete, revert, remove of several resources) need -F there, since
//     nobody can be asked.
//   - -z global edits the global zone's resource management (rctls,
//     capped-memory, capped-cpu, dedicated-cpu, pool, scheduling-class),
//     kept in global.xml outside the index.
//
// The store's index is the truth about which zones exist. Each file is
// replaced atomically; a commit that changes both the zone file and the
// index leaves a .pending marker first, and whoever next takes the store
// lock rolls the index forward from the zone file, so a crash never leaves
// a torn file or an index that disagrees with it. Commits carry the
// Revision the session started from and are refused (ErrConflict) if
// another session committed in between.
package zones
