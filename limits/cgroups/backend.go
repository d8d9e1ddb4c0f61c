package cgroups

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"zonetop/internal/mountinfo"
	"zonetop/internal/testhook"
	"zonetop/rctl"

	"golang.org/x/sys/unix"
)

// Mode is the cgroup layout of the host.
type Mode int

// Layouts. Hybrid is v1 controllers with an (often empty) v2 tree beside
// them, as on these machines; zonetop treats it as v1.
const (
	ModeUnavailable Mode = iota
	ModeV1
	ModeHybrid
	ModeUnified
)

func (m Mode) String() string {
	switch m {
	case ModeV1:
		return "v1"
	case ModeHybrid:
		return "hybrid"
	case ModeUnified:
		return "unified"
	}
	return "unavailable"
}

// DetectMode reports the host's cgroup layout. The layout does not change
// while zonetop runs, so it is looked at once. TestCgroup2Env forces
// ModeUnified.
func DetectMode() Mode {
	if _, _, ok := TestCgroup2(); ok {
		return ModeUnified
	}
	return detectedMode()
}

// TestCgroup2Env, for tests only, is testhook.Cgroup2Env: the layout
// detection, the backends and the zone cgroups' choice of hierarchies read
// it; zoneadmd is given it.
const TestCgroup2Env = testhook.Cgroup2Env

// TestCgroup2 is TestCgroup2Env parsed: the mount and the extra
// controllers; ok is false when it is unset or empty.
func TestCgroup2() (mount string, extra []string, ok bool) {
	f := strings.Fields(testhook.Cgroup2())
	if len(f) == 0 || !filepath.IsAbs(f[0]) {
		return "", nil, false
	}
	return filepath.Clean(f[0]), f[1:], true
}

var detectedMode = sync.OnceValue(func() Mode { return modeFrom(statfsType) })

func statfsType(path string) (int64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return 0, err
	}
	return int64(st.Type), nil
}

// modeFrom decides the layout from the file system types of /sys/fs/cgroup
// and /sys/fs/cgroup/unified: cgroup2 at the top is unified; anything else
// there (the tmpfs holding v1 mounts) is v1, hybrid when a cgroup2 tree
// sits at unified/. Container runtimes decide the same way, so zonetop
// agrees with whatever made its host's cgroups.
func modeFrom(fsType func(path string) (int64, error)) Mode {
	t, err := fsType(v1Root)
	if err != nil {
		return ModeUnavailable
	}
	if t == unix.CGROUP2_SUPER_MAGIC {
		return ModeUnified
	}
	if t, err := fsType(filepath.Join(v1Root, "unified")); err == nil && t == unix.CGROUP2_SUPER_MAGIC {
		return ModeHybrid
	}
	return ModeV1
}

// Resources are the kernel-enforced caps of one zone, project or task
// cgroup, in rctl terms; each backend converts them to its files. A nil
// field is left as it is.
type Resources struct {
	// Pids caps tasks (threads): the lower of max-lwps and max-processes.
	// -1 removes the cap.
	Pids *int64
	// Memory caps physical memory in bytes; -1 removes the cap.
	Memory *int64
	// MemorySwap caps memory plus swap in bytes, illumos' max-swap (swap
	// reservations cover all anonymous memory); -1 removes the cap.
	MemorySwap *int64
	// CPUShares are FSS shares (1..65535), relative among siblings.
	CPUShares *uint64
	// CPUCap is a cap in percent of one CPU (cpu-cap; capped-cpu ncpus x
	// 100). 0 removes the cap.
	CPUCap *uint64
	// CPUs is a cpuset list ("0-1,3") for dedicated-cpu; empty: unchanged.
	CPUs string
}

// CPUPeriodUs is the CFS period zonetop uses; a cap of N% is a quota of
// N% of it.
const CPUPeriodUs = 100000

// sharesV1 maps FSS shares to cpu.shares. A factor of 4 keeps every legal
// share count (up to 65535) proportional within the kernel's 2..262144.
func sharesV1(s uint64) uint64 { return min(max(s*4, 2), 262144) }

// weightV2 maps FSS shares to cpu.weight, proportional up to 10000.
func weightV2(s uint64) uint64 { return min(max(s, 1), 10000) }

// quotaUs is the CFS quota for a cap in percent of one CPU.
func quotaUs(capPct uint64) int64 { return int64(capPct) * CPUPeriodUs / 100 }

