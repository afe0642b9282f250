// Package session is sockgate's transport-agnostic core: the Session that
// application handlers see, the SockJS session state machine that carries it
// over polling and streaming requests, the registry of live sessions, rooms
// with encode-once broadcast, and the SockJS frame codec.
//
// The package knows nothing of HTTP routing. A transport (in package gateway)
// attaches a receiver to a session with Attach, pulls ready frames with
// Receiver.Next and writes them to the network itself, so no network write
// ever happens under a session lock and a slow client never blocks Send.
package session
