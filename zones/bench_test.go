package zones

import (
	"fmt"
	"strings"
	"testing"
)

// thousandLines is a 1,000-line script: a zone with many resources.
func thousandLines() string {
	var b strings.Builder
	b.WriteString("create\nset zonepath=/zones/bench\n")
	lines := 2
	for i := 0; lines < 1000; i++ {
		fmt.Fprintf(&b, "add fs\nset dir=/mnt/d%d\nset special=/srv/d%d\nset type=lofs\nadd options [ro,nodevices]\nend\n", i, i)
		lines += 6
	}
	return b.String()
}

func BenchmarkParse1000Lines(b *testing.B) {
	src := thousandLines()
	if n := strings.Count(src, "\n"); n < 1000 {
		b.Fatalf("script has %d lines", n)
	}
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := runSandboxed(src); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkList1000(b *testing.B) {
	st := NewStore(b.TempDir())
	for i := 0; i < 1000; i++ {
		name := fmt.Sprintf("z%04d", i)
		c := &Config{Name: name, Zonepath: "/zones/" + name, Brand: "sparse", IPType: "shared",
			Nets: []Net{{Physical: "eth0", Address: fmt.Sprintf("198.18.%d.%d/15", i/250, i%250+1)}}}
		if _, err := st.Commit(c, Revision{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		ents, err := st.List()
		if err != nil || len(ents) != 1000 {
			b.Fatalf("list: %d %v", len(ents), err)
		}
		for _, e := range ents {
			if _, _, err := st.Load(e.Name); err != nil {
				b.Fatal(err)
			}
		}
	}
}
