// Package transport names the SockJS transports, once, for everything that
// speaks of them: the gateway's routes, metrics and logs, the compat
// engine, and the Go client of the tests. The names are sockjs-client's
// (what a browser's sock.transport says), plus the raw websocket.
package transport

// Name is a transport's name as sockjs-client, the metrics and the logs
// know it. Session.Transport returns it as a string.
type Name string

// The transports.
const (
	// Websocket is the SockJS websocket (/<server>/<session>/websocket).
	Websocket Name = "websocket"
	// RawWebsocket is the plain websocket at <prefix>/websocket: no SockJS
	// framing, one message per websocket message.
	RawWebsocket Name = "raw-websocket"
	// XHRStreaming is the xhr_streaming receiver and its xhr_send.
	XHRStreaming Name = "xhr-streaming"
	// XHRPolling is the xhr receiver and its xhr_send.
	XHRPolling Name = "xhr-polling"
	// EventSource is the eventsource receiver (Server-Sent Events).
	EventSource Name = "eventsource"
	// HTMLFile is the htmlfile receiver (a forever iframe).
	HTMLFile Name = "htmlfile"
	// JSONP is the jsonp receiver and its jsonp_send.
	JSONP Name = "jsonp-polling"
)

// All lists every transport.
var All = []Name{Websocket, XHRStreaming, XHRPolling, EventSource, HTMLFile, JSONP, RawWebsocket}

// Known reports whether n is one of All.
func Known(n Name) bool {
	for _, t := range All {
		if t == n {
			return true
		}
	}
	return false
}

// String returns the name.
func (n Name) String() string { return string(n) }
