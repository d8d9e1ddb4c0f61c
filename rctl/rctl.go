package rctl

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// Level is the container an rctl applies to. The order is illumos'
// enforcement order: the smallest container is checked first.
type Level int

// The four containment levels, smallest first.
const (
	LevelProcess Level = iota
	LevelTask
	LevelProject
	LevelZone
)

var levelNames = [...]string{"process", "task", "project", "zone"}

func (l Level) String() string {
	if l < 0 || int(l) >= len(levelNames) {
		return fmt.Sprintf("level(%d)", int(l))
	}
	return levelNames[l]
}

// ParseLevel reads a level name as prctl -i takes it.
func ParseLevel(s string) (Level, error) {
	for i, n := range levelNames {
		if s == n {
			return Level(i), nil
		}
	}
	return 0, fmt.Errorf("unknown level %q (want process, task, project or zone)", s)
}

// Unit is how an rctl's values are counted; it decides which modifiers
// (KB vs K vs Ks) are accepted and how prctl prints values.
type Unit int

// Units of resource_controls(7). Shares and percent are counts to illumos;
// they are kept apart so help and display can say what the number means.
const (
	UnitCount Unit = iota
	UnitBytes
	UnitSeconds
	UnitShares
	UnitPercent // percent of one CPU (cpu-cap)
)

func (u Unit) String() string {
	switch u {
	case UnitBytes:
		return "bytes"
	case UnitSeconds:
		return "seconds"
	case UnitShares:
		return "shares"
	case UnitPercent:
		return "percent-of-cpu"
	default:
		return "count"
	}
}

// Privilege is the level a threshold value is held at.
type Privilege int

// Privilege levels of resource_controls(7).
const (
	Basic Privilege = iota
	Privileged
	System
)

func (p Privilege) String() string {
	switch p {
	case Basic:
		return "basic"
	case Privileged:
		return "privileged"
	case System:
		return "system"
	}
	return fmt.Sprintf("privilege(%d)", int(p))
}

// ParsePrivilege accepts basic, privileged (or priv) and system.
func ParsePrivilege(s string) (Privilege, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "basic":
		return Basic, nil
	case "privileged", "priv":
		return Privileged, nil
	case "system":
		return System, nil
	}
	return 0, fmt.Errorf("unknown privilege %q (want basic, privileged or system)", s)
}

// Flag is an rctl's global property, as rctladm(8) lists them. They limit
// which values and actions a threshold may carry.
type Flag uint32

// Global flags zonetop honours.
const (
	FlagNoDeny     Flag = 1 << iota // the resource is never denied: deny is refused
	FlagDenyAlways                  // every value must carry deny
	FlagNoBasic                     // no basic values
	FlagNoSignal                    // no signal actions
	FlagCPUTime                     // SIGXCPU allowed
	FlagFileSize                    // SIGXFSZ allowed
	FlagInfinite                    // the system value means "unlimited"
	FlagLowerable                   // privileged values may be lowered without privilege
	FlagPartial                     // zonetop: the partial-grant action is allowed
)

var flagNames = []struct {
	f    Flag
	name string
}{
	{FlagLowerable, "lowerable"}, {FlagNoDeny, "no-deny"}, {FlagDenyAlways, "deny-always"},
	{FlagNoBasic, "no-basic"}, {FlagNoSignal, "no-signal"}, {FlagCPUTime, "cpu-time"},
	{FlagFileSize, "file-size"}, {FlagInfinite, "inf"}, {FlagPartial, "partial"},
}

func (f Flag) String() string {
	var out []string
	for _, n := range flagNames {
		if f&n.f != 0 {
			out = append(out, n.name)
		}
	}
	return strings.Join(out, " ")
}

// Unlimited is the value of a threshold that is never reached. illumos
// prints it as the maximum of the unit (18.4E / 16.0EB / 18.4Es).
const Unlimited = math.MaxUint64

