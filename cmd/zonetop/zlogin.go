package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"zonetop/engine"
)

const zloginUsage = `usage:	zlogin [-nE] [-l USER] [-e C] [-S] ZONE [COMMAND [ARGS...]]
	zlogin -C [-dE] [-e C] ZONE
`

// runZlogin is zlogin(1). With a command it runs it inside the zone with
// pipes and returns its exit status.
func runZlogin(g *globals, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var req engine.ExecRequest
	var console, noStdin bool
	for len(args) > 0 && len(args[0]) > 1 && args[0][0] == '-' {
		a := args[0]
		args = args[1:]
		if a == "--" {
			break
		}
		for i := 1; i < len(a); i++ {
			switch a[i] {
			case 'C':
				console = true
			case 'n':
				noStdin = true
			case 't':
				req.TTY = true
			case 'E', 'd', 'S', 'r':
				// Escape handling and safe mode matter to interactive
				// sessions; accepted here so scripts written for
				// illumos run unchanged.
			case 'l', 'e':
				if i != len(a)-1 || len(args) == 0 {
					fmt.Fprintf(stderr, "zlogin: -%c needs a value\n%s", a[i], zloginUsage)
					return 2
				}
				if a[i] == 'l' {
					req.User = args[0]
				}
				args = args[1:]
			default:
				fmt.Fprintf(stderr, "zlogin: unknown option -%c\n%s", a[i], zloginUsage)
				return 2
			}
		}
	}
	if len(args) == 0 {
		fmt.Fprint(stderr, "zlogin: a zone name is needed\n", zloginUsage)
		return 2
	}
	zone, cmd := args[0], args[1:]
	if console || len(cmd) == 0 {
		fmt.Fprintf(stderr, "zlogin: %s: interactive logins and the console are not built yet; give a command to run\n", zone)
		return 1
	}
	e, err := engine.New(g.root, g.cgroupParent)
	if err != nil {
		fmt.Fprintf(stderr, "zlogin: %v\n", err)
		return 1
	}
	if noStdin {
		stdin = nil
	}
	req.Argv = cmd
	if t := os.Getenv("TERM"); t != "" {
		req.Env = append(req.Env, "TERM="+t)
	}
	code, err := e.ExecInZone(context.Background(), engine.CurrentPrincipal(), zone, req, stdin, stdout, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "zlogin: %v\n", err)
		return 1
	}
	return code
}
