// Package limits is the accounting room of zonetop: the zone's
// /etc/project file, the accounting tree (zone → project → task →
// process) with its running totals and the check that grants a request
// only if it fits what is left at every level, effective limits, the IPC
// sysctls of a zone's ipc namespace and the rlimits of its processes.
//
// It is pure: it imports only rctl and api of this module and touches no
// cgroup. The caps the kernel enforces through cgroups are the cgroup
// manager's business (limits/cgroups, which turns a level's rctls into
// them); limits stays apart from it so that the wire types and the
// client, which carry rlimit settings from here, do not link code that
// acts on cgroups without authorization.
//
// # Where Linux differs from illumos
//
// Every control in the table (Rctls) carries an Enforcement string saying
// which kernel mechanism enforces it; prctl prints it as help. The notable
// differences:
//
//   - max-lwps and max-processes both become pids.max, which counts
//     threads; when both are set the lower wins (cgroups.ResourcesFor).
//   - max-swap is memory+swap (memsw) on v1; on v2, which counts swap
//     alone, swap.max is the value minus the memory cap.
//   - cpu-shares are scaled (x4 to cpu.shares, 1:1 to cpu.weight), so they
//     stay proportional among sibling zones or projects, as FSS shares are.
//   - project.max-shm-memory/-shm-ids/-sem-ids/-msg-ids have no kernel
//     counterpart per project: zoneadmd checks them in the accounting tree
//     (seccomp user notification); the zone.* ones are the IPC namespace's
//     sysctls (IPCSysctls), the kernel's own backstop.
//   - max-locked-memory is RLIMIT_MEMLOCK per process, not a group total.
//   - project.max-tasks and task.max-cpu-time are enforced by zonetop itself
//     (the tree, the sampler); project.max-memory is a zonetop addition.
//   - process.* controls are rlimits: basic is the soft limit, privileged
//     the hard one. Without CAP_SYS_RESOURCE a hard limit cannot be raised;
//     ApplyRlimits clamps and reports instead of failing.
//   - SIGXRES does not exist on Linux and is refused as an action.
//
// # The partial action
//
// The seed's check optionally grants "only the available amount" when a
// request is larger. zonetop spells that as the action "partial" (e.g.
// project.max-shm-memory=(privileged,10000,partial)), allowed on the byte
// quantities zonetop checks itself; it is decided by the limit that binds
// the request. none, deny and signal=SIG keep their illumos meaning.
package limits
