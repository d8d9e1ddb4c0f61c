package zones

import (
	"reflect"
	"testing"
)

func TestComplete(t *testing.T) {
	s := &session{}
	for line, want := range map[string][]string{
		"creat":             {"create"},
		"set zonep":         {"set zonepath="},
		"set brand=b":       {"set brand=busybox"},
		"add n":             {"add net"},
		"create; set ip-t":  {"create; set ip-type="},
		"  set autoboot=t":  {"  set autoboot=true"},
		"clear autob":       {"clear autoboot"},
		"set zonepath=/zon": nil,
		"frobnicate x":      nil,
	} {
		if got := s.complete(line); !reflect.DeepEqual(got, want) {
			t.Errorf("complete(%q) = %q, want %q", line, got, want)
		}
	}
	s.scope = &scope{res: resource{kind: "net"}}
	if got := s.complete("set ph"); !reflect.DeepEqual(got, []string{"set physical="}) {
		t.Errorf("in a net scope: %q", got)
	}
	if got := s.complete("e"); !reflect.DeepEqual(got, []string{"end"}) {
		t.Errorf("in a net scope, e: %q", got)
	}
}
