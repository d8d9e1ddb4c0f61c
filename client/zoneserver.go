package client

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"zonetop/api"
	"zonetop/internal/wire"
	"zonetop/limits"
	"zonetop/rctl"
)

// ZoneServer is the zone socket as Zones: zoneadmd serves it into one
// zone, knows the caller from the socket's peer credentials and answers
// for that zone only. Each call has a connection of its own: the console
// calls from several goroutines, and zoneadmd drops an idle connection
// anyway.
type ZoneServer struct {
	path string
	self api.ZoneSelfInfo
}

var _ Zones = (*ZoneServer)(nil)

// DialZoneServer asks the zone socket at path which zone this is.
func DialZoneServer(path string) (*ZoneServer, error) {
	s := &ZoneServer{path: path}
	r, err := s.do(api.ZoneRequest{Op: "info"})
	if err != nil {
		return nil, err
	}
	if r.Info == nil {
		return nil, fmt.Errorf("zone socket: info: empty answer")
	}
	s.self = *r.Info
	return s, nil
}

// Self is the zone as its socket described it when dialled.
func (s *ZoneServer) Self() api.ZoneSelfInfo { return s.self }

// Info asks again, for what changes (state, caps).
func (s *ZoneServer) Info() (api.ZoneSelfInfo, error) {
	r, err := s.do(api.ZoneRequest{Op: "info"})
	if err != nil {
		return api.ZoneSelfInfo{}, err
	}
	if r.Info == nil {
		return api.ZoneSelfInfo{}, fmt.Errorf("zone socket: info: empty answer")
	}
	return *r.Info, nil
}

func (s *ZoneServer) do(req api.ZoneRequest) (api.ZoneReply, error) {
	zc, err := DialZone(s.path)
	if err != nil {
		return api.ZoneReply{}, err
	}
	defer zc.Close()
	return zc.Do(req)
}

// Own refuses any zone but this one (by name or zone ID) before asking:
// the socket has no other zone to answer for, and the engine refuses a
// zone's principal the same way.
func (s *ZoneServer) Own(zone string) error {
	if zone == s.self.Name || zone == strconv.Itoa(s.self.ZoneID) {
		return nil
	}
	return fmt.Errorf("%w: zone %s is not visible from zone %s", api.ErrPermission, zone, s.self.Name)
}

// List is `zoneadm list` inside a zone: the zone itself, as it is now.
func (s *ZoneServer) List(context.Context, api.Principal, api.ListOptions) ([]api.ZoneInfo, error) {
	in, err := s.Info()
	if err != nil {
		return nil, err
	}
	return []api.ZoneInfo{{ID: in.ZoneID, Name: in.Name, State: in.State, Path: "/", Brand: in.Brand, IPType: in.IPType, Autoboot: in.Autoboot}}, nil
}

func (s *ZoneServer) Usage(_ context.Context, _ api.Principal, zone string) (api.ZoneUsage, error) {
	if err := s.Own(zone); err != nil {
		return api.ZoneUsage{}, err
	}
	r, err := s.do(api.ZoneRequest{Op: "usage"})
	if err != nil {
		return api.ZoneUsage{}, err
	}
	if r.Usage == nil {
		return api.ZoneUsage{}, fmt.Errorf("usage of %s: empty answer", zone)
	}
	return *r.Usage, nil
}

// ZoneRctls are the caps in force, as zoneadmd samples them: the zone's
// configuration is the global administrator's to read.
func (s *ZoneServer) ZoneRctls(ctx context.Context, p api.Principal, zone string) (map[string][]rctl.Value, error) {
	u, err := s.Usage(ctx, p, zone)
	if err != nil {
		return nil, err
	}
	return rctl.CapValues(u.Caps), nil
}

func (s *ZoneServer) Projects(_ context.Context, _ api.Principal, zone string) (limits.Projects, []string, error) {
	if err := s.Own(zone); err != nil {
		return nil, nil, err
	}
	r, err := s.do(api.ZoneRequest{Op: "project", Project: &api.ProjectRequest{Op: "list"}})
	if err != nil {
		return nil, nil, err
	}
	var pl wire.ProjectList
	if err := json.Unmarshal(r.Project, &pl); err != nil {
		return nil, nil, fmt.Errorf("projects of %s: malformed answer: %w", zone, err)
	}
	return pl.Projects, pl.Bad, nil
}

func (s *ZoneServer) Processes(_ context.Context, _ api.Principal, zone string) ([]api.Process, error) {
	if err := s.Own(zone); err != nil {
		return nil, err
	}
	r, err := s.do(api.ZoneRequest{Op: "processes"})
	if err != nil {
		return nil, err
	}
	return r.Processes, nil
}

// ConsoleLog asks zoneadmd, which authorizes it (the zone's
// administrator) and has no other zone's log to give.
func (s *ZoneServer) ConsoleLog(_ context.Context, _ api.Principal, zone string) (string, error) {
	if err := s.Own(zone); err != nil {
		return "", err
	}
	r, err := s.do(api.ZoneRequest{Op: "console-log"})
	if err != nil {
		return "", err
	}
	return r.ConsoleLog, nil
}

// SignalProcess asks zoneadmd, which authorizes it and finds the process
// in this zone's pid namespace only.
func (s *ZoneServer) SignalProcess(_ context.Context, _ api.Principal, req api.SignalRequest) error {
	if err := s.Own(req.Zone); err != nil {
		return err
	}
	_, err := s.do(api.ZoneRequest{Op: "signal", Signal: &req})
	return err
}

// SetRctl asks zoneadmd: a zone cap is refused there (and audited), a
// task's rctl is set on the running task, a project control is written
// to /etc/project and applied live.
func (s *ZoneServer) SetRctl(ctx context.Context, p api.Principal, zone string, ch api.RctlChange, _ bool) error {
	if err := s.Own(zone); err != nil {
		return err
	}
	r, err := rctl.Lookup(ch.Name)
	if err != nil {
		return err
	}
	switch r.Level {
	case rctl.LevelZone:
		_, err := s.do(api.ZoneRequest{Op: "set-zone-cap", Rctl: ch.Name, Value: ch.Values})
		return err
	case rctl.LevelTask:
		_, err := s.do(api.ZoneRequest{Op: "set-task-rctl", TaskID: ch.Task, Rctl: ch.Name, Value: ch.Values})
		return err
	}
	_, err = s.EditProjects(ctx, p, zone, api.ProjectRequest{Op: "set-limit", Name: ch.Project,
		Limits: map[string]string{ch.Name: ch.Values}})
	return err
}

func (s *ZoneServer) EditProjects(_ context.Context, _ api.Principal, zone string, req api.ProjectRequest) ([]string, error) {
	if err := s.Own(zone); err != nil {
		return nil, err
	}
	r, err := s.do(api.ZoneRequest{Op: "project", Project: &req})
	if err != nil {
		return nil, err
	}
	var res api.ProjectResult
	if len(r.Project) > 0 {
		if err := json.Unmarshal(r.Project, &res); err != nil {
			return nil, fmt.Errorf("%s %s: malformed answer: %w", req.Op, req.Name, err)
		}
	}
	return res.Notes, nil
}
