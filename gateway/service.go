package gateway

import (
	"errors"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/rs/zerolog"

	"github.com/sockgate/sockgate/session"
	"github.com/sockgate/sockgate/session/engine"
	"github.com/sockgate/sockgate/session/transport"
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

// service is one mounted SockJS service of the native engine. Its
// deflater (nil when off) does permessage-deflate on its websockets.
type service struct {
	cfg      Service
	prefix   string
	opts     *engine.Options
	reg      *engine.Registry
	ws       liveSet // websocket and raw websocket sessions (not in reg)
	log      zerolog.Logger
	iframe   iframePage
	off      map[transport.Name]bool // disabled transports
	srv      *Server                 // policies, limits, metrics, drain state
	deflater *deflater
	clients  sync.Map     // *engine.SockJS -> client, for the limiter and the registry key
	expiries sync.Map     // session.Session -> *time.Timer, closing it when its token expires
	owners   sync.Map     // session id -> registry key of its first session, to count foreign requests
	walks    atomic.Int64 // walks of every session by closeAll (the drain's tests count them)
}

// client is where a session of the registry came from.
type client struct {
	ip  netip.Addr // for the session limiter
	key string     // its registry key (see Server.bindKey)
}

func newService(cfg Service, srv *Server) *service {
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
		reg:      engine.NewRegistry(),
		ws:       newLiveSet(),
		log:      srv.log.With().Str("service", cfg.Prefix).Logger(),
		iframe:   newIframePage(cfg.SockJSURL),
		off:      make(map[transport.Name]bool),
		srv:      srv,
		deflater: websocketDeflater(cfg),
	}
	for _, t := range cfg.DisabledTransports {
		svc.off[t] = true
	}
	if cfg.DisableWebsocket {
		svc.off[transport.Websocket] = true
		svc.off[transport.RawWebsocket] = true
	}
	if cfg.DisableRawWebsocket {
		svc.off[transport.RawWebsocket] = true
	}
	svc.opts = engine.Options{
		HeartbeatDelay:       cfg.HeartbeatDelay,
		DisconnectDelay:      cfg.DisconnectDelay,
		MaxQueueBytes:        cfg.MaxQueueBytes,
		MaxMessagesPerSecond: cfg.MaxMessagesPerSecond,
		Meter:                srv.metrics.meter,
		OnForget:             svc.forget,
		OnClose:              svc.onClose,
		Events:               cfg.Events,
		Logger:               svc.log,
		Busy:                 &srv.busy,
		Unfinished:           &srv.unfinished,
	}.Resolve()
	return svc
}

// websocketDeflater is the deflater of a service's websockets, nil when
// it does not compress.
func websocketDeflater(cfg Service) *deflater {
	if !cfg.WebsocketCompression {
		return nil
	}
	return newDeflater(cfg.WebsocketCompressionMinBytes)
}

// transportRoute is how one session transport is served.
type transportRoute struct {
	name   transport.Name
	allow  string // the Allow header: methods served
	method string // the one method that carries the transport
	cors   bool   // OPTIONS preflight answered
	// noOrigin: browsers send this transport's GET without an Origin (a
	// script tag, an iframe), so Fetch Metadata and Referer stand in.
	noOrigin bool
	serve    func(svc *service, w http.ResponseWriter, r *http.Request, sid string)
}

var transportRoutes = map[string]transportRoute{
	"websocket":     {transport.Websocket, "GET", http.MethodGet, false, false, (*service).serveWebsocket},
	"xhr":           {transport.XHRPolling, "OPTIONS, POST", http.MethodPost, true, false, (*service).serveXHR},
	"xhr_send":      {transport.XHRPolling, "OPTIONS, POST", http.MethodPost, true, false, (*service).serveXHRSend},
	"xhr_streaming": {transport.XHRStreaming, "OPTIONS, POST", http.MethodPost, true, false, (*service).serveXHRStreaming},
	"eventsource":   {transport.EventSource, "GET", http.MethodGet, false, false, (*service).serveEventSource},
	"htmlfile":      {transport.HTMLFile, "GET", http.MethodGet, false, true, (*service).serveHTMLFile},
	"jsonp":         {transport.JSONP, "GET", http.MethodGet, false, true, (*service).serveJSONP},
	"jsonp_send":    {transport.JSONP, "POST", http.MethodPost, false, false, (*service).serveJSONPSend},
}

