package ui

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// The console must stay a front end that speaks only api: linking zones,
// limits, the engine or the internals would let it bypass the engine's
// authorization and tie every front end to one process. Nothing else would
// notice an import that breaks this, so this test does.
func TestUIDependsOnlyOnAPI(t *testing.T) {
	// go test puts the go tool that runs it first on PATH.
	goTool, err := exec.LookPath("go")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no go tool to list ui's dependencies with: %v", err)
		}
		t.Skipf("no go tool to list ui's dependencies with: %v", err)
	}
	for _, test := range []bool{false, true} {
		args := []string{"list", "-deps"}
		if test {
			args = append(args, "-test")
		}
		cmd := exec.Command(goTool, append(args, "zonetop/ui")...)
		out, err := cmd.Output()
		if err != nil {
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, ee.Stderr)
			}
			t.Fatalf("go %s: %v", strings.Join(args, " "), err)
		}
		for _, dep := range strings.Fields(string(out)) {
			// -test lists a package built for a test as "path [x.test]".
			if strings.HasPrefix(dep, "[") {
				continue
			}
			switch {
			case dep == "zonetop/zones", dep == "zonetop/limits", dep == "zonetop/engine",
				strings.HasPrefix(dep, "zonetop/zones/"), strings.HasPrefix(dep, "zonetop/limits/"),
				strings.HasPrefix(dep, "zonetop/engine/"), strings.HasPrefix(dep, "zonetop/internal/"):
				t.Errorf("go %s zonetop/ui lists %s: the console may reach the engine only through api", strings.Join(args, " "), dep)
			}
		}
	}
}
