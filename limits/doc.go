// Package limits is the resource-control room of zonetop: rctl names, values
// and their (priv,limit,action) syntax, the zone's /etc/project file, the
// accounting tree (zone → project → task → process) with its running totals
// and the check that grants a request only if it fits what is left at every
// level, and the kernel backends that enforce caps (cgroup v1 and v2, IPC
// sysctls, rlimits) and sample usage.
//
// It may touch the cgroups zonetop created and the files of the zones it is
// given; it imports only zones/ of this module.
package limits
