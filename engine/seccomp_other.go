//go:build !amd64

package engine

import "golang.org/x/sys/unix"

// The zone filter is written for x86-64 only (its compatibility ABIs make
// each architecture's filter its own): elsewhere zsched runs without it,
// zoneadmd reports that per-project IPC limits are not enforced, and the
// calls the filter refuses are left to the kernel's capability checks.
func zoneFilterProgram(zoneFilterPolicy) []unix.SockFilter { return nil }

func decodeIPCCall(d *seccompData) (ipcCall, bool) { return ipcCall{}, false }
