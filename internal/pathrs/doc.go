// Package pathrs resolves paths inside a tree someone else controls (a zone
// root, a zonepath) without ever leaving it: openat2 with RESOLVE_BENEATH,
// files opened by handle and checked by type before they are read, and
// writes by rename. It touches only the files its callers name.
package pathrs
