package zones

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"reflect"
	"slices"
	"strings"
)

// session is one zonecfg session on one zone: the in-memory configuration,
// the scope, and what has to reach the store.
type session struct {
	st   *Store // nil in tests and fuzzing: nothing is read or written
	zone string // the name given with -z (the zone's name at load time)

	cfg       *Config // in-memory configuration; nil when none exists yet
	loaded    *Config // configuration as it was in the store (nil: absent)
	committed *Config // last committed in-memory state, for revert and exit -F
	base      Revision

	scope      *scope
	dirty      bool // cfg differs from committed
	deleted    bool
	deferred   bool // script mode: the store is written once, at the end
	interactve bool
	done       bool // exit ran
	discard    bool // exit -F ran: drop uncommitted changes

	// sandbox forbids touching files (export -f); fuzzing runs with it.
	sandbox bool
	opts    Options

	out, errOut io.Writer
}

// scope is the resource being added (index -1) or modified.
type scope struct {
	res   resource
	index int
}

var errNoConfig = errors.New("no such zone configured; use 'create' to begin configuring a new zone")

func (s *session) global() bool { return s.zone == "global" }

func (s *session) prompt() string {
	name := s.zone
	if s.cfg != nil {
		name = s.cfg.Name
	}
	if s.scope != nil {
		return fmt.Sprintf("zonecfg:%s:%s> ", name, s.scope.res.kind)
	}
	return fmt.Sprintf("zonecfg:%s> ", name)
}

// run executes one command.
func (s *session) run(c Command) error {
	if s.done {
		return errors.New("the session has ended (exit); nothing after it runs")
	}
	switch c.Name {
	case "create":
		if err := s.check(c); err != nil {
			return err
		}
		return s.create(c)
	case "help":
		fmt.Fprint(s.out, helpText(argWords(c)))
		return nil
	case "exit":
		return s.exit(c)
	case "delete":
		if err := s.check(c); err != nil {
			return err
		}
		return s.delete(c)
	case "add", "set", "remove", "select", "end", "cancel", "clear", "info", "verify", "commit", "revert", "export":
	default:
		return fmt.Errorf("unknown subcommand %q, expected one of add, cancel, clear, commit, create, delete, end, exit, export, help, info, remove, revert, select, set, verify", c.Name)
	}
	if s.cfg == nil {
		return fmt.Errorf("%s: zone %s: %w", c.Name, s.zone, errNoConfig)
	}
	if err := s.check(c); err != nil {
		return err
	}
	switch c.Name {
	case "add":
		return s.add(c)
	case "set":
		return s.set(c)
	case "remove":
		return s.remove(c)
	case "select":
		return s.selectRes(c)
	case "end":
		return s.end(c)
	case "cancel":
		if s.scope == nil {
			return errors.New("cancel: only applies in a resource scope")
		}
		if len(c.Args) > 0 {
			return errors.New("cancel takes no arguments")
		}
		s.scope = nil
		return nil
	case "clear":
		return s.clear(c)
	case "info":
		return s.info(c)
	case "verify":
		if len(c.Args) > 0 {
			return errors.New("verify takes no arguments")
		}
		return s.verify("verify")
	case "commit":
		if len(c.Args) > 0 {
			return errors.New("commit takes no arguments")
		}
		return s.commit()
	case "revert":
		return s.revert(c)
	case "export":
		return s.export(c)
	}
	return nil
}

func argWords(c Command) []string {
	out := make([]string, 0, len(c.Args))
	for _, a := range c.Args {
		if a.Assign {
			out = append(out, a.Word+"="+a.Value.String())
		} else if a.Value.Kind != Simple {
			out = append(out, a.Value.String())
		} else {
			out = append(out, a.Value.Str)
		}
	}
	return out
}

