package limits

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"zonetop/rctl"

	"golang.org/x/sys/unix"
)

// IPCMaxIDs is the catalogue's kernel ceiling on ids per IPC namespace.
const IPCMaxIDs = rctl.IPCMaxIDs

// DefaultSem is kernel.sem of a fresh IPC namespace: SEMMSL SEMMNS SEMOPM
// SEMMNI.
const DefaultSem = "32000 1024000000 500 32000"

// IPCSysctls maps a zone's IPC rctls (name -> privileged value) to the
// sysctls of the zone's IPC namespace, which the engine writes under
// /proc/sys inside that namespace. sem is the namespace's current
// kernel.sem ("" for DefaultSem); only its SEMMNI field is changed.
//
//	zone.max-shm-memory -> kernel.shmall (pages, rounded up, plus a page per
//	                       possible segment) and kernel.shmmax
//	zone.max-shm-ids    -> kernel.shmmni
//	zone.max-sem-ids    -> kernel.sem, 4th field (SEMMNI)
//	zone.max-msg-ids    -> kernel.msgmni
//
// Values the kernel cannot hold are errors, not silently clamped.
func IPCSysctls(rc map[string]uint64, sem string) (map[string]string, error) {
	out := map[string]string{}
	if v, ok := rc[rctl.ZoneMaxShmMemory]; ok {
		page := uint64(os.Getpagesize())
		pages := v / page
		if v%page != 0 {
			pages++
		}
		// The kernel charges whole pages per segment while zoneadmd checks
		// bytes exactly, so the backstop allows one page of rounding per
		// segment the zone may hold; otherwise the kernel would refuse
		// requests the byte-exact check grants (20000 bytes as 5000+15000
		// is 6 pages, not 5).
		segs := uint64(DefaultShmmni)
		if n, ok := rc[rctl.ZoneMaxShmIDs]; ok {
			segs = n
		}
		pages += segs
		if v == rctl.Unlimited {
			pages = rctl.Unlimited / page
		}
		out["kernel.shmall"] = strconv.FormatUint(pages, 10)
		// shmmax is a per-segment size and the kernel keeps it in a long.
		out["kernel.shmmax"] = strconv.FormatUint(min(v, 1<<63-1), 10)
	}
	ids := func(rctl, key string) error {
		v, ok := rc[rctl]
		if !ok {
			return nil
		}
		if v > IPCMaxIDs {
			return fmt.Errorf("%s=%d: the kernel allows at most %d ids per IPC namespace (%s)", rctl, v, IPCMaxIDs, key)
		}
		out[key] = strconv.FormatUint(v, 10)
		return nil
	}
	if err := ids(rctl.ZoneMaxShmIDs, "kernel.shmmni"); err != nil {
		return nil, err
	}
	if err := ids(rctl.ZoneMaxMsgIDs, "kernel.msgmni"); err != nil {
		return nil, err
	}
	if v, ok := rc[rctl.ZoneMaxSemIDs]; ok {
		if v > IPCMaxIDs {
			return nil, fmt.Errorf("zone.max-sem-ids=%d: the kernel allows at most %d semaphore ids per IPC namespace", v, IPCMaxIDs)
		}
		if sem == "" {
			sem = DefaultSem
		}
		f := strings.Fields(sem)
		if len(f) != 4 {
			return nil, fmt.Errorf("kernel.sem %q: want 4 fields", sem)
		}
		f[3] = strconv.FormatUint(v, 10)
		out["kernel.sem"] = strings.Join(f, " ")
	}
	return out, nil
}

// rlimitOf maps process.* rctls to their rlimit.
var rlimitOf = map[string]int{
	rctl.ProcessMaxFileDescriptor: unix.RLIMIT_NOFILE,
	rctl.ProcessMaxAddressSpace:   unix.RLIMIT_AS,
	rctl.ProcessMaxStackSize:      unix.RLIMIT_STACK,
	rctl.ProcessMaxCoreSize:       unix.RLIMIT_CORE,
	rctl.ProcessMaxCPUTime:        unix.RLIMIT_CPU,
	rctl.ProcessMaxDataSize:       unix.RLIMIT_DATA,
	rctl.ProcessMaxFileSize:       unix.RLIMIT_FSIZE,
}

