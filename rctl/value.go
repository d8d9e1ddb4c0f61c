package rctl

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Action is what happens when a request would cross a threshold value.
// illumos' local actions are none, deny and signal=SIG (deny and a signal
// may be combined). zonetop adds one: partial, which grants a request up to
// what is left instead of refusing it whole (the "optionally" of the check
// in the seed, paragraph 0045). It is written "partial" in every syntax,
// implies deny of the rest, and is allowed only on controls flagged
// FlagPartial (byte quantities zonetop checks itself, like shm memory).
type Action struct {
	Deny    bool
	Partial bool
	Signal  unix.Signal // 0: no signal
}

// Enforcing reports whether the action keeps usage at or below the value.
func (a Action) Enforcing() bool { return a.Deny || a.Partial }

// String is the prctl / project(5) spelling: none, deny, partial,
// signal=TERM or a comma-joined combination.
func (a Action) String() string {
	var parts []string
	switch {
	case a.Partial:
		parts = append(parts, "partial")
	case a.Deny:
		parts = append(parts, "deny")
	}
	if a.Signal != 0 {
		parts = append(parts, "signal="+SignalName(a.Signal))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ",")
}

// rctlSignals are the signals resource_controls(7) lets a value send,
// minus SIGXRES which Linux does not have.
var rctlSignals = map[string]unix.Signal{
	"ABRT": unix.SIGABRT, "HUP": unix.SIGHUP, "TERM": unix.SIGTERM, "KILL": unix.SIGKILL,
	"STOP": unix.SIGSTOP, "XFSZ": unix.SIGXFSZ, "XCPU": unix.SIGXCPU,
}

// SignalName is the name prctl prints for a signal (without "SIG").
func SignalName(s unix.Signal) string {
	for n, v := range rctlSignals {
		if v == s {
			return n
		}
	}
	return strconv.Itoa(int(s))
}

// ParseSignal accepts TERM, SIGTERM or a number, limited to the signals an
// rctl may send.
func ParseSignal(s string) (unix.Signal, error) {
	name := strings.ToUpper(strings.TrimSpace(s))
	name = strings.TrimPrefix(name, "SIG")
	if sig, ok := rctlSignals[name]; ok {
		return sig, nil
	}
	if name == "XRES" {
		return 0, fmt.Errorf("signal %s: Linux has no SIGXRES; use TERM or KILL", s)
	}
	if n, err := strconv.Atoi(name); err == nil {
		for _, v := range rctlSignals {
			if int(v) == n {
				return v, nil
			}
		}
	}
	return 0, fmt.Errorf("signal %q is not one an rctl may send (ABRT, HUP, TERM, KILL, STOP, XFSZ, XCPU)", s)
}

// parseAction adds one action word to a.
func parseAction(a *Action, word string) error {
	w := strings.TrimSpace(word)
	switch {
	case strings.EqualFold(w, "none"):
		return nil
	case strings.EqualFold(w, "deny"):
		a.Deny = true
	case strings.EqualFold(w, "partial"):
		a.Partial, a.Deny = true, false
	case len(w) > 7 && strings.EqualFold(w[:7], "signal="):
		sig, err := ParseSignal(w[7:])
		if err != nil {
			return err
		}
		a.Signal = sig
	default:
		return fmt.Errorf("unknown action %q (want none, deny, partial or signal=SIG)", w)
	}
	if a.Partial {
		a.Deny = false
	}
	return nil
}

// Value is one threshold of an rctl: (privilege, limit, action).
type Value struct {
	Privilege Privilege
	Limit     uint64
	Action    Action
}

// String is the project(5) form, "(privileged,100,deny)".
func (v Value) String() string {
	return fmt.Sprintf("(%s,%d,%s)", v.Privilege, v.Limit, v.Action)
}

// FormatValues joins values in the project(5) form.
func FormatValues(vs []Value) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = v.String()
	}
	return strings.Join(parts, ",")
}

// ParseValue parses exactly one value, in the project(5) form
// "(privileged,100,deny)" or the zonecfg form
// "(priv=privileged,limit=100,action=deny)". The limit is a plain integer:
// unit modifiers are for the command line only (ParseValuesScaled).
func ParseValue(s string) (Value, error) {
	vs, err := ParseValues(s)
	if err != nil {
		return Value{}, err
	}
	if len(vs) != 1 {
		return Value{}, fmt.Errorf("rctl value %q: want one value, got %d", s, len(vs))
	}
	return vs[0], nil
}

