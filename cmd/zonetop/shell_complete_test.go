package main

import (
	"os"
	"os/exec"
	"reflect"
	"strings"
	"testing"
)

func TestCompleteWords(t *testing.T) {
	root := t.TempDir()
	if code, _, e := zt(t, root, "", "zonecfg", "-z", "web01", "create; set zonepath=/zones/web01"); code != 0 {
		t.Fatal(e)
	}
	g := &globals{root: root}
	for _, c := range []struct {
		words []string
		want  []string
	}{
		{[]string{"zoneadm", "-z", "w"}, []string{"web01"}},
		{[]string{"zoneadm", "-z", "web01", "bo"}, []string{"boot"}},
		{[]string{"zoneadm", "-z", "web01", "list", "-"}, []string{"-c", "-i", "-n", "-o", "-p", "-v"}},
		{[]string{"zlogin", ""}, []string{"global", "web01"}},
		{[]string{"zlogin", "web01", "l"}, nil},
		{[]string{"prctl", "-n", "zone.max-lw"}, []string{"zone.max-lwps"}},
		{[]string{"prctl", "-i", "zone", "w"}, []string{"web01"}},
		{[]string{"prctl", "-t", ""}, []string{"basic", "privileged"}},
		{[]string{"projadd", "-K", "project.max-t"}, []string{"project.max-tasks="}},
		{[]string{"zonetop", "zonec"}, []string{"zonecfg"}},
		{[]string{"zonetop", "--root", "zoneadm", "-z", "web"}, []string{"web01"}},
		{[]string{"zoneadm"}, nil},
		{nil, nil},
	} {
		if got := completeWords(g, c.words); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%q: got %q, want %q", c.words, got, c.want)
		}
	}
}

// The bash script, sourced as a user's shell would, completes through the
// binary.
func TestCompletionBash(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	root := t.TempDir()
	if code, _, e := zt(t, root, "", "zonecfg", "-z", "web01", "create; set zonepath=/zones/web01"); code != 0 {
		t.Fatal(e)
	}
	dir := t.TempDir()
	if err := os.Symlink(ztBin, dir+"/zonetop"); err != nil {
		t.Fatal(err)
	}
	script := `source <(zonetop completion bash) && COMP_WORDS=(zoneadm -z we) && COMP_CWORD=2 && _zonetop_complete && printf '%s\n' "${COMPREPLY[@]}"`
	cmd := exec.Command("bash", "-c", script)
	cmd.Env = append(os.Environ(), "PATH="+dir+":"+os.Getenv("PATH"), "ZONETOP_ROOT="+root)
	out, err := cmd.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "web01" {
		t.Errorf("bash completion of zoneadm -z we: %v %q", err, out)
	}
	// The host's own reboot, halt, init and shutdown keep their completion.
	for _, sh := range []string{"bash", "zsh", "fish"} {
		_, out, _ := zt(t, root, "", "completion", sh)
		for _, w := range []string{" reboot", " halt", " init", " shutdown", " poweroff"} {
			if strings.Contains(out, w+" ") || strings.Contains(out, w+"\n") {
				t.Errorf("completion %s registers %q", sh, w)
			}
		}
	}
	for _, sh := range []string{"zsh", "fish"} {
		if code, out, _ := zt(t, root, "", "completion", sh); code != 0 || !strings.Contains(out, "__complete") {
			t.Errorf("completion %s: %d %q", sh, code, out)
		}
	}
	if code, out, _ := zt(t, root, "", "man", "prctl"); code != 0 || !strings.Contains(out, ".TH PRCTL 1") || !strings.Contains(out, "--persist") {
		t.Errorf("man prctl: %d %q", code, out)
	}
}
