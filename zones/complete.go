package zones

import (
	"sort"
	"strings"
)

// complete is the interactive session's tab completion: the words that
// may stand where the line's last word is being typed, given the scope.
// Commands first, then resource types after add/select/remove/info/help,
// then the properties of the resource being edited (or the zone's) after
// set and clear, and after "set NAME=" the values that property takes
// when they are a closed list. Each candidate is the whole line with the
// last word replaced, so the line editor can offer it as is.
func (s *session) complete(line string) []string {
	// Only the last command of a ';' list is being typed.
	head := ""
	if i := strings.LastIndex(line, ";"); i >= 0 {
		head, line = line[:i+1], line[i+1:]
	}
	lead := line[:len(line)-len(strings.TrimLeft(line, " \t"))]
	words := strings.Fields(line)
	partial := ""
	if len(words) > 0 && !strings.HasSuffix(line, " ") && !strings.HasSuffix(line, "\t") {
		partial, words = words[len(words)-1], words[:len(words)-1]
	}
	var cands []string
	switch {
	case len(words) == 0:
		if s.scope != nil {
			cands = []string{"set", "add", "remove", "clear", "info", "end", "cancel", "help"}
		} else {
			cands = []string{"create", "add", "set", "remove", "select", "clear", "info", "verify", "commit", "revert", "export", "delete", "exit", "help"}
		}
	case len(words) == 1 && s.scope == nil && (words[0] == "add" || words[0] == "select" || words[0] == "remove" || words[0] == "info" || words[0] == "help"):
		cands = append(cands, resourceKinds...)
		if words[0] == "help" || words[0] == "info" {
			cands = append(cands, "create", "add", "set", "remove", "select", "end", "cancel", "clear", "commit", "export")
		}
	case len(words) == 1 && (words[0] == "set" || words[0] == "clear"):
		if name, _, ok := strings.Cut(partial, "="); ok {
			for _, v := range s.valuesOf(name) {
				cands = append(cands, name+"="+v)
			}
		} else {
			for _, p := range s.propNames() {
				if words[0] == "set" {
					p += "="
				}
				cands = append(cands, p)
			}
		}
	}
	var out []string
	for _, c := range cands {
		if strings.HasPrefix(c, partial) {
			prefix := lead + strings.Join(words, " ")
			if len(words) > 0 {
				prefix += " "
			}
			out = append(out, head+prefix+c)
		}
	}
	sort.Strings(out)
	return out
}

// propNames are the properties set and clear take in the current scope.
func (s *session) propNames() []string {
	if s.scope != nil {
		return resProps[s.scope.res.kind]
	}
	names := make([]string, 0, len(globalProps)+8)
	for _, g := range globalProps {
		names = append(names, g.name)
	}
	return append(names, "zonename", "cpu-shares", "max-lwps", "max-processes", "max-locked-memory", "max-shm-memory", "max-shm-ids", "max-msg-ids", "max-sem-ids")
}

// valuesOf are the values of a property that takes a closed list.
func (s *session) valuesOf(prop string) []string {
	switch prop {
	case "brand":
		return Brands
	case "ip-type":
		return []string{"shared", "exclusive"}
	case "autoboot":
		return []string{"true", "false"}
	case "user-namespace":
		return UserNamespaceModes
	case "scheduling-class":
		return SchedulingClasses
	}
	return nil
}
