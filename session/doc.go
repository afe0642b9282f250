// Package session is what a service sees of sockgate: the Session, one
// client connection whatever transport carries it, served in either of two
// forms (a Handler running in a goroutine of its own with Run, or Events
// callbacks run by the transports' goroutines); how a session ended
// (CloseInfo) and the close codes; the opening Request and its Identity;
// and Room, encode-once broadcast to many sessions.
//
// Services import this package only. The engine that carries sessions over
// SockJS (the state machine, receivers, the registry, the frame codec) is
// package session/engine, which the gateway uses; the transports' names are
// package session/transport.
package session
