package layout

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// harmless is engine's exported API that takes no principal, each with the
// reason a front end may call it as anyone. Everything else engine exports
// must take an api.Principal and use it: that is how DESIGN.md's "every
// engine call carries a principal" is kept by the compiler's neighbour
// rather than by discipline. Adding a name here needs a reason a reviewer
// can check.
var harmless = map[string]string{
	// Opening the engine reads nothing and decides nothing; every call
	// on the handle then names its caller.
	"New": "a handle only; each call on it is authorized",
	// The caller's own credentials, read from the kernel.
	"CurrentPrincipal": "the calling process's own uid and gid",
	// Pure functions of their arguments: they read no zone and change
	// nothing.
	"GlobalZone":          "a constant row for the host",
	"GlobalGroupDir":      "a path computed from its argument",
	"NewZoneConfig":       "builds a configuration in memory; committing it is CreateZone's, authorized",
	"ResolveLimitpriv":    "parses a limitpriv string",
	"Engine.CheckNewZone": "NewZoneConfig's problems for a form; reads nothing of the host",
	// What uname(2) and the brand list tell any user of the machine.
	"Engine.Host": "hostname, kernel release, cgroup mode and brands, which any local user can read",
	// The service authorizes every request by its peer's SO_PEERCRED
	// credentials; the caller only lends its socket.
	"Engine.Serve": "each request is authorized by the peer's credentials",
	// Sessions are handed out only by the authorized AttachConsole and
	// StartLogin; ending or waiting on one's own session decides nothing.
	"ConsoleSession.Close": "ends a session an authorized call opened",
	"LoginSession.Close":   "ends a session an authorized call opened",
	"LoginSession.Wait":    "waits on a session an authorized call opened",
	// error methods of a verify finding.
	"Warning.Error":  "formats a value",
	"Warning.Unwrap": "formats a value",
}

// TestEngineCallsTakeAPrincipal lists engine's exported functions and
// methods and fails on each that neither takes an api.Principal it
// actually uses nor stands on the harmless list: such a call would let any
// front end act without authorization (the store behind Store(), the
// runtime's own AttachConsole and Install did). Exported variables and
// func-typed fields are refused outright: a front end could call or
// replace them.
func TestEngineCallsTakeAPrincipal(t *testing.T) {
	bad := engineAPIProblems(t, filepath.Join("..", "..", "engine"))
	for _, b := range bad {
		t.Error(b)
	}
}

// TestEngineAPICheckCatches plays the front end that wants a way around
// authorization: each shape below must be caught, or the check above
// passes for the wrong reason.
func TestEngineAPICheckCatches(t *testing.T) {
	dir := t.TempDir()
	src := `package engine

import "zonetop/api"

type Engine struct{ Hook func() }
type Store struct{}
type Session struct{}

func (e *Engine) Store() *Store { return nil }
func (e *Engine) Boot(_ api.Principal, name string) error { return nil }
func (e *Engine) Halt(p api.Principal, name string) error { return nil }
func Install(dir string) error { return nil }
func (s Session) Kill() error { return nil }
func (e *Engine) Ready(p api.Principal, name string) error { return e.check(p) }
func (e *Engine) check(p api.Principal) error { return nil }
func (e *Engine) List(ps ...api.Principal) error { return e.check(ps[0]) }
func (e *Engine) CheckNewZone() {}

var Default = &Engine{}
`
	if err := os.WriteFile(filepath.Join(dir, "e.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	got := engineAPIProblems(t, dir)
	want := []string{"Engine.Boot", "Engine.Halt", "Engine.Hook", "Engine.Store", "Install", "Session.Kill", "var Default"}
	if len(got) != len(want) {
		t.Fatalf("caught %d, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	for i, w := range want {
		if !strings.Contains(got[i], w+":") && !strings.HasPrefix(got[i], w+" ") {
			t.Errorf("problem %d = %q, want one about %s", i, got[i], w)
		}
	}
}

// engineAPIProblems parses every non-test file of dir, under every build
// tag, and reports the exported API that skips the principal.
func engineAPIProblems(t *testing.T, dir string) []string {
	t.Helper()
	fset := token.NewFileSet()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("engine sources: %v", err)
	}
	var bad []string
	seen := 0
	for _, ent := range ents {
		n := ent.Name()
		if !strings.HasSuffix(n, ".go") || strings.HasSuffix(n, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, n), nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatalf("engine sources: %v", err)
		}
		apiName := importName(f, "zonetop/api")
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				name, ok := exportedName(d)
				if !ok {
					continue
				}
				seen++
				if _, ok := harmless[name]; ok {
					continue
				}
				if why := principalProblem(d, apiName); why != "" {
					bad = append(bad, name+": "+why+" ("+fset.Position(d.Pos()).String()+")")
				}
			case *ast.GenDecl:
				bad = append(bad, genDeclProblems(d, fset)...)
			}
		}
	}
	if seen == 0 {
		t.Fatalf("no exported functions found in %s: the check would pass on nothing", dir)
	}
	sort.Strings(bad)
	return bad
}

