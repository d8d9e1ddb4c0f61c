package layout

import (
	"go/scanner"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"zonetop/rctl"
)

// The rctl catalogue is the only place a control's name is spelled out:
// every other package names one through rctl's constants, so a misspelt
// name does not compile and a renamed one changes in one place. Tests
// may spell names out (they play users who type them).
func TestRctlNamesOnlyInCatalogue(t *testing.T) {
	names := map[string]bool{rctl.ProjectPool: true}
	for _, r := range rctl.Rctls() {
		names[r.Name] = true
	}
	for n := range rctl.Unsupported {
		names[n] = true
	}
	root := filepath.Join("..", "..")
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() {
			if rel == "." {
				return nil
			}
			if rel == "rctl" || strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		fset := token.NewFileSet()
		var s scanner.Scanner
		s.Init(fset.AddFile(p, -1, len(src)), src, nil, 0)
		for {
			pos, tok, lit := s.Scan()
			if tok == token.EOF {
				break
			}
			if tok != token.STRING {
				continue
			}
			if v, err := strconv.Unquote(lit); err == nil && names[v] {
				t.Errorf("%s: %q spelled out; use rctl's constant", fset.Position(pos), v)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