// ResourcesFor turns the rctls of one zone, project or task (name ->
// privileged value; absent means unset) into the caps its cgroup gets.
// Controls that are not cgroup business are ignored here; they have their
// own backends (IPCSysctls, Rlimits, the accounting tree).
func ResourcesFor(l rctl.Level, rc map[string]uint64) *Resources {
	var r Resources
	get := func(res string) (uint64, bool) {
		v, ok := rc[l.String()+"."+res]
		return v, ok
	}
	toInt := func(v uint64) int64 {
		if v > 1<<62 {
			return -1
		}
		return int64(v)
	}
	lwps, okL := get("max-lwps")
	procs, okP := get("max-processes")
	switch {
	case okL && okP:
		v := toInt(min(lwps, procs))
		r.Pids = &v
	case okL:
		v := toInt(lwps)
		r.Pids = &v
	case okP:
		v := toInt(procs)
		r.Pids = &v
	}
	memName := "max-memory"
	if l == rctl.LevelZone {
		memName = "max-physical-memory"
	}
	if v, ok := get(memName); ok {
		m := toInt(v)
		r.Memory = &m
	}
	if v, ok := get("max-swap"); ok {
		m := toInt(v)
		r.MemorySwap = &m
	}
	if v, ok := get("cpu-shares"); ok {
		r.CPUShares = &v
	}
	if v, ok := get("cpu-cap"); ok {
		r.CPUCap = &v
	}
	return &r
}

// Stats are a cgroup's usage counters.
type Stats struct {
	CPUUsageNs  uint64
	NrPeriods   uint64
	NrThrottled uint64 // periods in which the cap stopped the group
	ThrottledNs uint64
	MemoryUsage uint64
	MemoryLimit uint64 // 0: no limit
	SwapUsage   uint64
	Pids        uint64
	PidsLimit   uint64 // 0: no limit
}

// noLimit turns the kernels' spellings of "no limit" ("max", the v1
// page-counter maximum) into 0.
func noLimit(v uint64) uint64 {
	if v >= 1<<62 {
		return 0
	}
	return v
}

// Group is the cgroup of one zone, project or task, in every hierarchy
// the backend uses.
type Group interface {
	// Path is the group's path relative to the backend's parent.
	Path() string
	Apply(r *Resources) error
	AddProc(pid int) error
	// Procs lists the processes in the group (and its descendants if
	// recursive).
	Procs(recursive bool) ([]int, error)
	// Populated tells whether a process is in the group or below, as the
	// kernel keeps it (v2 cgroup.events; v1 has no such flag and lists
	// the group's processes). A group that is gone is not populated.
	Populated() (bool, error)
	Stats() (Stats, error)
	// Counters is the cheap part of Stats, what sampling needs every
	// second for a project or task: CPUUsageNs, MemoryUsage and Pids.
	Counters() (Stats, error)
	Freeze() error
	Thaw() error
	// Kill sends SIGKILL to every process in the group and below.
	Kill() error
	// Delete removes the group; it must be empty.
	Delete() error
	// Delegate passes the controllers zonetop uses on to the group's
	// children. cgroup v2 refuses it while the group holds processes of
	// its own, and then refuses processes in it: a zone's cgroup
	// delegates once zsched has left it for the system project. On v1
	// every group has every controller and it does nothing.
	Delegate() error
}

// Backend makes and finds groups under zonetop's parent cgroup.
type Backend interface {
	Mode() Mode
	// Create makes the group at rel (e.g. "z1" or "z1/default") with its
	// parents, applying r (which may be nil). An existing group is reused.
	Create(rel string, r *Resources) (Group, error)
	// Load finds an existing group.
	Load(rel string) (Group, error)
}

// Parent is where zonetop's cgroups go: per v1 controller, and in the
// unified tree, a path relative to the hierarchy's root.
type Parent struct {
	V1 map[string]string // controller -> path
	V2 string
}

// DefaultParentName is the child of the engine's own cgroup that holds
// every zone (DESIGN.md, "Where things live").
const DefaultParentName = "zonetop"

// ParentFor is where zonetop's cgroups go: below the cgroup flag names
// (--cgroup-parent) in every hierarchy, or, with none, below the cgroup
// this process is in. Either way zones go under its DefaultParentName
// child.
func ParentFor(flag string) (Parent, error) {
	if flag != "" {
		return parentFromFlag(flag)
	}
	return detectParent()
}

