package zones

import (
	"fmt"
	"zonetop/api"
)

// State is a zone's lifecycle state as kept in the index. The names are
// illumos' own so that zoneadm list output reads the same.
type State string

// The states of DESIGN.md, "States".
const (
	StateConfigured   State = "configured"
	StateIncomplete   State = "incomplete"
	StateInstalled    State = "installed"
	StateReady        State = "ready"
	StateRunning      State = "running"
	StateShuttingDown State = "shutting_down"
	StateDown         State = "down"
)

// States lists every state in lifecycle order.
func States() []State {
	return []State{StateConfigured, StateIncomplete, StateInstalled, StateReady, StateRunning, StateShuttingDown, StateDown}
}

// Valid reports whether s is one of the known state names.
func (s State) Valid() bool {
	for _, k := range States() {
		if s == k {
			return true
		}
	}
	return false
}

// ParseState turns a state name into a State, refusing unknown names.
func ParseState(name string) (State, error) {
	s := State(name)
	if !s.Valid() {
		return "", fmt.Errorf("unknown zone state %q", name)
	}
	return s, nil
}

// opRule says from which states an operation may start and, when it may
// not, what the operator should do first. The advice is keyed by the
// current state because that is what the operator has to change.
type opRule struct {
	from   []State
	advice map[State]string
}

// Advice phrases shared by several operations.
const (
	adviceHalt      = "halt it first"
	adviceInstall   = "install it first"
	adviceUninstall = "uninstall it first"
	adviceWait      = "wait for the operation under way to finish"
	adviceRepair    = "resolve the recorded problem and halt it again"
	adviceIncompl   = "uninstall it (zoneadm uninstall -F) to clean up"
	adviceBoot      = "boot or ready it first"
	// alreadyThere: the zone is in the state the operation would bring
	// it to, which the message says once ("zone Z is already running").
	alreadyThere = "already"
)

var opRules = map[string]opRule{
	"install": {from: []State{StateConfigured}, advice: map[State]string{
		StateInstalled: alreadyThere, StateReady: adviceHalt, StateRunning: adviceHalt,
		StateIncomplete: adviceIncompl, StateShuttingDown: adviceWait, StateDown: adviceRepair}},
	// uninstall from incomplete is how a half-done install is cleaned up.
	"uninstall": {from: []State{StateInstalled, StateIncomplete}, advice: map[State]string{
		StateConfigured: "it is not installed", StateReady: adviceHalt, StateRunning: adviceHalt,
		StateShuttingDown: adviceWait, StateDown: adviceRepair}},
	"ready": {from: []State{StateInstalled, StateReady}, advice: map[State]string{
		StateConfigured: adviceInstall, StateIncomplete: adviceIncompl, StateRunning: adviceHalt,
		StateShuttingDown: adviceWait, StateDown: adviceRepair}},
	"boot": {from: []State{StateInstalled, StateReady}, advice: map[State]string{
		StateConfigured: adviceInstall, StateIncomplete: adviceIncompl, StateRunning: alreadyThere,
		StateShuttingDown: adviceWait, StateDown: adviceRepair}},
	// halt from down retries a teardown that could not finish.
	"halt": {from: []State{StateReady, StateRunning, StateShuttingDown, StateDown}, advice: map[State]string{
		StateConfigured: "it is not installed", StateInstalled: "it is not running",
		StateIncomplete: adviceIncompl}},
	"reboot": {from: []State{StateRunning}, advice: map[State]string{
		StateConfigured: adviceInstall, StateInstalled: "it is not running; boot it", StateReady: "it is not running; boot it",
		StateIncomplete: adviceIncompl, StateShuttingDown: adviceWait, StateDown: adviceRepair}},
	"shutdown": {from: []State{StateRunning}, advice: map[State]string{
		StateConfigured: "it is not running", StateInstalled: "it is not running", StateReady: "it is not running; halt it",
		StateIncomplete: adviceIncompl, StateShuttingDown: adviceWait, StateDown: adviceRepair}},
	"delete": {from: []State{StateConfigured}, advice: map[State]string{
		StateInstalled: adviceUninstall, StateReady: "halt and uninstall it first", StateRunning: "halt and uninstall it first",
		StateIncomplete: adviceIncompl, StateShuttingDown: adviceWait, StateDown: adviceRepair}},
	"zlogin": {from: []State{StateReady, StateRunning}, advice: map[State]string{
		StateConfigured: "install and boot it first", StateInstalled: adviceBoot,
		StateIncomplete: adviceIncompl, StateShuttingDown: adviceWait, StateDown: adviceRepair}},
	// The console exists from installed on, as in illumos: zlogin -C can
	// wait for the zone to boot.
	"attach-console": {from: []State{StateInstalled, StateReady, StateRunning, StateShuttingDown, StateDown}, advice: map[State]string{
		StateConfigured: adviceInstall, StateIncomplete: adviceIncompl}},
	"verify": {from: []State{StateConfigured, StateInstalled, StateReady, StateRunning, StateShuttingDown, StateDown, StateIncomplete}},
	// Renaming a zone or moving its zonepath only makes sense while no
	// file system and no running platform depend on them.
	"rename": {from: []State{StateConfigured, StateInstalled}, advice: map[State]string{
		StateReady: adviceHalt, StateRunning: adviceHalt, StateIncomplete: adviceIncompl,
		StateShuttingDown: adviceWait, StateDown: adviceRepair}},
	"move": {from: []State{StateConfigured}, advice: map[State]string{
		StateInstalled: adviceUninstall, StateReady: "halt and uninstall it first", StateRunning: "halt and uninstall it first",
		StateIncomplete: adviceIncompl, StateShuttingDown: adviceWait, StateDown: adviceRepair}},
	// A clone's source must hold still: installed, with no platform.
	"clone-source": {from: []State{StateInstalled}, advice: map[State]string{
		StateConfigured: "it is not installed; install it first", StateReady: adviceHalt, StateRunning: adviceHalt,
		StateIncomplete: adviceIncompl, StateShuttingDown: adviceWait, StateDown: adviceRepair}},
	"mark-incomplete": {from: []State{StateConfigured, StateInstalled, StateIncomplete}},
}

