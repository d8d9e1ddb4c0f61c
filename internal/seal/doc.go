// Package seal makes a copy of the running binary that nothing can write
// (a sealed memfd, or a read-only bind), so that a zone process can never
// change the executable host processes later run. It touches nothing else.
package seal