// detectParent returns the cgroup this process is in, in every hierarchy,
// joined with DefaultParentName: a delegated subtree, a systemd unit or a
// test's own cgroup is respected, and nothing is created outside it.
func detectParent() (Parent, error) {
	p, err := SelfCgroups()
	if err != nil {
		return Parent{}, err
	}
	return p.Join(DefaultParentName)
}

// SelfCgroups returns the cgroups this process is in, relative to the
// root of each mounted hierarchy.
func SelfCgroups() (Parent, error) {
	p, mounts, err := self()
	if err != nil {
		return Parent{}, fmt.Errorf("cgroup parent: %w", err)
	}
	roots := mountRoots(mounts)
	// A hierarchy mounted from a subtree (a cgroup namespace, a bind of a
	// delegated directory) shows paths below its root: strip that root.
	for c, path := range p.V1 {
		p.V1[c] = underRoot(path, roots[c])
	}
	p.V2 = underRoot(p.V2, roots[""])
	return p, nil
}

// self reads the two files every question about this process's cgroups
// starts from: /proc/self/cgroup, whose paths are still relative to the
// hierarchies' roots, and the mount table, which says where each
// hierarchy is mounted and from which of its directories.
func self() (Parent, []mountinfo.Entry, error) {
	f, err := os.Open("/proc/self/cgroup")
	if err != nil {
		return Parent{}, nil, err
	}
	defer f.Close()
	p, err := ParseProcCgroup(f)
	if err != nil {
		return Parent{}, nil, fmt.Errorf("/proc/self/cgroup: %w", err)
	}
	mounts, err := mountinfo.Self()
	if err != nil {
		return Parent{}, nil, err
	}
	return p, mounts, nil
}

func underRoot(p, root string) string {
	if root == "" || root == "/" {
		return p
	}
	if rel, err := filepath.Rel(root, p); err == nil && !strings.HasPrefix(rel, "..") {
		return path.Join("/", rel)
	}
	return p
}

// ParseProcCgroup reads the /proc/PID/cgroup format
// ("4:memory:/a/b", "0::/x"). Named hierarchies (name=systemd) are skipped.
func ParseProcCgroup(r io.Reader) (Parent, error) {
	p := Parent{V1: map[string]string{}}
	sc := bufio.NewScanner(r)
	seen := false
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			return Parent{}, fmt.Errorf("bad line %q", line)
		}
		seen = true
		if parts[1] == "" {
			p.V2 = parts[2]
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			if !strings.HasPrefix(c, "name=") {
				p.V1[c] = parts[2]
			}
		}
	}
	if err := sc.Err(); err != nil {
		return Parent{}, err
	}
	if !seen {
		return Parent{}, errors.New("empty")
	}
	return p, nil
}

// mountRoots maps each mounted controller ("" for cgroup2) to the root of
// the hierarchy its mount shows.
func mountRoots(mounts []mountinfo.Entry) map[string]string {
	out := map[string]string{}
	forced, _, isForced := TestCgroup2()
	for _, m := range mounts {
		switch m.FSType {
		case "cgroup2":
			// Under TestCgroup2Env only the forced mount's tree counts.
			if !isForced || m.MountPoint == forced {
				out[""] = m.Root
			}
		case "cgroup":
			for _, o := range strings.Split(m.Super, ",") {
				out[o] = m.Root
			}
		}
	}
	return out
}

// Join returns the parent with sub appended in every hierarchy. sub must
// be relative and may not climb out with "..".
func (p Parent) Join(sub string) (Parent, error) {
	if err := checkRel(sub); err != nil {
		return Parent{}, err
	}
	q := Parent{V1: map[string]string{}}
	for c, v := range p.V1 {
		q.V1[c] = path.Join("/", v, sub)
	}
	q.V2 = path.Join("/", p.V2, sub)
	return q, nil
}

// parentFromFlag is the parent for --cgroup-parent P: P replaces the
// engine's own cgroup, in every hierarchy, and zones still go under its
// DefaultParentName child (as the engine makes them).
func parentFromFlag(p string) (Parent, error) {
	clean := path.Join("/", p, DefaultParentName)
	if strings.Contains(p, "..") {
		return Parent{}, fmt.Errorf("cgroup parent %q: may not contain \"..\"", p)
	}
	q := Parent{V1: map[string]string{}, V2: clean}
	for _, c := range v1Controllers {
		q.V1[c] = clean
	}
	return q, nil
}