// Operations lists the operation names CheckOp knows.
func Operations() []string {
	out := make([]string, 0, len(opRules))
	for op := range opRules {
		out = append(out, op)
	}
	sortStrings(out)
	return out
}

// CheckOp says whether operation op is legal for zone in state s. The
// error is meant for the operator: "zone web01 is running; halt it first".
func CheckOp(zone string, s State, op string) error {
	rule, ok := opRules[op]
	if !ok {
		return fmt.Errorf("zone %s: unknown operation %q", zone, op)
	}
	if !s.Valid() {
		return fmt.Errorf("zone %s: unknown state %q", zone, string(s))
	}
	for _, f := range rule.from {
		if f == s {
			return nil
		}
	}
	if adv, ok := rule.advice[s]; ok {
		if adv == alreadyThere {
			return api.Kind(api.ErrConflict, fmt.Sprintf("zone %s is already %s", zone, s))
		}
		return api.Kind(api.ErrConflict, fmt.Sprintf("zone %s is %s; %s", zone, s, adv))
	}
	return api.Kind(api.ErrConflict, fmt.Sprintf("zone %s is %s; cannot %s it", zone, s, op))
}

// transitions is the table of legal state changes (DESIGN.md, "States").
// SetState does not consult it (callers pass their own expected from-set),
// but tests and front ends use CanTransition to keep the picture honest.
var transitions = map[State][]State{
	StateConfigured:   {StateIncomplete, StateInstalled},
	StateIncomplete:   {StateInstalled, StateConfigured, StateIncomplete},
	StateInstalled:    {StateReady, StateIncomplete, StateConfigured},
	StateReady:        {StateRunning, StateShuttingDown, StateInstalled},
	StateRunning:      {StateShuttingDown, StateInstalled, StateReady},
	StateShuttingDown: {StateDown, StateInstalled},
	StateDown:         {StateShuttingDown, StateInstalled},
}

// CanTransition reports whether a zone may go from one state to another.
func CanTransition(from, to State) bool {
	for _, t := range transitions[from] {
		if t == to {
			return true
		}
	}
	return false
}
