package main

import (
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"zonetop/rctl"
	"zonetop/zones"
)

// Shell completion and manual pages come from the same command table that
// answers --help, so the three never disagree. A shell's completion script
// asks the binary itself (`zonetop __complete WORDS...`) for the words that
// may come next: command names, subcommands, options, zone names from the
// store, rctl names from the catalogue.

const completionUsage = `usage: zonetop completion bash|zsh|fish
prints a completion script for the shell; install it where the shell
looks (make install does), or: source <(zonetop completion bash)
`

const manUsage = `usage: zonetop man [COMMAND]
prints the manual page of zonetop or of one of its commands (roff, for
man -l -, or installed by make install)
`

// Registered after main.go's table is made (files initialise in name
// order).
func init() {
	commands["completion"] = command{runCompletion, "a shell completion script (bash, zsh, fish)", completionUsage}
	commands["man"] = command{runMan, "a manual page, made from the command's usage", manUsage}
	commands["__complete"] = command{runComplete, "", ""}
}

// completedNames are the commands a completion script is registered for:
// zonetop and the links make install puts beside it. Never the in-zone
// reboot, halt, init, shutdown: on the host those names are the host's.
func completedNames() []string {
	return []string{"zonetop", "newtask", "prctl", "projadd", "projdel", "projects", "projmod", "zlogin", "zoneadm", "zonecfg", "zonestat"}
}

func runCompletion(_ *globals, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	if len(args) != 1 {
		fmt.Fprint(stderr, "completion: name one shell\n", completionUsage)
		return 2
	}
	names := strings.Join(completedNames(), " ")
	switch args[0] {
	case "bash":
		fmt.Fprintf(stdout, `# zonetop completion for bash
_zonetop_complete() {
	local IFS=$'\n'
	COMPREPLY=($(zonetop __complete "${COMP_WORDS[@]:0:COMP_CWORD+1}" 2>/dev/null))
}
complete -o default -F _zonetop_complete %s
`, names)
	case "zsh":
		fmt.Fprintf(stdout, `#compdef %s
# zonetop completion for zsh
_zonetop() {
	local -a cands
	cands=("${(@f)$(zonetop __complete "${words[@]:0:CURRENT}" 2>/dev/null)}")
	compadd -a cands
}
compdef _zonetop %s
`, names, names)
	case "fish":
		fmt.Fprintln(stdout, "# zonetop completion for fish")
		for _, n := range completedNames() {
			fmt.Fprintf(stdout, "complete -c %s -f -a '(zonetop __complete (commandline -opc) (commandline -ct))'\n", n)
		}
	default:
		fmt.Fprintf(stderr, "completion: %q: want bash, zsh or fish\n%s", args[0], completionUsage)
		return 2
	}
	return 0
}

// runComplete prints the candidates for the last of words (the word being
// typed, possibly empty), one per line.
func runComplete(g *globals, words []string, _ io.Reader, stdout, _ io.Writer) int {
	for _, c := range completeWords(g, words) {
		fmt.Fprintln(stdout, c)
	}
	return 0
}

func completeWords(g *globals, words []string) []string {
	// words: the command being completed, its arguments, the word typed.
	if len(words) < 2 {
		return nil
	}
	cur := words[len(words)-1]
	prev := ""
	if len(words) > 1 {
		prev = words[len(words)-2]
	}
	cmd := filepath.Base(words[0])
	rest := words[1 : len(words)-1]
	if cmd == "zonetop" {
		// zonetop's own options, then the command.
		for len(rest) > 0 && strings.HasPrefix(rest[0], "--") {
			rest = rest[1:]
		}
		if len(rest) == 0 {
			var cands []string
			for n, c := range commands {
				if c.summary != "" {
					cands = append(cands, n)
				}
			}
			return filter(append(cands, "--root", "--cgroup-parent", "--demo", "--help", "--version"), cur)
		}
		cmd, rest = rest[0], rest[1:]
	}
	zoneNames := func() []string { return filter(storedZones(g), cur) }
	switch prev {
	case "-z", "-R":
		if prev == "-z" {
			return zoneNames()
		}
		return nil
	case "-n":
		if cmd == "prctl" {
			return filter(rctlNames(), cur)
		}
	case "-i":
		if cmd == "prctl" {
			return filter([]string{"zone", "project", "task", "process"}, cur)
		}
	case "-t":
		if cmd == "prctl" {
			return filter([]string{"basic", "privileged"}, cur)
		}
	case "-K":
		var out []string
		for _, n := range rctlNames() {
			if !strings.HasPrefix(n, "zone.") {
				out = append(out, n+"=")
			}
		}
		return filter(out, cur)
	case "zone":
		if cmd == "prctl" {
			return zoneNames()
		}
	}
	switch cmd {
	case "zoneadm":
		for _, w := range rest {
			if !strings.HasPrefix(w, "-") && !contains(rest, "-z", w) {
				return filter(zoneadmOptionsFor(w), cur) // a subcommand is given
			}
		}
		return filter([]string{"-z", "-R", "list", "verify", "install", "clone", "uninstall", "ready", "boot", "halt", "reboot", "shutdown", "help"}, cur)
	case "zlogin":
		for _, w := range rest {
			if !strings.HasPrefix(w, "-") {
				return nil // the zone is named; what follows is the command
			}
		}
		if strings.HasPrefix(cur, "-") {
			return filter([]string{"-C", "-E", "-S", "-d", "-e", "-l", "-n", "-t"}, cur)
		}
		return zoneNames()
	case "zonecfg":
		return filter([]string{"-z", "-f", "-R", "create", "info", "export", "verify", "delete", "help"}, cur)
	case "prctl":
		return filter([]string{"-P", "-n", "-t", "-v", "-r", "-s", "-x", "-i", "-z", "--persist"}, cur)
	case "projects", "projadd", "projmod", "projdel", "newtask", "zonestat":
		if strings.HasPrefix(cur, "-") {
			return filter([]string{"-z", "-K", "-p", "-c", "-U", "-G", "-l", "-o"}, cur)
		}
	}
	return nil
}