// flags splits leading -X flags from the other arguments; allowed lists
// the flags the command takes, each with whether it takes an operand.
func flags(c Command, allowed map[string]bool) (map[string]string, []Arg, error) {
	got := map[string]string{}
	args := c.Args
	for len(args) > 0 && !args[0].Assign && !args[0].Bare && strings.HasPrefix(args[0].Word, "-") {
		f := args[0].Word
		takes, ok := allowed[f]
		if !ok {
			return nil, nil, fmt.Errorf("%s: unknown option %s", c.Name, f)
		}
		args = args[1:]
		if takes {
			if len(args) == 0 || args[0].Assign {
				return nil, nil, fmt.Errorf("%s: option %s needs an operand", c.Name, f)
			}
			got[f] = args[0].Value.Str
			args = args[1:]
		} else {
			got[f] = ""
		}
	}
	return got, args, nil
}

func (s *session) create(c Command) error {
	if s.scope != nil {
		return fmt.Errorf("create: end or cancel the %s resource first", s.scope.res.kind)
	}
	f, rest, err := flags(c, map[string]bool{"-F": false, "-b": false, "-t": true, "-a": true, "-X": false})
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return fmt.Errorf("create: unexpected argument %q, expected [-F] [-b | -t template]", argWords(Command{Args: rest})[0])
	}
	if s.global() {
		return errors.New("create: the global zone always exists; set its resource controls directly")
	}
	if _, ok := f["-a"]; ok {
		return errors.New("create -a: attaching detached zones is not supported by zonetop")
	}
	if _, ok := f["-X"]; ok {
		return errors.New("create -X: importing an existing XML file is not supported; use zonecfg -f with an exported script")
	}
	_, blank := f["-b"]
	tmpl, withTmpl := f["-t"]
	if blank && withTmpl {
		return errors.New("create: -b and -t exclude each other")
	}
	if _, force := f["-F"]; s.cfg != nil && !force {
		return fmt.Errorf("create: zone %s already has a configuration; use create -F to overwrite it", s.zone)
	}
	name := s.zone
	var uuid string
	if s.cfg != nil {
		name, uuid = s.cfg.Name, s.cfg.UUID
	}
	var n *Config
	switch {
	case blank || tmpl == "SUNWblank":
		n = &Config{Name: name}
	case !withTmpl || tmpl == "SUNWdefault":
		n = &Config{Name: name, Brand: DefaultBrand, IPType: DefaultIPType}
	default:
		if s.st == nil {
			return fmt.Errorf("create -t %s: no such template", tmpl)
		}
		t, _, err := s.st.Load(tmpl)
		if err != nil {
			if errors.Is(err, ErrNoZone) {
				return fmt.Errorf("create -t %s: no configured zone or template of that name (templates: SUNWdefault, SUNWblank)", tmpl)
			}
			return fmt.Errorf("create -t %s: %w", tmpl, err)
		}
		n = t.Clone()
		n.Name = name
	}
	n.UUID = uuid
	s.cfg = n
	s.dirty = true
	s.deleted = false
	return nil
}

func (s *session) add(c Command) error {
	if s.scope != nil {
		if len(c.Args) != 2 || c.Args[0].Assign || c.Args[0].Bare || c.Args[1].Assign {
			return fmt.Errorf("add: in the %s scope, expected add PROPERTY VALUE (e.g. add options [ro,nodevices])", s.scope.res.kind)
		}
		return s.scope.res.add(c.Args[0].Word, c.Args[1].Value)
	}
	if len(c.Args) != 1 || c.Args[0].Assign || c.Args[0].Bare {
		return fmt.Errorf("add: expected add RESOURCE-TYPE (%s)", strings.Join(resourceKinds, ", "))
	}
	kind := c.Args[0].Word
	if err := s.checkKind(kind); err != nil {
		return fmt.Errorf("add: %w", err)
	}
	if singleKind(kind) && len(resourcesOf(s.cfg, kind)) > 0 {
		return fmt.Errorf("add: zone %s already has a %s resource; use select %s to change it", s.cfg.Name, kind, kind)
	}
	s.scope = &scope{res: newResource(kind), index: -1}
	return nil
}

