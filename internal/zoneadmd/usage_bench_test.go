package zoneadmd

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
	"zonetop/internal/configs"
	"zonetop/internal/ztest"
	"zonetop/limits/cgroups"
)

// BenchmarkSampleRound100x5 is one sampling round of what the console and
// zonestat ask every second: usage of 100 zones with 5 projects each,
// read from their real cgroups. It reports the CPU one round costs as a
// share of one core at one round a second (aim: under 2%).
func BenchmarkSampleRound100x5(b *testing.B) {
	ztest.RequireRoot(b, "the sampling benchmark (cgroups)")
	parent, err := cgroups.ParentFor("")
	if err != nil {
		b.Fatal(err)
	}
	back, err := cgroups.NewBackend(parent)
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	var ds []*zoneadmd
	b.Cleanup(func() {
		for _, d := range ds {
			for _, g := range d.lim.groups {
				_ = g.Delete()
			}
			_ = d.lim.zone.Delete()
		}
	})
	projects := "system:0::::\ndefault:3::::\n"
	for j := 0; j < 5; j++ {
		projects += fmt.Sprintf("p%d:%d::::project.max-lwps=(privileged,100,deny);project.max-memory=(privileged,67108864,deny);project.cpu-shares=(privileged,10,none)\n", j, 100+j)
	}
	for i := 0; i < 100; i++ {
		name := fmt.Sprintf("ztbench%d-%d", os.Getpid(), i)
		zp := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Join(zp, "root/etc"), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(zp, "root/etc/project"), []byte(projects), 0o644); err != nil {
			b.Fatal(err)
		}
		if _, err := back.Create(name, nil); err != nil {
			b.Fatal(err)
		}
		spec := &configs.PlatformSpec{Name: name, Zonepath: zp, Rctls: map[string]uint64{"zone.max-lwps": 500, "zone.max-physical-memory": 256 << 20}}
		l, err := newZoneLimits(parent, spec)
		if err != nil {
			b.Fatal(err)
		}
		d := &zoneadmd{name: name, lim: l}
		ds = append(ds, d)
		if err := l.zone.Apply(l.zoneResources()); err != nil {
			b.Fatal(err)
		}
		if warn, err := l.loadProjects(false); err != nil || len(warn) > 0 {
			b.Fatalf("projects: %v %v", warn, err)
		}
		// Every project as if it held a process: its cgroup is made on
		// first use, and a sampled project with one costs the most.
		for i := range l.projects {
			if _, err := l.groupOf(&l.projects[i]); err != nil {
				b.Fatal(err)
			}
		}
		if len(l.groups) < 7 {
			b.Fatalf("zone %s has %d project cgroups", name, len(l.groups))
		}
	}
	var before, after syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &before)
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		for _, d := range ds {
			if _, err := d.usage(); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.StopTimer()
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &after)
	cpu := time.Duration(after.Utime.Nano()+after.Stime.Nano()-before.Utime.Nano()-before.Stime.Nano()) / time.Duration(b.N)
	b.ReportMetric(float64(cpu)/float64(time.Second)*100, "%core@1Hz")
}