// Rctl describes one resource control zonetop knows.
type Rctl struct {
	Name  string // e.g. "project.max-lwps"
	Level Level
	Unit  Unit
	Flags Flag
	// Max is the system value: the most the implementation can provide.
	Max uint64
	// Enforcement says how Linux enforces the control, for prctl help.
	// Where Linux has no exact equivalent the difference is spelled out.
	Enforcement string
	// Description is the one-line meaning, after resource_controls(7).
	Description string

	// deflt gives the privileged value a fresh entity starts with, when
	// illumos sets one (cpu-shares 1, ipc ids 128, shm memory RAM/4).
	deflt func() uint64
}

// Resource is the rctl's name without its level: the same resource is
// counted at every level (zone.max-lwps and project.max-lwps are both
// "max-lwps"), which is what the accounting tree keys on.
func (r *Rctl) Resource() Resource {
	_, res, _ := strings.Cut(r.Name, ".")
	return Resource(res)
}

// Default returns the privileged value illumos gives a new entity, if any.
func (r *Rctl) Default() (uint64, bool) {
	if r.deflt == nil {
		return 0, false
	}
	return r.deflt(), true
}

// Partial reports whether the partial-grant action is allowed on r.
func (r *Rctl) Partial() bool { return r.Flags&FlagPartial != 0 }

func constant(v uint64) func() uint64 { return func() uint64 { return v } }

var (
	ramOnce sync.Once
	ramSize uint64
)

// quarterRAM is illumos' default for project.max-shm-memory.
func quarterRAM() uint64 {
	ramOnce.Do(func() {
		var si unix.Sysinfo_t
		if err := unix.Sysinfo(&si); err == nil {
			ramSize = uint64(si.Totalram) * uint64(si.Unit)
		}
	})
	return ramSize / 4
}

// Enforcement strings shared by several controls.
const (
	enfPids = "pids cgroup pids.max of the %s cgroup (Linux counts threads, i.e. LWPs)"
	enfProc = "pids cgroup pids.max of the %s cgroup, set to the lower of max-lwps and max-processes: " +
		"Linux has no per-cgroup process count, so this also bounds threads"
	enfSeccompIPC = "zoneadmd check: %s calls reach zoneadmd through seccomp user notification and are " +
		"checked against the accounting tree (Linux has no per-project IPC limit)"
	enfMemlock = "RLIMIT_MEMLOCK of every process of the %s (Linux has no per-group locked-memory " +
		"limit: each process may lock up to the value, not the group together); locked pages also count " +
		"against the memory cgroup"
)

// rctls is the table of every control zonetop knows, by name, built on
// first use: every zonetop process links the catalogue, few consult it
// (a zone's init and the stubs never do), and building it formats every
// control's help text.
var (
	rctls     map[string]*Rctl
	rctlsOnce sync.Once
)

func table() map[string]*Rctl {
	rctlsOnce.Do(func() {
		rctls = map[string]*Rctl{}
		defineAll()
	})
	return rctls
}

func def(r Rctl) {
	if r.Max == 0 {
		r.Max = Unlimited
	}
	rr := r
	rctls[r.Name] = &rr
}

