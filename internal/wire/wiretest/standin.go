// Package wiretest gives tests a stand-in for a zoneadmd on its socket: it
// speaks the wire protocol and nothing else, and touches only the socket
// a test names. It sits apart from ztest, which packages below the wire
// (limits) use in their own tests.
package wiretest

import (
	"net"
	"testing"

	"zonetop/internal/wire"
)

// StandIn listens on sock as a zoneadmd would (SOCK_SEQPACKET, one request
// a connection) until the test ends, and answers each request with what
// handle returns; nil hangs up without an answer. done closes when the
// test ends, so a handler that plays a zoneadmd holding its answer (a
// loaded host, a stuck lock) waits on it instead of leaking.
func StandIn(t *testing.T, sock string, handle func(req wire.Request, done <-chan struct{}) *wire.Response) {
	t.Helper()
	lis, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: sock, Net: "unixpacket"})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { close(done); lis.Close() })
	go func() {
		for {
			c, err := lis.AcceptUnix()
			if err != nil {
				return
			}
			go func() {
				wc := &wire.Conn{C: c}
				defer wc.Close()
				var req wire.Request
				files, err := wc.Recv(&req)
				wire.CloseAll(files)
				if err != nil {
					return
				}
				if resp := handle(req, done); resp != nil {
					_ = wc.Send(*resp)
				}
			}()
		}
	}()
}
