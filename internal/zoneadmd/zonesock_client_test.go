package zoneadmd

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"zonetop/api"
	"zonetop/client"
)

// frameTap sits between a client and the zone socket at sock and keeps
// every frame that crosses, each way, so a test sees what was asked and
// answered rather than only the error the client made of it.
type frameTap struct {
	path string
	mu   sync.Mutex
	sent []string // client → server
	got  []string // server → client
}

func newFrameTap(t *testing.T, sock string) *frameTap {
	t.Helper()
	tp := &frameTap{path: filepath.Join(t.TempDir(), "tap.sock")}
	lis, err := net.ListenUnix("unix", &net.UnixAddr{Name: tp.path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lis.Close() })
	go func() {
		for {
			c, err := lis.AcceptUnix()
			if err != nil {
				return
			}
			s, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: sock, Net: "unix"})
			if err != nil {
				c.Close()
				continue
			}
			go tp.copy(s, c, &tp.sent)
			go tp.copy(c, s, &tp.got)
		}
	}()
	return tp
}

// copy passes length-prefixed frames from src to dst, keeping each.
func (tp *frameTap) copy(dst, src *net.UnixConn, keep *[]string) {
	defer dst.CloseWrite()
	for {
		var n [4]byte
		if _, err := io.ReadFull(src, n[:]); err != nil {
			return
		}
		b := make([]byte, binary.BigEndian.Uint32(n[:]))
		if _, err := io.ReadFull(src, b); err != nil {
			return
		}
		tp.mu.Lock()
		*keep = append(*keep, string(b))
		tp.mu.Unlock()
		if _, err := dst.Write(append(n[:], b...)); err != nil {
			return
		}
	}
}

func (tp *frameTap) take() (sent, got []string) {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	sent, got = tp.sent, tp.got
	tp.sent, tp.got = nil, nil
	return sent, got
}

