// Package upstream bridges SockJS sessions to a plain WebSocket backend: a
// Spring TextWebSocketHandler, a Node ws server, a Python websockets app.
// Browsers reach the gateway with sockjs-client over any transport; for
// each SockJS session the Bridge holds one ordinary WebSocket to the
// backend and carries messages both ways, one to one and in order.
//
// A Bridge is a session.Events service (mount it with Service) for the
// native engine, which holds the open frame until OnOpen returns (the
// compat engine does not). Its contract:
//
//   - Opening. OnOpen dials the backend synchronously, bounded by
//     Config.ConnectTimeout. The native engine sends the client's open
//     frame "o" only once OnOpen has returned (and a raw websocket's 101
//     likewise), so "o" means the backend has accepted; no extra hook is
//     needed. A dial that fails (refused,
//     unreachable, an HTTP answer instead of the upgrade, the timeout)
//     closes the session with session.CodeBackendUnavailable (3011); it is
//     logged with the backend URL and counted by cause.
//   - Handshake. The backend sees the client's query appended to its URL
//     (minus the parameters sockjs-client adds itself: t on xhr, c on
//     jsonp and htmlfile), X-Forwarded-For (the real client, after the
//     gateway's trusted proxies), X-Forwarded-Proto, X-Forwarded-Host,
//     Origin, Cookie, User-Agent, Accept-Language, X-Sockgate-Session,
//     X-Sockgate-Transport, X-Sockgate-User (the verified subject, only for
//     sessions with an identity) with X-Sockgate-Claim-<Name> for each claim
//     named in Config.Claims, and the headers named in Config.Headers.
//     Nothing else.
//   - Messages. Each client message is one text frame to the backend, each
//     text frame from the backend one message to the client. A binary frame
//     cannot be carried by SockJS: it is logged, counted
//     (sockgate_upstream_binary_dropped_total) and dropped; the session
//     lives on.
//   - Closing. The backend closing with 1000 or 3000-4999 closes the
//     session with the same code and reason. Any other code, a dead TCP
//     connection, or two heartbeat periods of silence close it with
//     session.CodeBackendClosed (3012). When the session ends first, the
//     backend gets a close frame: 1000 when the client closed its
//     websocket with 1000, 1001 otherwise (the client vanished, was too
//     slow, the gateway drains), and its connection is released.
//   - Flow control. Backend to client, the session's bounded queue
//     applies: a client that cannot keep up is closed with 3008 and the
//     backend connection with it. Client to backend, OnMessage writes
//     synchronously, so a backend that does not read stops the gateway
//     reading from that client (TCP backpressure on a websocket; send
//     requests wait). A write that cannot finish within
//     Config.WriteTimeout closes the session with
//     session.CodeBackendStalled (3013).
//   - Keep-alive. The backend is pinged every heartbeat delay.
//
// Each bridged session costs one goroutine, which reads the backend, and a
// timer for the pings; OnClose starts a short-lived one for the close
// handshake, so that a backend that does not read cannot hold up whoever
// closed the session. When OnMessage is blocked on such a backend, OnClose
// (and the backend's close frame) follows within Config.WriteTimeout.
// Wait lets a program wait for every backend connection to be closed after
// the gateway drained.
package upstream
