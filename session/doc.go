// Package session is sockgate's transport-agnostic core: the Session that
// application code sees, in either of two forms (a Handler running in a
// goroutine of its own, or Events callbacks run by the transports'
// goroutines), the SockJS session state machine that carries it over
// polling and streaming requests, the registry of live sessions, rooms with
// encode-once broadcast, and the SockJS frame codec.
//
// The package knows nothing of HTTP routing. A transport (in package gateway)
// attaches a receiver to a session and writes its frames to the network
// itself: a poll pulls them with Receiver.Next; a websocket or a stream is
// notified (AttachWaitPush) and takes them with Receiver.TryNext. No network
// write ever happens under a session lock, and a slow client never blocks
// Send.
package session
