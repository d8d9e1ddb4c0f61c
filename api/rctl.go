package api

// RctlChange is a live change of one rctl of a zone or of one of its
// projects. Values is in project(5) form ("(privileged,100,deny)"); empty
// removes the control.
type RctlChange struct {
	Level   string // "zone", "project" or "task"
	Project string // for project level
	Task    int    // for task level
	Name    string // e.g. zone.max-lwps, project.cpu-shares
	Values  string
}
