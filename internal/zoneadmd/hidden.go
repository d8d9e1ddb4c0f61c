package zoneadmd

import (
	"zonetop/internal/platform"
)

// HiddenMain runs the entry points zonetop re-executes itself as:
// zoneadmd (the per-zone supervisor), zsched (a zone's PID 1) and zinit
// (a zone's inittab-reading init). cmd/zonetop calls it first; for every
// other command it returns handled=false.
func HiddenMain(args []string) (handled bool, exitCode int) {
	if len(args) < 2 {
		return false, 0
	}
	switch args[1] {
	case "zoneadmd", "zsched", "zinit":
		platform.SetComm(args[1])
	}
	switch args[1] {
	case "zoneadmd":
		return true, zoneadmdMain(args)
	case "zsched":
		return true, platform.ZschedMain(args)
	case "zinit":
		return true, platform.ZinitMain(args)
	case "zhold":
		return true, platform.ZholdMain(args)
	case keeperArg0:
		return true, keeperMain(args)
	}
	return false, 0
}
