package engine

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"time"
	"zonetop/api"
	"zonetop/internal/configs"
	"zonetop/internal/wire"
	"zonetop/internal/zoneadmd"
)

// ConsoleSession is one attachment to a zone's console. Conn carries the
// console's bytes both ways; Events delivers what zoneadmd reports about
// the zone ("ready", "booting", "halted") and is closed when zoneadmd
// drops the connection.
type ConsoleSession struct {
	Conn   *os.File
	Events <-chan ZoneEvent
	// Status is the zone's state when the attachment was made.
	Status api.ZoneStatus

	c    *wire.Conn
	once sync.Once
}

// ZoneEvent is news about a zone pushed to a console attacher.
type ZoneEvent struct {
	Event  string // "ready", "booting", "halted"; "detached" when zoneadmd cut the attacher off
	Reason string // why, for "detached"
	Status api.ZoneStatus
}

// attachConsole is the runtime side of Engine.AttachConsole: it starts the
// zone's zoneadmd if needed and attaches to its console hub.
func attachConsole(rootPrefix, name string, opts api.ConsoleOptions) (*ConsoleSession, error) {
	if err := configs.CheckZoneName(name); err != nil {
		return nil, err
	}
	if err := zoneadmd.StartZoneadmd(rootPrefix, name); err != nil {
		return nil, fmt.Errorf("zlogin -C %s: %w", name, err)
	}
	c, err := wire.Dial(configs.ZoneadmdSock(rootPrefix, name), 2*time.Second)
	if err != nil {
		return nil, fmt.Errorf("zlogin -C %s: %w", name, err)
	}
	if err := c.Send(wire.Request{Op: "attach-console", Console: &opts}); err != nil {
		c.Close()
		return nil, fmt.Errorf("zlogin -C %s: %w", name, err)
	}
	var resp wire.Response
	files, err := c.Recv(&resp)
	if err == nil && (!resp.OK || len(files) != 1) {
		err = api.FromWire(resp.Error, resp.Code)
		if resp.OK {
			err = errors.New("no console connection from zoneadmd")
		}
	}
	if err != nil {
		wire.CloseAll(files)
		c.Close()
		return nil, fmt.Errorf("zlogin -C %s: %w", name, err)
	}
	f, err := zoneadmd.Pollable(files[0], "console")
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("zlogin -C %s: %w", name, err)
	}
	events := make(chan ZoneEvent, 16)
	s := &ConsoleSession{Conn: f, Events: events, c: c}
	if resp.Status != nil {
		s.Status = *resp.Status
	}
	go func() {
		defer close(events)
		for {
			var ev wire.Response
			got, err := c.Recv(&ev)
			wire.CloseAll(got)
			if err != nil {
				return
			}
			if ev.Event == "" {
				continue
			}
			ze := ZoneEvent{Event: ev.Event, Reason: ev.Error}
			if ev.Status != nil {
				ze.Status = *ev.Status
			}
			// Events are advisory: a client that does not read them
			// must not block the stream of later ones forever.
			select {
			case events <- ze:
			default:
			}
		}
	}()
	return s, nil
}

// Close detaches from the console.
func (s *ConsoleSession) Close() error {
	s.once.Do(func() {
		s.Conn.Close()
		s.c.Close()
	})
	return nil
}

// LoginSession is a command running on a pty inside a zone, with the pty's
// master held here: the caller copies the user's terminal to and from
// Master and sets its window size (the kernel signals the zone's
// foreground process group).
type LoginSession struct {
	Master *os.File
	Pid    int // the session leader's pid inside the zone

	c    *wire.Conn
	once sync.Once
}

// startLogin is the runtime side of Engine.StartLogin. req.TTY is implied.
func startLogin(rootPrefix, name string, req api.ExecRequest) (*LoginSession, error) {
	if err := configs.CheckZoneName(name); err != nil {
		return nil, err
	}
	if len(req.Argv) == 0 && !req.Safe {
		req.Login = true
	}
	req.TTY = true
	if zoneadmd.RuntimePresent(rootPrefix, name) {
		if err := zoneadmd.StartZoneadmd(rootPrefix, name); err != nil {
			return nil, err
		}
	}
	c, err := wire.Dial(configs.ZoneadmdSock(rootPrefix, name), 2*time.Second)
	if err != nil {
		return nil, fmt.Errorf("zlogin %s: zone is not ready or running: %w", name, err)
	}
	if err := c.Send(wire.Request{Op: "exec", Exec: &req}); err != nil {
		c.Close()
		return nil, fmt.Errorf("zlogin %s: %w", name, err)
	}
	var started wire.Response
	files, err := c.Recv(&started)
	if err == nil && (!started.OK || len(files) != 1) {
		err = api.FromWire(started.Error, started.Code)
		if started.OK {
			err = errors.New("no pty from the zone")
		}
	}
	if err != nil {
		wire.CloseAll(files)
		c.Close()
		return nil, fmt.Errorf("zlogin %s: %w", name, err)
	}
	m, err := zoneadmd.Pollable(files[0], "zone-pty")
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("zlogin %s: %w", name, err)
	}
	return &LoginSession{Master: m, Pid: started.Pid, c: c}, nil
}

// Wait returns the session leader's exit status (128+signal if killed),
// or ErrZoneGone if the zone halted under it. The pty's remaining output
// can still be read from Master afterwards.
func (s *LoginSession) Wait() (int, error) {
	var done wire.Response
	files, err := s.c.Recv(&done)
	wire.CloseAll(files)
	if err != nil || !done.OK || done.Exit == nil {
		why := done.Error
		if err != nil {
			why = err.Error()
		}
		return 1, fmt.Errorf("%w (%s)", api.ErrZoneGone, why)
	}
	return *done.Exit, nil
}

// Close ends the session from this side: the pty's master closes, so the
// zone's side hangs up and its processes get SIGHUP.
func (s *LoginSession) Close() error {
	s.once.Do(func() {
		s.Master.Close()
		s.c.Close()
	})
	return nil
}
