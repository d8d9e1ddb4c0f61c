package engine

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
	"zonetop/api"
	"zonetop/internal/authz"
	"zonetop/internal/wire"
	"zonetop/zones"

	"golang.org/x/sys/unix"
)

// fuzzMessages splits data into the messages a client sends: each is a
// two-byte big-endian length and that many bytes; at most eight.
func fuzzMessages(data []byte) [][]byte {
	var out [][]byte
	for len(data) >= 2 && len(out) < 8 {
		n := int(binary.BigEndian.Uint16(data))
		data = data[2:]
		n = min(n, len(data))
		out = append(out, data[:n])
		data = data[n:]
	}
	return out
}

func fuzzFrame(msgs ...string) []byte {
	var b []byte
	for _, m := range msgs {
		b = binary.BigEndian.AppendUint16(b, uint16(len(m)))
		b = append(b, m...)
	}
	return b
}

// FuzzServeDelegated sends the zonetop service what a host user with the
// config auth on one zone could: any request, then any zonecfg input
// messages. Every answer must be one well-formed message, the session
// must end, the other zone's file must not change, and the user's zone
// must keep the caps and admins only the global administrator may set.
func FuzzServeDelegated(f *testing.F) {
	f.Add(fuzzFrame(`{"op":"list","args":["-c"]}`))
	f.Add(fuzzFrame(`{"op":"zonecfg","args":["-z","web"]}`, `{"data":"c2V0IGF1dG9ib290PXRydWUKY29tbWl0Cg=="}`, `{"eof":true}`))
	f.Add(fuzzFrame(`{"op":"zonecfg","args":["-z","web","set max-lwps=5"]}`))
	f.Add(fuzzFrame(`{"op":"zonecfg","args":["-z","db","set autoboot=true"]}`))
	f.Add(fuzzFrame(`{"op":"zonecfg","args":["-z","web","-f","/etc/shadow"]}`))
	f.Add(fuzzFrame(`{"op":"zonecfg","args":["-z","web"]}`, `{"data":"YWRkIGFkbWluCnNldCB1c2VyPW1hbGxvcnkKc2V0IGF1dGhzPW1hbmFnZQplbmQKY29tbWl0Cg=="}`, `{"eof":true}`))
	f.Add(fuzzFrame(`{"op":"zonecfg","args":["-u","x"]}`))
	f.Add(fuzzFrame(`{"op":"nuke"}`))
	f.Add(fuzzFrame(`{`, `null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		msgs := fuzzMessages(data)
		if len(msgs) == 0 {
			return
		}
		var first wire.Request
		if json.Unmarshal(msgs[0], &first) == nil && first.Op == "start" {
			// start runs a real zoneadmd; the delegated integration
			// tests cover it.
			return
		}
		root := t.TempDir()
		e, err := New(root, "")
		if err != nil {
			t.Fatal(err)
		}
		for _, z := range [][2]string{
			{"web", "create -b; set zonepath=/zones/web; add admin; set user=carol; set auths=config; end; set max-lwps=100"},
			{"db", "create -b; set zonepath=/zones/db"},
		} {
			if code := zones.RunZonecfg(e.store, []string{"-z", z[0], z[1]}, nil, io.Discard, io.Discard); code != 0 {
				t.Fatalf("zonecfg %s: exit %d", z[0], code)
			}
		}
		dbFile := filepath.Join(e.store.Dir(), "db.xml")
		dbBefore, err := os.ReadFile(dbFile)
		if err != nil {
			t.Fatal(err)
		}
		webBefore, _, err := e.store.Load("web")
		if err != nil {
			t.Fatal(err)
		}

		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		srv, err := wire.FileConn(os.NewFile(uintptr(fds[0]), "srv"))
		if err != nil {
			t.Fatal(err)
		}
		cli, err := wire.FileConn(os.NewFile(uintptr(fds[1]), "cli"))
		if err != nil {
			t.Fatal(err)
		}
		defer cli.Close()
		carol := api.Principal{UID: 1234, User: "carol", Zone: "global"}
		done := make(chan struct{})
		go func() {
			defer close(done)
			defer srv.Close()
			e.serveRequest(srv, carol)
		}()
		for _, m := range msgs {
			if len(m) == 0 {
				continue
			}
			if _, err := cli.C.Write(m); err != nil {
				break // the service may hang up early (a refused request)
			}
		}
		_ = cli.C.CloseWrite()
		_ = cli.C.SetReadDeadline(time.Now().Add(10 * time.Second))
		for {
			var resp wire.Response
			files, err := cli.Recv(&resp)
			wire.CloseAll(files)
			if len(files) > 0 {
				t.Fatal("the service handed out a file descriptor")
			}
			if errors.Is(err, wire.ErrClosed) || errors.Is(err, io.EOF) || errors.Is(err, unix.ECONNRESET) {
				// Hung up; with messages it never read, a reset.
				break
			}
			if err != nil {
				t.Fatalf("answer: %v", err)
			}
			if resp.Exit != nil {
				break
			}
		}
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("the service did not end the session")
		}

		if dbAfter, err := os.ReadFile(dbFile); err != nil || !bytes.Equal(dbBefore, dbAfter) {
			t.Fatalf("zone db changed by a user without auths on it (%v)", err)
		}
		webAfter, _, err := e.store.Load("web")
		if err != nil {
			t.Fatalf("zone web no longer loads: %v", err)
		}
		if err := authz.CheckConfigChange(carol, webBefore, webAfter); err != nil {
			t.Fatalf("a delegated session stored what it may not: %v", err)
		}
	})
}
