package zones

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

const usageText = `usage:	zonecfg -z zonename
	zonecfg -z zonename subcommand[; subcommand ...]
	zonecfg -z zonename -f command_file   (- for standard input)
	zonecfg -u uuid ...
	zonecfg help
`

// Invocation is a zonecfg command line taken apart.
type Invocation struct {
	Zone, UUID string
	File       string // -f's argument ("-": standard input)
	HaveFile   bool
	Help       bool     // -h, --help, -?
	Rest       []string // subcommands, or "help [topic]" without a zone
}

// ParseArgs takes a zonecfg command line (what follows the word "zonecfg")
// apart. An error is a usage error, exit status 2.
func ParseArgs(args []string) (Invocation, error) {
	var inv Invocation
	i := 0
	for ; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			i++
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			break
		}
		opt, val, inline := a, "", false
		if len(a) > 2 && a[1] != '-' {
			opt, val, inline = a[:2], a[2:], true
		}
		switch opt {
		case "-z", "-u", "-f":
			if !inline {
				if i+1 >= len(args) {
					return inv, fmt.Errorf("option %s needs an argument", opt)
				}
				i++
				val = args[i]
			}
			switch opt {
			case "-z":
				inv.Zone = val
			case "-u":
				inv.UUID = val
			case "-f":
				inv.File, inv.HaveFile = val, true
			}
		case "-h", "--help", "-?":
			inv.Help = true
			return inv, nil
		default:
			return inv, fmt.Errorf("unknown option %s", a)
		}
	}
	inv.Rest = args[i:]
	if inv.Zone == "" && inv.UUID == "" {
		if len(inv.Rest) > 0 && inv.Rest[0] == "help" {
			return inv, nil
		}
		return inv, errors.New("a zone is required (-z zonename)")
	}
	if inv.Zone != "" && inv.UUID != "" {
		return inv, errors.New("give -z or -u, not both")
	}
	if inv.HaveFile && len(inv.Rest) > 0 {
		return inv, errors.New("give -f or subcommands, not both")
	}
	return inv, nil
}

// Options adjust a zonecfg session run on behalf of someone other than the
// global administrator (a delegated zone administrator, served by the
// zonetop service). The zero value is the global administrator's session.
type Options struct {
	// Check, when set, is asked before every command that would change
	// the configuration; its error refuses the command, which changes
	// nothing.
	Check func(Change) error
	// Commit, when set, is asked before anything reaches the store, with
	// the stored configuration and the one about to replace it (nil when
	// the zone is being deleted); its error keeps the store as it was.
	Commit func(before, after *Config) error
	// Committed, when set, is told of every change the store accepted,
	// as it was and as it is now (before is nil for a new zone, after
	// for a deleted one): the audit log records exactly what this
	// session changed, and nothing another session did meanwhile.
	Committed func(before, after *Config)
	// NoFiles refuses export -f: the session runs with privileges its
	// user lacks, so it must not write files for them.
	NoFiles bool
	// Prompt shows prompts whatever stdin is: the user's terminal is at
	// the other end of a socket.
	Prompt bool
	// Lines, when set, reads an interactive session's lines instead of
	// stdin: the front end's line editor (history, editing, completion).
	Lines LineReader
}

// LineReader is a line editor an interactive session reads through. It
// shows prompt itself; Complete is how it asks the session for the words
// that may come next.
type LineReader interface {
	ReadLine(prompt string, complete func(line string) []string) (string, error)
}

// Change is what one zonecfg command would change, as Options.Check sees
// it: the subcommand, the resource type (the one being edited, for a
// property inside a resource scope) and the property. create passes its
// arguments.
type Change struct {
	Op       string
	Resource string
	Property string
	Args     []string
}

// RunZonecfg is the zonecfg front end. args are what follows the word
// "zonecfg". With subcommands or -f it runs them as a script: the whole
// script is checked for syntax first, then run; the first error stops it,
// is reported as FILE:LINE:COL and nothing reaches the store. Without
// either it is interactive, prompting on stdout. Exit status: 0 success,
// 1 error, 2 usage.
func RunZonecfg(s *Store, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return RunZonecfgWith(s, args, stdin, stdout, stderr, Options{})
}

