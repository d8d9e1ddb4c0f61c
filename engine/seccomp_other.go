//go:build !amd64

package engine

import "golang.org/x/sys/unix"

// The IPC filter is written for x86-64 only (its compatibility ABIs make
// each architecture's filter its own): elsewhere zsched runs without it
// and zoneadmd reports that per-project IPC limits are not enforced.
func ipcFilterProgram() []unix.SockFilter { return nil }

func decodeIPCCall(d *seccompData) (ipcCall, bool) { return ipcCall{}, false }
