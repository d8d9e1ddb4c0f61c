package limits

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"zonetop/api"
	"zonetop/rctl"
)

// Attr is one attribute of a project entry. Value keeps the text as written
// so a file read and written back is unchanged; rctl attributes are parsed
// on demand by Values.
type Attr struct {
	Name  string
	Value string // empty when the attribute has no '='
	// HasValue distinguishes "name=" from "name".
	HasValue bool
}

func (a Attr) String() string {
	if !a.HasValue {
		return a.Name
	}
	return a.Name + "=" + a.Value
}

// IsRctl reports whether the attribute names a resource control.
func (a Attr) IsRctl() bool {
	_, err := rctl.Lookup(a.Name)
	return err == nil
}

// Values parses an rctl attribute's values.
func (a Attr) Values() ([]rctl.Value, error) {
	r, err := rctl.Lookup(a.Name)
	if err != nil {
		return nil, err
	}
	vs, err := rctl.ParseValues(a.Value)
	if err != nil {
		return nil, err
	}
	for _, v := range vs {
		if err := r.Validate(v); err != nil {
			return nil, err
		}
	}
	return vs, nil
}

// Project is one line of /etc/project (project(5)).
type Project struct {
	Name    string
	ID      int
	Comment string
	Users   []string
	Groups  []string
	Attrs   []Attr
}

// Attr returns the attribute called name.
func (p *Project) Attr(name string) (Attr, bool) {
	for _, a := range p.Attrs {
		if a.Name == name {
			return a, true
		}
	}
	return Attr{}, false
}

// Rctls returns the project's resource controls by name, parsed.
func (p *Project) Rctls() (map[string][]rctl.Value, error) {
	out := map[string][]rctl.Value{}
	for _, a := range p.Attrs {
		if !strings.Contains(a.Name, ".") || !a.IsRctl() {
			continue
		}
		vs, err := a.Values()
		if err != nil {
			return nil, fmt.Errorf("project %s: %s: %w", p.Name, a.Name, err)
		}
		out[a.Name] = vs
	}
	return out, nil
}

// String is the project's line in /etc/project, without the newline.
func (p *Project) String() string {
	attrs := make([]string, len(p.Attrs))
	for i, a := range p.Attrs {
		attrs[i] = a.String()
	}
	return strings.Join([]string{p.Name, strconv.Itoa(p.ID), p.Comment,
		strings.Join(p.Users, ","), strings.Join(p.Groups, ","), strings.Join(attrs, ";")}, ":")
}

// Projects is the content of one /etc/project file, in file order.
type Projects []Project

// DefaultProjects are the entries a fresh Solaris /etc/project holds.
func DefaultProjects() Projects {
	return Projects{
		{Name: "system", ID: 0},
		{Name: "user.root", ID: 1},
		{Name: "noproject", ID: 2},
		{Name: "default", ID: 3},
		{Name: "group.staff", ID: 10},
	}
}

// standardIDs are the reserved IDs a file may use below api.FirstUserProjID.
var standardIDs = map[int]string{0: "system", 1: "user.root", 2: "noproject", 3: "default", 10: "group.staff"}

// LineError is a bad line of a project file. The other lines still apply.
type LineError struct {
	File string
	Line int
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err) }
func (e *LineError) Unwrap() error { return e.Err }

// ValidProjectName is api.ValidProjectName: the rule is defined once, where
// the console can reach it too, and kept under this name for the callers
// that read project files.
func ValidProjectName(name string) error { return api.ValidProjectName(name) }

func validMember(kind, m string) error {
	if m == "" || strings.ContainsAny(m, ":;, \t\n") {
		return fmt.Errorf("bad %s name %q", kind, m)
	}
	return nil
}

// ParseProjects reads a project file. It returns every good entry and one
// *LineError per bad line; a bad line never hides the lines after it.
// Comments (#) and blank lines are skipped; a line "+" or "+name" (NIS
// inclusion) is rejected, since zonetop has no name service.
func ParseProjects(r io.Reader, file string) (Projects, []error) {
	var out Projects
	var errs []error
	names := map[string]int{}
	ids := map[int]string{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		p, err := ParseProjectLine(line)
		if err == nil {
			if first, dup := names[p.Name]; dup {
				err = fmt.Errorf("project %q already defined at line %d", p.Name, first)
			} else if other, dup := ids[p.ID]; dup {
				err = fmt.Errorf("project ID %d of %q already used by %q", p.ID, p.Name, other)
			}
		}
		if err != nil {
			errs = append(errs, &LineError{File: file, Line: n, Err: err})
			continue
		}
		names[p.Name] = n
		ids[p.ID] = p.Name
		out = append(out, p)
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", file, err))
	}
	return out, errs
}