// RunZonecfgWith is RunZonecfg with the session restricted by opts.
func RunZonecfgWith(s *Store, args []string, stdin io.Reader, stdout, stderr io.Writer, opts Options) int {
	inv, err := ParseArgs(args)
	if err != nil {
		fmt.Fprintf(stderr, "zonecfg: %v\n%s", err, usageText)
		return 2
	}
	if inv.Help {
		fmt.Fprint(stdout, usageText)
		return 0
	}
	zone, uuid, file := inv.Zone, inv.UUID, inv.File
	if zone == "" && uuid == "" {
		fmt.Fprint(stdout, helpText(inv.Rest[1:]))
		return 0
	}
	rest, haveFile := inv.Rest, inv.HaveFile
	if uuid != "" {
		ents, err := s.List()
		if err != nil {
			fmt.Fprintf(stderr, "zonecfg: %v\n", err)
			return 1
		}
		for _, e := range ents {
			if e.UUID == uuid {
				zone = e.Name
			}
		}
		if zone == "" {
			fmt.Fprintf(stderr, "zonecfg: no zone has uuid %s\n", uuid)
			return 1
		}
	}
	if zone != "global" {
		if err := ValidateName(zone); err != nil {
			fmt.Fprintf(stderr, "zonecfg: %v\n", err)
			return 1
		}
	}

	sess := &session{st: s, zone: zone, out: stdout, errOut: stderr, opts: opts, sandbox: opts.NoFiles}
	if err := sess.load(); err != nil {
		fmt.Fprintf(stderr, "zonecfg: %v\n", err)
		return 1
	}
	switch {
	case haveFile:
		var src []byte
		var err error
		name := file
		if file == "-" {
			name = "stdin"
			src, err = io.ReadAll(stdin)
		} else {
			src, err = os.ReadFile(file)
		}
		if err != nil {
			fmt.Fprintf(stderr, "zonecfg: %v\n", err)
			return 1
		}
		return sess.script(name, string(src))
	case len(rest) > 0:
		return sess.script("command line", strings.Join(rest, " "))
	default:
		return sess.interactive(stdin)
	}
}

// load reads the zone's stored configuration, if any.
func (s *session) load() error {
	if s.st == nil {
		return nil
	}
	c, rev, problems, err := s.st.LoadUnverified(s.zone)
	if errors.Is(err, ErrNoZone) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(problems) > 0 {
		// The session is how a broken file is repaired, so it opens;
		// what is wrong is said first, and commit verifies as always.
		fmt.Fprintln(s.errOut, "zonecfg: warning:", (&BrokenError{Zone: s.zone, File: s.st.zonePath(s.zone), Problems: problems}).Error())
	}
	s.base = rev
	if s.global() && !rev.Exists() {
		// The global zone always has a (possibly empty) configuration.
		s.cfg = c
		s.committed = c.Clone()
		return nil
	}
	s.cfg, s.loaded, s.committed = c, c.Clone(), c.Clone()
	return nil
}

// script runs a command file or command-line subcommands.
func (s *session) script(name, src string) int {
	s.deferred = true
	cmds, err := Parse(src)
	if err != nil {
		fmt.Fprintf(s.errOut, "%s:%v\n", name, err)
		return 1
	}
	end := endPos(src)
	for _, c := range cmds {
		if err := s.run(c); err != nil {
			fmt.Fprintf(s.errOut, "%s:%d:%d: %v\n", name, c.Pos.Line, c.Pos.Col, err)
			return 1
		}
		if s.done {
			break
		}
	}
	if !s.done {
		if err := s.finish(); err != nil {
			fmt.Fprintf(s.errOut, "%s:%d:%d: at end of input: %v\n", name, end.Line, end.Col, err)
			return 1
		}
	}
	if err := s.flush(); err != nil {
		fmt.Fprintf(s.errOut, "zonecfg: %v\n", err)
		return 1
	}
	return 0
}

func endPos(src string) Pos {
	line := 1 + strings.Count(src, "\n")
	col := len(src) - strings.LastIndex(src, "\n")
	return Pos{line, col}
}

