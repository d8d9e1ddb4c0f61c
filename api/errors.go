package api

import (
	"errors"
	"fmt"
)

// Code is the kind of a failure, the part of an error a program acts on.
// It travels with the message over every socket, so a front end can tell
// "not allowed" from "no such zone" from "try again" whether the engine
// ran in its own process, in the zonetop service or in a zone's zoneadmd.
type Code string

// The codes. An error without one is a failure of the operation itself.
const (
	CodeDenied   Code = "denied"    // the principal may not do this
	CodeNotFound Code = "not-found" // no such zone, project or process
	CodeBusy     Code = "busy"      // something else holds it; try again
	CodeInvalid  Code = "invalid"   // the request itself is wrong
	CodeConflict Code = "conflict"  // the zone's state or a concurrent change does not allow it
	CodeGone     Code = "gone"      // what the call worked on went away under it
)

// Error is a failure with a code. Its message is the whole text a person
// reads; the code is for programs.
type Error struct {
	Code Code
	Msg  string
}

func (e *Error) Error() string { return e.Msg }

// Is makes every Error match the sentinel of its code, so
// errors.Is(err, ErrPermission) holds for a refusal made here and for one
// that came over a socket alike.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// The sentinels callers wrap (fmt.Errorf("...: %w: ...", ErrPermission))
// and test with errors.Is.
var (
	// ErrPermission is what every refused call wraps, so front ends can
	// tell "not allowed" from "failed".
	ErrPermission = &Error{Code: CodeDenied, Msg: "permission denied"}
	ErrNotFound   = &Error{Code: CodeNotFound, Msg: "not found"}
	ErrBusy       = &Error{Code: CodeBusy, Msg: "busy"}
	ErrInvalid    = &Error{Code: CodeInvalid, Msg: "invalid request"}
	ErrConflict   = &Error{Code: CodeConflict, Msg: "conflict"}
	// ErrZoneGone is what a login session's Wait returns when the zone
	// went away (halted) under the session.
	ErrZoneGone = &Error{Code: CodeGone, Msg: "the zone went away"}
)

var sentinels = []*Error{ErrPermission, ErrNotFound, ErrBusy, ErrInvalid, ErrConflict, ErrZoneGone}

// CodeOf is the code err carries, or "" for a plain failure.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// Errorf wraps the sentinel of code around a formatted message, for code
// that learns the kind of a failure from somewhere other than an error
// (an errno, a state).
func Errorf(code Code, format string, args ...any) error {
	return &Error{Code: code, Msg: fmt.Sprintf(format, args...)}
}

// Kind is an error of its own identity (errors.Is tells it from others of
// its code) that is also of the kind of sentinel: a package's "no such zone"
// stays that package's, and is still api.ErrNotFound to a front end.
func Kind(sentinel *Error, msg string) error { return &kindError{msg, sentinel} }

type kindError struct {
	msg  string
	kind *Error
}

func (e *kindError) Error() string { return e.msg }
func (e *kindError) Unwrap() error { return e.kind }

// FromWire rebuilds an error that crossed a socket as its message and
// code: the text unchanged, the code intact. An unknown code (a newer
// peer) keeps its text and is a plain failure.
func FromWire(msg string, code Code) error {
	if msg == "" && code == "" {
		return nil
	}
	for _, s := range sentinels {
		if s.Code == code {
			return &Error{Code: code, Msg: msg}
		}
	}
	return errors.New(msg)
}
