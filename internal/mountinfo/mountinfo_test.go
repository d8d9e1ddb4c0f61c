package mountinfo

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	text := `22 1 0:21 / /sys rw,nosuid shared:7 - sysfs sysfs rw
35 22 0:30 / /sys/fs/cgroup/memory rw,nosuid shared:15 - cgroup cgroup rw,memory
36 22 0:31 / /sys/fs/cgroup/unified rw shared:16 master:2 - cgroup2 cgroup2 rw,nsdelegate
40 1 0:4 mnt:[4026532] /run/ns\040one rw - nsfs nsfs rw
garbage line
41 1 8:1 /zones/a\134b /zones/with\011tab rw - ext4 /dev/sda1 rw
`
	es, err := Parse(strings.NewReader(text))
	if err != nil || len(es) != 5 {
		t.Fatalf("%d entries, %v", len(es), err)
	}
	if e := es[1]; e.FSType != "cgroup" || e.Super != "rw,memory" || e.MountPoint != "/sys/fs/cgroup/memory" || e.ID != 35 || e.Parent != 22 {
		t.Errorf("cgroup line: %+v", e)
	}
	if e := es[2]; e.FSType != "cgroup2" || e.Options != "rw" {
		t.Errorf("optional fields: %+v", e)
	}
	if e := es[3]; e.Root != "mnt:[4026532]" || e.MountPoint != "/run/ns one" {
		t.Errorf("nsfs: %+v", e)
	}
	if e := es[4]; e.Root != `/zones/a\b` || e.MountPoint != "/zones/with\ttab" || e.Source != "/dev/sda1" {
		t.Errorf("escapes: %+v", e)
	}
	if es, err := Self(); err != nil || len(es) == 0 {
		t.Errorf("this process's table: %d, %v", len(es), err)
	}
}

func TestUnescape(t *testing.T) {
	for in, want := range map[string]string{
		`/a/b`:           "/a/b",
		`/with\040space`: "/with space",
		`/tab\011nl\012`: "/tab\tnl\n",
		`/back\134slash`: `/back\slash`,
		`/short\04`:      `/short\04`,
		`/not\999octal`:  `/not\999octal`,
		`/end\`:          `/end\`,
	} {
		if got := Unescape(in); got != want {
			t.Errorf("%q: got %q, want %q", in, got, want)
		}
	}
}