func (s *session) checkKind(kind string) error {
	if why, ok := unsupportedKinds[kind]; ok {
		return fmt.Errorf("%s: %s", kind, why)
	}
	if _, ok := resProps[kind]; !ok {
		return fmt.Errorf("%q is not a resource type (%s)", kind, strings.Join(resourceKinds, ", "))
	}
	if s.global() && !globalZoneKind(kind) {
		return fmt.Errorf("%s: the global zone's configuration only takes rctl, capped-memory, capped-cpu and dedicated-cpu", kind)
	}
	return nil
}

func (s *session) set(c Command) error {
	if len(c.Args) != 1 || !c.Args[0].Assign {
		return errors.New("set: expected set PROPERTY=VALUE")
	}
	prop, v := c.Args[0].Word, c.Args[0].Value
	if s.scope != nil {
		return s.scope.res.set(prop, v)
	}
	if v.Kind != Simple {
		if prop == "limitpriv" || prop == "fs-allowed" {
			// A list is the same as the comma-separated string.
			parts := make([]string, 0, len(v.List))
			for _, e := range v.elements() {
				if e.Kind != Simple {
					return fmt.Errorf("set %s: %s is not a simple value", prop, e.String())
				}
				parts = append(parts, e.Str)
			}
			v = Value{Kind: Simple, Str: strings.Join(parts, ",")}
		} else {
			return fmt.Errorf("set %s: takes a simple value, not %s", prop, v.String())
		}
	}
	val := v.Str
	if err := checkText(val); err != nil {
		return fmt.Errorf("set %s: %w", prop, err)
	}
	if prop == "zonename" {
		if s.global() {
			return errors.New("set zonename: the global zone cannot be renamed")
		}
		if err := ValidateName(val); err != nil {
			return fmt.Errorf("set zonename: %w", err)
		}
		s.cfg.Name = val
		s.dirty = true
		return nil
	}
	if info, ok := aliasRctl(prop); ok {
		if err := setAlias(s.cfg, info, val); err != nil {
			return fmt.Errorf("set %s: %w", prop, err)
		}
		s.dirty = true
		return nil
	}
	g, ok := lookupGlobalProp(prop)
	if !ok {
		if kind, isRes := resProps[prop]; isRes && kind != nil {
			return fmt.Errorf("set %s: %s is a resource type; use add %s", prop, prop, prop)
		}
		if prop == "zfs-io-priority" {
			return errors.New("set zfs-io-priority: ZFS I/O priority has no Linux equivalent")
		}
		return fmt.Errorf("set: %q is not a global property (zonename, %s, and the rctl aliases cpu-shares, max-lwps, max-processes, max-locked-memory, max-shm-memory, max-shm-ids, max-msg-ids, max-sem-ids)",
			prop, globalPropNames())
	}
	if s.global() && !g.global {
		return fmt.Errorf("set %s: cannot be set for the global zone", prop)
	}
	if err := g.check(val); err != nil {
		return fmt.Errorf("set %s: %w", prop, err)
	}
	g.put(s.cfg, val)
	s.dirty = true
	return nil
}

func globalPropNames() string {
	names := make([]string, len(globalProps))
	for i, g := range globalProps {
		names[i] = g.name
	}
	return strings.Join(names, ", ")
}

