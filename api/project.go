package api

import (
	"errors"
	"fmt"
)

// The project id bounds and the project name rule are here, not in limits,
// so a front end can check what an operator types without linking the
// accounting code; limits checks project files by the same definitions.

// MaxProjID is the largest project ID (illumos MAXPROJID, as MAXUID).
const MaxProjID = 2147483647

// FirstUserProjID is the first ID projadd hands out; lower ones are
// reserved for the system's own projects.
const FirstUserProjID = 100

// ValidProjectName follows projadd(8): a letter first, then letters,
// digits, '.', '_' and '-'.
func ValidProjectName(name string) error {
	if name == "" {
		return errors.New("empty project name")
	}
	for i, c := range name {
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if i == 0 && !letter {
			return fmt.Errorf("project name %q: must start with a letter", name)
		}
		if !letter && !(c >= '0' && c <= '9') && c != '.' && c != '_' && c != '-' {
			return fmt.Errorf("project name %q: %q not allowed (letters, digits, '.', '_', '-')", name, c)
		}
	}
	return nil
}
