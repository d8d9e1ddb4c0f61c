package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"zonetop/api"
)

// Service is the zonetop service and each zone's zoneadmd as a delegated
// host user reaches them: the zone list, zonecfg, the life cycle and the
// console log. Both servers know the caller from the socket's peer
// credentials and authorize every request; Service adds nothing to that.
type Service struct {
	Root string // the root prefix the sockets live under
}

// List is the zones this user administers, each with the user's auths.
func (s Service) List(_ context.Context, _ api.Principal, opts api.ListOptions) ([]api.ZoneInfo, error) {
	return DelegatedList(s.Root, opts)
}

// zonecfg runs one zonecfg session through the service.
func (s Service) zonecfg(args []string, script string) (string, error) {
	var out, errOut bytes.Buffer
	code, err := DelegatedZonecfg(s.Root, args, false, strings.NewReader(script), &out, &errOut)
	if err != nil {
		return out.String(), err
	}
	if code != 0 {
		msg := strings.TrimSpace(errOut.String())
		if msg == "" {
			msg = fmt.Sprintf("exit status %d", code)
		}
		return out.String(), errors.New(msg)
	}
	return out.String(), nil
}

// ZoneConfig is zonecfg's info and export of the zone.
func (s Service) ZoneConfig(_ context.Context, _ api.Principal, name string) (info, export string, err error) {
	if info, err = s.zonecfg([]string{"-z", name, "info"}, ""); err != nil {
		return "", "", err
	}
	export, err = s.zonecfg([]string{"-z", name, "export"}, "")
	return info, export, err
}

// ApplyZonecfg runs script as `zonecfg -z name -f -`, with errors placed
// in file as the engine places them.
func (s Service) ApplyZonecfg(_ context.Context, _ api.Principal, name, file, script string) (string, error) {
	out, err := s.zonecfg([]string{"-z", name, "-f", "-"}, script)
	if err != nil && file != "" {
		err = errors.New(strings.ReplaceAll(err.Error(), "stdin:", file+":"))
	}
	return out, err
}

// Op runs a life-cycle operation (ready, boot, halt, shutdown) through
// the zone's zoneadmd, which the service starts when none runs.
func (s Service) Op(name, op string, args []string, timeout time.Duration) (api.ZoneStatus, error) {
	return DelegatedOp(s.Root, name, op, args, timeout)
}

// ConsoleLog is the end of the zone's console log, read by its zoneadmd
// for a user with the login auth.
func (s Service) ConsoleLog(_ context.Context, _ api.Principal, zone string) (string, error) {
	return DelegatedConsoleLog(s.Root, zone)
}
