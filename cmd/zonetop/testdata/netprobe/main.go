// netprobe is copied into a zone by the network isolation tests: busybox
// has no client for abstract unix sockets and reports errors as text that
// varies between versions, so the tests ask this static helper instead.
// Every command prints one line, "ok ..." or "err ERRNO", and exits 0: the
// test judges the outcome, not the exit status.
package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Println("usage: netprobe tcp HOST:PORT | unix @NAME | bind IP | loop")
		os.Exit(2)
	}
	fmt.Println(probe(os.Args[1], os.Args[2]))
}

func probe(cmd, arg string) string {
	switch cmd {
	case "tcp", "unix":
		c, err := net.DialTimeout(cmd, arg, 3*time.Second)
		if err != nil {
			return errLine(err)
		}
		defer c.Close()
		_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
		b, _ := io.ReadAll(io.LimitReader(c, 256))
		return fmt.Sprintf("ok local=%s read=%q", c.LocalAddr(), b)
	case "bind":
		l, err := net.Listen("tcp", net.JoinHostPort(arg, "0"))
		if err != nil {
			return errLine(err)
		}
		defer l.Close()
		return "ok " + l.Addr().String()
	case "loop":
		// A listener and a client inside the zone, on the given address.
		l, err := net.Listen("tcp", net.JoinHostPort(arg, "0"))
		if err != nil {
			return errLine(err)
		}
		defer l.Close()
		go func() {
			c, err := l.Accept()
			if err == nil {
				_, _ = c.Write([]byte("loop"))
				_ = c.Close()
			}
		}()
		c, err := net.DialTimeout("tcp", l.Addr().String(), 3*time.Second)
		if err != nil {
			return errLine(err)
		}
		defer c.Close()
		_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
		b, _ := io.ReadAll(c)
		return fmt.Sprintf("ok read=%q", b)
	}
	return "err unknown command " + cmd
}

func errLine(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		for name, e := range map[string]syscall.Errno{
			"ECONNREFUSED": syscall.ECONNREFUSED, "ENETUNREACH": syscall.ENETUNREACH,
			"EHOSTUNREACH": syscall.EHOSTUNREACH, "EADDRNOTAVAIL": syscall.EADDRNOTAVAIL,
			"ENOENT": syscall.ENOENT, "EACCES": syscall.EACCES, "EPERM": syscall.EPERM,
			"ETIMEDOUT": syscall.ETIMEDOUT,
		} {
			if errno == e {
				return "err " + name
			}
		}
		return fmt.Sprintf("err errno %d (%v)", int(errno), errno)
	}
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return "err ETIMEDOUT"
	}
	return "err " + err.Error()
}
