package session

import (
	"context"
	"errors"
)

// Session is one client connection, whatever transport carries it. On polling
// transports it outlives any single HTTP request. All methods are safe for
// concurrent use.
type Session interface {
	// ID is the session id chosen by the client.
	ID() string
	// Transport names the transport that opened the session
	// ("websocket", "xhr-streaming", "xhr-polling", ...).
	Transport() string
	// Recv returns the next message from the client. It returns ErrClosed
	// once the session is closed and every message received before the
	// close has been returned, or ctx.Err() when ctx ends first.
	Recv(ctx context.Context) (string, error)
	// Send queues msg for the client. It never blocks on the network. It
	// returns ErrClosed after Close, and ErrQueueFull when the client cannot
	// keep up (the session is then closed with CodeSlowClient).
	Send(msg string) error
	// Close sends the close frame c[code,"reason"] after every message
	// already queued and ends the session. Calls after the first do nothing.
	Close(code int, reason string) error
	// Done is closed when the session ends, whoever ended it.
	Done() <-chan struct{}
	// Request describes the request that opened the session: the client's
	// address, headers, query and identity. Never nil; do not modify it.
	Request() *Request
	// CloseInfo tells how the session ended: the code and reason of its
	// close frame. It is zero while the session is open.
	CloseInfo() CloseInfo
}

// Sentinel errors of the package.
var (
	// ErrClosed is returned by Recv and Send once a session is closed, and
	// to a transport that delivers messages to a closed session.
	ErrClosed = errors.New("session: closed")
	// ErrQueueFull is returned by Send when the outgoing queue is over its
	// bound; the session is closed with CodeSlowClient.
	ErrQueueFull = errors.New("session: outgoing queue full")
)

// CloseInfo tells how a session ended.
type CloseInfo struct {
	Code   int
	Reason string
}

// Handler is an application's code for one service. The gateway calls it once
// per new session, in a goroutine of its own; ctx ends when the session does.
// When Handler returns the session is closed with CodeNormal unless it was
// closed already.
type Handler func(ctx context.Context, s Session)
