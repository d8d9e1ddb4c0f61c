package api

import (
	"errors"
)

// ErrZoneGone is what LoginSession.Wait returns when the zone went away
// (halted) under the session.
var ErrZoneGone = errors.New("the zone went away")