// RlimitFor returns the RLIMIT_* resource that enforces a process.* rctl.
func RlimitFor(rctl string) (int, bool) {
	r, ok := rlimitOf[rctl]
	return r, ok
}

// RlimitSetting is the wanted rlimit of one process.* rctl. A nil side is
// left as the process has it.
type RlimitSetting struct {
	Rctl     string
	Resource int
	Soft     *uint64 // the basic value
	Hard     *uint64 // the lowest privileged value
}

// Rlimits turns process.* rctl values into rlimit settings: the basic
// value is the soft limit and the lowest privileged value the hard limit,
// as illumos maps setrlimit(2) onto these controls.
func Rlimits(rc map[string][]rctl.Value) ([]RlimitSetting, error) {
	var out []RlimitSetting
	for name, vs := range rc {
		res, ok := rlimitOf[name]
		if !ok {
			continue
		}
		s := RlimitSetting{Rctl: name, Resource: res}
		for _, v := range vs {
			l := v.Limit
			switch v.Privilege {
			case rctl.Basic:
				if s.Soft != nil {
					return nil, fmt.Errorf("%s: more than one basic value", name)
				}
				s.Soft = &l
			case rctl.Privileged:
				if s.Hard == nil || l < *s.Hard {
					s.Hard = &l
				}
			}
		}
		if s.Soft != nil && s.Hard != nil && *s.Soft > *s.Hard {
			return nil, fmt.Errorf("%s: basic value %d above privileged value %d", name, *s.Soft, *s.Hard)
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Rctl < out[j].Rctl })
	return out, nil
}

// Clamped reports an rlimit that could not be set as wanted.
type Clamped struct {
	Rctl       string
	WantedHard uint64
	GotHard    uint64
	GotSoft    uint64
}

func (c Clamped) String() string {
	return fmt.Sprintf("%s: hard limit %d kept at %d (raising needs CAP_SYS_RESOURCE)", c.Rctl, c.WantedHard, c.GotHard)
}

// ApplyRlimits sets the rlimits of pid (0: this process) with prlimit(2).
// Raising a hard limit above the current one needs CAP_SYS_RESOURCE, which
// zonetop may not have (it is not in these machines' bounding set): such a
// limit is clamped to the current hard limit, set, and reported in the
// returned list instead of failing the whole set.
func ApplyRlimits(pid int, settings []RlimitSetting) ([]Clamped, error) {
	var clamped []Clamped
	for _, s := range settings {
		var cur unix.Rlimit
		if err := unix.Prlimit(pid, s.Resource, nil, &cur); err != nil {
			return clamped, fmt.Errorf("%s: read rlimit of %d: %w", s.Rctl, pid, err)
		}
		want := cur
		if s.Hard != nil {
			want.Max = *s.Hard
		}
		if s.Soft != nil {
			want.Cur = *s.Soft
		}
		// A soft limit may never exceed the hard one.
		want.Cur = min(want.Cur, want.Max)
		err := unix.Prlimit(pid, s.Resource, &want, nil)
		if errors.Is(err, syscall.EPERM) && want.Max > cur.Max {
			c := Clamped{Rctl: s.Rctl, WantedHard: want.Max, GotHard: cur.Max}
			want.Max = cur.Max
			want.Cur = min(want.Cur, want.Max)
			c.GotSoft = want.Cur
			err = unix.Prlimit(pid, s.Resource, &want, nil)
			if err == nil {
				clamped = append(clamped, c)
			}
		}
		if err != nil {
			return clamped, fmt.Errorf("%s: set rlimit of %d: %w", s.Rctl, pid, err)
		}
	}
	return clamped, nil
}

// DefaultShmmni is the kernel's default kernel.shmmni: how many segments a
// zone may hold when zone.max-shm-ids is not set.
const DefaultShmmni = 4096
