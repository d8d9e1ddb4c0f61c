package client

import (
	"fmt"
	"time"
	"zonetop/api"
	"zonetop/internal/configs"
	"zonetop/internal/wire"
)

// DelegatedList lists, for a caller who is not root, the zones it may see,
// through the zonetop service.
func DelegatedList(rootPrefix string, opts api.ListOptions) ([]api.ZoneInfo, error) {
	var args []string
	if opts.Configured {
		args = append(args, "-c")
	}
	if opts.Installed {
		args = append(args, "-i")
	}
	resp, err := wire.RoundTrip(configs.ServeSock(rootPrefix), wire.Request{Op: "list", Args: args})
	if err != nil {
		return nil, fmt.Errorf("zonetop service (%s): %w", configs.ServeSock(rootPrefix), err)
	}
	if !resp.OK {
		return nil, api.FromWire(resp.Error, resp.Code)
	}
	return resp.Zones, nil
}

// DelegatedOp runs a life-cycle operation (ready, boot, halt, shutdown)
// for a caller who is not root: the zone's zoneadmd (started by the
// zonetop service when none runs) authorizes it by the caller's
// credentials and does it.
func DelegatedOp(rootPrefix, name, op string, args []string, timeout time.Duration) (api.ZoneStatus, error) {
	if err := configs.CheckZoneName(name); err != nil {
		return api.ZoneStatus{}, err
	}
	if err := DelegatedStart(rootPrefix, name, op); err != nil {
		return api.ZoneStatus{}, err
	}
	return wire.StatusCall(configs.ZoneadmdSock(rootPrefix, name), name, wire.Request{Op: op, Args: args, Timeout: timeout})
}

// DelegatedStart has the zonetop service start the zone's zoneadmd when
// none runs, for a caller who cannot start it itself.
func DelegatedStart(rootPrefix, name, op string) error {
	if wire.Ping(configs.ZoneadmdSock(rootPrefix, name)) {
		return nil
	}
	resp, err := wire.RoundTrip(configs.ServeSock(rootPrefix), wire.Request{Op: "start", Args: []string{name}})
	if err != nil {
		return fmt.Errorf("%s %s: no zoneadmd, and the zonetop service (%s) does not answer: %w", op, name, configs.ServeSock(rootPrefix), err)
	}
	if !resp.OK {
		return fmt.Errorf("%s %s: %s", op, name, resp.Error)
	}
	return nil
}

// DelegatedConsoleLog is the end of a zone's console log for a caller who
// is not root: the log file is root's, so the zone's zoneadmd (started by
// the zonetop service when none runs) reads it, after authorizing the
// caller by its credentials (the login auth).
func DelegatedConsoleLog(rootPrefix, name string) (string, error) {
	if err := configs.CheckZoneName(name); err != nil {
		return "", err
	}
	if err := DelegatedStart(rootPrefix, name, "console log of"); err != nil {
		return "", err
	}
	resp, err := wire.RoundTrip(configs.ZoneadmdSock(rootPrefix, name), wire.Request{Op: "console-log"})
	if err != nil {
		return "", fmt.Errorf("console log of %s: %w", name, err)
	}
	if !resp.OK {
		return "", api.FromWire(resp.Error, resp.Code)
	}
	return resp.Log, nil
}