func importName(f *ast.File, path string) string {
	for _, im := range f.Imports {
		if strings.Trim(im.Path.Value, `"`) != path {
			continue
		}
		if im.Name != nil {
			return im.Name.Name
		}
		return filepath.Base(path)
	}
	return ""
}

// exportedName is "Func" or "Type.Method" for API a front end can reach:
// exported, and for a method, on an exported type.
func exportedName(d *ast.FuncDecl) (string, bool) {
	if !d.Name.IsExported() {
		return "", false
	}
	if d.Recv == nil || len(d.Recv.List) == 0 {
		return d.Name.Name, true
	}
	typ := d.Recv.List[0].Type
	if s, ok := typ.(*ast.StarExpr); ok {
		typ = s.X
	}
	if ix, ok := typ.(*ast.IndexExpr); ok {
		typ = ix.X
	}
	id, ok := typ.(*ast.Ident)
	if !ok || !id.IsExported() {
		return "", false
	}
	return id.Name + "." + d.Name.Name, true
}

// principalProblem says why d does not authorize, or "".
func principalProblem(d *ast.FuncDecl, apiName string) string {
	var names []string
	found := false
	for _, fld := range d.Type.Params.List {
		typ := fld.Type
		if el, ok := typ.(*ast.Ellipsis); ok {
			typ = el.Elt
		}
		sel, ok := typ.(*ast.SelectorExpr)
		if !ok || apiName == "" {
			continue
		}
		if x, ok := sel.X.(*ast.Ident); !ok || x.Name != apiName || sel.Sel.Name != "Principal" {
			continue
		}
		found = true
		for _, n := range fld.Names {
			if n.Name != "_" {
				names = append(names, n.Name)
			}
		}
	}
	if !found {
		return "takes no api.Principal"
	}
	if len(names) == 0 || d.Body == nil {
		return "takes an api.Principal and ignores it"
	}
	used := false
	ast.Inspect(d.Body, func(n ast.Node) bool {
		if id, ok := n.(*ast.Ident); ok {
			for _, want := range names {
				if id.Name == want {
					used = true
				}
			}
		}
		return !used
	})
	if !used {
		return "takes an api.Principal and never uses it"
	}
	return ""
}

// genDeclProblems refuses exported variables and func-typed fields of
// exported types: either is a call, or a call's replacement, that carries
// no principal.
func genDeclProblems(d *ast.GenDecl, fset *token.FileSet) []string {
	var bad []string
	for _, s := range d.Specs {
		switch s := s.(type) {
		case *ast.ValueSpec:
			if d.Tok != token.VAR {
				continue
			}
			for _, n := range s.Names {
				if n.IsExported() {
					bad = append(bad, "var "+n.Name+": an exported variable a front end can replace ("+fset.Position(n.Pos()).String()+")")
				}
			}
		case *ast.TypeSpec:
			st, ok := s.Type.(*ast.StructType)
			if !ok || !s.Name.IsExported() {
				continue
			}
			for _, fld := range st.Fields.List {
				if _, ok := fld.Type.(*ast.FuncType); !ok {
					continue
				}
				for _, n := range fld.Names {
					if n.IsExported() {
						bad = append(bad, s.Name.Name+"."+n.Name+": an exported func field, callable without a principal ("+fset.Position(n.Pos()).String()+")")
					}
				}
			}
		}
	}
	return bad
}