func (s *session) clear(c Command) error {
	if len(c.Args) != 1 || c.Args[0].Assign || c.Args[0].Bare {
		return errors.New("clear: expected clear PROPERTY")
	}
	prop := c.Args[0].Word
	if s.scope != nil {
		return s.scope.res.clear(prop)
	}
	if info, ok := aliasRctl(prop); ok {
		clearRctl(s.cfg, info.Name)
		normalizeConfig(s.cfg)
		s.dirty = true
		return nil
	}
	g, ok := lookupGlobalProp(prop)
	if !ok {
		return fmt.Errorf("clear: %q is not a global property", prop)
	}
	if !g.clearable {
		return fmt.Errorf("clear %s: a zone must keep its %s; set another value instead", prop, prop)
	}
	if g.name == "autoboot" {
		s.cfg.Autoboot = false
	} else {
		g.put(s.cfg, "")
	}
	s.dirty = true
	return nil
}

// criteria reads prop=value arguments for select, remove and info.
func criteria(args []Arg) (map[string]string, error) {
	m := map[string]string{}
	for _, a := range args {
		if !a.Assign {
			return nil, fmt.Errorf("expected PROPERTY=VALUE, got %s", argWords(Command{Args: []Arg{a}})[0])
		}
		if a.Value.Kind == Complex {
			return nil, fmt.Errorf("%s: complex values cannot be matched", a.Word)
		}
		m[a.Word] = strings.Trim(a.Value.String(), "\"")
		if a.Value.Kind == Simple {
			m[a.Word] = a.Value.Str
		}
	}
	return m, nil
}

// find returns the indexes of the resources of kind matching crit.
func (s *session) find(kind string, crit map[string]string) ([]int, error) {
	var idx []int
	for i, r := range resourcesOf(s.cfg, kind) {
		ok, err := matches(r, crit)
		if err != nil {
			return nil, err
		}
		if ok {
			idx = append(idx, i)
		}
	}
	return idx, nil
}

func (s *session) selectRes(c Command) error {
	if s.scope != nil {
		return fmt.Errorf("select: end or cancel the %s resource first", s.scope.res.kind)
	}
	if len(c.Args) == 0 || c.Args[0].Assign || c.Args[0].Bare {
		return errors.New("select: expected select RESOURCE-TYPE PROPERTY=VALUE [PROPERTY=VALUE]")
	}
	kind := c.Args[0].Word
	if err := s.checkKind(kind); err != nil {
		return fmt.Errorf("select: %w", err)
	}
	crit, err := criteria(c.Args[1:])
	if err != nil {
		return fmt.Errorf("select %s: %w", kind, err)
	}
	if len(crit) == 0 && !singleKind(kind) {
		return fmt.Errorf("select %s: give PROPERTY=VALUE pairs that identify one resource", kind)
	}
	idx, err := s.find(kind, crit)
	if err != nil {
		return fmt.Errorf("select %s: %w", kind, err)
	}
	switch len(idx) {
	case 0:
		return fmt.Errorf("select %s: no %s resource matches", kind, kind)
	case 1:
	default:
		return fmt.Errorf("select %s: %d resources match; give more PROPERTY=VALUE pairs", kind, len(idx))
	}
	s.scope = &scope{res: resourcesOf(s.cfg, kind)[idx[0]], index: idx[0]}
	return nil
}

func (s *session) remove(c Command) error {
	if s.scope != nil {
		if len(c.Args) != 2 || c.Args[0].Assign || c.Args[0].Bare || c.Args[1].Assign {
			return fmt.Errorf("remove: in the %s scope, expected remove PROPERTY VALUE", s.scope.res.kind)
		}
		return s.scope.res.remove(c.Args[0].Word, c.Args[1].Value)
	}
	f, rest, err := flags(c, map[string]bool{"-F": false})
	if err != nil {
		return err
	}
	_, force := f["-F"]
	if len(rest) == 0 || rest[0].Assign || rest[0].Bare {
		return errors.New("remove: expected remove [-F] RESOURCE-TYPE [PROPERTY=VALUE ...]")
	}
	kind := rest[0].Word
	if _, ok := aliasRctl(kind); ok {
		return fmt.Errorf("remove %s: %s is a property; use clear %s", kind, kind, kind)
	}
	if err := s.checkKind(kind); err != nil {
		return fmt.Errorf("remove: %w", err)
	}
	crit, err := criteria(rest[1:])
	if err != nil {
		return fmt.Errorf("remove %s: %w", kind, err)
	}
	idx, err := s.find(kind, crit)
	if err != nil {
		return fmt.Errorf("remove %s: %w", kind, err)
	}
	if len(idx) == 0 {
		if force {
			return nil
		}
		return fmt.Errorf("remove %s: no %s resource matches", kind, kind)
	}
	// Removing several at once is destructive enough to want -F when
	// nobody can be asked, as illumos does.
	if len(idx) > 1 && !force && !s.interactve {
		return fmt.Errorf("remove %s: %d resources match; use remove -F to remove them all", kind, len(idx))
	}
	for i := len(idx) - 1; i >= 0; i-- {
		deleteResource(s.cfg, kind, idx[i])
	}
	s.dirty = true
	return nil
}

