// Package cgroups is zonetop's one cgroup manager. It holds the backends
// that give a zone, project or task its caps and sample its usage (cgroup
// v1 and v2, through the kernel's interface files, without a cgroups
// library: docs/DECISIONS.md says why), the runtime's share of a zone's
// cgroup (made in every v1 hierarchy or in the unified v2 tree, zsched
// placed in it, its device rules as the v1 devices controller and the v2
// BPF program from one list, killing and removing it), and what both
// need once: the host's layout, the one reader of /proc/self/cgroup, the
// cgroup hierarchies from the one mount table reader
// (internal/mountinfo), the one writer and reader of interface files,
// and removal of a cgroup tree.
//
// Its calls do not authorize: only engine, cmd and internal/... may
// import it (internal/layout's test holds the line). It imports rctl,
// internal/configs, internal/pidfd, internal/mountinfo and
// internal/testhook of this module, and touches only the cgroups below
// zonetop's own.
package cgroups
