package gateway

import (
	"net/http"
	"time"

	"github.com/rs/zerolog"

	"github.com/sockgate/sockgate/session"
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
	// Handler runs once per session.
	Handler session.Handler
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
	// jsonp_send body (64 KiB by default... see DefaultMaxMessageBytes).
	MaxMessageBytes int
	// MaxQueueBytes bounds the bytes queued for one client (see
	// DefaultMaxQueueBytes); over it the session closes with
	// session.CodeSlowClient.
	MaxQueueBytes int
}

// Config is the whole gateway. Zero values mean the documented defaults.
type Config struct {
	// Addr is the listen address (":8080"); ":0" picks a free port.
	Addr string
	// Engine is EngineNative (default) or EngineSockJSGo.
	Engine string
	// Logger receives every log line; the default discards them.
	Logger zerolog.Logger
	// Services are the SockJS services to mount.
	Services []Service
	// Static, when set, serves everything outside the services (the chat
	// page at "/").
	Static http.Handler
	// ShutdownTimeout bounds Close (10s).
	ShutdownTimeout time.Duration
}
