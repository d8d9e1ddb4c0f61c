package api

// Progress is one report of an install or clone under way. It is here, not
// in the engine, so a front end can show it without linking the engine.
type Progress struct {
	Step        string
	Done, Total int64
}