// groupFileNames are the prefixes of cgroup interface files: a group with
// such a name would collide with one.
var groupFileNames = []string{"cgroup.", "cpu.", "cpuacct.", "cpuset.", "memory.", "pids.", "freezer.",
	"devices.", "io.", "blkio.", "hugetlb.", "rdma.", "misc.", "net_cls.", "net_prio.", "perf_event."}

// NameUsable tells whether name (a project's, which its cgroup is named
// after) can be a cgroup beside the interface files of its parent.
func NameUsable(name string) error {
	switch name {
	case "tasks", "notify_on_release", "release_agent":
		return fmt.Errorf("%q collides with a cgroup file", name)
	}
	for _, p := range groupFileNames {
		if strings.HasPrefix(name, p) {
			return fmt.Errorf("%q collides with the cgroup files %s*", name, p)
		}
	}
	return nil
}

func checkRel(rel string) error {
	if rel == "" || strings.HasPrefix(rel, "/") || path.Clean(rel) != rel {
		return fmt.Errorf("cgroup path %q: want a clean relative path", rel)
	}
	for _, part := range strings.Split(rel, "/") {
		if part == ".." || part == "." {
			return fmt.Errorf("cgroup path %q: may not contain \".\" or \"..\"", rel)
		}
	}
	return nil
}

// NewBackend returns the backend for the host's layout: v2 on a unified
// host, v1 otherwise (a hybrid host's v2 tree has no controllers).
func NewBackend(p Parent) (Backend, error) {
	if mount, extra, ok := TestCgroup2(); ok {
		b, err := NewV2(mount, p.V2)
		if err == nil {
			b.(*v2Backend).extra = extra
		}
		return b, err
	}
	switch m := DetectMode(); m {
	case ModeUnified:
		return NewV2("/sys/fs/cgroup", p.V2)
	case ModeV1, ModeHybrid:
		return NewV1(p, m)
	default:
		return nil, errors.New("cgroups: no cgroup file system mounted")
	}
}

// writeCgroup writes one value to a cgroup interface file in a single
// write, as the kernel parses it. The file is not created: a missing one
// is a controller that is not there, and says so. The error names the
// file, relative to the group, and the kernel's errno.
func writeCgroup(dir, name, value string) error {
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_WRONLY|os.O_TRUNC, 0)
	if err == nil {
		_, err = f.Write([]byte(value))
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// addProc moves pid into the group at dir. A process that is still being
// born (TASK_NEW) is refused with EINVAL for a moment; the write is
// retried as runc does.
func addProc(dir, name string, pid int) error {
	if pid <= 0 {
		return fmt.Errorf("%s: invalid pid %d", name, pid)
	}
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		if attempt > 0 {
			time.Sleep(30 * time.Millisecond)
		}
		err = writeCgroup(dir, name, strconv.Itoa(pid))
		if !errors.Is(err, syscall.EINVAL) {
			return err
		}
	}
	return err
}

// RemoveTree deletes the cgroup dir and every cgroup below it, deepest
// first (cgroupfs refuses to rmdir a group with children, and its
// interface files cannot be unlinked), and goes on past one that will not
// go, so that every failure is reported. A group whose last processes
// have just left can stay busy for a moment: each is retried, 100 µs first
// and up to 5 ms apart, for about a quarter of a second. A group already
// gone is not an error. The engine removes a zone's cgroups, in every
// hierarchy, with it too.
func RemoveTree(dir string) error {
	var errs []error
	for _, sub := range WalkCgroups(dir) {
		wait := newBackoff()
		var err error
		for attempt := 0; attempt < 60; attempt++ {
			if attempt > 0 {
				wait.sleep()
			}
			if err = syscall.Rmdir(sub); err == nil || err == syscall.ENOENT {
				err = nil
				break
			}
			if err != syscall.EBUSY {
				break // only a group still emptying is worth waiting for
			}
		}
		if err != nil {
			errs = append(errs, &os.PathError{Op: "rmdir", Path: sub, Err: err})
		}
	}
	return errors.Join(errs...)
}

// WalkCgroups lists dir and every cgroup below it, deepest first, the
// order they can be removed in; none when dir is gone.
func WalkCgroups(dir string) []string {
	var out []string
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if e.IsDir() {
			out = append(out, WalkCgroups(filepath.Join(dir, e.Name()))...)
		}
	}
	if _, err := os.Lstat(dir); err == nil {
		out = append(out, dir)
	}
	return out
}