// ParseProjectLine reads one name:projid:comment:users:groups:attributes
// entry and checks every field, rctl values included.
func ParseProjectLine(line string) (Project, error) {
	if strings.HasPrefix(line, "+") || strings.HasPrefix(line, "-") {
		return Project{}, errors.New("name-service inclusion lines are not supported")
	}
	f := strings.Split(line, ":")
	if len(f) != 6 {
		return Project{}, fmt.Errorf("want 6 ':'-separated fields (name:projid:comment:users:groups:attributes), got %d", len(f))
	}
	p := Project{Name: f[0], Comment: f[2]}
	if err := ValidProjectName(p.Name); err != nil {
		return Project{}, err
	}
	id, err := strconv.Atoi(f[1])
	if err != nil || id < 0 || id > api.MaxProjID || strings.HasPrefix(f[1], "+") {
		return Project{}, fmt.Errorf("project %s: projid %q: want a number 0..%d", p.Name, f[1], api.MaxProjID)
	}
	if std, ok := standardIDs[id]; id < api.FirstUserProjID && (!ok || std != p.Name) {
		return Project{}, fmt.Errorf("project %s: projid %d is reserved (IDs below %d belong to the system projects)", p.Name, id, api.FirstUserProjID)
	}
	p.ID = id
	if p.Users, err = splitMembers("user", f[3]); err != nil {
		return Project{}, fmt.Errorf("project %s: %w", p.Name, err)
	}
	if p.Groups, err = splitMembers("group", f[4]); err != nil {
		return Project{}, fmt.Errorf("project %s: %w", p.Name, err)
	}
	if p.Attrs, err = ParseAttrs(f[5]); err != nil {
		return Project{}, fmt.Errorf("project %s: %w", p.Name, err)
	}
	if _, err := p.Rctls(); err != nil {
		return Project{}, err
	}
	return p, nil
}