// ParseValues parses one or more comma-separated values,
// "(basic,10,deny),(privileged,100,deny)", in either form.
func ParseValues(s string) ([]Value, error) { return parseValues(s, nil) }

// ParseValuesScaled is ParseValues for the command line (prctl -v,
// projadd -K): limits may carry unit modifiers of the control's unit.
func ParseValuesScaled(s string, u Unit) ([]Value, error) { return parseValues(s, &u) }

func parseValues(s string, unit *Unit) ([]Value, error) {
	rest := strings.TrimSpace(s)
	if rest == "" {
		return nil, fmt.Errorf("rctl value: empty")
	}
	var out []Value
	for rest != "" {
		if rest[0] != '(' {
			return nil, fmt.Errorf("rctl value %q: expected '(' at %q", s, rest)
		}
		end := strings.IndexByte(rest, ')')
		if end < 0 {
			return nil, fmt.Errorf("rctl value %q: missing ')'", s)
		}
		v, err := parseOne(rest[1:end], unit)
		if err != nil {
			return nil, fmt.Errorf("rctl value %q: %w", s, err)
		}
		out = append(out, v)
		rest = strings.TrimSpace(rest[end+1:])
		if rest == "" {
			break
		}
		if rest[0] != ',' {
			return nil, fmt.Errorf("rctl value %q: expected ',' between values at %q", s, rest)
		}
		rest = strings.TrimSpace(rest[1:])
		if rest == "" {
			return nil, fmt.Errorf("rctl value %q: trailing ','", s)
		}
	}
	return out, nil
}

func parseOne(body string, unit *Unit) (Value, error) {
	fields := strings.Split(body, ",")
	for i := range fields {
		fields[i] = strings.TrimSpace(fields[i])
	}
	if strings.Contains(fields[0], "=") {
		return parseKeyed(fields, unit)
	}
	if len(fields) < 3 {
		return Value{}, fmt.Errorf("(%s): want (privilege,limit,action)", body)
	}
	var v Value
	var err error
	if v.Privilege, err = ParsePrivilege(fields[0]); err != nil {
		return Value{}, err
	}
	if v.Limit, err = parseLimit(fields[1], unit); err != nil {
		return Value{}, err
	}
	for _, f := range fields[2:] {
		if err := parseAction(&v.Action, f); err != nil {
			return Value{}, err
		}
	}
	return v, nil
}

// parseKeyed reads zonecfg's (priv=...,limit=...,action=...).
func parseKeyed(fields []string, unit *Unit) (Value, error) {
	var v Value
	var havePriv, haveLimit, haveAction bool
	for _, f := range fields {
		k, val, ok := strings.Cut(f, "=")
		if !ok {
			return Value{}, fmt.Errorf("%q: want key=value (priv, limit, action)", f)
		}
		var err error
		switch strings.TrimSpace(k) {
		case "priv":
			v.Privilege, err = ParsePrivilege(val)
			havePriv = true
		case "limit":
			v.Limit, err = parseLimit(val, unit)
			haveLimit = true
		case "action":
			err = parseAction(&v.Action, val)
			haveAction = true
		default:
			err = fmt.Errorf("unknown key %q (want priv, limit, action)", k)
		}
		if err != nil {
			return Value{}, err
		}
	}
	if !havePriv || !haveLimit || !haveAction {
		return Value{}, fmt.Errorf("want priv=, limit= and action=")
	}
	return v, nil
}

func parseLimit(s string, unit *Unit) (uint64, error) {
	if unit != nil {
		return ParseQuantity(s, *unit)
	}
	n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("limit %q: want a whole number (unit modifiers are for the command line only)", s)
	}
	return n, nil
}

type scale struct {
	suffix string
	mult   uint64
}

