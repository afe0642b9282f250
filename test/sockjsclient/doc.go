// Package sockjsclient is a SockJS client written in Go for tests and load
// tools. It speaks every transport a SockJS server offers: websocket,
// xhr-streaming, xhr-polling, eventsource, htmlfile, jsonp-polling, and the
// raw websocket endpoint (plain RFC 6455 messages at <prefix>/websocket).
//
// Dial opens a session and returns once the server's "o" frame arrives. One
// goroutine per Conn then receives frames (holding exactly one receiving
// request at a time on the HTTP transports, reconnecting when a streaming
// response ends) and queues the messages for Recv. A c[code,"reason"] frame
// ends the session: Recv returns the queued messages and then a *CloseError.
//
// Each session on an HTTP transport has its own http.Transport, unless
// Options.HTTPClient is set, so that one session's cancelled requests never
// touch another's connections; frames are decoded without regular
// expressions.
// Every blocking call takes a context, and Close stops the receiving
// goroutine and waits for it.
package sockjsclient
