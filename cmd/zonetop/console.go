package main

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"zonetop/client"

	"zonetop/engine"
	"zonetop/ui"
)

// runConsole opens the terminal console over this host's engine.
func runConsole(g *globals, stdout io.Writer, stderr io.Writer) int {
	if g.demo {
		return runDemo(g, stdout, stderr)
	}
	if client.InZone() {
		// Inside a zone the console is the zone administrator's view,
		// over the zone socket.
		b, p, err := newZoneBackend()
		if err != nil {
			fmt.Fprintf(stderr, "zonetop: %v\n", err)
			return 1
		}
		opts := ui.Options{Principal: p, Command: func(line string) (string, error) { return consoleCommand(g, line) },
			Complete: func(words []string) []string { return consoleComplete(g, words) }}
		if err := ui.Run(b, opts); err != nil {
			fmt.Fprintf(stderr, "zonetop: %v\n", err)
			return 1
		}
		return 0
	}
	e, err := engine.New(g.root, g.cgroupParent)
	if err != nil {
		fmt.Fprintf(stderr, "zonetop: %v\n", err)
		return 1
	}
	opts := ui.Options{
		Principal: engine.CurrentPrincipal(),
		Command:   func(line string) (string, error) { return consoleCommand(g, line) },
		Complete:  func(words []string) []string { return consoleComplete(g, words) },
	}
	var b ui.Backend = newHostConsole(e)
	if delegatedUser() {
		b = newDelegBackend(e)
	}
	if err := ui.Run(b, opts); err != nil {
		fmt.Fprintf(stderr, "zonetop: %v\n", err)
		return 1
	}
	return 0
}

// consoleCommand runs a `:` command line with the CLI's own syntax, so an
// operator types in the console what they would type at a shell:
// `:zoneadm -z web01 boot`, `:boot web01` (short for it), `:zonecfg -z web01
// set autoboot=true`.
func consoleCommand(g *globals, line string) (string, error) {
	words, err := splitWords(line)
	if err != nil {
		return "", err
	}
	if len(words) == 0 {
		return "", nil
	}
	switch words[0] {
	case "ready", "boot", "halt", "reboot", "shutdown", "install", "clone", "uninstall", "verify":
		if len(words) < 2 {
			return "", fmt.Errorf("%s needs a zone name", words[0])
		}
		words = append([]string{"zoneadm", "-z", words[1], words[0]}, words[2:]...)
		if words[3] == "uninstall" {
			words = append(words, "-F")
		}
	case "zonecfg":
		// "zonecfg -z NAME sub args..." is one subcommand line to zonecfg.
		if len(words) > 3 && words[1] == "-z" && words[3] != "-f" {
			words = []string{"zonecfg", "-z", words[2], strings.Join(words[3:], " ")}
		}
	}
	c, ok := commands[words[0]]
	if !ok || words[0] == "zlogin" {
		return "", fmt.Errorf("unknown command %q (try zoneadm, zonecfg, boot NAME, halt NAME, ...)", words[0])
	}
	var out, errOut bytes.Buffer
	gg := *g
	code := c.run(&gg, words[1:], strings.NewReader(""), &out, &errOut)
	text := strings.TrimSpace(out.String() + errOut.String())
	if code != 0 {
		if text == "" {
			text = fmt.Sprintf("exit status %d", code)
		}
		return "", fmt.Errorf("%s", text)
	}
	return text, nil
}

// consoleComplete is the shell's completion for a `:` line, which takes
// the same commands as zonetop's own (zoneadm, zonecfg, prctl...).
func consoleComplete(g *globals, words []string) []string {
	return completeWords(g, append([]string{"zonetop"}, words...))
}

// splitWords splits a command line into words, honouring single and double
// quotes so zonecfg values with spaces survive.
func splitWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote rune
	for _, r := range s {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated %c quote", quote)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}
