package api

import (
	"strconv"
)

// Action is one kind of engine call, as Authorize sees it.
type Action string

// The actions Authorize decides. Every engine entry point maps onto one.
const (
	ActList            Action = "list"
	ActInfo            Action = "info" // the zone's non-secret configuration and state
	ActLogin           Action = "login"
	ActConsole         Action = "console"
	ActReady           Action = "ready"
	ActBoot            Action = "boot"
	ActHalt            Action = "halt"
	ActReboot          Action = "reboot"
	ActShutdown        Action = "shutdown"
	ActInstall         Action = "install"
	ActUninstall       Action = "uninstall"
	ActConfigure       Action = "configure"      // zonecfg, except caps and host-reaching resources
	ActConfigureCaps   Action = "configure-caps" // zonecfg of rctls, capped-*, dedicated-cpu
	ActSetZoneCap      Action = "set-zone-cap"   // a live change of a zone.* rctl
	ActSetProjectLimit Action = "set-project-limit"
	ActCreateProject   Action = "create-project"
	ActDeleteProject   Action = "delete-project"
	ActCloneFrom       Action = "clonefrom"
	ActReadUsage       Action = "read-usage"
	ActSignal          Action = "signal" // a signal to one process of the zone
	// ActReadConsoleLog reads what the zone's console said, without
	// attaching to it: its administrator (root in it) reads it, as a
	// host user with the login auth, who may watch the console live.
	ActReadConsoleLog Action = "read-console-log"
	// ActVerify runs zoneadm verify: it reads the zone's configuration
	// against every other zone's and the host, so it is manage's, as
	// ready is (verify is ready's first check).
	ActVerify Action = "verify"
)

func (p Principal) Describe() string {
	if p.User != "" {
		return p.User
	}
	return "uid " + strconv.Itoa(p.UID)
}
