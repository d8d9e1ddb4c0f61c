package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"zonetop/rctl"
)

var updateGolden = flag.Bool("update-prctl", false, "rewrite testdata/prctl.golden")

func TestPrctlFormatGolden(t *testing.T) {
	vals := func(s string) []rctl.Value {
		vs, err := rctl.ParseValues(s)
		if err != nil {
			t.Fatal(err)
		}
		return vs
	}
	u34, u96 := uint64(34), uint64(96<<20)
	ents := []prctlEntity{
		{Kind: "project", ID: "100", Name: "web", Rctls: []prctlRctl{
			{Name: "project.max-lwps", Usage: &u34, Values: vals("(privileged,1000,deny)")},
			{Name: "project.cpu-shares", Values: vals("(privileged,10,none)")},
		}},
		{Kind: "zone", ID: "3", Name: "web01", Rctls: []prctlRctl{
			{Name: "zone.max-lwps", Usage: &u34, Values: vals("(privileged,50,deny)")},
			{Name: "zone.max-physical-memory", Usage: &u96, Values: vals("(privileged,67108864,deny)")},
		}},
	}
	var b bytes.Buffer
	formatPrctl(&b, ents)
	golden := filepath.Join("testdata", "prctl.golden")
	if *updateGolden {
		if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b.Bytes(), want) {
		t.Errorf("prctl output:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestGetopt(t *testing.T) {
	o, rest, err := getopt([]string{"-Pn", "zone.max-lwps", "-v100", "-r", "-i", "zone", "web01"}, "n:v:rsxPi:z:")
	if err != nil || last(o, 'n') != "zone.max-lwps" || last(o, 'v') != "100" || !has(o, 'r') || !has(o, 'P') ||
		last(o, 'i') != "zone" || len(rest) != 1 || rest[0] != "web01" {
		t.Fatalf("getopt: %v %v %v", o, rest, err)
	}
	if _, _, err := getopt([]string{"-q"}, "n:"); err == nil {
		t.Error("unknown option accepted")
	}
	if _, _, err := getopt([]string{"-n"}, "n:"); err == nil {
		t.Error("missing value accepted")
	}
}