// busyGroup reports the processes still in dir or below, which the kernel
// would refuse to remove it for; a group already gone has none.
func busyGroup(dir string) error {
	var d cgDirs
	defer d.close()
	ps, err := d.listProcs(dir, true)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(ps) > 0 {
		return fmt.Errorf("%s: still holds processes %v", dir, ps)
	}
	return nil
}

// freezeWait is how long Freeze and Thaw wait for the kernel to report the
// new state. A task in uninterruptible sleep holds a freeze back; waiting
// forever for it would hang zoneadmd. A variable for tests.
var freezeWait = 5 * time.Second

// waitState calls write, then polls done until it reports true, for at
// most freezeWait. write is repeated on every round when again is set (a
// v1 freezer left in FREEZING is nudged by writing FROZEN again).
func waitState(write func() error, again bool, done func() (bool, error)) error {
	deadline := time.Now().Add(freezeWait)
	for first := true; ; first = false {
		if first || again {
			if err := write(); err != nil {
				return err
			}
		}
		ok, err := done()
		if err != nil || ok {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("state not reached after %v", freezeWait)
		}
		time.Sleep(time.Millisecond)
	}
}

// killWait is how long a group killed by signals is waited for to empty,
// as the zone's own cgroups are by KillAll: killed processes leave it only
// once their parent reaps them.
const killWait = 2500 * time.Millisecond

// killUntilEmpty sends SIGKILL to every process list names until it names
// none, polling with the backoff; after, when not nil, runs once after the
// first signals (a thaw, so that they are delivered). It returns what is
// left at deadline with the last kill that failed other than for a
// process already gone, or list's error.
func killUntilEmpty(list func() ([]int, error), deadline time.Time, after func()) (left []int, killErr, listErr error) {
	wait := newBackoff()
	for {
		pids, err := list()
		if err != nil {
			return nil, killErr, err
		}
		if len(pids) == 0 || time.Now().After(deadline) {
			return pids, killErr, nil
		}
		for _, pid := range pids {
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
				killErr = fmt.Errorf("kill %d: %w", pid, err)
			}
		}
		if after != nil {
			after()
			after = nil
		}
		wait.sleep()
	}
}

// killFrozen kills every process in g and below where the kernel has no
// cgroup.kill: it freezes the group so nothing forks while the list is
// read, sends SIGKILL to every pid, thaws so the signals are delivered,
// and repeats until the group is empty. what names g in errors.
func killFrozen(g Group, what string) error {
	frozen := g.Freeze() == nil
	thaw := func() {
		if frozen {
			_ = g.Thaw()
			frozen = false
		}
	}
	left, killErr, err := killUntilEmpty(func() ([]int, error) { return g.Procs(true) }, time.Now().Add(killWait), thaw)
	if err == nil && len(left) == 0 {
		if frozen {
			return g.Thaw()
		}
		return nil
	}
	thaw()
	switch {
	case err != nil:
		return err // it names the group
	case killErr != nil:
		return fmt.Errorf("%s: %w", what, killErr)
	}
	return fmt.Errorf("%s: processes still present after SIGKILL (unreaped zombies?)", what)
}

// Children lists the groups directly below rel, in any hierarchy of the
// backend (a v1 group may be missing from a controller mounted late): a
// sweep of the groups zonetop made there, whatever names them.
func Children(b Backend, rel string) ([]string, error) {
	if err := checkRel(rel); err != nil {
		return nil, err
	}
	var dirs []string
	switch b := b.(type) {
	case *v2Backend:
		dirs = []string{filepath.Join(b.mount, b.group(rel))}
	case *v1Backend:
		for _, c := range v1Controllers {
			if p, ok := b.parent.V1[c]; ok {
				dirs = append(dirs, filepath.Join(b.root, c, p, rel))
			}
		}
	default:
		return nil, fmt.Errorf("cgroups: list %s: unknown backend %T", rel, b)
	}
	seen := map[string]bool{}
	for _, dir := range dirs {
		ents, err := os.ReadDir(dir)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("cgroups: list %s: %w", rel, err)
		}
		for _, e := range ents {
			if e.IsDir() {
				seen[e.Name()] = true
			}
		}
	}
	return slices.Sorted(maps.Keys(seen)), nil
}
