package zoneadmd

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"zonetop/internal/configs"
	"zonetop/limits/cgroups"
)

// Supervisors under systemd with cgroup v2 (docs/DECISIONS.md, "cgroup
// v2 under systemd"). A zoneadmd must outlive whatever started it: a
// login shell's session scope (logging out may kill it), a unit being
// restarted, sudo. And on v2 its zone's cgroup can get controllers only
// below a cgroup that holds no process, which a front end's own cgroup
// never is. So on such a host each zoneadmd, when it brings a zone up,
// asks systemd for a transient scope unit of its own with Delegate=yes
// (zonetop-ZONE.scope in zonetop.slice), moves itself into a leaf of it
// (supervisor) and makes the zone's cgroup beside that leaf: the scope's
// cgroup holds no process and is zonetop's to pass controllers on. The
// keeper gets a scope of its own the same way. systemd removes a scope
// once nothing is left in it.

// systemdSlice holds every zonetop scope: `systemctl status zonetop.slice`
// shows the host's zones and their supervisors. systemd makes a slice
// that is only named.
const systemdSlice = "zonetop.slice"

// supervisorLeaf is the child of a zoneadmd's scope that holds the
// zoneadmd itself, so that the scope's cgroup may pass controllers on.
const supervisorLeaf = "supervisor"

// systemdScopeHost tells a host where supervisors get scopes: systemd is
// PID 1 and cgroup v2 is the only hierarchy. The v1 and hybrid layouts
// keep zonetop's cgroups below the cgroup it was started in, as before;
// so do the tests' forced cgroup2 trees.
func systemdScopeHost() bool {
	if _, _, forced := cgroups.TestCgroup2(); forced {
		return false
	}
	if st, err := os.Stat("/run/systemd/system"); err != nil || !st.IsDir() {
		return false
	}
	return cgroups.DetectMode() == cgroups.ModeUnified
}

// scopeUnitName is the scope for what ("ZONE" or "keeper") under root:
// the root prefix's hash tells apart the same zone name under two roots
// (tests run many).
func scopeUnitName(root, what string) string {
	name := "zonetop-" + what
	if clean := filepath.Clean(root); clean != "/" {
		sum := sha256.Sum256([]byte(clean))
		name += "-" + hex.EncodeToString(sum[:4])
	}
	return name + ".scope"
}

// selfV2Cgroup is this process's cgroup in the unified hierarchy.
func selfV2Cgroup() (string, error) {
	p, err := cgroups.SelfCgroups()
	if err != nil {
		return "", err
	}
	if p.V2 == "" {
		return "", errors.New("no cgroup v2 line in /proc/self/cgroup")
	}
	return p.V2, nil
}

// busctlPath finds busctl, part of systemd everywhere systemd is PID 1;
// zoneadmd's PATH is a fixed one.
func busctlPath() (string, error) {
	if p, err := exec.LookPath("busctl"); err == nil {
		return p, nil
	}
	for _, p := range []string{"/usr/bin/busctl", "/bin/busctl"} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", errors.New("busctl not found (it comes with systemd)")
}