func (s *session) end(c Command) error {
	if s.scope == nil {
		return errors.New("end: only applies in a resource scope")
	}
	if len(c.Args) > 0 {
		return errors.New("end takes no arguments")
	}
	r := s.scope.res
	var msgs []string
	// ip-type rules wait for verify: ip-type may still change.
	for _, p := range r.problems("") {
		if p.prop != "" {
			msgs = append(msgs, p.prop+": "+p.msg)
		} else {
			msgs = append(msgs, p.msg)
		}
	}
	if len(msgs) > 0 {
		return fmt.Errorf("end: %s resource incomplete or invalid: %s", r.kind, strings.Join(msgs, "; "))
	}
	// Check the new resource against the others of its kind before it
	// joins them: verify would catch it, but here the operator is still in
	// the scope and can fix it.
	if err := s.duplicate(r); err != nil {
		return fmt.Errorf("end: %w", err)
	}
	putResource(s.cfg, r, s.scope.index)
	s.scope = nil
	s.dirty = true
	return nil
}

// duplicate reports whether r clashes with another resource of its kind
// on the property that identifies it.
func (s *session) duplicate(r resource) error {
	key := map[string]string{"fs": "dir", "inherit-pkg-dir": "dir", "device": "match", "rctl": "name", "attr": "name", "admin": "user"}[r.kind]
	if key == "" {
		return nil
	}
	mine, _ := r.get(key)
	if key == "dir" {
		mine = path.Clean(mine)
	}
	for i, o := range resourcesOf(s.cfg, r.kind) {
		if i == s.scope.index {
			continue
		}
		theirs, _ := o.get(key)
		if key == "dir" {
			theirs = path.Clean(theirs)
		}
		if theirs == mine {
			return fmt.Errorf("another %s resource already has %s=%s", r.kind, key, mine)
		}
	}
	return nil
}

func (s *session) info(c Command) error {
	if s.scope != nil {
		var b strings.Builder
		writeResInfo(&b, s.scope.res)
		fmt.Fprint(s.out, b.String())
		return nil
	}
	kind := ""
	var crit map[string]string
	if len(c.Args) > 0 {
		if c.Args[0].Assign || c.Args[0].Bare {
			return errors.New("info: expected info [RESOURCE-TYPE [PROPERTY=VALUE ...] | PROPERTY]")
		}
		kind = c.Args[0].Word
		var err error
		if crit, err = criteria(c.Args[1:]); err != nil {
			return fmt.Errorf("info %s: %w", kind, err)
		}
		if len(crit) > 0 {
			if _, ok := resProps[kind]; !ok {
				return fmt.Errorf("info %s: only resource types take PROPERTY=VALUE criteria", kind)
			}
		}
	}
	out, err := info(s.cfg, kind, crit)
	if err != nil {
		return err
	}
	fmt.Fprint(s.out, out)
	return nil
}

