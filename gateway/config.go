package gateway

import (
	"net/http"
	"time"

	"github.com/rs/zerolog"

	"github.com/sockgate/sockgate/session"
	"github.com/sockgate/sockgate/session/cluster"
)

// Engines a Config can select.
const (
	// EngineNative is sockgate's own SockJS engine (the default).
	EngineNative = "native"
	// EngineSockJSGo is the compat engine, github.com/igm/sockjs-go/v3.
	EngineSockJSGo = "sockjs-go"
)

// Transport names as sockjs-client and the metrics know them.
const (
	TransportWebsocket    = "websocket"
	TransportRawWebsocket = "raw-websocket"
	TransportXHRStreaming = "xhr-streaming"
	TransportXHRPolling   = "xhr-polling"
	TransportEventSource  = "eventsource"
	TransportHTMLFile     = "htmlfile"
	TransportJSONP        = "jsonp-polling"
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
	// DisabledTransports lists transport names (see Transport*) to refuse.
	DisabledTransports []string
	// SockJSURL is the sockjs-client script the iframe page loads; the
	// default is the pinned build the gateway serves itself.
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
	// MaxSessionIDLength bounds server and session ids in URLs (128).
	MaxSessionIDLength int
	// Sessions, when set, joins this node to a cluster where any node
	// serves any session (no sticky balancing needed): requests for a
	// session another node owns are forwarded to it, and /readyz is 503
	// while NATS cannot be reached. Open starts answering the other
	// nodes; close it after the gateway.
	Sessions *cluster.Sessions
	// ProxyIdleTimeout is the idle timeout of the reverse proxy in front,
	// if any; New logs a warning when a heartbeat delay is not shorter.
	ProxyIdleTimeout time.Duration
}
