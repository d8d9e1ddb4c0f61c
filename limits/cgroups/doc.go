// Package cgroups is the runtime's share of cgroups: a zone's cgroup in
// every v1 hierarchy or in the unified v2 tree, its device rules (the v1
// devices controller and the v2 BPF program alike), killing and removing
// it. It touches only cgroups below zonetop's own.
package cgroups
