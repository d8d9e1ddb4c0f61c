package ui

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"zonetop/rctl"
)

// The values CapEditor and ProjectEditor take are what an operator types
// in the console: one limit in the control's unit, with prctl's modifiers
// ("150", "1.5K", "64M"), or for the CPU caps a number of CPUs ("0.5", as
// capped-cpu's ncpus and the Caps tab show them; "50%" is the same cap in
// prctl's percent of one CPU). Both the console, to validate as it is
// typed, and every backend, to build the engine's value, read them here,
// so a value means the same whichever backend carries it.

// ParseLimit reads value for the control name and returns the limit in
// the control's own unit (percent of one CPU for the CPU caps). It refuses
// what the control would refuse.
func ParseLimit(name, value string) (uint64, error) {
	r, err := rctl.Lookup(name)
	if err != nil {
		return 0, err
	}
	s := strings.TrimSpace(value)
	if s == "" {
		return 0, fmt.Errorf("%s: empty value", name)
	}
	var n uint64
	if r.Unit == rctl.UnitPercent {
		n, err = parseCPUs(s)
	} else {
		n, err = rctl.ParseQuantity(s, r.Unit)
	}
	if err != nil {
		return 0, fmt.Errorf("%s: %w", name, err)
	}
	if err := r.Validate(privilegedValue(r, n)); err != nil {
		return 0, err
	}
	return n, nil
}

// RctlValues is value as the engine stores it: one privileged threshold,
// "(privileged,N,deny)" ("none" where the control never denies, as for
// cpu-shares). An empty value is "": the limit is removed.
func RctlValues(name, value string) (string, error) {
	if strings.TrimSpace(value) == "" {
		if _, err := rctl.Lookup(name); err != nil {
			return "", err
		}
		return "", nil
	}
	n, err := ParseLimit(name, value)
	if err != nil {
		return "", err
	}
	r, _ := rctl.Lookup(name)
	return privilegedValue(r, n).String(), nil
}

func privilegedValue(r *rctl.Rctl, n uint64) rctl.Value {
	return rctl.Value{Privilege: rctl.Privileged, Limit: n,
		Action: rctl.Action{Deny: r.Flags&rctl.FlagNoDeny == 0}}
}

// parseCPUs reads a CPU cap: a number of CPUs, or percent of one CPU with
// a '%' suffix. The cap is kept in whole percent, as the kernel's quota is.
func parseCPUs(s string) (uint64, error) {
	pct, isPct := strings.CutSuffix(s, "%")
	num := strings.TrimSpace(pct)
	if num == "" || strings.ContainsAny(num, "+-eE/ ") {
		return 0, fmt.Errorf("%q: want a number of CPUs (0.5) or a percent of one CPU (50%%)", s)
	}
	r, ok := new(big.Rat).SetString(num)
	if !ok {
		return 0, fmt.Errorf("%q: want a number of CPUs (0.5) or a percent of one CPU (50%%)", s)
	}
	if !isPct {
		r.Mul(r, big.NewRat(100, 1))
	}
	if !r.IsInt() {
		return 0, fmt.Errorf("%q: the cap is kept in hundredths of a CPU; use at most two decimals", s)
	}
	if !r.Num().IsUint64() {
		return 0, fmt.Errorf("%q: too large", s)
	}
	n := r.Num().Uint64()
	if n == 0 {
		return 0, fmt.Errorf("%q: a CPU cap of zero would stop every process; remove the cap instead", s)
	}
	return n, nil
}

// typedLimit is a limit as the operator would type it back: the inverse of
// ParseLimit for the console's units, so an edit starts from the current
// value.
func typedLimit(unit string, n uint64) string {
	switch unit {
	case "cpu":
		return strconv.FormatFloat(float64(n)/100, 'f', -1, 64)
	case "bytes":
		for _, s := range []struct {
			suffix string
			mult   uint64
		}{{"T", 1 << 40}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}} {
			if n >= s.mult && n%s.mult == 0 {
				return strconv.FormatUint(n/s.mult, 10) + s.suffix
			}
		}
	}
	if n == math.MaxUint64 {
		return ""
	}
	return strconv.FormatUint(n, 10)
}

// unitHint says what a control's values are counted in, for the edit line.
func unitHint(name string) string {
	r, err := rctl.Lookup(name)
	if err != nil {
		return ""
	}
	switch r.Unit {
	case rctl.UnitBytes:
		return "bytes: 512M, 2G"
	case rctl.UnitPercent:
		return "CPUs: 0.5, 2 (or 50%)"
	case rctl.UnitShares:
		return "shares: 1–65535"
	}
	return "count: 100, 1.5K"
}