// ServeHTTP routes a request under the service prefix.
func (svc *service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	svc.serve(w, r, r.URL.Path[len(svc.prefix):])
}

// serve routes a request whose path is the service prefix and then rest.
func (svc *service) serve(w http.ResponseWriter, r *http.Request, rest string) {
	kind, sp := parsePath(rest)
	switch kind {
	case pathGreeting:
		setRoute(w, "greeting")
		svc.serveGreeting(w, r)
	case pathInfo:
		setRoute(w, "info")
		if svc.checkOrigin(w, r) {
			svc.serveInfo(w, r)
		}
	case pathIframe:
		setRoute(w, "iframe")
		svc.serveIframe(w, r)
	case pathRawWebsocket:
		setRoute(w, "raw_websocket")
		if svc.off[transport.RawWebsocket] {
			http.NotFound(w, r)
			return
		}
		if svc.checkOrigin(w, r) {
			svc.serveRawWebsocket(w, r)
		}
	case pathSession:
		svc.serveSession(w, r, sp)
	default:
		setRoute(w, "not_found")
		http.NotFound(w, r)
	}
}

func (svc *service) serveSession(w http.ResponseWriter, r *http.Request, sp sessionPath) {
	route, ok := transportRoutes[sp.transport]
	if !ok || svc.off[route.name] {
		setRoute(w, "not_found")
		http.NotFound(w, r)
		return
	}
	setRoute(w, sp.transport)
	max := svc.srv.cfg.MaxSessionIDLength
	if !validSessionID(sp.session, max) || !validSessionID(sp.server, max) {
		svc.srv.metrics.refused(refusedSessionID)
		writeText(w, http.StatusBadRequest, "Invalid session id.")
		return
	}
	if !svc.checkOrigin(w, r) {
		return
	}
	if route.noOrigin && r.Header.Get("Origin") == "" {
		if from, ok := svc.srv.origins.crossSiteAllowed(r, svc.srv.proxies.host(r)); !ok {
			svc.srv.refuseOrigin(w, r, from)
			return
		}
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

// checkOrigin enforces the origin policy, answering 403 itself.
func (svc *service) checkOrigin(w http.ResponseWriter, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if svc.srv.origins.allowed(origin, svc.srv.proxies.host(r)) {
		return true
	}
	svc.srv.refuseOrigin(w, r, origin)
	return false
}

func (svc *service) serveGreeting(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		methodNotAllowed(w, "GET")
		return
	}
	writeText(w, http.StatusOK, "Welcome to SockJS!\n")
}

// errRefused means a new session was refused (a limit or a drain); its
// cause is the refusal metric's label.
type errRefused struct{ cause string }

func (e errRefused) Error() string { return "gateway: new session refused: " + e.cause }

// admit takes a place for a new session from the client of r.
func (svc *service) admit(r *http.Request) (netip.Addr, error) {
	if svc.srv.draining.Load() {
		svc.srv.metrics.refused(refusedDraining)
		return netip.Addr{}, errRefused{refusedDraining}
	}
	ip := svc.srv.proxies.clientIP(r)
	if cause, ok := svc.srv.limiter.acquire(ip); !ok {
		svc.srv.metrics.refused(cause)
		svc.srv.warnSampled("session|"+cause+"|"+limitKey(ip).String(), "session refused", func(e *zerolog.Event) *zerolog.Event {
			return e.Str("service", svc.prefix).Str("client", ip.String()).Str("cause", cause)
		})
		return ip, errRefused{cause}
	}
	return ip, nil
}

// sessionFor returns the session with id bound to caller c (under key,
// see Server.bindKey), creating it (and starting the service handler for
// it) when there is none.
func (svc *service) sessionFor(r *http.Request, c caller, id, key string, tr transport.Name) (*engine.SockJS, error) {
	var refusal error
	s, created := svc.reg.GetOrCreate(key, func() *engine.SockJS {
		ip, err := svc.admit(r)
		if err != nil {
			refusal = err
			return nil
		}
		s := engine.NewSockJS(id, tr, svc.opts)
		s.SetRequest(svc.srv.requestFacts(r, c))
		svc.clients.Store(s, client{ip, key})
		return s
	})
	if s == nil {
		return nil, refusal
	}
	if created {
		svc.opened(s)
		if key != id {
			svc.noteForeign(id, key, c)
			svc.owners.LoadOrStore(id, key)
		}
		svc.begin(s, c)
	}
	return s, nil
}

// engineSession is what the gateway needs of a native session beyond
// session.Session; the engine's session implements it (checked by the
// compiler below).
type engineSession interface {
	session.Session
	// Start runs an Events service's OnOpen and lets the open frame go.
	Start()
	// HandlerDone records that a Handler service returned.
	HandlerDone()
}

var _ engineSession = (*engine.SockJS)(nil)

// start runs the service handler for a new session: an Events service's
// OnOpen in the calling goroutine, a Handler in a goroutine of its own.
func (svc *service) start(s engineSession) {
	if svc.cfg.Events != nil {
		s.Start()
		return
	}
	svc.srv.handlers.Add(1)
	go func() {
		defer svc.srv.handlers.Done()
		session.Run(svc.cfg.Handler, s, svc.log)
		s.HandlerDone() // after Run closed s: nothing delivered is waited for
	}()
}

// attach finds or creates the session and attaches a receiver to it.
func (svc *service) attach(r *http.Request, id string, tr transport.Name) (*engine.Receiver, error) {
	return svc.attachPush(r, id, tr, nil)
}

// attachPush is attach for a push receiver that calls notify (nil: a pull
// receiver).
func (svc *service) attachPush(r *http.Request, id string, tr transport.Name, notify func()) (*engine.Receiver, error) {
	c := svc.srv.identify(r)
	key := svc.srv.bindKey(id, c)
	for range 3 {
		s, err := svc.sessionFor(r, c, id, key, tr)
		if err != nil {
			return nil, err
		}
		rcv, err := s.AttachWaitPush(r.Context(), notify)
		if errors.Is(err, session.ErrClosed) {
			svc.reg.RemoveKey(key, s) // forgotten a moment ago; make a new one
			continue
		}
		if errors.Is(err, engine.ErrReceiverAttached) && svc.releaseStale(key) {
			continue // held for a node that no longer serves it
		}
		return rcv, err
	}
	return nil, session.ErrClosed
}

func (svc *service) forget(s *engine.SockJS) {
	svc.ws.remove(s)
	svc.releaseOwnership(s)
	if v, ok := svc.clients.LoadAndDelete(s); ok {
		cl := v.(client)
		svc.reg.RemoveKey(cl.key, s)
		svc.owners.CompareAndDelete(s.ID(), cl.key)
		svc.srv.limiter.release(cl.ip)
	}
}

func (svc *service) onClose(s *engine.SockJS, info session.CloseInfo) {
	svc.disarm(s)
	svc.srv.metrics.closed(s.Transport(), info)
	svc.logClosed(s, info)
}

// liveSet is a set of live sessions that are not in the id registry.
type liveSet struct {
	mu sync.Mutex
	m  map[engineSession]struct{}
}

func newLiveSet() liveSet { return liveSet{m: make(map[engineSession]struct{})} }

func (l *liveSet) add(s engineSession) {
	l.mu.Lock()
	l.m[s] = struct{}{}
	l.mu.Unlock()
}

func (l *liveSet) remove(s engineSession) {
	l.mu.Lock()
	delete(l.m, s)
	l.mu.Unlock()
}

func (l *liveSet) snapshot() []engineSession {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]engineSession, 0, len(l.m))
	for s := range l.m {
		out = append(out, s)
	}
	return out
}

// closeAll closes every session of the service: one walk of the registry
// and of the live set.
func (svc *service) closeAll(code int, reason string) {
	svc.walks.Add(1)
	svc.reg.Range(func(s *engine.SockJS) bool {
		_ = s.Close(code, reason)
		return true
	})
	for _, s := range svc.ws.snapshot() {
		_ = s.Close(code, reason)
	}
}