// others returns the other zones' configurations for verify's cross-zone
// checks. A zone whose file cannot be read is skipped: its own load error
// is reported where that zone is used, not in this one's verify.
func (s *session) others() []*Config {
	if s.st == nil {
		return nil
	}
	ents, err := s.st.List()
	if err != nil {
		return nil
	}
	var out []*Config
	for _, e := range ents {
		if e.Name == s.zone || (s.cfg != nil && e.Name == s.cfg.Name) {
			continue
		}
		// A broken zone still holds its zonepath and name.
		if oc, _, _, err := s.st.LoadUnverified(e.Name); err == nil {
			out = append(out, oc)
		}
	}
	return out
}

// verify runs Verify and prints every problem; the error only says how many.
func (s *session) verify(what string) error {
	if s.scope != nil {
		return fmt.Errorf("%s: end or cancel the %s resource first", what, s.scope.res.kind)
	}
	errs := Verify(s.cfg, s.others())
	if s.cfg.Name != s.zone && s.st != nil {
		if _, err := s.st.State(s.cfg.Name); err == nil {
			errs = append(errs, &VerifyError{Zone: s.cfg.Name, Property: "zonename", Problem: "another zone already has this name"})
		}
	}
	if len(errs) == 0 {
		return nil
	}
	for _, e := range errs {
		fmt.Fprintln(s.errOut, e)
	}
	return fmt.Errorf("%s: zone %s has %d problem(s); nothing was committed", what, s.cfg.Name, len(errs))
}

func (s *session) commit() error {
	if err := s.verify("commit"); err != nil {
		return err
	}
	if s.deferred || s.st == nil {
		s.committed = s.cfg.Clone()
		s.dirty = false
		return nil
	}
	return s.write(s.cfg)
}

// check asks Options.Check about a command that changes the
// configuration; commands that only read or move between scopes pass.
func (s *session) check(c Command) error {
	if s.opts.Check == nil {
		return nil
	}
	ch := Change{Op: c.Name}
	first := ""
	for _, a := range c.Args {
		if !strings.HasPrefix(a.Word, "-") || a.Assign {
			first = a.Word
			break
		}
	}
	switch c.Name {
	case "create":
		ch.Args = argWords(c)
	case "delete":
	case "add", "remove", "set", "clear":
		if s.scope != nil {
			ch.Resource, ch.Property = s.scope.res.kind, first
		} else if c.Name == "add" || c.Name == "remove" {
			ch.Resource = first
		} else {
			ch.Property = first
		}
	default:
		return nil
	}
	return s.opts.Check(ch)
}

// allowed asks Options.Commit before the store changes.
func (s *session) allowed(after *Config) error {
	if s.opts.Commit == nil {
		return nil
	}
	return s.opts.Commit(s.loaded, after)
}

// committed tells Options.Committed of a change the store accepted.
func (s *session) committedChange(before, after *Config) {
	if s.opts.Committed != nil {
		s.opts.Committed(before.Clone(), after.Clone())
	}
}

// deleteStored removes the loaded zone from the store now.
func (s *session) deleteStored() error {
	if err := s.allowed(nil); err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	if err := s.st.Delete(s.loaded.Name); err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	s.committedChange(s.loaded, nil)
	return nil
}

// write commits cfg to the store now.
func (s *session) write(cfg *Config) error {
	if err := s.allowed(cfg); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	c := cfg.Clone()
	rev, err := s.st.Commit(c, s.base)
	if err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	s.committedChange(s.loaded, c)
	s.base = rev
	s.cfg.UUID = c.UUID
	s.loaded = c.Clone()
	s.committed = c.Clone()
	s.zone = c.Name
	s.dirty = false
	return nil
}

func (s *session) revert(c Command) error {
	f, rest, err := flags(c, map[string]bool{"-F": false})
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return errors.New("revert takes only -F")
	}
	if _, force := f["-F"]; !force && !s.interactve {
		return errors.New("revert: use revert -F to drop the changes without being asked")
	}
	s.cfg = s.committed.Clone()
	s.scope = nil
	s.dirty = false
	if s.cfg == nil && s.loaded == nil {
		s.deleted = false
	}
	return nil
}