func splitMembers(kind, s string) ([]string, error) {
	if s == "" {
		return nil, nil
	}
	out := strings.Split(s, ",")
	for _, m := range out {
		// "*" and "!name" are project(5)'s wildcard and exclusion.
		if err := validMember(kind, strings.TrimPrefix(m, "!")); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ParseAttrs reads a ';'-separated attribute list. Names follow
// project(5): a letter first, then letters, digits, '.', '_' and '-'
// (a stock-symbol-style prefix "SUNW," is accepted too).
func ParseAttrs(s string) ([]Attr, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []Attr
	seen := map[string]bool{}
	for _, part := range strings.Split(s, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, val, has := strings.Cut(part, "=")
		name = strings.TrimSpace(name)
		if err := validAttrName(name); err != nil {
			return nil, err
		}
		if seen[name] {
			return nil, fmt.Errorf("attribute %s given twice", name)
		}
		seen[name] = true
		a := Attr{Name: name, Value: val, HasValue: has}
		if strings.ContainsAny(val, ":\n") {
			return nil, fmt.Errorf("attribute %s: value may not contain ':' or a newline", name)
		}
		if strings.HasPrefix(name, "zone.") {
			return nil, fmt.Errorf("attribute %s: zone.* controls are set on the zone (zonecfg), not in a project", name)
		}
		if strings.Contains(name, ".") && isRctlPrefix(name) {
			if _, err := rctl.Lookup(name); err != nil {
				return nil, err
			}
			if !has {
				return nil, fmt.Errorf("attribute %s: a resource control needs a value", name)
			}
		}
		out = append(out, a)
	}
	return out, nil
}

func isRctlPrefix(name string) bool {
	for _, p := range []string{"process.", "task.", "project.", "zone."} {
		if strings.HasPrefix(name, p) {
			// project.pool is an attribute, not an rctl.
			return name != rctl.ProjectPool
		}
	}
	return false
}

func validAttrName(name string) error {
	n := strings.TrimPrefix(name, "SUNW,")
	if n == "" {
		return errors.New("empty attribute name")
	}
	for i, c := range n {
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if i == 0 && !letter {
			return fmt.Errorf("attribute name %q: must start with a letter", name)
		}
		if !letter && !(c >= '0' && c <= '9') && c != '.' && c != '_' && c != '-' {
			return fmt.Errorf("attribute name %q: %q not allowed", name, c)
		}
	}
	return nil
}

// Format writes the file back, one entry a line.
func (ps Projects) Format() []byte {
	var b bytes.Buffer
	for i := range ps {
		b.WriteString(ps[i].String())
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// Lookup returns the project called name.
func (ps Projects) Lookup(name string) (*Project, bool) {
	for i := range ps {
		if ps[i].Name == name {
			return &ps[i], true
		}
	}
	return nil, false
}

// ByID returns the project with the given ID.
func (ps Projects) ByID(id int) (*Project, bool) {
	for i := range ps {
		if ps[i].ID == id {
			return &ps[i], true
		}
	}
	return nil, false
}

// NextID is the ID projadd picks without -p: one above the highest in use,
// and at least api.FirstUserProjID.
func (ps Projects) NextID() (int, error) {
	next := api.FirstUserProjID
	for _, p := range ps {
		if p.ID >= next {
			next = p.ID + 1
		}
	}
	if next > api.MaxProjID {
		return 0, errors.New("no free project ID")
	}
	return next, nil
}

// Add is projadd: it appends a project. id -1 picks the next free ID.
// attrs use the project(5) syntax; rctl values are validated.
func (ps *Projects) Add(name string, id int, comment string, users, groups []string, attrs []Attr) error {
	if err := ValidProjectName(name); err != nil {
		return fmt.Errorf("projadd: %w", err)
	}
	if _, dup := ps.Lookup(name); dup {
		return fmt.Errorf("projadd: project %q already exists", name)
	}
	if id == -1 {
		var err error
		if id, err = ps.NextID(); err != nil {
			return fmt.Errorf("projadd: %w", err)
		}
	}
	p := Project{Name: name, ID: id, Comment: comment, Users: slices.Clone(users), Groups: slices.Clone(groups), Attrs: slices.Clone(attrs)}
	// Re-parse the formatted line so Add enforces exactly what a file read does.
	chk, err := ParseProjectLine(p.String())
	if err != nil {
		return fmt.Errorf("projadd: %w", err)
	}
	if other, dup := ps.ByID(chk.ID); dup {
		return fmt.Errorf("projadd: project ID %d already used by %q", chk.ID, other.Name)
	}
	*ps = append(*ps, chk)
	return nil
}

// ModMode is how projmod combines -U, -G and -K with what is there.
type ModMode int

// projmod's modes: replace (no flag), -a, -r, -s.
const (
	ModReplace    ModMode = iota // lists replace the current ones
	ModAdd                       // -a: add members, add values to attributes
	ModRemove                    // -r: remove members, values or attributes
	ModSubstitute                // -s: replace the named attributes' values only
)

// Mod is one projmod request. Nil fields are left alone.
type Mod struct {
	Mode    ModMode
	NewName string  // -l
	ID      *int    // -p
	Comment *string // -c
	Users   []string
	Groups  []string
	Attrs   []Attr // -K, nil when not given
	// SetUsers/SetGroups say -U/-G were given (an empty list clears).
	SetUsers, SetGroups bool
}

// Modify is projmod on the project called name. On error nothing changes.
func (ps Projects) Modify(name string, m Mod) error {
	p, ok := ps.Lookup(name)
	if !ok {
		return fmt.Errorf("projmod: project %q does not exist", name)
	}
	q := *p
	q.Users, q.Groups, q.Attrs = slices.Clone(p.Users), slices.Clone(p.Groups), slices.Clone(p.Attrs)
	if m.NewName != "" && m.NewName != name {
		if _, dup := ps.Lookup(m.NewName); dup {
			return fmt.Errorf("projmod: project %q already exists", m.NewName)
		}
		q.Name = m.NewName
	}
	if m.ID != nil {
		if other, dup := ps.ByID(*m.ID); dup && other.Name != name {
			return fmt.Errorf("projmod: project ID %d already used by %q", *m.ID, other.Name)
		}
		q.ID = *m.ID
	}
	if m.Comment != nil {
		q.Comment = *m.Comment
	}
	if m.SetUsers {
		q.Users = mergeMembers(q.Users, m.Users, m.Mode)
	}
	if m.SetGroups {
		q.Groups = mergeMembers(q.Groups, m.Groups, m.Mode)
	}
	if m.Attrs != nil {
		var err error
		if q.Attrs, err = mergeAttrs(q.Attrs, m.Attrs, m.Mode); err != nil {
			return fmt.Errorf("projmod: %w", err)
		}
	}
	chk, err := ParseProjectLine(q.String())
	if err != nil {
		return fmt.Errorf("projmod: %w", err)
	}
	*p = chk
	return nil
}

func mergeMembers(cur, given []string, mode ModMode) []string {
	switch mode {
	case ModAdd:
		out := slices.Clone(cur)
		for _, g := range given {
			if !slices.Contains(out, g) {
				out = append(out, g)
			}
		}
		return out
	case ModRemove:
		return slices.DeleteFunc(slices.Clone(cur), func(s string) bool { return slices.Contains(given, s) })
	default:
		return slices.Clone(given)
	}
}

func mergeAttrs(cur, given []Attr, mode ModMode) ([]Attr, error) {
	if mode == ModReplace {
		return slices.Clone(given), nil
	}
	out := slices.Clone(cur)
	for _, g := range given {
		i := slices.IndexFunc(out, func(a Attr) bool { return a.Name == g.Name })
		switch mode {
		case ModSubstitute:
			if i < 0 {
				out = append(out, g)
			} else {
				out[i] = g
			}
		case ModAdd:
			if i < 0 {
				out = append(out, g)
				continue
			}
			merged, err := addAttrValues(out[i], g)
			if err != nil {
				return nil, err
			}
			out[i] = merged
		case ModRemove:
			if i < 0 {
				return nil, fmt.Errorf("attribute %s is not set", g.Name)
			}
			if !g.HasValue {
				out = slices.Delete(out, i, i+1)
				continue
			}
			left, err := removeAttrValues(out[i], g)
			if err != nil {
				return nil, err
			}
			if left.Value == "" {
				out = slices.Delete(out, i, i+1)
			} else {
				out[i] = left
			}
		}
	}
	return out, nil
}

// addAttrValues is projmod -a -K on an existing attribute: rctl values are
// merged and kept in ascending order of limit, as projmod writes them;
// other attributes get the value appended with ','.
func addAttrValues(cur, add Attr) (Attr, error) {
	if !cur.IsRctl() {
		if cur.Value == "" {
			cur.Value, cur.HasValue = add.Value, add.HasValue
		} else if add.Value != "" {
			cur.Value += "," + add.Value
		}
		return cur, nil
	}
	a, err := rctl.ParseValues(cur.Value)
	if err != nil {
		return cur, fmt.Errorf("attribute %s: %w", cur.Name, err)
	}
	b, err := rctl.ParseValues(add.Value)
	if err != nil {
		return cur, fmt.Errorf("attribute %s: %w", cur.Name, err)
	}
	all := append(a, b...)
	slices.SortStableFunc(all, func(x, y rctl.Value) int {
		if x.Privilege != y.Privilege {
			return int(x.Privilege) - int(y.Privilege)
		}
		switch {
		case x.Limit < y.Limit:
			return -1
		case x.Limit > y.Limit:
			return 1
		}
		return 0
	})
	cur.Value, cur.HasValue = rctl.FormatValues(all), true
	return cur, nil
}

func removeAttrValues(cur, rm Attr) (Attr, error) {
	if !cur.IsRctl() {
		vals := strings.Split(cur.Value, ",")
		for _, r := range strings.Split(rm.Value, ",") {
			i := slices.Index(vals, r)
			if i < 0 {
				return cur, fmt.Errorf("attribute %s has no value %q", cur.Name, r)
			}
			vals = slices.Delete(vals, i, i+1)
		}
		cur.Value = strings.Join(vals, ",")
		return cur, nil
	}
	a, err := rctl.ParseValues(cur.Value)
	if err != nil {
		return cur, fmt.Errorf("attribute %s: %w", cur.Name, err)
	}
	b, err := rctl.ParseValues(rm.Value)
	if err != nil {
		return cur, fmt.Errorf("attribute %s: %w", cur.Name, err)
	}
	for _, r := range b {
		i := slices.Index(a, r)
		if i < 0 {
			return cur, fmt.Errorf("attribute %s has no value %s", cur.Name, r)
		}
		a = slices.Delete(a, i, i+1)
	}
	cur.Value = rctl.FormatValues(a)
	return cur, nil
}

// Delete is projdel.
func (ps *Projects) Delete(name string) error {
	for i := range *ps {
		if (*ps)[i].Name == name {
			*ps = slices.Delete(*ps, i, i+1)
			return nil
		}
	}
	return fmt.Errorf("projdel: project %q does not exist", name)
}
