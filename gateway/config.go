package gateway

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/sockgate/sockgate/gateway/auth"

	"github.com/sockgate/sockgate/session"
	"github.com/sockgate/sockgate/session/cluster"
	"github.com/sockgate/sockgate/session/transport"
)

// Engines a Config can select.
const (
	// EngineNative is sockgate's own SockJS engine (the default).
	EngineNative = "native"
	// EngineSockJSGo is the compat engine, github.com/igm/sockjs-go/v3.
	EngineSockJSGo = "sockjs-go"
)

// Service is one SockJS endpoint mounted at Prefix (e.g. "/echo"). Zero
// values mean the documented defaults.
type Service struct {
	// Prefix is where the service is mounted, starting with "/".
	Prefix string
	// Handler runs once per session, in a goroutine of its own.
	Handler session.Handler
	// Events, when set, is used instead of Handler: its callbacks run in
	// the goroutines that already serve the session, so a session costs
	// no goroutine of its own (see session.Events). The compat engine
	// runs it as a Handler (session.EventsHandler).
	Events session.Events
	// HeartbeatDelay is how often an idle receiver gets an "h" frame (25s).
	HeartbeatDelay time.Duration
	// DisconnectDelay is how long a session lives with no receiver (5s).
	DisconnectDelay time.Duration
	// ResponseLimit is how many bytes a streaming response carries before
	// the client must reconnect (128 KiB).
	ResponseLimit int
	// DisableWebsocket turns off the websocket transport and raw websocket.
	DisableWebsocket bool
	// DisableRawWebsocket turns off only the raw /websocket endpoint.
	DisableRawWebsocket bool
	// CookieNeeded turns on JSESSIONID mode for cookie-sticky balancers.
	CookieNeeded bool
	// DisabledTransports lists the transports to refuse (404).
	DisabledTransports []transport.Name
	// SockJSURL is the sockjs-client script the iframe page loads; the
	// default is the pinned build the gateway serves itself: under the
	// service prefix (<base path><prefix>/sockjs.min.js).
	SockJSURL string
	// MaxMessageBytes bounds one incoming message and one xhr_send or
	// jsonp_send body (DefaultMaxMessageBytes). Over it a websocket closes
	// with 1009 and a send request is answered 413.
	MaxMessageBytes int
	// MaxQueueBytes bounds the bytes queued for one client (1 MiB); over
	// it the session closes with session.CodeSlowClient (3008).
	MaxQueueBytes int
	// MaxMessagesPerSecond bounds what one client may send (0: no bound);
	// over it the session closes with session.CodeRateLimited (3009).
	MaxMessagesPerSecond int
	// WebsocketCompression turns on permessage-deflate (RFC 7692) on the
	// websocket and raw websocket endpoints of the native engine, for
	// clients that offer it; always without context takeover. The compat
	// engine ignores it.
	WebsocketCompression bool
	// WebsocketCompressionMinBytes is the smallest message sent compressed
	// (DefaultWebsocketCompressionMinBytes); smaller ones go as they are.
	WebsocketCompressionMinBytes int
}