func (s *session) export(c Command) error {
	if s.scope != nil {
		return fmt.Errorf("export: end or cancel the %s resource first", s.scope.res.kind)
	}
	f, rest, err := flags(c, map[string]bool{"-f": true})
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return errors.New("export: expected export [-f FILE]")
	}
	text := Export(s.cfg)
	if file, ok := f["-f"]; ok {
		if s.opts.NoFiles {
			return errors.New("export -f: this session cannot write your files; redirect export's output instead")
		}
		if s.sandbox {
			return errors.New("export -f: writing files is disabled here")
		}
		if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
			return fmt.Errorf("export: %w", err)
		}
		return nil
	}
	fmt.Fprint(s.out, text)
	return nil
}

func (s *session) delete(c Command) error {
	f, rest, err := flags(c, map[string]bool{"-F": false})
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return errors.New("delete takes only -F")
	}
	if s.global() {
		return errors.New("delete: the global zone cannot be deleted")
	}
	if _, force := f["-F"]; !force && !s.interactve {
		return fmt.Errorf("delete: use delete -F to delete zone %s without being asked", s.zone)
	}
	if s.loaded == nil && s.cfg == nil {
		return fmt.Errorf("delete: zone %s: %w", s.zone, errNoConfig)
	}
	if s.loaded != nil && s.st != nil && !s.deferred {
		if err := s.deleteStored(); err != nil {
			return err
		}
	} else if s.loaded != nil && s.st != nil {
		ent, err := s.st.State(s.loaded.Name)
		if err != nil {
			return fmt.Errorf("delete: %w", err)
		}
		if err := CheckOp(s.loaded.Name, ent.State, "delete"); err != nil {
			return fmt.Errorf("delete: %w", err)
		}
	}
	// Deletion is immediate in illumos: the session goes on with no
	// configuration, as if the zone had never existed.
	s.deleted = s.loaded != nil
	if !s.deferred {
		s.deleted = false
		s.loaded = nil
		s.base = Revision{}
	}
	s.cfg, s.committed, s.scope, s.dirty = nil, nil, nil, false
	return nil
}

func (s *session) exit(c Command) error {
	f, rest, err := flags(c, map[string]bool{"-F": false})
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return errors.New("exit takes only -F")
	}
	if _, force := f["-F"]; force {
		s.discard = true
		s.done = true
		return nil
	}
	if err := s.finish(); err != nil {
		return err
	}
	s.done = true
	return nil
}

// finish is the automatic commit at the end of a session.
func (s *session) finish() error {
	if s.scope != nil {
		return fmt.Errorf("exit: the %s resource is still open; end or cancel it (or exit -F to drop all changes)", s.scope.res.kind)
	}
	if s.cfg == nil || !s.dirty {
		return nil
	}
	return s.commit()
}

// flush writes what a script session committed. It runs only when every
// command succeeded, so a failing script commits nothing.
func (s *session) flush() error {
	if s.st == nil {
		return nil
	}
	target := s.cfg
	if s.discard {
		target = s.committed
	}
	if s.deleted && target == nil {
		return s.deleteStored()
	}
	if target == nil {
		return nil
	}
	if s.loaded != nil && reflect.DeepEqual(target, s.loaded) {
		return nil
	}
	if s.deleted && s.loaded != nil {
		// delete then create in one script: the zone is re-created under
		// the same name; the old entry goes first so the UUID is new.
		if err := s.deleteStored(); err != nil {
			return err
		}
		s.base = Revision{}
		s.loaded = nil
	}
	return s.write(target)
}

// kindsInOrder lists resource kinds for help.
func kindsInOrder() []string { return slices.Clone(resourceKinds) }
