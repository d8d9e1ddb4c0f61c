// Command benchipc is make bench's driver for the per-call cost of the
// System V IPC get calls (shmget, semget, msgget) that a zone's supervisor
// checks against its project's limits. scripts/bench-ipc.sh runs the same
// static binary on the host and inside a zone, one after the other, and
// prints the ratio. It is a measuring tool only: not installed, not linked
// into zonetop.
//
// Each call creates a private object and is timed alone; the objects are
// removed after each batch, outside the timing, so removal (which the
// check does not intercept) does not dilute what is measured.
//
//	benchipc [-n CALLS] [-batch B]
//
// prints one line per call kind: "shmget MEDIAN_US P90_US CALLS".
package main

import (
	"flag"
	"fmt"
	"os"
	"sort"
	"time"

	"golang.org/x/sys/unix"
)

func main() {
	n := flag.Int("n", 2000, "calls of each kind to time")
	batch := flag.Int("batch", 100, "objects created before they are removed (each counts against the zone's and project's id limits)")
	flag.Parse()
	if *n < 1 || *batch < 1 {
		fmt.Fprintln(os.Stderr, "benchipc: -n and -batch must be at least 1")
		os.Exit(2)
	}
	for _, k := range kinds() {
		// One untimed batch first: the first calls pay page faults and
		// the supervisor's first look at the caller.
		if _, err := run(k.create, k.remove, *batch, *batch); err != nil {
			fmt.Fprintf(os.Stderr, "benchipc: %s: %v\n", k.name, err)
			os.Exit(1)
		}
		ds, err := run(k.create, k.remove, *n, *batch)
		if err != nil {
			fmt.Fprintf(os.Stderr, "benchipc: %s: %v\n", k.name, err)
			os.Exit(1)
		}
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		us := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }
		fmt.Printf("%s %.2f %.2f %d\n", k.name, us(ds[len(ds)/2]), us(ds[len(ds)*9/10]), len(ds))
	}
}

// kind is one get call, with how to remove what it made.
type kind struct {
	name   string
	create func() (int, error)
	remove func(int)
}

func kinds() []kind {
	return []kind{
		{"shmget",
			func() (int, error) { return unix.SysvShmGet(unix.IPC_PRIVATE, 4096, unix.IPC_CREAT|0o600) },
			func(id int) { _, _ = unix.SysvShmCtl(id, unix.IPC_RMID, nil) }},
		{"semget",
			func() (int, error) { return semget(1) },
			func(id int) { _, _, _ = unix.Syscall6(unix.SYS_SEMCTL, uintptr(id), 0, unix.IPC_RMID, 0, 0, 0) }},
		{"msgget",
			func() (int, error) { return msgget() },
			func(id int) { _, _, _ = unix.Syscall(unix.SYS_MSGCTL, uintptr(id), unix.IPC_RMID, 0) }},
	}
}

// run times n creations, removing what it made every batch objects.
func run(create func() (int, error), remove func(int), n, batch int) ([]time.Duration, error) {
	ds := make([]time.Duration, 0, n)
	ids := make([]int, 0, batch)
	defer func() {
		for _, id := range ids {
			remove(id)
		}
	}()
	for len(ds) < n {
		t := time.Now()
		id, err := create()
		d := time.Since(t)
		if err != nil {
			return nil, fmt.Errorf("call %d: %w", len(ds)+1, err)
		}
		ds = append(ds, d)
		ids = append(ids, id)
		if len(ids) == batch {
			for _, id := range ids {
				remove(id)
			}
			ids = ids[:0]
		}
	}
	return ds, nil
}

func semget(nsems int) (int, error) {
	id, _, e := unix.Syscall(unix.SYS_SEMGET, unix.IPC_PRIVATE, uintptr(nsems), unix.IPC_CREAT|0o600)
	if e != 0 {
		return 0, e
	}
	return int(id), nil
}

func msgget() (int, error) {
	id, _, e := unix.Syscall(unix.SYS_MSGGET, unix.IPC_PRIVATE, unix.IPC_CREAT|0o600, 0)
	if e != 0 {
		return 0, e
	}
	return int(id), nil
}