// Config is the whole gateway. Zero values mean the documented defaults.
type Config struct {
	// Addr is the listen address (DefaultAddr); ":0" picks a free port.
	Addr string
	// Engine is EngineNative (default) or EngineSockJSGo.
	Engine string
	// Logger receives every log line. The zero Logger (or zerolog.Nop())
	// discards them all but errors, such as a handler's panic with its
	// stack, which go to stderr.
	Logger zerolog.Logger
	// Services are the SockJS services to mount.
	Services []Service
	// Static, when set, serves everything outside the services (the chat
	// page at "/").
	Static http.Handler
	// ClientScript serves the sockjs-client build (static.Client(), the
	// pinned build embedded in this module, when nil). Every service
	// serves it at <prefix>/sockjs.min.js, and an iframe page whose
	// Service.SockJSURL is empty loads it from there, so the iframe
	// transports work without Config.Static and where only the service
	// prefix is proxied to the gateway.
	ClientScript http.Handler
	// ShutdownTimeout bounds Close, the drain included (10s).
	ShutdownTimeout time.Duration
	// AllowedOrigins lists the browser origins that may connect: exact
	// origins ("https://app.example.com"), "*.example.com" patterns, bare
	// hosts, "null", or "*" for all. Empty means the gateway's own host only.
	AllowedOrigins []string
	// TrustedProxies lists the CIDRs (or addresses) of reverse proxies
	// whose X-Forwarded-For / Forwarded / X-Forwarded-Host are believed.
	TrustedProxies []string
	// BasePath serves everything but /healthz and /readyz under a sub-path
	// ("/sockgate").
	BasePath string
	// AdminAddr, when set, serves /metrics, /healthz and /readyz on a
	// listener of their own instead of the main one.
	AdminAddr string
	// Pprof serves Go's profiler at /debug/pprof/ beside /metrics (on the
	// admin address when there is one). Off by default: profiles expose
	// internals and cost CPU while they run.
	Pprof bool
	// MaxSessions bounds open sessions in total (DefaultMaxSessions when
	// zero, no bound when Unlimited); new ones get 503 with Retry-After.
	MaxSessions int
	// MaxSessionsPerIP bounds open sessions per client address
	// (DefaultMaxSessionsPerIP when zero, no bound when Unlimited).
	MaxSessionsPerIP int
	// MaxConnectionsPerIP bounds the open TCP connections of one client
	// address, an IPv6 client counted by its /64 (0: no bound). Connections
	// from TrustedProxies are not counted. One over the bound gets a 503 and
	// is closed. It applies to the listener Open binds, not to Handler
	// embedded elsewhere.
	MaxConnectionsPerIP int
	// BodyReadTimeout bounds the time a client has to send a request body,
	// from the end of its headers (DefaultBodyReadTimeout; negative: no
	// bound). A send whose body is late gets 408 and its connection closes.
	BodyReadTimeout time.Duration
	// MaxSessionIDLength bounds server and session ids in URLs (128).
	MaxSessionIDLength int
	// QuietSessions turns off the info log lines written when each session
	// opens and closes (service, session, transport, client, duration,
	// close code, messages each way), for very large deployments.
	QuietSessions bool
	// Sessions, when set, joins this node to a cluster where any node
	// serves any session (no sticky balancing needed): requests for a
	// session another node owns are forwarded to it, and /readyz is 503
	// while NATS cannot be reached. Open starts answering the other
	// nodes; close it after the gateway.
	Sessions *cluster.Sessions
	// ProxyIdleTimeout is the idle timeout of the reverse proxy in front,
	// if any; New logs a warning when a heartbeat delay is not shorter.
	ProxyIdleTimeout time.Duration
	// Collectors are served at /metrics beside the gateway's own (the
	// metrics of upstream bridges, say).
	Collectors []prometheus.Collector
	// SessionBinding is SessionBindingAddress (the default) or
	// SessionBindingNone: whether a session answers only the client
	// address that opened it. With Auth it is also bound to the token's
	// subject, whatever this says.
	SessionBinding string
	// Auth, when set, verifies the token in every session's URL
	// (?token=...). Sessions without a good one close at open with
	// c[3501,"Unauthorized"] or c[3502,"Token expired"]; sessions with one
	// carry its identity in Request().User and close with 3502 when it
	// expires. The native engine only.
	Auth *auth.Verifier
	// AuthOptional lets a session without a token open anonymously (a
	// token that is given must still verify).
	AuthOptional bool
	// APIKey, when set, serves the backend API under /api/ (on the admin
	// listener when there is one); every call must carry
	// "Authorization: Bearer <APIKey>".
	APIKey string
	// Chat is what the backend API's room calls act on; without it they
	// answer 404.
	Chat ChatAPI
	// Control, when set, carries the API's session closes and user
	// disconnects to the other nodes of a cluster.
	Control Control
}
