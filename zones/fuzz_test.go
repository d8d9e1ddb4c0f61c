package zones

import (
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// runSandboxed runs a script on a storeless session and returns the
// configuration it ends with.
func runSandboxed(src string) (*Config, error) {
	cmds, err := Parse(src)
	if err != nil {
		return nil, err
	}
	s := &session{zone: "fuzz", deferred: true, sandbox: true, out: io.Discard, errOut: io.Discard}
	for _, c := range cmds {
		if err := s.run(c); err != nil {
			return nil, err
		}
		if s.done {
			break
		}
	}
	return s.cfg, nil
}

func addSeeds(f *testing.F, dir string) {
	files, _ := filepath.Glob(filepath.Join(dir, "*.cfg"))
	for _, file := range files {
		if data, err := os.ReadFile(file); err == nil {
			f.Add(string(data))
		}
	}
}

func FuzzParse(f *testing.F) {
	addSeeds(f, filepath.Join("testdata", "man"))
	f.Add("create; set zonepath=/z; add rctl; set name=zone.max-lwps; add value (priv=privileged,limit=10,action=signal=SIGXRES); end")
	f.Add("create -b; set bootargs=\"a \\\"b\\\" c\"; add attr; set name=x; set type=string; set value=\"\"; end")
	f.Fuzz(func(t *testing.T, src string) {
		cfg, err := runSandboxed(src)
		if err != nil || cfg == nil {
			return
		}
		// Whatever a script builds, its export must rebuild it exactly.
		again, err := runSandboxed(Export(cfg))
		if err != nil {
			t.Fatalf("export does not re-run: %v\n%s", err, Export(cfg))
		}
		want := cfg.Clone()
		normalizeConfig(want)
		again.Name, again.UUID, want.UUID = want.Name, "", ""
		if !reflect.DeepEqual(again, want) {
			t.Fatalf("export round trip differs:\n got %#v\nwant %#v\n%s", again, want, Export(cfg))
		}
	})
}

func FuzzLoadXML(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "xml", "*.xml"))
	for _, file := range files {
		if data, err := os.ReadFile(file); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte(`<zone name="a" autoboot="true"><rctl name="zone.max-lwps"><rctl-value priv="privileged" limit="5" action="deny"/></rctl></zone>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := UnmarshalConfig(data)
		if err != nil {
			return
		}
		out, err := MarshalConfig(c)
		if err != nil {
			return
		}
		back, err := UnmarshalConfig(out)
		if err != nil {
			t.Fatalf("re-reading our own XML: %v\n%s", err, out)
		}
		_ = back
		Verify(c, nil)
		Export(c)
	})
}
