// Package api is what crosses between zonetop's front ends and the engine, in
// process or over a socket: the request, answer and usage types every
// transport carries, the actions authorization knows, and the typed error
// whose code survives the wire. It is a leaf: it imports only the standard
// library, so a front end that draws screens needs nothing else to speak to
// zones.
package api
