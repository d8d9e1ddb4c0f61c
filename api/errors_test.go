package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
)

// An error keeps its kind across a socket: what the sender wrapped, the
// receiver matches, and the text a person reads is the same.
func TestErrorSurvivesWire(t *testing.T) {
	for _, s := range sentinels {
		sent := fmt.Errorf("boot z1: %w: because", s)
		var wire struct {
			Error string `json:"error"`
			Code  Code   `json:"code"`
		}
		b, err := json.Marshal(struct {
			Error string `json:"error"`
			Code  Code   `json:"code"`
		}{sent.Error(), CodeOf(sent)})
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &wire); err != nil {
			t.Fatal(err)
		}
		got := FromWire(wire.Error, wire.Code)
		if !errors.Is(got, s) || got.Error() != sent.Error() {
			t.Errorf("%s: sent %q, got %q (is %v)", s.Code, sent, got, errors.Is(got, s))
		}
		for _, other := range sentinels {
			if other != s && errors.Is(got, other) {
				t.Errorf("%s: also matches %s", s.Code, other.Code)
			}
		}
	}
	if CodeOf(errors.New("plain")) != "" || FromWire("plain", "") == nil || errors.Is(FromWire("x", "no-such-code"), ErrPermission) {
		t.Error("a plain failure must stay plain")
	}
	if FromWire("", "") != nil {
		t.Error("no message and no code is no error")
	}
}

// A package's own error of a kind stays distinct by identity and still
// carries its code.
func TestKind(t *testing.T) {
	noZone := Kind(ErrNotFound, "no such zone configured")
	other := Kind(ErrNotFound, "no such project")
	err := fmt.Errorf("boot z1: %w", noZone)
	if !errors.Is(err, noZone) || errors.Is(err, other) || !errors.Is(err, ErrNotFound) || CodeOf(err) != CodeNotFound {
		t.Errorf("Kind: is itself %v, is other %v, is not-found %v, code %q", errors.Is(err, noZone), errors.Is(err, other), errors.Is(err, ErrNotFound), CodeOf(err))
	}
	if err.Error() != "boot z1: no such zone configured" {
		t.Errorf("text %q", err)
	}
}