func defineAll() {
	bytesDeny := FlagNoBasic | FlagDenyAlways
	// zone.*: set by the global administrator only.
	def(Rctl{Name: ZoneCPUShares, Level: LevelZone, Unit: UnitShares, Max: 65535,
		Flags:       FlagNoBasic | FlagNoDeny | FlagNoSignal,
		Enforcement: "cpu cgroup of the zone: cpu.shares = 4 x shares (v1), cpu.weight = shares (v2); relative to the other zones, like FSS",
		Description: "fair-share CPU shares of the zone", deflt: constant(1)})
	def(Rctl{Name: ZoneCPUCap, Level: LevelZone, Unit: UnitPercent,
		Flags:       FlagNoBasic | FlagDenyAlways | FlagNoSignal,
		Enforcement: "cpu cgroup CFS bandwidth of the zone: quota = cap% of the 100ms period (cpu.cfs_quota_us / cpu.max)",
		Description: "CPU cap of the zone in percent of one CPU"})
	def(Rctl{Name: ZoneMaxLwps, Max: PidsMax, Level: LevelZone, Unit: UnitCount, Flags: FlagNoBasic,
		Enforcement: fmt.Sprintf(enfPids, "zone"), Description: "maximum LWPs (threads) in the zone"})
	def(Rctl{Name: ZoneMaxProcesses, Max: PidsMax, Level: LevelZone, Unit: UnitCount, Flags: FlagNoBasic,
		Enforcement: fmt.Sprintf(enfProc, "zone"), Description: "maximum processes in the zone"})
	def(Rctl{Name: ZoneMaxPhysicalMemory, Level: LevelZone, Unit: UnitBytes, Flags: bytesDeny | FlagNoSignal,
		Enforcement: "memory cgroup of the zone: memory.limit_in_bytes (v1) / memory.max (v2); the kernel reclaims, then OOM-kills inside the zone",
		Description: "physical memory (capped-memory physical) of the zone"})
	def(Rctl{Name: ZoneMaxSwap, Level: LevelZone, Unit: UnitBytes, Flags: bytesDeny,
		Enforcement: "memory cgroup: memory.memsw.limit_in_bytes (v1, memory+swap, as illumos counts swap reservations) / memory.swap.max = value - physical cap (v2)",
		Description: "swap (virtual memory) the zone may reserve"})
	def(Rctl{Name: ZoneMaxLockedMemory, Level: LevelZone, Unit: UnitBytes, Flags: bytesDeny,
		Enforcement: fmt.Sprintf(enfMemlock, "zone"), Description: "locked physical memory of the zone"})
	def(Rctl{Name: ZoneMaxShmMemory, Level: LevelZone, Unit: UnitBytes, Flags: bytesDeny | FlagPartial,
		Enforcement: "IPC namespace sysctls of the zone: kernel.shmall (in pages) and kernel.shmmax; also the zone's total in the zoneadmd shmget check",
		Description: "total System V shared memory of the zone"})
	def(Rctl{Name: ZoneMaxShmIDs, Max: IPCMaxIDs, Level: LevelZone, Unit: UnitCount, Flags: bytesDeny,
		Enforcement: "IPC namespace sysctl kernel.shmmni of the zone (at most 32768)", Description: "shared memory ids of the zone"})
	def(Rctl{Name: ZoneMaxSemIDs, Max: IPCMaxIDs, Level: LevelZone, Unit: UnitCount, Flags: bytesDeny,
		Enforcement: "IPC namespace sysctl kernel.sem (4th field, SEMMNI) of the zone (at most 32768)", Description: "semaphore ids of the zone"})
	def(Rctl{Name: ZoneMaxMsgIDs, Max: IPCMaxIDs, Level: LevelZone, Unit: UnitCount, Flags: bytesDeny,
		Enforcement: "IPC namespace sysctl kernel.msgmni of the zone (at most 32768)", Description: "message queue ids of the zone"})

	// project.*: the zone administrator's.
	def(Rctl{Name: ProjectCPUShares, Level: LevelProject, Unit: UnitShares, Max: 65535,
		Flags:       FlagNoBasic | FlagNoDeny | FlagNoSignal,
		Enforcement: "cpu cgroup of the project under its zone: cpu.shares = 4 x shares (v1), cpu.weight = shares (v2); divides the zone's share among its projects",
		Description: "fair-share CPU shares of the project", deflt: constant(1)})
	def(Rctl{Name: ProjectCPUCap, Level: LevelProject, Unit: UnitPercent,
		Flags:       FlagNoBasic | FlagDenyAlways | FlagNoSignal,
		Enforcement: "cpu cgroup CFS bandwidth of the project: quota = cap% of the 100ms period; the zone's cap still applies above it",
		Description: "CPU cap of the project in percent of one CPU"})
	def(Rctl{Name: ProjectMaxLwps, Max: PidsMax, Level: LevelProject, Unit: UnitCount, Flags: FlagNoBasic,
		Enforcement: fmt.Sprintf(enfPids, "project"), Description: "maximum LWPs (threads) in the project"})
	def(Rctl{Name: ProjectMaxProcesses, Max: PidsMax, Level: LevelProject, Unit: UnitCount, Flags: FlagNoBasic,
		Enforcement: fmt.Sprintf(enfProc, "project"), Description: "maximum processes in the project"})
	def(Rctl{Name: ProjectMaxTasks, Level: LevelProject, Unit: UnitCount, Flags: FlagNoBasic,
		Enforcement: "zonetop accounting tree: newtask and inittab entries are refused a new task beyond it (Linux has no task concept)",
		Description: "maximum tasks in the project"})
	def(Rctl{Name: ProjectMaxMemory, Level: LevelProject, Unit: UnitBytes, Flags: bytesDeny | FlagNoSignal,
		Enforcement: "memory cgroup of the project: memory.limit_in_bytes (v1) / memory.max (v2). zonetop extension, like illumos rcap.max-rss but enforced by the kernel",
		Description: "physical memory of the project"})
	def(Rctl{Name: ProjectMaxLockedMemory, Level: LevelProject, Unit: UnitBytes, Flags: bytesDeny,
		Enforcement: fmt.Sprintf(enfMemlock, "project"), Description: "locked physical memory of the project"})
	def(Rctl{Name: ProjectMaxShmMemory, Level: LevelProject, Unit: UnitBytes, Flags: bytesDeny | FlagPartial,
		Enforcement: fmt.Sprintf(enfSeccompIPC, "shmget"),
		Description: "total System V shared memory of the project", deflt: quarterRAM})
	def(Rctl{Name: ProjectMaxShmIDs, Max: IPCMaxIDs, Level: LevelProject, Unit: UnitCount, Flags: bytesDeny,
		Enforcement: fmt.Sprintf(enfSeccompIPC, "shmget"),
		Description: "shared memory ids of the project", deflt: constant(128)})
	def(Rctl{Name: ProjectMaxSemIDs, Max: IPCMaxIDs, Level: LevelProject, Unit: UnitCount, Flags: bytesDeny,
		Enforcement: fmt.Sprintf(enfSeccompIPC, "semget"),
		Description: "semaphore ids of the project", deflt: constant(128)})
	def(Rctl{Name: ProjectMaxMsgIDs, Max: IPCMaxIDs, Level: LevelProject, Unit: UnitCount, Flags: bytesDeny,
		Enforcement: fmt.Sprintf(enfSeccompIPC, "msgget"),
		Description: "message queue ids of the project", deflt: constant(128)})

	// task.*
	def(Rctl{Name: TaskMaxLwps, Max: PidsMax, Level: LevelTask, Unit: UnitCount,
		Enforcement: fmt.Sprintf(enfPids, "task"), Description: "maximum LWPs (threads) in the task"})
	def(Rctl{Name: TaskMaxProcesses, Max: PidsMax, Level: LevelTask, Unit: UnitCount,
		Enforcement: fmt.Sprintf(enfProc, "task"), Description: "maximum processes in the task"})
	def(Rctl{Name: TaskMaxCPUTime, Level: LevelTask, Unit: UnitSeconds,
		Flags:       FlagNoDeny | FlagCPUTime | FlagInfinite,
		Enforcement: "sampled: zoneadmd compares the task cgroup's cpuacct usage with the value each sampling round and sends the signal (Linux has no per-group CPU-time limit; granularity is one round)",
		Description: "CPU time of the task's processes, in seconds"})

	// process.*: rlimits. basic is the soft limit, privileged the hard one.
	rl := func(name, res, desc string, u Unit, f Flag) {
		def(Rctl{Name: name, Level: LevelProcess, Unit: u, Flags: f | FlagLowerable,
			Enforcement: res + " (basic = soft limit, privileged = hard limit; raising a hard limit needs CAP_SYS_RESOURCE)",
			Description: desc})
	}
	rl(ProcessMaxFileDescriptor, "RLIMIT_NOFILE", "file descriptors of the process", UnitCount, 0)
	rl(ProcessMaxAddressSpace, "RLIMIT_AS", "address space of the process", UnitBytes, 0)
	rl(ProcessMaxStackSize, "RLIMIT_STACK", "stack segment of the process", UnitBytes, 0)
	rl(ProcessMaxCoreSize, "RLIMIT_CORE", "core file size of the process", UnitBytes, 0)
	rl(ProcessMaxDataSize, "RLIMIT_DATA", "heap (data segment) of the process", UnitBytes, 0)
	rl(ProcessMaxFileSize, "RLIMIT_FSIZE", "file offset writable by the process", UnitBytes, FlagFileSize)
	rl(ProcessMaxCPUTime, "RLIMIT_CPU (the kernel sends SIGXCPU at the soft limit and SIGKILL at the hard one)",
		"CPU time of the process, in seconds", UnitSeconds, FlagNoDeny|FlagCPUTime|FlagInfinite)
}