// startScope asks systemd (StartTransientUnit, over the system bus with
// busctl: zonetop links no D-Bus library) for a scope unit named unit in
// zonetop.slice, holding pid, with Delegate=yes so that systemd leaves
// the cgroups zonetop makes in it alone. The method returns once the
// start job is queued: the process is moved when systemd runs it.
func startScope(unit, desc string, pid int) error {
	busctl, err := busctlPath()
	if err != nil {
		return err
	}
	args := []string{"--system", "call", "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
		"org.freedesktop.systemd1.Manager", "StartTransientUnit", "ssa(sv)a(sa(sv))", unit, "fail", "5",
		"Description", "s", desc,
		"PIDs", "au", "1", strconv.Itoa(pid),
		"Delegate", "b", "true",
		"Slice", "s", systemdSlice,
		// A scope whose processes the OOM killer took ends
		// "failed": collect it anyway, a later zone takes the name.
		"CollectMode", "s", "inactive-or-failed",
		"0"}
	cmd := exec.Command(busctl, args...)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("systemd StartTransientUnit %s: %w: %s", unit, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// waitInScope waits until this process is in the scope unit, and
// returns the scope's cgroup, relative to the unified hierarchy's root.
func waitInScope(unit string) (string, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		cur, err := selfV2Cgroup()
		if err != nil {
			return "", err
		}
		if path.Base(cur) == unit {
			return cur, nil
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("systemd scope %s: this process (pid %d) is still in %s", unit, os.Getpid(), cur)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// enterSystemdScope puts this process into a new scope unit named unit
// (startScope). A scope of that name that exists already (one whose
// zone is still up, or not yet collected) is not reused: the name then
// gets this process's pid. It returns the scope's cgroup, relative to
// the unified hierarchy's root.
func enterSystemdScope(unit, desc string) (string, error) {
	pid := os.Getpid()
	got := unit
	err := startScope(unit, desc, pid)
	if err != nil && strings.Contains(err.Error(), "already exists") {
		got = strings.TrimSuffix(unit, ".scope") + "-" + strconv.Itoa(pid) + ".scope"
		err = startScope(got, desc, pid)
	}
	if err != nil {
		return "", err
	}
	return waitInScope(got)
}

// enterLeaf moves zoneadmd into child leaf of the unified cgroup scope.
func enterLeaf(scope, leaf string) (string, error) {
	rel, err := cgroups.EnterLeaf(scope, leaf, os.Getpid())
	if err != nil {
		return "", fmt.Errorf("move zoneadmd (pid %d): %w", os.Getpid(), err)
	}
	return rel, nil
}

// settleSupervisor puts a zoneadmd bringing its zone up into a systemd
// scope of its own (see above) and records in spec where it went; when
// the operator named no --cgroup-parent, the scope's cgroup becomes the
// zone's parent. Anywhere else it does nothing. An error is the reason
// zonetop has no scope; the zoneadmd goes on where it is, as on a host
// without systemd, and a zone with caps may then fail to get its
// controllers (the caller says why).
func (d *zoneadmd) settleSupervisor(spec *configs.PlatformSpec) error {
	if !systemdScopeHost() {
		return nil
	}
	cur, err := selfV2Cgroup()
	if err != nil {
		return err
	}
	if cur == "/" {
		// The root cgroup belongs to no unit: nothing systemd stops and
		// no logout takes a process there down, and the kernel exempts
		// the root from the no-internal-process rule, so a zone below it
		// gets its controllers as it is (the v2 ring's test binaries run
		// there).
		return nil
	}
	unit := scopeUnitName(d.root, d.name)
	scope, leaf := "", ""
	if inZoneScope(cur, unit) {
		// This zoneadmd is in its zone's scope already (a zone readied
		// again by the zoneadmd that halted it).
		scope, leaf = path.Dir(cur), cur
	} else {
		scope, err = enterSystemdScope(unit, "zonetop zone "+d.name)
		if err != nil {
			return err
		}
		if leaf, err = enterLeaf(scope, supervisorLeaf); err != nil {
			return err
		}
	}
	spec.SupervisorCgroup = leaf
	if spec.CgroupParent == "" {
		spec.CgroupParent = scope
	}
	return nil
}

// inZoneScope tells whether cur, a cgroup v2 path, is the supervisor
// leaf of the scope unit (or of its "-PID" variant). A leaf of another
// zone's scope does not count: a zoneadmd started from there (by a
// keeper that got no scope of its own) must still get its own.
func inZoneScope(cur, unit string) bool {
	if path.Base(cur) != supervisorLeaf {
		return false
	}
	got := path.Base(path.Dir(cur))
	base := strings.TrimSuffix(unit, ".scope")
	if got == unit {
		return true
	}
	pid, ok := strings.CutPrefix(got, base+"-")
	pid, ok2 := strings.CutSuffix(pid, ".scope")
	if !ok || !ok2 {
		return false
	}
	_, err := strconv.Atoi(pid)
	return err == nil
}

// rejoinSupervisor moves an adopting zoneadmd into the leaf its
// predecessor settled in: the zone's scope is still there, kept by the
// zone's processes, and the new zoneadmd belongs with them rather than
// with whoever started it (the keeper, a front end).
func (d *zoneadmd) rejoinSupervisor() error {
	if d.spec == nil || d.spec.SupervisorCgroup == "" || !systemdScopeHost() {
		return nil
	}
	_, err := enterLeaf(path.Dir(d.spec.SupervisorCgroup), path.Base(d.spec.SupervisorCgroup))
	return err
}

// The global zone's projects (engine/globalproj.go) on a systemd cgroup
// v2 host. newtask -z global runs in a cgroup systemd owns (a login
// session's scope, a service, the root cgroup), where zonetop may make
// no cgroup of its own. So the host's project cgroups live in one
// transient scope per root prefix, zonetop-global[-HASH].scope in
// zonetop.slice, with Delegate=yes, in the layout every other host has
// below zonetop's parent: SCOPE/zonetop/_global[.HASH]/PROJECT. The
// scope's own cgroup holds no process (each task goes on into its
// project's leaf), so it may pass controllers on. The tasks keep the
// scope: systemd collects it when the last one ends, as zonetop sweeps a
// project's cgroup once empty, and no idle process is kept for a global
// zone whose projects run nothing. Its name has no "-PID" variant: prctl
// and projmod, run from anywhere, find the projects there.

// GlobalScopeHost tells whether the global zone's projects go in the
// systemd scope: a systemd cgroup v2 host, and no --cgroup-parent (the
// operator's parent, where given, is used as on every host).
func GlobalScopeHost(cgroupParent string) bool {
	return cgroupParent == "" && systemdScopeHost()
}

// GlobalScope is the cgroup of the global zone's scope for the root
// prefix root, relative to the unified hierarchy's root.
func GlobalScope(root string) string {
	return path.Join("/", systemdSlice, scopeUnitName(root, "global"))
}

// EnterGlobalScope makes sure the global zone's scope for root is up.
// When it is not, systemd starts it holding this process (which must
// then leave the scope's own cgroup for its project's before a
// controller can be passed on); one that is up (another task's) is
// joined through its cgroup. A scope being collected (its last task just
// ended) frees its name in a moment: the start is tried again. A cgroup
// whose scope is gone is not joined as it is: systemd would count no
// unit for it.
func EnterGlobalScope(root string) error {
	unit := scopeUnitName(root, "global")
	// systemd unloads a collected scope at its next GC pass, which under
	// load (the v2 ring's emulated guest) took over 2 s: wait up to 30 s,
	// asking less often as it goes.
	deadline := time.Now().Add(30 * time.Second)
	pause := 20 * time.Millisecond
	for {
		if GlobalScopeActive(root) {
			return nil
		}
		err := startScope(unit, "zonetop: the global zone's projects", os.Getpid())
		if err == nil {
			_, err = waitInScope(unit)
			return err
		}
		// systemd 252 says "already loaded" of a unit it has, later
		// ones "already exists".
		if (!strings.Contains(err.Error(), "already exists") && !strings.Contains(err.Error(), "already loaded")) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(pause)
		pause = min(2*pause, 500*time.Millisecond)
	}
}

// AttachToGlobalScope asks systemd to move pid into sub (a cgroup below
// the global zone's scope for root, relative to the scope's, made
// already). systemd does it only while the scope is up, in its own
// order of events, so a task never lands in a scope that its last task
// left a moment before (it would be a cgroup of no unit, which systemd
// keeps loaded and whose name it then refuses to start again). A refusal
// for a scope that is gone wraps os.ErrNotExist.
func AttachToGlobalScope(root, sub string, pid int) error {
	busctl, err := busctlPath()
	if err != nil {
		return err
	}
	unit := scopeUnitName(root, "global")
	cmd := exec.Command(busctl, "--system", "call", "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
		"org.freedesktop.systemd1.Manager", "AttachProcessesToUnit", "ssau", unit, sub, "1", strconv.Itoa(pid))
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	out, err := cmd.CombinedOutput()
	if err == nil {
		return nil
	}
	msg := strings.TrimSpace(string(out))
	if strings.Contains(msg, "not active") || strings.Contains(msg, "not loaded") || strings.Contains(msg, "not found") {
		return fmt.Errorf("systemd AttachProcessesToUnit %s %s: %s: %w", unit, sub, msg, os.ErrNotExist)
	}
	return fmt.Errorf("systemd AttachProcessesToUnit %s %s: %w: %s", unit, sub, err, msg)
}

// GlobalScopeActive tells whether systemd has the global zone's scope
// for root up (ActiveState "active"): its cgroup is then a unit's, and
// a task that joins it is counted.
func GlobalScopeActive(root string) bool {
	busctl, err := busctlPath()
	if err != nil {
		return false
	}
	cmd := exec.Command(busctl, "--system", "get-property", "org.freedesktop.systemd1",
		"/org/freedesktop/systemd1/unit/"+busLabel(scopeUnitName(root, "global")),
		"org.freedesktop.systemd1.Unit", "ActiveState")
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	out, err := cmd.Output()
	return err == nil && strings.TrimSpace(string(out)) == `s "active"`
}

// busLabel escapes a unit name for its D-Bus object path as systemd
// does: every byte but ASCII letters and digits becomes _XX.
func busLabel(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "_%02x", c)
	}
	return b.String()
}
