package api

import (
	"errors"
)

// ErrPermission is what every refused call wraps, so front ends can tell
// "not allowed" from "failed".
var ErrPermission = errors.New("permission denied")
