package zoneadmd

import (
	"fmt"
	"net"
	"os"
	"zonetop/internal/platform"

	"golang.org/x/sys/unix"
)

func (d *zoneadmd) newUsernsStart() (*platform.UsernsStart, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	u := &platform.UsernsStart{Parent: os.NewFile(uintptr(fds[0]), "zsched"), Child: os.NewFile(uintptr(fds[1]), "zoneadmd")}
	sock := d.zschedSock()
	_ = os.Remove(sock)
	l, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: sock, Net: "unixpacket"})
	if err == nil {
		l.SetUnlinkOnClose(false)
		if err = os.Chmod(sock, 0o600); err == nil {
			u.Lis, err = l.File()
		}
		l.Close()
	}
	if err != nil {
		u.Close()
		return nil, fmt.Errorf("zsched control socket: %w", err)
	}
	return u, nil
}
