package testhook

// TestPauseEnv names the fault-injection point a process stops at. The
// end-to-end fault tests set it to kill -9 a front end or a zoneadmd at an
// exact step of install, ready or boot and then check that the next
// command understands what was left.
const TestPauseEnv = "ZONETOP_TEST_PAUSE"

// Cgroup2Env makes zonetop treat the cgroup2 tree mounted at a given
// directory as a pure v2 host's: "MOUNT [CONTROLLER...]", e.g.
// "/sys/fs/cgroup/unified hugetlb". The controllers named after the mount
// are enabled for zone and project cgroups as if zonetop used them, so a
// host whose v2 tree has only hugetlb (these machines) still shows the v2
// rules (no processes in a cgroup that passes controllers to its
// children).
const Cgroup2Env = "ZONETOP_TEST_CGROUP2"

// Both are obeyed only by a binary built with the zonetop_testhooks tag
// (`make test` builds its binaries so); a production binary ignores them,
// so nothing in its environment can stop or redirect a zoneadmd.
