// Package rctl is the catalogue of resource controls (name, level, unit,
// bounds, flags, how each is enforced) and the value type they are set
// with (threshold, privilege, action), with the one parser and formatter
// of both. It is a leaf the model, the accounting, the runtime and every
// front end share; it touches nothing.
package rctl
