// Package pidfd holds processes by pidfd, so that a signal or a wait can
// never reach a recycled pid. It touches only the processes it is given.
package pidfd
