package zoneadmd

import (
	"zonetop/internal/platform"
)

// HiddenMain runs the per-zone processes' entry points: zoneadmd (the
// per-zone supervisor), the keeper, zsched (a zone's PID 1) and zhold (the
// stub a joined command, or a held zinit, starts as). zinit, the zone's
// inittab-reading init, is a C program of its own (cmd/zinit). cmd/zoneadmd, the per-zone binary, calls it first (and a test
// binary that stands in for it); for anything else it returns
// handled=false.
func HiddenMain(args []string) (handled bool, exitCode int) {
	if len(args) < 2 {
		return false, 0
	}
	switch args[1] {
	case "zoneadmd", "zsched", "zhold", keeperArg0:
		hidden.Store(true)
		platform.DropRuntimeEnv()
	}
	switch args[1] {
	case "zoneadmd", "zsched":
		platform.SetComm(args[1])
	}
	switch args[1] {
	case "zoneadmd":
		return true, zoneadmdMain(args)
	case "zsched":
		return true, platform.ZschedMain(args)
	case "zhold":
		return true, platform.ZholdMain(args)
	case keeperArg0:
		return true, keeperMain(args)
	}
	return false, 0
}
