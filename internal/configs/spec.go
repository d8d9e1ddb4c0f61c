package configs

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"zonetop/internal/testhook"
)

// PlatformSpec is everything the runtime needs to build a zone's virtual
// platform. It is plain data: zoneadmd keeps it as spec.json in the zone's
// run directory so that a restarted zoneadmd can adopt a running zone.
type PlatformSpec struct {
	Name, Zonepath string // the zone root is Zonepath/root
	RootPrefix     string // zonetop's --root; run/ and var/log/ live under it
	Brand          string // sparse, busybox or tarball
	Hostname       string
	IPType         string      // shared or exclusive
	Mounts         []MountSpec // inherit-pkg-dirs and fs resources, mounted in order
	Devices        []string    // shell patterns on host /dev paths, from device resources
	Nets           []NetSpec
	Caps           []string          // capability bounding set, names without "cap_"
	Sysctls        map[string]string // IPC sysctls written in the zone's ipc namespace
	CgroupParent   string            // relative cgroup path under which zonetop/NAME is made; empty = zoneadmd's own
	Init           []string          // init command; empty = zonetop's inittab-reading init
	BootArgs       []string

	// IPCRctls are the zone's System V IPC caps (zone.max-shm-memory,
	// zone.max-shm-ids, zone.max-sem-ids, zone.max-msg-ids) as rctl values,
	// "(privileged,20000,deny)": the zone node of zoneadmd's IPC check,
	// which also applies the projects' limits from the zone's /etc/project.
	IPCRctls map[string]string `json:",omitempty"`
	// Rctls are the zone.* caps (rctl name -> privileged value) zoneadmd
	// applies to the zone cgroup through the cgroup backend.
	Rctls map[string]uint64 `json:",omitempty"`
	// CPUs is the cpuset of a dedicated-cpu zone; empty: all CPUs.
	CPUs string `json:",omitempty"`
	// NestedUserns lets the zone's processes make user namespaces
	// (limitpriv zonetop_userns); never ipc namespaces.
	NestedUserns bool `json:",omitempty"`
	// UserNS is the zone's host id range when its root is not host root
	// (zonecfg user-namespace=auto); nil: the zone runs as host root.
	UserNS *IDRange `json:",omitempty"`
	// SupervisorCgroup is the cgroup v2 leaf of the zone's systemd scope
	// that its zoneadmd moved into (settleSupervisor), relative to the
	// unified hierarchy's root; an adopting zoneadmd goes there too.
	// zoneadmd sets it; empty where zonetop makes no scopes.
	SupervisorCgroup string `json:",omitempty"`
}

// MountSpec is one mount of the zone. Target is a path inside the zone
// root; it is resolved there without ever leaving the root.
type MountSpec struct {
	Source, Target, Type string
	Options              []string
}

// Zone states as the runtime reports them.
const (
	StateInstalled    = "installed"
	StateReady        = "ready"
	StateRunning      = "running"
	StateShuttingDown = "shutting_down"
	StateDown         = "down"
)

// zoneNameSyntax tells whether name is 1 to 64 of [A-Za-z0-9_.-] starting
// with a letter or digit. Written out rather than a regexp: the compiled
// repetition cost every start of the binary ~0.2 ms of package init.
func ZoneNameSyntax(name string) bool {
	if len(name) == 0 || len(name) > 64 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || c != '_' && c != '.' && c != '-') {
			return false
		}
	}
	return true
}

func CheckZoneName(name string) error {
	if !ZoneNameSyntax(name) || name == "global" {
		return fmt.Errorf("invalid zone name %q", name)
	}
	return nil
}

// runBase is ROOT/run/zonetop; runDir the zone's own directory in it.
func RunBase(rootPrefix string) string { return filepath.Join(rootPrefix, "run", "zonetop") }
func RunDir(rootPrefix, name string) string {
	return filepath.Join(RunBase(rootPrefix), name)
}
func LogDir(rootPrefix string) string { return filepath.Join(rootPrefix, "var", "log", "zonetop") }

func ZoneadmdSock(rootPrefix, name string) string {
	return filepath.Join(RunDir(rootPrefix, name), "zoneadmd.sock")
}

// notifyFDArg tells zoneadmd that fd 3 is the pipe on which it announces
// that it serves.
const NotifyFDArg = "--notify-fd=3"

// procStartTime is field 22 of /proc/PID/stat, the process's start time in
// clock ticks since boot: with the pid it names one process for ever.
func ProcStartTime(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("pid %d: malformed stat", pid)
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); starttime is field 22.
	if len(f) < 20 {
		return 0, fmt.Errorf("pid %d: short stat", pid)
	}
	var v uint64
	if _, err := fmt.Sscan(f[19], &v); err != nil {
		return 0, fmt.Errorf("pid %d: starttime: %w", pid, err)
	}
	return v, nil
}

// zoneadmdEnv is zoneadmd's whole environment: a fixed PATH, and the
// fault-injection point and forced cgroup layout when a test set them.
func ZoneadmdEnv() []string {
	env := []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	if v := os.Getenv(testhook.TestPauseEnv); v != "" {
		env = append(env, testhook.TestPauseEnv+"="+v)
	}
	if v := os.Getenv(testhook.Cgroup2Env); v != "" {
		env = append(env, testhook.Cgroup2Env+"="+v)
	}
	return env
}
