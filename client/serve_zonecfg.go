package client

import (
	"fmt"
	"io"
	"os"
	"time"
	"zonetop/api"
	"zonetop/internal/configs"
	"zonetop/internal/wire"
	"zonetop/zones"
)

// DelegatedZonecfg runs zonecfg with args through the zonetop service, for
// a caller who is not root. A -f FILE is read here, with the caller's own
// rights, and sent as standard input; so is stdin for an interactive
// session or -f -. prompt shows the session's prompts (stdin is a
// terminal). It returns zonecfg's exit status.
func DelegatedZonecfg(rootPrefix string, args []string, prompt bool, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	inv, err := zones.ParseArgs(args)
	var input io.Reader
	if err == nil && !inv.Help && (inv.Zone != "" || inv.UUID != "") {
		switch {
		case inv.HaveFile && inv.File != "-":
			f, err := os.Open(inv.File)
			if err != nil {
				fmt.Fprintf(stderr, "zonecfg: %v\n", err)
				return 1, nil
			}
			defer f.Close()
			input, args = f, rewriteFileArg(args)
		case inv.HaveFile || len(inv.Rest) == 0:
			input = stdin
		}
	}
	sock := configs.ServeSock(rootPrefix)
	c, err := wire.Dial(sock, 2*time.Second)
	if err != nil {
		return 1, fmt.Errorf("zonetop service (%s): %w", sock, err)
	}
	defer c.Close()
	if err := c.Send(wire.Request{Op: "zonecfg", Args: args, Prompt: prompt && len(inv.Rest) == 0 && !inv.HaveFile}); err != nil {
		return 1, fmt.Errorf("zonetop service: %w", err)
	}
	if input != nil {
		go func() {
			buf := make([]byte, wire.OutChunk)
			for {
				n, err := input.Read(buf)
				if n > 0 {
					if c.Send(wire.Request{Op: "input", Data: buf[:n]}) != nil {
						return
					}
				}
				if err != nil {
					_ = c.Send(wire.Request{Op: "input", EOF: true})
					return
				}
			}
		}()
	}
	for {
		var resp wire.Response
		files, err := c.Recv(&resp)
		wire.CloseAll(files)
		if err != nil {
			return 1, fmt.Errorf("zonetop service: %w", err)
		}
		switch {
		case resp.Exit != nil:
			return *resp.Exit, nil
		case resp.Stream == 1:
			_, _ = stdout.Write(resp.Data)
		case resp.Stream == 2:
			_, _ = stderr.Write(resp.Data)
		case resp.Error != "":
			return 1, api.FromWire(resp.Error, resp.Code)
		}
	}
}

// rewriteFileArg replaces the -f FILE of a zonecfg command line by -f -.
func rewriteFileArg(args []string) []string {
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return append(out, args[i:]...)
		case a == "-f" && i+1 < len(args):
			out = append(out, "-f", "-")
			i++
		case len(a) > 2 && a[:2] == "-f":
			out = append(out, "-f", "-")
		case (a == "-z" || a == "-u") && i+1 < len(args):
			out = append(out, a, args[i+1])
			i++
		default:
			out = append(out, a)
		}
	}
	return out
}
