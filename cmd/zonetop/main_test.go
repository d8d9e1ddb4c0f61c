package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"
)

// zt runs the front end in-process under a scratch root.
func zt(t *testing.T, root, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(append([]string{"zonetop", "--root", root}, args...), strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestArgv0Dispatch(t *testing.T) {
	root := t.TempDir()
	var out, errOut bytes.Buffer
	t.Setenv("ZONETOP_ROOT", root)
	if code := run([]string{"/usr/sbin/zoneadm", "list", "-c"}, nil, &out, &errOut); code != 0 {
		t.Fatalf("zoneadm link: exit %d: %s", code, errOut.String())
	}
	if got := out.String(); got != "global\n" {
		t.Errorf("zoneadm list -c on an empty root = %q, want only global", got)
	}
}

func TestUsageErrorsExit2(t *testing.T) {
	root := t.TempDir()
	for _, args := range [][]string{
		{"nosuchcommand"},
		{"--bogus"},
		{"zoneadm"},
		{"zoneadm", "list", "-x"},
		{"zoneadm", "list", "-v", "-p"},
		{"zoneadm", "boot"},
		{"zoneadm", "-z"},
		{"zlogin"},
		{"zlogin", "-l"},
		{"autoboot", "now"},
	} {
		code, _, errOut := zt(t, root, "", args...)
		if code != 2 {
			t.Errorf("%v: exit %d, want 2 (stderr %q)", args, code, errOut)
		}
		if errOut == "" {
			t.Errorf("%v: no message on stderr", args)
		}
	}
	var out, errOut bytes.Buffer
	if code := run([]string{"zonetop", "--root", "relative/dir", "zoneadm", "list"}, nil, &out, &errOut); code != 2 {
		t.Errorf("relative --root: exit %d, want 2", code)
	}
}

// Every command answers --help (and -h alone) with its usage on stdout and
// exit 0, whether named as a subcommand or through a link; an unknown long
// option is named whole.
func TestHelpEveryCommand(t *testing.T) {
	root := t.TempDir()
	t.Setenv("ZONETOP_ROOT", root)
	for name, c := range commands {
		if name == "help" || c.summary == "" {
			continue // hidden: the shells' completion helper
		}
		for _, argv := range [][]string{
			{"zonetop", name, "--help"},
			{"zonetop", name, "-h"},
			{"/usr/sbin/" + name, "--help"},
			{"/usr/sbin/" + name, "-h"},
		} {
			var out, errOut bytes.Buffer
			code := run(argv, strings.NewReader(""), &out, &errOut)
			if code != 0 || !strings.Contains(out.String(), "usage") || !strings.Contains(out.String(), name) {
				t.Errorf("%v: exit %d, stdout %q, stderr %q", argv, code, out.String(), errOut.String())
			}
			if c.usage != "" && out.String() != c.usage {
				t.Errorf("%v: stdout %q, want the command's usage", argv, out.String())
			}
		}
		if name == "zonecfg" || name == "autoboot" || name == "serve" || name == "completion" || name == "man" {
			continue // zonecfg's words; autoboot's --shutdown; serve takes none; completion and man name a shell or command
		}
		var out, errOut bytes.Buffer
		code := run([]string{"zonetop", name, "--bogus"}, strings.NewReader(""), &out, &errOut)
		if code != 2 || !strings.Contains(errOut.String(), "--bogus") {
			t.Errorf("%s --bogus: exit %d, stderr %q; want 2 naming --bogus", name, code, errOut.String())
		}
	}
	code, out, _ := zt(t, root, "", "zoneadm", "help")
	if code != 0 || !strings.Contains(out, "shutdown [-r]") || !strings.Contains(out, "clone") {
		t.Errorf("zoneadm help: exit %d, %q", code, out)
	}
	// prctl's own -h, with -n, still explains a control.
	code, out, _ = zt(t, root, "", "prctl", "-h", "-n", "zone.max-lwps")
	if code != 0 || !strings.Contains(out, "enforced on Linux by") {
		t.Errorf("prctl -h -n: exit %d, %q", code, out)
	}
}

func TestParseShutdown(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want shutdownArgs
		bad  bool
	}{
		{nil, shutdownArgs{timeout: time.Minute}, false},
		{[]string{"-r"}, shutdownArgs{timeout: time.Minute, reboot: true}, false},
		{[]string{"-t", "5s", "-r", "--", "-s", "x"}, shutdownArgs{timeout: 5 * time.Second, reboot: true, bootArgs: []string{"-s", "x"}}, false},
		{[]string{"--", "-s"}, shutdownArgs{}, true},
		{[]string{"-t", "soon"}, shutdownArgs{}, true},
		{[]string{"-t", "-1s"}, shutdownArgs{}, true},
		{[]string{"-t"}, shutdownArgs{}, true},
		{[]string{"now"}, shutdownArgs{}, true},
	} {
		got, err := parseShutdown(tc.args)
		if tc.bad {
			if err == nil {
				t.Errorf("%q: accepted as %+v", tc.args, got)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q = %+v, %v; want %+v", tc.args, got, err, tc.want)
		}
	}
}

func TestZoneadmListLayouts(t *testing.T) {
	root := t.TempDir()
	if code, _, e := zt(t, root, "", "zonecfg", "-z", "web01", "create; set zonepath=/zones/web01; set ip-type=exclusive; commit"); code != 0 {
		t.Fatalf("zonecfg: %s", e)
	}
	if code, _, e := zt(t, root, "", "zonecfg", "-z", "db", "create; set zonepath=/zones/db; set brand=busybox; commit"); code != 0 {
		t.Fatalf("zonecfg: %s", e)
	}
	_, out, _ := zt(t, root, "", "zoneadm", "list")
	if out != "global\n" {
		t.Errorf("list (running only) = %q", out)
	}
	_, out, _ = zt(t, root, "", "zoneadm", "list", "-cp")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || lines[0] != "0:global:running:/::native:shared" {
		t.Fatalf("list -cp =\n%s", out)
	}
	for _, l := range lines[1:] {
		f := strings.Split(l, ":")
		if len(f) != 7 || f[0] != "-" || f[2] != "configured" || len(f[4]) != 36 {
			t.Errorf("parsable line %q: want -:name:configured:path:uuid:brand:ip-type", l)
		}
	}
	// As illumos prints it: "excl", and the default ip-type "shared".
	if !strings.Contains(out, ":/zones/db:") || !strings.HasSuffix(lines[2], ":sparse:excl") || !strings.HasSuffix(lines[1], ":busybox:shared") {
		t.Errorf("list -cp misses brand/ip-type:\n%s", out)
	}
	_, out, _ = zt(t, root, "", "zoneadm", "list", "-cv")
	if !strings.HasPrefix(out, "  ID NAME") || !strings.Contains(out, "STATUS") || !strings.Contains(out, "busybox") {
		t.Errorf("list -cv =\n%s", out)
	}
	_, out, _ = zt(t, root, "", "zoneadm", "list", "-i")
	if out != "global\n" {
		t.Errorf("list -i shows configured zones: %q", out)
	}
	code, _, errOut := zt(t, root, "", "zoneadm", "-z", "nosuch", "list", "-p")
	if code != 1 || !strings.Contains(errOut, "nosuch") {
		t.Errorf("list of a missing zone: exit %d %q", code, errOut)
	}
}

func TestCorruptZoneStillLists(t *testing.T) {
	root := t.TempDir()
	for _, z := range []string{"a1", "b1"} {
		if code, _, e := zt(t, root, "", "zonecfg", "-z", z, "create; set zonepath=/zones/"+z+"; commit"); code != 0 {
			t.Fatalf("zonecfg: %s", e)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "etc/zonetop/zones/a1.xml"), []byte("<zone name="), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, _ := zt(t, root, "", "zoneadm", "list", "-cv")
	if code != 0 || !strings.Contains(out, "b1") || !strings.Contains(out, "a1") {
		t.Errorf("one corrupt file hid other zones (exit %d):\n%s", code, out)
	}
	code, _, errOut := zt(t, root, "", "zoneadm", "-z", "a1", "boot")
	if code != 1 || !strings.Contains(errOut, "a1.xml") {
		t.Errorf("boot of a corrupt zone: exit %d, stderr %q should name the file", code, errOut)
	}
}

func TestStateErrors(t *testing.T) {
	root := t.TempDir()
	if code, _, e := zt(t, root, "", "zonecfg", "-z", "web01", "create; set zonepath=/zones/web01; commit"); code != 0 {
		t.Fatalf("zonecfg: %s", e)
	}
	for _, sub := range []string{"boot", "ready", "halt"} {
		code, _, errOut := zt(t, root, "", "zoneadm", "-z", "web01", sub)
		if code != 1 || !strings.Contains(errOut, "web01") {
			t.Errorf("%s of a configured zone: exit %d, %q", sub, code, errOut)
		}
	}
	code, _, errOut := zt(t, root, "", "zlogin", "web01", "true")
	if code != 1 || !strings.Contains(errOut, "web01") {
		t.Errorf("zlogin into a configured zone: exit %d, %q", code, errOut)
	}
	code, _, errOut = zt(t, root, "", "zlogin", "nosuch", "true")
	if code != 1 || errOut == "" {
		t.Errorf("zlogin into a missing zone: exit %d, %q", code, errOut)
	}
}

func TestSplitWords(t *testing.T) {
	for in, want := range map[string][]string{
		`boot web01`: {"boot", "web01"},
		`zonecfg -z a 'set bootargs="-m verbose"'`: {"zonecfg", "-z", "a", `set bootargs="-m verbose"`},
		`  a   "b c"  `: {"a", "b c"},
		``:              nil,
	} {
		got, err := splitWords(in)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("splitWords(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := splitWords(`a "b`); err == nil {
		t.Error("unterminated quote accepted")
	}
}

func TestConsoleCommand(t *testing.T) {
	g := &globals{root: t.TempDir()}
	if _, err := consoleCommand(g, "zonecfg -z web01 create; set zonepath=/zones/web01; commit"); err != nil {
		t.Fatalf("zonecfg through the command line: %v", err)
	}
	out, err := consoleCommand(g, "zoneadm list -c")
	if err != nil || !strings.Contains(out, "web01") {
		t.Errorf("zoneadm list through the command line: %q %v", out, err)
	}
	if _, err := consoleCommand(g, "boot web01"); err == nil || !strings.Contains(err.Error(), "web01") {
		t.Errorf("boot of a configured zone gave %v", err)
	}
	// clone NEW SOURCE is zoneadm -z NEW clone SOURCE.
	if _, err := consoleCommand(g, "clone web01 nosuch"); err == nil || !strings.Contains(err.Error(), "nosuch") {
		t.Errorf("clone from a zone that does not exist gave %v", err)
	}
	if _, err := consoleCommand(g, "frobnicate"); err == nil {
		t.Error("unknown command accepted")
	}
}

// What an illumos administrator's hands type: options attached (-zNAME),
// list -n, a misspelt option that must not become a boot argument, and a
// machine-readable listing.
func TestZoneadmOptionsAsIllumos(t *testing.T) {
	root := t.TempDir()
	if code, _, e := zt(t, root, "", "zonecfg", "-z", "web01", "create; set zonepath=/zones/web01; commit"); code != 0 {
		t.Fatalf("zonecfg: %s", e)
	}
	if code, out, e := zt(t, root, "", "zoneadm", "-zweb01", "list", "-p"); code != 0 || !strings.Contains(out, ":web01:configured:") {
		t.Errorf("-zweb01 list -p: exit %d %q %q", code, out, e)
	}
	if code, out, e := zt(t, root, "", "zoneadm", "list", "-cn"); code != 0 || out != "web01\n" {
		t.Errorf("list -cn (no global zone): exit %d %q %q", code, out, e)
	}
	code, out, e := zt(t, root, "", "zoneadm", "list", "-c", "-o", "json")
	var listed []map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &listed) != nil || len(listed) != 2 || listed[1]["name"] != "web01" || listed[1]["state"] != "configured" || listed[1]["zonepath"] != "/zones/web01" {
		t.Errorf("list -c -o json: exit %d %q %q", code, out, e)
	}
	if code, out, _ := zt(t, root, "", "zoneadm", "list", "-ni", "-ojson"); code != 0 || strings.TrimSpace(out) != "[]" {
		t.Errorf("list -ni -ojson with nothing installed = %q, want []", out)
	}
	for _, args := range [][]string{
		{"zoneadm", "list", "-o", "xml"},
		{"zoneadm", "list", "-v", "-o", "json"},
		{"zoneadm", "list", "-o"},
		{"zoneadm", "-z", "web01", "boot", "--bogus"},
		{"zoneadm", "-z", "web01", "boot", "-s"},
		{"zoneadm", "-z", "web01", "reboot", "now"},
	} {
		code, _, errOut := zt(t, root, "", args...)
		if code != 2 || errOut == "" {
			t.Errorf("%v: exit %d (stderr %q), want a usage error", args, code, errOut)
		}
	}
	if _, _, errOut := zt(t, root, "", "zoneadm", "-z", "web01", "boot", "--bogus"); !strings.Contains(errOut, "boot arguments go after --") {
		t.Errorf("boot --bogus does not say where boot arguments go: %q", errOut)
	}
	// The zone was left alone by every refusal.
	if _, out, _ := zt(t, root, "", "zoneadm", "-z", "web01", "list", "-p"); !strings.Contains(out, ":configured:") {
		t.Errorf("after the refusals: %q", out)
	}
}

// --version answers on every command, through zonetop and through a link.
func TestVersionEverywhere(t *testing.T) {
	root := t.TempDir()
	t.Setenv("ZONETOP_ROOT", root)
	for _, args := range [][]string{
		{"zonetop", "--version"},
		{"zonetop", "version"},
		{"zonetop", "zoneadm", "--version"},
		{"zonetop", "zonecfg", "--version"},
		{"/usr/sbin/zoneadm", "--version"},
		{"/usr/bin/prctl", "--version"},
		{"/usr/sbin/zlogin", "--version"},
	} {
		var out, errOut bytes.Buffer
		if code := run(args, nil, &out, &errOut); code != 0 || !strings.HasPrefix(out.String(), "zonetop ") || !strings.Contains(out.String(), "go1.") {
			t.Errorf("%v: exit %d %q %q", args, code, out.String(), errOut.String())
		}
	}
}

// verify refuses what ready would refuse, so an operator learns it before
// a boot fails: the kernel's maxima, unknown privileges; a NIC the host
// lacks is a warning, as illumos warns of a missing zonepath.
func TestVerifyRefusesWhatReadyWould(t *testing.T) {
	root := t.TempDir()
	if err := os.Mkdir(filepath.Join(root, "zones"), 0o700); err != nil {
		t.Fatal(err)
	}
	if code, _, e := zt(t, root, "", "zonecfg", "-z", "ids", "create; set zonepath=/zones/ids; set max-msg-ids=100000; commit"); code != 1 || !strings.Contains(e, "out of range for zone.max-msg-ids (0..32768)") {
		t.Errorf("max-msg-ids above the kernel's maximum: exit %d %q", code, e)
	}
	if code, _, e := zt(t, root, "", "zonecfg", "-z", "priv", "create; set zonepath=/zones/priv; set limitpriv=default,bogus_priv; commit"); code != 0 {
		t.Fatalf("zonecfg: %s", e)
	}
	if code, _, e := zt(t, root, "", "zoneadm", "-z", "priv", "verify"); code != 1 || !strings.Contains(e, `unknown privilege "bogus_priv"`) {
		t.Errorf("verify of an unknown privilege: exit %d %q", code, e)
	}
	if code, _, e := zt(t, root, "", "zonecfg", "-z", "nic", "create; set zonepath=/zones/nic; add net; set physical=ztnosuch0; set address=198.18.5.5/24; end; commit"); code != 0 {
		t.Fatalf("zonecfg: %s", e)
	}
	if code, _, e := zt(t, root, "", "zoneadm", "-z", "nic", "verify"); code != 0 || !strings.Contains(e, "warning: net physical=ztnosuch0: this host has no interface ztnosuch0") {
		t.Errorf("verify of a missing NIC: exit %d %q, want a warning and exit 0", code, e)
	}
}

// shutdown inside a zone takes illumos' options and Linux's.
func TestParseZoneShutdown(t *testing.T) {
	for _, tc := range []struct {
		args  []string
		sig   syscall.Signal
		grace time.Duration
		bad   bool
	}{
		{args: nil, sig: syscall.SIGUSR2},
		{args: []string{"-y", "-g0", "-i6"}, sig: syscall.SIGTERM},
		{args: []string{"-y", "-g", "30", "-i", "0"}, sig: syscall.SIGUSR2, grace: 30 * time.Second},
		{args: []string{"-i5"}, sig: syscall.SIGUSR2},
		{args: []string{"-r", "now"}, sig: syscall.SIGTERM},
		{args: []string{"-h", "+2"}, sig: syscall.SIGUSR2, grace: 2 * time.Minute},
		{args: []string{"-P", "now"}, sig: syscall.SIGUSR2},
		{args: []string{"-i", "S"}, bad: true},
		{args: []string{"-g"}, bad: true},
		{args: []string{"-g", "soon"}, bad: true},
		{args: []string{"--bogus"}, bad: true},
		{args: []string{"going down"}, bad: true},
	} {
		var errOut strings.Builder
		sig, grace, code := parseZoneShutdown(tc.args, &errOut)
		if tc.bad {
			if code != 2 || errOut.Len() == 0 {
				t.Errorf("%q: exit %d, %q; want a usage error", tc.args, code, errOut.String())
			}
			continue
		}
		if code != 0 || sig != tc.sig || grace != tc.grace {
			t.Errorf("%q: %v %v %d (%s); want %v %v", tc.args, sig, grace, code, errOut.String(), tc.sig, tc.grace)
		}
	}
}
