// Package layout holds the tree's import rules as a test: which package
// may depend on which, so that "what may a front end call" and "what runs
// where" stay answered by package names. It has no code.
package layout
