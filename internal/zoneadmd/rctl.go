package zoneadmd

import (
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"zonetop/api"
	"zonetop/internal/configs"
	"zonetop/internal/pathrs"
	"zonetop/limits"
	"zonetop/limits/cgroups"
	"zonetop/rctl"
	"zonetop/zones"

	"golang.org/x/sys/unix"
)

// The zone's share of resource controls: what its configuration asks for
// (Spec fills PlatformSpec.Rctls and CPUs), where a zone's projects come
// from (the zone's own /etc/project), and how rctl values become the
// numbers the kernel backends take.

// zoneRctlValues is the privileged value of every zone.* rctl the
// configuration sets, through rctl resources, aliases, capped-memory or
// capped-cpu. A value whose action is none is not a cap (only shares are
// meant that way) and is left out.
func zoneRctlValues(cfg *zones.Config) map[string]uint64 {
	out := map[string]uint64{}
	for _, r := range rctl.RctlsAt(rctl.LevelZone) {
		v, ok := cfg.ZoneRctl(r.Name)
		if !ok {
			continue
		}
		if v.Action == "none" && r.Resource() != "cpu-shares" {
			continue
		}
		out[r.Name] = v.Limit
	}
	return out
}

// dedicatedCPUs turns dedicated-cpu ncpus ("2" or a range "1-3") into a
// cpuset list. A count takes the highest-numbered online CPUs, leaving
// CPU 0 (where the host's interrupts usually land) to the host. Linux has
// no pool to move the CPUs into: the zone is confined to them, but other
// processes are not kept off them (illumos' pools are exclusive).
func dedicatedCPUs(ncpus string) (string, error) {
	online, err := onlineCPUs()
	if err != nil {
		return "", err
	}
	if lo, hi, ok := strings.Cut(ncpus, "-"); ok {
		a, err1 := strconv.Atoi(lo)
		b, err2 := strconv.Atoi(hi)
		if err1 != nil || err2 != nil || a > b || a < 1 {
			return "", fmt.Errorf("dedicated-cpu ncpus %q: want N or a range N-M", ncpus)
		}
		// A range is a minimum and a maximum number of CPUs; Linux takes
		// the maximum it has.
		n := min(b, len(online))
		if n < a {
			return "", fmt.Errorf("dedicated-cpu ncpus %q: only %d CPUs online", ncpus, len(online))
		}
		return cpuList(online[len(online)-n:]), nil
	}
	n, err := strconv.Atoi(ncpus)
	if err != nil || n < 1 {
		return "", fmt.Errorf("dedicated-cpu ncpus %q: want N or a range N-M", ncpus)
	}
	if n > len(online) {
		return "", fmt.Errorf("dedicated-cpu ncpus %d: only %d CPUs online", n, len(online))
	}
	return cpuList(online[len(online)-n:]), nil
}

func onlineCPUs() ([]int, error) {
	b, err := os.ReadFile("/sys/devices/system/cpu/online")
	if err != nil {
		return nil, fmt.Errorf("online CPUs: %w", err)
	}
	var out []int
	for _, part := range strings.Split(strings.TrimSpace(string(b)), ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return nil, fmt.Errorf("online CPUs %q: %w", b, err)
		}
		z := a
		if isRange {
			if z, err = strconv.Atoi(hi); err != nil {
				return nil, fmt.Errorf("online CPUs %q: %w", b, err)
			}
		}
		for c := a; c <= z; c++ {
			out = append(out, c)
		}
	}
	return out, nil
}

func cpuList(cpus []int) string {
	s := make([]string, len(cpus))
	for i, c := range cpus {
		s[i] = strconv.Itoa(c)
	}
	return strings.Join(s, ",")
}

// specLimits fills the spec's caps from the configuration.
func SpecLimits(cfg *zones.Config, s *configs.PlatformSpec) error {
	s.Rctls = zoneRctlValues(cfg)
	if m, ok := s.Rctls[rctl.ZoneMaxPhysicalMemory]; ok && m < MinZoneMemory {
		return fmt.Errorf("zone %s: %s (capped-memory physical) is %s, below the %s a zone needs to boot (its init, a login and zonetop's machinery beside them): raise capped-memory physical (zonecfg) and boot again",
			cfg.Name, rctl.ZoneMaxPhysicalMemory, rctl.FormatQuantity(m, rctl.UnitBytes), rctl.FormatQuantity(MinZoneMemory, rctl.UnitBytes))
	}
	// As illumos' zoneadmd: a zone that sets max-processes alone gets
	// max-lwps ten times it (never the reverse); the configuration keeps
	// only what was set.
	if p, ok := s.Rctls[rctl.ZoneMaxProcesses]; ok {
		if _, set := s.Rctls[rctl.ZoneMaxLwps]; !set {
			l := p * 10
			if l/10 != p || l > math.MaxInt32 {
				l = math.MaxInt32
			}
			s.Rctls[rctl.ZoneMaxLwps] = l
		}
	}
	sys, err := limits.IPCSysctls(s.Rctls, limits.DefaultSem)
	if err != nil {
		return fmt.Errorf("zone %s: %w", cfg.Name, err)
	}
	if len(sys) > 0 {
		s.Sysctls = sys
	}
	if cfg.DedicatedCPU != nil && cfg.DedicatedCPU.NCPUs != "" {
		if s.CPUs, err = dedicatedCPUs(cfg.DedicatedCPU.NCPUs); err != nil {
			return fmt.Errorf("zone %s: %w", cfg.Name, err)
		}
	}
	return nil
}

