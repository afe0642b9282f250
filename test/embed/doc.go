// Package embed checks sockgate as a Go module consumer meets it: a program
// of its own, in a module of its own, that requires sockgate (through a
// replace to a copy of the checkout's tracked files, so nothing `make`
// builds is there) and mounts a custom service with gateway.New and no
// Config.Static. Every transport must work, the iframe ones included.
package embed
