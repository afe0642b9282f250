// Package engine is sockgate's SockJS engine: the session state machine
// (SockJS, which implements session.Session) that outlives the polling and
// streaming requests carrying it, the receivers those requests attach, the
// registry of live sessions, the dispatcher of Events callbacks, the
// handler progress that makes a send request wait for its echo, the
// counters a drain waits on, and the SockJS frame codec. Package gateway
// drives it; services never import it (they see package session).
//
// The package knows nothing of HTTP. A transport attaches a receiver to a
// session and writes its frames to the network itself: a poll pulls them
// with Receiver.Next; a websocket or a stream is notified (AttachWaitPush)
// and takes them with Receiver.TryNext. No network write ever happens under
// a session lock, and a slow client never blocks Send.
package engine
