// Package compat is sockgate's compat engine: github.com/igm/sockjs-go/v3
// (v3.0.3) behind the same session.Session interface as the native engine,
// selectable for comparison and as a fallback. New returns one service's
// http.Handler; the handler strips Options.Prefix itself, so mount it on the
// full path ("/echo" and "/echo/"), never behind http.StripPrefix. Every
// origin is allowed (CORS echoes Origin, "null" included; the websocket
// upgrader accepts any Origin): an origin policy belongs in front of it, as
// the gateway puts its own. Sessions report their real close code through
// CloseInfo (see New). Every transport can be disabled; /info, the
// iframe page and the welcome page cannot, and xhr_send stays while either
// xhr transport is on.
//
// Where it falls short of the native engine and of the Session contract,
// from reading v3.0.3:
//
//   - Send is unbounded and may block. With no receiver attached a message is
//     appended to a slice with no limit (a client that stops polling grows
//     it for the whole disconnect delay). With a receiver attached it is
//     written to the network under the session lock, with no deadline (the
//     websocket write timeout is left at 0), so a slow client blocks Send,
//     heartbeats and Close. Send never returns session.ErrQueueFull.
//   - Incoming messages are not buffered at all: xhr_send, jsonp_send and the
//     websocket reader block until the handler's Recv takes each message. A
//     handler that stops calling Recv stalls its client's requests. Messages
//     still pending when the session closes are dropped (the xhr_send gets
//     500), and Recv returns session.ErrClosed without draining them.
//   - No limits: xhr_send and jsonp_send bodies and websocket messages are
//     read whole with no size bound; no session count or rate limit. The
//     gateway enforces its origin policy and session limits in front of
//     this package (gateway/compat.go), and bounds the time to read a body.
//   - Websocket and raw websocket sessions are not in sockjs-go's session
//     map: their ids may collide with others, and nothing can list or drain
//     them (hijacked, so http.Server.Shutdown does not close them either).
//     The raw websocket session's ID is "".
//   - A session ended by the disconnect delay or an aborted receiving
//     request gets an empty close frame; an aborted poll closes the session
//     at once, so the next poll opens a new one (no c[1002,...]).
//   - sockjs-go detaches a finished receiver in a goroutine, so a prompt
//     next poll can get c[2010,"Another connection still open"].
//   - No pong deadline: a dead websocket peer is noticed only when a write
//     fails.
//   - Protocol deviations (see /work/shared/SOCKJS.md): empty or broken
//     xhr_send/jsonp_send bodies are 400, not 500, while well-formed JSON
//     of the wrong shape is 204 ([1,"x"] delivers "" and "x"; {} nothing);
//     a missing htmlfile
//     callback is 400; callbacks with "-" are refused; jsonp frames lack the
//     "/**/" prefix; eventsource's content type carries a charset;
//     Cache-Control lacks no-transform; the ETag is unquoted and the iframe
//     page differs; /info sets JSESSIONID in cookie mode; only U+2028 and
//     U+2029 are \u-escaped (plus encoding/json's <, > and &); an empty or
//     non-array websocket message closes the connection; no hixie-76.
//   - The default sockjs_url is a floating CDN tag (sockjs-client@1): set
//     Options.SockJSURL to the pinned build.
//
// The handler's ctx is sockjs-go's session context: it ends when the session
// starts closing, not when the server shuts down.
package compat