// interactive reads commands line by line, prompting before each. An error
// is reported and the session goes on, as at illumos' prompt; the exit
// status is that of the last command (or of the final commit).
func (s *session) interactive(stdin io.Reader) int {
	s.interactve = true
	if s.cfg == nil {
		fmt.Fprintf(s.out, "%s: No such zone configured\nUse 'create' to begin configuring a new zone.\n", s.zone)
	}
	sc := bufio.NewScanner(stdin)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	status := 0
	line := 0
	// Prompts are for a person at a terminal; commands piped in get
	// output a script can read, as illumos zonecfg does.
	prompt := promptAlways || s.opts.Prompt || isTerminal(stdin)
	next := func() (string, bool) {
		if s.opts.Lines != nil {
			text, err := s.opts.Lines.ReadLine(s.prompt(), s.complete)
			return text, err == nil
		}
		if prompt {
			fmt.Fprint(s.out, s.prompt())
		}
		if !sc.Scan() {
			if prompt {
				fmt.Fprintln(s.out)
			}
			return "", false
		}
		return sc.Text(), true
	}
	for !s.done {
		text, ok := next()
		if !ok {
			break
		}
		line++
		cmds, err := Parse(text)
		if err != nil {
			var pe *ParseError
			if errors.As(err, &pe) {
				fmt.Fprintf(s.errOut, "line %d, column %d: %s\n", line, pe.Col, pe.Msg)
			} else {
				fmt.Fprintln(s.errOut, err)
			}
			status = 1
			continue
		}
		for _, c := range cmds {
			if err := s.run(c); err != nil {
				fmt.Fprintln(s.errOut, err)
				status = 1
				break
			}
			status = 0
			if s.done {
				break
			}
		}
	}
	if !s.done {
		if err := s.finish(); err != nil {
			fmt.Fprintln(s.errOut, err)
			return 1
		}
	}
	return status
}

// helpText is the help subcommand's output, general or for one topic.
func helpText(topic []string) string {
	if len(topic) > 0 {
		if h, ok := helpTopics[topic[0]]; ok {
			return h + "\n"
		}
		if props, ok := resProps[topic[0]]; ok {
			return fmt.Sprintf("%s properties: %s\n", topic[0], strings.Join(props, ", "))
		}
	}
	var b strings.Builder
	b.WriteString("zonecfg subcommands (separate several with ';'):\n")
	for _, k := range []string{"create", "add", "set", "remove", "select", "end", "cancel", "clear", "info", "verify", "commit", "revert", "export", "delete", "exit", "help"} {
		fmt.Fprintf(&b, "  %s\n", helpTopics[k])
	}
	fmt.Fprintf(&b, "resource types: %s\n", strings.Join(kindsInOrder(), ", "))
	fmt.Fprintf(&b, "global properties: zonename, %s\n", globalPropNames())
	b.WriteString("rctl aliases: cpu-shares, max-lwps, max-processes, max-locked-memory, max-shm-memory, max-shm-ids, max-msg-ids, max-sem-ids\n")
	b.WriteString("values: word, \"quoted string\", [list,of,values], (name=value,...); '#' starts a comment\n")
	return b.String()
}

var helpTopics = map[string]string{
	"create": "create [-F] [-b | -t template]   start a configuration (default template: brand sparse, ip-type shared; -b blank; -t copies a zone)",
	"add":    "add resource-type | add property value   begin a resource, or append to a list property inside one",
	"set":    "set property=value   set a global or resource property",
	"remove": "remove [-F] resource-type [property=value ...] | remove property value   remove resources, or a list element inside one",
	"select": "select resource-type property=value ...   edit the one resource that matches",
	"end":    "end   finish the resource being edited (checks it)",
	"cancel": "cancel   abandon the resource being edited",
	"clear":  "clear property   unset a property",
	"info":   "info [resource-type [property=value ...] | property]   show the configuration",
	"verify": "verify   check the configuration and report every problem",
	"commit": "commit   verify and save the configuration",
	"revert": "revert [-F]   go back to the last committed configuration",
	"export": "export [-f file]   print the configuration as a command file",
	"delete": "delete [-F]   delete the zone's configuration now",
	"exit":   "exit [-F]   leave, committing changes (-F drops them)",
	"help":   "help [subcommand | resource-type]   this text",
}

// promptAlways makes tests see the prompts a terminal user would.
var promptAlways = false

// isTerminal reports whether r is a character device such as a tty.
func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