// A zone's administrator and a zone's plain user get, through client.Zones
// (the interface prctl, projects and the console are written against),
// exactly the refusals the zone socket gave a raw request before: the
// same request crosses, the same coded answer comes back, and the error
// keeps its api code. A request for another zone never leaves the zone.
func TestZoneServerRefusalsCrossTheSocket(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		who  string
		p    api.Principal
		name string
		call func(zs client.Zones, p api.Principal) error
		raw  api.ZoneRequest // what the zone's tools sent before client.Zones
	}{
		{"zone root", api.Principal{UID: 0, Zone: "zs1"}, "a zone cap",
			func(zs client.Zones, p api.Principal) error {
				return zs.SetRctl(ctx, p, "zs1", api.RctlChange{Name: "zone.max-lwps", Values: "(privileged,5000,deny)"}, false)
			},
			api.ZoneRequest{Op: "set-zone-cap", Rctl: "zone.max-lwps", Value: "(privileged,5000,deny)"}},
		{"plain user", api.Principal{UID: 1000, Zone: "zs1"}, "a project limit",
			func(zs client.Zones, p api.Principal) error {
				return zs.SetRctl(ctx, p, "zs1", api.RctlChange{Name: "project.max-lwps", Project: "web", Values: "(privileged,5,deny)"}, false)
			},
			api.ZoneRequest{Op: "project", Project: &api.ProjectRequest{Op: "set-limit", Name: "web",
				Limits: map[string]string{"project.max-lwps": "(privileged,5,deny)"}}}},
		{"plain user", api.Principal{UID: 1000, Zone: "zs1"}, "projadd",
			func(zs client.Zones, p api.Principal) error {
				_, err := zs.EditProjects(ctx, p, "zs1", api.ProjectRequest{Op: "add", Name: "batch"})
				return err
			},
			api.ZoneRequest{Op: "project", Project: &api.ProjectRequest{Op: "add", Name: "batch"}}},
		{"plain user", api.Principal{UID: 1000, Zone: "zs1"}, "a signal",
			func(zs client.Zones, p api.Principal) error {
				return zs.SignalProcess(ctx, p, api.SignalRequest{Zone: "zs1", PID: 1, Signal: "TERM"})
			},
			api.ZoneRequest{Op: "signal", Signal: &api.SignalRequest{Zone: "zs1", PID: 1, Signal: "TERM"}}},
		{"plain user", api.Principal{UID: 1000, Zone: "zs1"}, "the console log",
			func(zs client.Zones, p api.Principal) error {
				_, err := zs.ConsoleLog(ctx, p, "zs1")
				return err
			},
			api.ZoneRequest{Op: "console-log"}},
	}
	for _, c := range cases {
		t.Run(c.who+" "+c.name, func(t *testing.T) {
			sock, fp, _ := startTestZoneSock(t, c.p)
			tap := newFrameTap(t, sock)

			// Before: the raw request on the zone socket.
			zc, err := client.DialZone(tap.path)
			if err != nil {
				t.Fatal(err)
			}
			_, oldErr := zc.Do(c.raw)
			zc.Close()
			oldSent, oldGot := tap.take()

			// Now: through client.Zones.
			zs, err := client.DialZoneServer(tap.path)
			if err != nil {
				t.Fatal(err)
			}
			tap.take() // the info every dial asks first
			newErr := c.call(zs, c.p)
			newSent, newGot := tap.take()

			if oldErr == nil || !errors.Is(newErr, api.ErrPermission) {
				t.Fatalf("refusal: before %v, now %v; want permission denied both times", oldErr, newErr)
			}
			if newErr.Error() != oldErr.Error() {
				t.Errorf("message now %q, before %q", newErr, oldErr)
			}
			var ae *api.Error
			if !errors.As(newErr, &ae) || ae.Code != api.CodeDenied {
				t.Errorf("%v carries no denied code", newErr)
			}
			if len(newSent) != 1 || len(oldSent) != 1 || !sameJSON(t, newSent[0], oldSent[0]) {
				t.Errorf("request now %q, before %q", newSent, oldSent)
			}
			if len(newGot) != 1 || len(oldGot) != 1 || newGot[0] != oldGot[0] || !strings.Contains(newGot[0], `"code":"denied"`) {
				t.Errorf("answer now %q, before %q; want one denied answer", newGot, oldGot)
			}
			if len(fp.calls) != 0 {
				t.Errorf("a refused request reached the projects: %+v", fp.calls)
			}

			// Another zone: refused here, nothing crosses.
			err = c.call(otherZone{zs}, c.p)
			if !errors.Is(err, api.ErrPermission) || !strings.Contains(err.Error(), "zone zs2 is not visible from zone zs1") {
				t.Errorf("another zone: %v", err)
			}
			if sent, _ := tap.take(); len(sent) != 0 {
				t.Errorf("a request for another zone crossed the socket: %q", sent)
			}
		})
	}
}

// otherZone asks zs about zone zs2 whatever the caller names.
type otherZone struct{ client.Zones }

func (o otherZone) SetRctl(ctx context.Context, p api.Principal, _ string, ch api.RctlChange, persist bool) error {
	return o.Zones.SetRctl(ctx, p, "zs2", ch, persist)
}

func (o otherZone) EditProjects(ctx context.Context, p api.Principal, _ string, req api.ProjectRequest) ([]string, error) {
	return o.Zones.EditProjects(ctx, p, "zs2", req)
}

func (o otherZone) SignalProcess(ctx context.Context, p api.Principal, req api.SignalRequest) error {
	req.Zone = "zs2"
	return o.Zones.SignalProcess(ctx, p, req)
}

func (o otherZone) ConsoleLog(ctx context.Context, p api.Principal, _ string) (string, error) {
	return o.Zones.ConsoleLog(ctx, p, "zs2")
}

func sameJSON(t *testing.T, a, b string) bool {
	t.Helper()
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return string(xa) == string(ya)
}