// Lookup returns the rctl called name.
func Lookup(name string) (*Rctl, error) {
	if r, ok := table()[name]; ok {
		return r, nil
	}
	return nil, fmt.Errorf("unknown resource control %q", name)
}

// Rctls returns every control, sorted by level (zone first) then name.
func Rctls() []*Rctl {
	t := table()
	out := make([]*Rctl, 0, len(t))
	for _, r := range t {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Level != out[j].Level {
			return out[i].Level > out[j].Level
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// RctlsAt returns the controls of one level, sorted by name.
func RctlsAt(l Level) []*Rctl {
	var out []*Rctl
	for _, r := range Rctls() {
		if r.Level == l {
			out = append(out, r)
		}
	}
	return out
}

// PidsMax is the largest pids.max the kernel takes (PID_MAX_LIMIT on a
// 64-bit kernel): every lwp or process control becomes one.
const PidsMax = 4194304

// IPCMaxIDs is the kernel's ceiling on shmmni, msgmni and semmni (IPCMNI,
// without the ipcmni_extend boot option): no namespace, so no zone or
// project, can have more ids of a kind.
const IPCMaxIDs = 32768

// Validate checks that v is a value the control accepts: its privilege,
// its actions and its size, following the control's global flags.
func (r *Rctl) Validate(v Value) error {
	if v.Privilege == Basic && r.Flags&FlagNoBasic != 0 {
		return fmt.Errorf("%s: basic values are not allowed", r.Name)
	}
	if v.Privilege == System {
		return fmt.Errorf("%s: system values are fixed by the system and cannot be set", r.Name)
	}
	if v.Limit > r.Max && v.Limit != Unlimited {
		return fmt.Errorf("%s: value %d is above the system maximum %d", r.Name, v.Limit, r.Max)
	}
	a := v.Action
	if a.Deny && r.Flags&FlagNoDeny != 0 {
		return fmt.Errorf("%s: the deny action is not allowed (the resource is never denied)", r.Name)
	}
	if a.Partial && r.Flags&FlagPartial == 0 {
		return fmt.Errorf("%s: the partial action is not allowed (only for byte quantities checked by zonetop)", r.Name)
	}
	if !a.Deny && !a.Partial && r.Flags&FlagDenyAlways != 0 {
		return fmt.Errorf("%s: values must carry the deny action", r.Name)
	}
	if a.Signal != 0 {
		if r.Flags&FlagNoSignal != 0 {
			return fmt.Errorf("%s: signal actions are not allowed", r.Name)
		}
		switch a.Signal {
		case unix.SIGXCPU:
			if r.Flags&FlagCPUTime == 0 {
				return fmt.Errorf("%s: signal=XCPU is only for CPU-time controls", r.Name)
			}
		case unix.SIGXFSZ:
			if r.Flags&FlagFileSize == 0 {
				return fmt.Errorf("%s: signal=XFSZ is only for process.max-file-size", r.Name)
			}
		}
	}
	return nil
}

// Defaults returns the privileged default values of every control of a
// level that has one, as a new entity of that level starts with them.
func Defaults(l Level) map[string]Value {
	out := map[string]Value{}
	for _, r := range RctlsAt(l) {
		if d, ok := r.Default(); ok {
			act := Action{}
			if r.Flags&FlagDenyAlways != 0 {
				act.Deny = true
			}
			out[r.Name] = Value{Privilege: Privileged, Limit: d, Action: act}
		}
	}
	return out
}