var (
	byteScales = []scale{{"EB", 1 << 60}, {"PB", 1 << 50}, {"TB", 1 << 40}, {"GB", 1 << 30}, {"MB", 1 << 20}, {"KB", 1 << 10}, {"B", 1}}
	// Bare K/M/G on bytes mean the same as KB/MB/GB, as zonecfg's
	// capped-memory and prctl accept them.
	byteShort  = []scale{{"E", 1 << 60}, {"P", 1 << 50}, {"T", 1 << 40}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}}
	countScale = []scale{{"E", 1e18}, {"P", 1e15}, {"T", 1e12}, {"G", 1e9}, {"M", 1e6}, {"K", 1e3}}
	timeScales = []scale{{"Es", 1e18}, {"Ps", 1e15}, {"Ts", 1e12}, {"Gs", 1e9}, {"Ms", 1e6}, {"Ks", 1e3}, {"s", 1}}
)

func scalesFor(u Unit) []scale {
	switch u {
	case UnitBytes:
		return append(append([]scale{}, byteScales...), byteShort...)
	case UnitSeconds:
		return append(append([]scale{}, timeScales...), countScale...)
	default:
		return countScale
	}
}

// ParseQuantity reads a command-line amount with an optional unit modifier
// of u: bytes B, K/KB, M/MB, G/GB, T/TB, P/PB, E/EB (powers of 1024);
// counts K, M, G, T, P, E (powers of 1000); seconds s, Ks, Ms, ... (powers
// of 1000). Modifiers are case-insensitive; a fraction is allowed when the
// result is whole ("1.5K" = 1500, "0.5GB" = 536870912).
func ParseQuantity(s string, u Unit) (uint64, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, fmt.Errorf("quantity: empty")
	}
	num, mult := t, uint64(1)
	for _, sc := range scalesFor(u) {
		if len(t) > len(sc.suffix) && strings.EqualFold(t[len(t)-len(sc.suffix):], sc.suffix) {
			num, mult = t[:len(t)-len(sc.suffix)], sc.mult
			break
		}
	}
	num = strings.TrimSpace(num)
	if num == "" || strings.ContainsAny(num, "+-eE/ ") {
		return 0, fmt.Errorf("quantity %q: not a number with a %s modifier", s, u)
	}
	r, ok := new(big.Rat).SetString(num)
	if !ok {
		return 0, fmt.Errorf("quantity %q: not a number with a %s modifier", s, u)
	}
	r.Mul(r, new(big.Rat).SetUint64(mult))
	if !r.IsInt() {
		return 0, fmt.Errorf("quantity %q: not a whole number of %s", s, u)
	}
	n := r.Num()
	if !n.IsUint64() {
		return 0, fmt.Errorf("quantity %q: too large", s)
	}
	return n.Uint64(), nil
}

// FormatQuantity prints v as prctl does: three significant digits and the
// largest modifier that keeps the number at or above one ("10.0MB",
// "65.5K", "18.4Es"); small values as they are ("100", "512B", "30s").
func FormatQuantity(v uint64, u Unit) string {
	var scales []scale
	base := ""
	switch u {
	case UnitBytes:
		scales, base = byteScales[:len(byteScales)-1], "B"
	case UnitSeconds:
		scales, base = timeScales[:len(timeScales)-1], "s"
	default:
		scales = countScale
	}
	for _, sc := range scales {
		if v >= sc.mult {
			f := float64(v) / float64(sc.mult)
			return sigfig3(f) + sc.suffix
		}
	}
	return strconv.FormatUint(v, 10) + base
}

func sigfig3(f float64) string {
	switch {
	case f < 9.995:
		return strconv.FormatFloat(f, 'f', 2, 64)
	case f < 99.95:
		return strconv.FormatFloat(f, 'f', 1, 64)
	default:
		return strconv.FormatFloat(math.Round(f), 'f', 0, 64)
	}
}

// CapValues turns the zone caps in force (ZoneUsage.Caps) into values, as
// prctl lists them: privileged, and denying except cpu-shares, which is a
// weight. Every front end shows a zone's caps this way, whichever server
// sampled them.
func CapValues(caps map[string]uint64) map[string][]Value {
	live := map[string][]Value{}
	for name, v := range caps {
		live[name] = []Value{{Privilege: Privileged, Limit: v, Action: Action{Deny: name != ZoneCPUShares}}}
	}
	return live
}
