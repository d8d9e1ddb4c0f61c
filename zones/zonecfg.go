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

// RunZonecfg is the zonecfg front end. args are what follows the word
// "zonecfg". With subcommands or -f it runs them as a script: the whole
// script is checked for syntax first, then run; the first error stops it,
// is reported as FILE:LINE:COL and nothing reaches the store. Without
// either it is interactive, prompting on stdout. Exit status: 0 success,
// 1 error, 2 usage.
func RunZonecfg(s *Store, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var zone, uuid, file string
	haveFile := false
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
					fmt.Fprintf(stderr, "zonecfg: option %s needs an argument\n%s", opt, usageText)
					return 2
				}
				i++
				val = args[i]
			}
			switch opt {
			case "-z":
				zone = val
			case "-u":
				uuid = val
			case "-f":
				file, haveFile = val, true
			}
		case "-h", "--help", "-?":
			fmt.Fprint(stdout, usageText)
			return 0
		default:
			fmt.Fprintf(stderr, "zonecfg: unknown option %s\n%s", a, usageText)
			return 2
		}
	}
	rest := args[i:]
	if zone == "" && uuid == "" {
		if len(rest) > 0 && rest[0] == "help" {
			fmt.Fprint(stdout, helpText(rest[1:]))
			return 0
		}
		fmt.Fprintf(stderr, "zonecfg: a zone is required (-z zonename)\n%s", usageText)
		return 2
	}
	if zone != "" && uuid != "" {
		fmt.Fprintf(stderr, "zonecfg: give -z or -u, not both\n%s", usageText)
		return 2
	}
	if haveFile && len(rest) > 0 {
		fmt.Fprintf(stderr, "zonecfg: give -f or subcommands, not both\n%s", usageText)
		return 2
	}
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

	sess := &session{st: s, zone: zone, out: stdout, errOut: stderr}
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
	c, rev, err := s.st.Load(s.zone)
	if errors.Is(err, ErrNoZone) {
		return nil
	}
	if err != nil {
		return err
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
	prompt := promptAlways || isTerminal(stdin)
	for !s.done {
		if prompt {
			fmt.Fprint(s.out, s.prompt())
		}
		if !sc.Scan() {
			if prompt {
				fmt.Fprintln(s.out)
			}
			break
		}
		line++
		cmds, err := Parse(sc.Text())
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
