package platform

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"zonetop/limits"
)

// zholdMain is the stub a held command starts as (argv: NAME zhold PATH
// ARGV...). zsched forked it with the command's credentials, stdio and
// session; fd 3 is a socket to zsched. It waits there until zoneadmd has
// moved it into its project's (or task's) cgroup, sets the rlimits it is
// sent (lowering is always allowed; raising a hard limit needs
// CAP_SYS_RESOURCE, so ApplyRlimits clamps and the note goes back), and
// executes the command in place: the command keeps the pid zoneadmd moved.
func ZholdMain(args []string) int {
	_ = unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0)
	sock := os.NewFile(3, "hold")
	unix.CloseOnExec(3)
	fail := func(format string, a ...any) int {
		fmt.Fprintf(sock, "error: "+format+"\n", a...)
		return 126
	}
	if len(args) < 4 {
		return fail("zhold: usage: NAME zhold PATH ARGV...")
	}
	path, argv := args[2], args[3:]
	line, err := bufio.NewReaderSize(sock, 1<<20).ReadBytes('\n')
	if err != nil {
		// zsched killed us or went away: the command must not run
		// outside its project.
		return 126
	}
	var rel holdRelease
	if err := json.Unmarshal(line, &rel); err != nil {
		return fail("release: %v", err)
	}
	clamped, err := limits.ApplyRlimits(0, rel.Rlimits)
	if err != nil {
		return fail("rlimits: %v", err)
	}
	for _, c := range clamped {
		fmt.Fprintf(sock, "%s\n", c)
	}
	if path == holdSelf {
		os.Clearenv()
		for _, kv := range rel.Env {
			if k, v, ok := strings.Cut(kv, "="); ok {
				os.Setenv(k, v)
			}
		}
		fmt.Fprintln(sock, "ok")
		sock.Close()
		SetComm("zinit")
		return ZinitMain(argv)
	}
	fmt.Fprintln(sock, "ok")
	err = unix.Exec(path, argv, rel.Env)
	return fail("%s: %v", path, err)
}

// holdRelease is what a held stub is sent once it is in its cgroup. The
// command's environment travels here rather than in the stub's own: the
// stub is zonetop, and variables a zone user chose (GODEBUG, GOTRACEBACK,
// test hooks) must reach only the command, never the Go runtime running
// the stub.
type holdRelease struct {
	Rlimits []limits.RlimitSetting `json:"rlimits"`
	Env     []string               `json:"env"`
}