// MinZoneMemory is the smallest zone.max-physical-memory a zone boots
// with. Below it the out-of-memory killer ends the zone's own init or
// machinery while it starts, and what the operator then saw depended on
// the host: on cgroup v1, where zsched is charged to the zone (about
// 4 MiB with zinit and a shell), the zone died at boot; on v2, where it
// is not, a 1M zone booted and lost its first processes one by one.
// Refused before anything is made, a cap too small says so the same way
// everywhere, at verify, ready and boot.
const MinZoneMemory = 8 << 20

// liveMemoryFloor refuses a live zone.max-physical-memory below
// MinZoneMemory: a running zone taken below it has its init and logins
// killed one by one, the end boot refuses to begin with.
func liveMemoryFloor(zone, name string, v uint64) error {
	if name != rctl.ZoneMaxPhysicalMemory || v >= MinZoneMemory {
		return nil
	}
	return fmt.Errorf("zone %s: %s of %s is below the %s a running zone needs (its init, a login and zonetop's machinery beside them); the cap stays as it was: %w",
		zone, name, rctl.FormatQuantity(v, rctl.UnitBytes), rctl.FormatQuantity(MinZoneMemory, rctl.UnitBytes), api.ErrInvalid)
}

// privileged reduces an rctl's values to the one number a kernel cap
// takes: the lowest privileged (or system) value whose action enforces,
// or any value for shares, which are weights and never deny.
func Privileged(name string, vs []rctl.Value) (uint64, bool) {
	best, found := uint64(0), false
	shares := strings.HasSuffix(name, ".cpu-shares")
	for _, v := range vs {
		if v.Privilege == rctl.Basic || (!shares && !v.Action.Enforcing()) {
			continue
		}
		if !found || v.Limit < best {
			best, found = v.Limit, true
		}
	}
	return best, found
}

// projectRctlValues is privileged() over every rctl of a project entry.
func projectRctlValues(p *limits.Project) map[string]uint64 {
	out := map[string]uint64{}
	rc, err := p.Rctls()
	if err != nil {
		return out
	}
	for name, vs := range rc {
		if v, ok := Privileged(name, vs); ok {
			out[name] = v
		}
	}
	return out
}

// resourcesOf is cgroups.ResourcesFor with every control the level can set
// given a value: an unset control is reset to "no cap" (or the default
// share), so that re-applying after a change also removes what was
// dropped. The cpu cap is clamped to zoneCap (percent, 0 = none): cgroup
// v1 refuses a child quota above its parent's, and the zone's is the
// effective limit anyway.
func resourcesOf(l rctl.Level, rc map[string]uint64, zoneCap uint64) *cgroups.Resources {
	r := cgroups.ResourcesFor(l, rc)
	if r.Pids == nil {
		v := int64(-1)
		r.Pids = &v
	}
	if r.Memory == nil {
		v := int64(-1)
		r.Memory = &v
	}
	if l != rctl.LevelTask {
		if r.CPUShares == nil {
			v := uint64(1)
			r.CPUShares = &v
		}
		if r.CPUCap == nil {
			v := uint64(0)
			r.CPUCap = &v
		}
		if zoneCap > 0 && l != rctl.LevelZone && *r.CPUCap > zoneCap {
			v := zoneCap
			r.CPUCap = &v
		}
	} else {
		r.Memory = nil
	}
	return r
}

// readZoneProjects reads the zone's /etc/project. A zone without one has
// the Solaris defaults. Bad lines come back as errors (with file and line)
// beside the good entries, which still apply.
func ReadZoneProjects(zoneRoot string) (limits.Projects, []error, error) {
	b, err := pathrs.ReadZoneFile(zoneRoot, "/etc/project", pathrs.ZoneDBMax)
	if errors.Is(err, unix.ENOENT) {
		return limits.DefaultProjects(), nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	ps, bad := limits.ParseProjects(strings.NewReader(string(b)), "/etc/project")
	return ps, bad, nil
}

// ProjectResources are the cgroup caps of project p's own limits, every
// control reset where p sets none (resourcesOf): the global zone's
// projects, which no zoneadmd supervises, are written with them by the
// engine.
func ProjectResources(p *limits.Project) *cgroups.Resources {
	return resourcesOf(rctl.LevelProject, projectRctlValues(p), 0)
}

// ProjectMember tells whether user (of the tree at root, whose
// /etc/group gives its groups) may join project p (project(5)).
func ProjectMember(p *limits.Project, root, user string) bool {
	return projectMember(p, user, zoneUserGroups(root, user))
}
