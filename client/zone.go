package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
	"zonetop/api"
	"zonetop/internal/wire"
	"zonetop/termsafe"
)

// InZone reports whether this process runs inside a zonetop zone: the
// zone socket is there and PID 1 is zsched.
func InZone() bool {
	if st, err := os.Stat(api.ZoneSockPath); err != nil || st.Mode()&os.ModeSocket == 0 {
		return false
	}
	b, err := os.ReadFile("/proc/1/comm")
	return err == nil && strings.TrimSpace(string(b)) == "zsched"
}

// ZoneClient talks to the zone socket from inside a zone.
type ZoneClient struct {
	c *net.UnixConn
}

// DialZone connects to the zone socket at path (ZoneSockPath in a zone).
func DialZone(path string) (*ZoneClient, error) {
	c, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("zone socket: %w", err)
	}
	return &ZoneClient{c: c}, nil
}

// NewZoneClient speaks the zone socket's requests on a connection the
// caller made (and may have used raw first).
func NewZoneClient(c *net.UnixConn) *ZoneClient { return &ZoneClient{c: c} }

// Close ends the connection.
func (z *ZoneClient) Close() error { return z.c.Close() }

// Do sends one request and reads its reply. A refusal comes back as an
// error wrapping ErrPermission.
func (z *ZoneClient) Do(req api.ZoneRequest) (api.ZoneReply, error) {
	_ = z.c.SetDeadline(time.Now().Add(2 * time.Minute))
	if err := wire.WriteZoneFrame(z.c, req); err != nil {
		// A refused connection is closed after its reason was sent:
		// show that reason, not the broken pipe.
		_ = z.c.SetReadDeadline(time.Now().Add(time.Second))
		if b, rerr := wire.ReadZoneFrame(z.c); rerr == nil {
			var r api.ZoneReply
			if json.Unmarshal(b, &r) == nil && r.Error != "" {
				return r, zoneReplyError(r)
			}
		}
		return api.ZoneReply{}, fmt.Errorf("zone socket: %w", err)
	}
	b, err := wire.ReadZoneFrame(z.c)
	if err != nil {
		return api.ZoneReply{}, fmt.Errorf("zone socket: %w", err)
	}
	var r api.ZoneReply
	if err := json.Unmarshal(b, &r); err != nil {
		return api.ZoneReply{}, fmt.Errorf("zone socket: malformed reply: %w", err)
	}
	if !r.OK {
		return r, zoneReplyError(r)
	}
	return r, nil
}

// zoneReplyError is zoneadmd's refusal or failure as the client gets it:
// its text unchanged but for the escapes, its kind intact.
func zoneReplyError(r api.ZoneReply) error {
	// The text quotes what the zone's users sent (project and user
	// names): the tool that prints it must not replay their escapes.
	msg := termsafe.String(r.Error)
	if r.Code == api.CodeDenied && !strings.Contains(msg, api.ErrPermission.Error()) {
		msg = api.ErrPermission.Error() + ": " + msg
	}
	return api.FromWire(msg, r.Code)
}

// NewTask is newtask(1) inside a zone: zoneadmd moves this very process
// (it knows it from the socket's peer credentials) into a new task of
// project ("" for the caller's default), if the project admits the user,
// and argv then replaces this process, staying in the task. It returns
// only on failure. Both binaries run it: zonetop for the zone
// administrator's newtask, and the per-zone binary for the inittab
// entries zinit starts in a project.
func NewTask(project string, argv []string) error {
	if len(argv) == 0 {
		return errors.New("no command")
	}
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return err
	}
	zc, err := DialZone(api.ZoneSockPath)
	if err != nil {
		return err
	}
	_, err = zc.Do(api.ZoneRequest{Op: "newtask", Task: project})
	zc.Close()
	if err != nil {
		return err
	}
	err = syscall.Exec(path, argv, os.Environ())
	return fmt.Errorf("%s: %w", argv[0], err)
}
