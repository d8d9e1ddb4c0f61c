// Package audit is the audit log: one JSON record per change to a zone
// (configuration, state, cap, project) with its principal and result,
// appended under the root prefix's log directory and read back with
// filters. It touches only that file.
package audit
