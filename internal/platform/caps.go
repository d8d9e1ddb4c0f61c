package platform

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// capNames are the kernel's capability names in number order.
var capNames = strings.Fields(`chown dac_override dac_read_search fowner fsetid kill setgid setuid
	setpcap linux_immutable net_bind_service net_broadcast net_admin net_raw ipc_lock ipc_owner
	sys_module sys_rawio sys_chroot sys_ptrace sys_pacct sys_admin sys_boot sys_nice sys_resource
	sys_time sys_tty_config mknod lease audit_write audit_control setfcap mac_override mac_admin
	syslog wake_alarm block_suspend audit_read perfmon bpf checkpoint_restore`)

// capNumbers resolves names (with or without "cap_") to numbers.
func CapNumbers(names []string) (map[int]bool, error) {
	keep := map[int]bool{}
	for _, n := range names {
		n = strings.TrimPrefix(strings.ToLower(strings.TrimSpace(n)), "cap_")
		found := false
		for i, c := range capNames {
			if c == n {
				keep[i], found = true, true
				break
			}
		}
		if !found {
			return nil, fmt.Errorf("unknown capability %q", n)
		}
	}
	return keep, nil
}

// dropBoundingSet removes every capability not in keep from this process's
// bounding set, and clears its inheritable and ambient sets, so nothing the
// process executes can ever hold more than keep. The process's own
// effective set is left alone: zsched still needs it to start processes.
func dropBoundingSet(keep []string) error {
	want, err := CapNumbers(keep)
	if err != nil {
		return err
	}
	last := len(capNames) - 1
	if b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap"); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			last = n
		}
	}
	for c := 0; c <= last; c++ {
		if want[c] {
			continue
		}
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil && err != unix.EINVAL {
			return fmt.Errorf("drop capability %d from the bounding set: %w", c, err)
		}
	}
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil && err != unix.EINVAL {
		return fmt.Errorf("clear ambient capabilities: %w", err)
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capget: %w", err)
	}
	data[0].Inheritable, data[1].Inheritable = 0, 0
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capset: %w", err)
	}
	return nil
}
