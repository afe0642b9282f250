package gateway

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"

	"github.com/gorilla/websocket"
	"github.com/rs/zerolog"

	"github.com/sockgate/sockgate/session"
)

// Defaults of Service.
const (
	// DefaultResponseLimit is how many bytes a streaming response carries.
	DefaultResponseLimit = 128 * 1024
	// DefaultMaxMessageBytes bounds one incoming message or send body.
	DefaultMaxMessageBytes = 1 << 20
	// DefaultSockJSURL is the sockjs-client build every iframe page loads:
	// the pinned copy the gateway serves itself.
	DefaultSockJSURL = "/static/sockjs.min.js"
)

// service is one mounted SockJS service of the native engine.
type service struct {
	cfg      Service
	prefix   string
	opts     *session.Options
	reg      *session.Registry
	ws       liveSet // websocket and raw websocket sessions (not in reg)
	log      zerolog.Logger
	iframe   iframePage
	off      map[string]bool // disabled transports
	wg       *sync.WaitGroup // handler goroutines, for shutdown
	upgrader *websocket.Upgrader
}

func newService(cfg Service, log zerolog.Logger, wg *sync.WaitGroup) *service {
	if cfg.ResponseLimit <= 0 {
		cfg.ResponseLimit = DefaultResponseLimit
	}
	if cfg.MaxMessageBytes <= 0 {
		cfg.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if cfg.SockJSURL == "" {
		cfg.SockJSURL = DefaultSockJSURL
	}
	svc := &service{
		cfg:      cfg,
		prefix:   strings.TrimSuffix(cfg.Prefix, "/"),
		reg:      session.NewRegistry(),
		ws:       newLiveSet(),
		log:      log.With().Str("service", cfg.Prefix).Logger(),
		iframe:   newIframePage(cfg.SockJSURL),
		off:      make(map[string]bool),
		wg:       wg,
		upgrader: newUpgrader(),
	}
	for _, t := range cfg.DisabledTransports {
		svc.off[t] = true
	}
	if cfg.DisableWebsocket {
		svc.off[TransportWebsocket] = true
		svc.off[TransportRawWebsocket] = true
	}
	if cfg.DisableRawWebsocket {
		svc.off[TransportRawWebsocket] = true
	}
	svc.opts = session.Options{
		HeartbeatDelay:  cfg.HeartbeatDelay,
		DisconnectDelay: cfg.DisconnectDelay,
		MaxQueueBytes:   cfg.MaxQueueBytes,
		OnForget:        svc.forget,
		OnClose:         svc.onClose,
	}.Resolve()
	return svc
}

// transportRoute is how one session transport is served.
type transportRoute struct {
	name   string // transport name (Transport* constant)
	allow  string // the Allow header: methods served
	method string // the one method that carries the transport
	cors   bool   // OPTIONS preflight answered
	serve  func(svc *service, w http.ResponseWriter, r *http.Request, sid string)
}

var transportRoutes = map[string]transportRoute{
	"websocket":     {TransportWebsocket, "GET", http.MethodGet, false, (*service).serveWebsocket},
	"xhr":           {TransportXHRPolling, "OPTIONS, POST", http.MethodPost, true, (*service).serveXHR},
	"xhr_send":      {TransportXHRPolling, "OPTIONS, POST", http.MethodPost, true, (*service).serveXHRSend},
	"xhr_streaming": {TransportXHRStreaming, "OPTIONS, POST", http.MethodPost, true, (*service).serveXHRStreaming},
	"eventsource":   {TransportEventSource, "GET", http.MethodGet, false, (*service).serveEventSource},
	"htmlfile":      {TransportHTMLFile, "GET", http.MethodGet, false, (*service).serveHTMLFile},
	"jsonp":         {TransportJSONP, "GET", http.MethodGet, false, (*service).serveJSONP},
	"jsonp_send":    {TransportJSONP, "POST", http.MethodPost, false, (*service).serveJSONPSend},
}

// ServeHTTP routes a request under the service prefix.
func (svc *service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest := r.URL.Path[len(svc.prefix):]
	kind, sp := parsePath(rest)
	switch kind {
	case pathGreeting:
		svc.serveGreeting(w, r)
	case pathInfo:
		svc.serveInfo(w, r)
	case pathIframe:
		svc.serveIframe(w, r)
	case pathRawWebsocket:
		if svc.off[TransportRawWebsocket] {
			http.NotFound(w, r)
			return
		}
		svc.serveRawWebsocket(w, r)
	case pathSession:
		svc.serveSession(w, r, sp)
	default:
		http.NotFound(w, r)
	}
}

func (svc *service) serveSession(w http.ResponseWriter, r *http.Request, sp sessionPath) {
	route, ok := transportRoutes[sp.transport]
	if !ok || svc.off[route.name] {
		http.NotFound(w, r)
		return
	}
	switch {
	case r.Method == route.method:
		route.serve(svc, w, r, sp.session)
	case r.Method == http.MethodOptions && route.cors:
		svc.setCookie(w, r)
		preflight(w, r, route.allow)
	default:
		methodNotAllowed(w, route.allow)
	}
}

func (svc *service) serveGreeting(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		methodNotAllowed(w, "GET")
		return
	}
	writeText(w, http.StatusOK, "Welcome to SockJS!\n")
}

// errRefused means a new session was refused (a limit or a drain).
var errRefused = errors.New("gateway: new session refused")

// sessionFor returns the session with id, creating it (and starting the
// service handler for it) when there is none.
func (svc *service) sessionFor(id, transport string) (*session.SockJS, error) {
	s, created := svc.reg.GetOrCreate(id, func() *session.SockJS {
		return session.NewSockJS(id, transport, svc.opts)
	})
	if s == nil {
		return nil, errRefused
	}
	if created {
		svc.start(s)
	}
	return s, nil
}

// start runs the service handler for a new session.
func (svc *service) start(s session.Session) {
	svc.wg.Add(1)
	go func() {
		defer svc.wg.Done()
		session.Run(svc.cfg.Handler, s, svc.log)
	}()
}

// attach finds or creates the session and attaches a receiver to it.
func (svc *service) attach(ctx context.Context, id, transport string) (*session.Receiver, error) {
	for range 3 {
		s, err := svc.sessionFor(id, transport)
		if err != nil {
			return nil, err
		}
		rcv, err := s.AttachWait(ctx)
		if errors.Is(err, session.ErrClosed) {
			svc.reg.Remove(s) // forgotten a moment ago; make a new one
			continue
		}
		return rcv, err
	}
	return nil, session.ErrClosed
}

func (svc *service) forget(s *session.SockJS) {
	svc.reg.Remove(s)
	svc.ws.remove(s)
}

func (svc *service) onClose(s *session.SockJS, info session.CloseInfo) {
	svc.log.Debug().Str("session", s.ID()).Str("transport", s.Transport()).
		Int("code", info.Code).Str("reason", info.Reason).Msg("session closed")
}

// liveSet is a set of live sessions that are not in the id registry.
type liveSet struct {
	mu sync.Mutex
	m  map[session.Session]struct{}
}

func newLiveSet() liveSet { return liveSet{m: make(map[session.Session]struct{})} }

func (l *liveSet) add(s session.Session) {
	l.mu.Lock()
	l.m[s] = struct{}{}
	l.mu.Unlock()
}

func (l *liveSet) remove(s session.Session) {
	l.mu.Lock()
	delete(l.m, s)
	l.mu.Unlock()
}

func (l *liveSet) snapshot() []session.Session {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]session.Session, 0, len(l.m))
	for s := range l.m {
		out = append(out, s)
	}
	return out
}