func zoneadmOptionsFor(sub string) []string {
	switch sub {
	case "list":
		return []string{"-c", "-i", "-n", "-v", "-p", "-o"}
	case "install":
		return []string{"-a"}
	case "uninstall":
		return []string{"-F"}
	case "shutdown":
		return []string{"-r", "-t", "--"}
	case "boot", "reboot":
		return []string{"--"}
	case "clone":
		return []string{"-m"}
	}
	return nil
}

func contains(ws []string, flag, w string) bool {
	for i := 1; i < len(ws); i++ {
		if ws[i] == w && ws[i-1] == flag {
			return true
		}
	}
	return false
}

func filter(cands []string, prefix string) []string {
	var out []string
	for _, c := range cands {
		if strings.HasPrefix(c, prefix) {
			out = append(out, c)
		}
	}
	sort.Strings(out)
	return out
}

func rctlNames() []string {
	var out []string
	for _, r := range rctl.Rctls() {
		out = append(out, r.Name)
	}
	return out
}

// storedZones are the configured zones' names, read from the store's
// index only (no lock wait: a completion must not hang a shell).
func storedZones(g *globals) []string {
	done := make(chan []string, 1)
	go func() {
		var out []string
		if ents, err := zones.NewStore(g.root).List(); err == nil {
			for _, e := range ents {
				out = append(out, e.Name)
			}
		}
		done <- append(out, "global")
	}()
	select {
	case out := <-done:
		return out
	case <-time.After(500 * time.Millisecond):
		return nil
	}
}

// runMan prints a manual page in roff, made from the command's summary
// and usage text.
func runMan(_ *globals, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	name := "zonetop"
	if len(args) > 1 {
		fmt.Fprint(stderr, manUsage)
		return 2
	}
	if len(args) == 1 {
		name = args[0]
	}
	summary := "Solaris Zones for Linux: configure, install, boot, watch and cap zones from one console"
	var buf strings.Builder
	usage2 := ""
	if name == "zonetop" {
		usage(&buf)
		usage2 = buf.String()
	} else {
		c, ok := commands[name]
		if !ok || c.summary == "" {
			fmt.Fprintf(stderr, "man: no command %q\n%s", name, manUsage)
			return 2
		}
		summary, usage2 = c.summary, c.usage
		if usage2 == "" {
			// zonecfg answers help itself.
			var out strings.Builder
			runZonecfg(&globals{root: "/"}, []string{"help"}, strings.NewReader(""), &out, io.Discard)
			usage2 = out.String()
		}
	}
	esc := func(s string) string {
		s = strings.ReplaceAll(s, `\`, `\e`)
		var lines []string
		for _, l := range strings.Split(s, "\n") {
			if strings.HasPrefix(l, ".") || strings.HasPrefix(l, "'") {
				l = `\&` + l
			}
			lines = append(lines, l)
		}
		return strings.Join(lines, "\n")
	}
	section := "8"
	if name == "prctl" || name == "projects" || name == "newtask" {
		section = "1"
	}
	fmt.Fprintf(stdout, ".TH %s %s \"%s\" \"zonetop\" \"zonetop\"\n", strings.ToUpper(name), section, time.Now().Format("2006-01"))
	fmt.Fprintf(stdout, ".SH NAME\n%s \\- %s\n", name, esc(summary))
	fmt.Fprintf(stdout, ".SH SYNOPSIS\n.nf\n%s\n.fi\n", esc(strings.TrimRight(usage2, "\n")))
	fmt.Fprintf(stdout, ".SH SEE ALSO\nzonetop(8), zonecfg(8), zoneadm(8), zlogin(8), prctl(1), zonestat(8)\n")
	return 0
}
