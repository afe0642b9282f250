package gateway

import (
	"context"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/sockgate/sockgate/gateway/compat"
	"github.com/sockgate/sockgate/session"
)

// compatStartGrace is how long a session place taken for a new compat
// session is held when the request that took it ended before sockjs-go
// started the session's handler (it starts it in a goroutine of its own).
const compatStartGrace = 2 * time.Second

// newCompatService serves sc with the compat engine (igm/sockjs-go), behind
// the gateway's origin policy, session limits and send-body bound, which
// sockjs-go has no equivalent for. Options it cannot honour (the websocket
// message and queue bounds) do not apply there; cmd/sockgate refuses a rate
// limit with it.
func newCompatService(sc Service, s *Server) http.Handler {
	url := sc.SockJSURL
	if url == "" {
		url = DefaultSockJSURL
	}
	maxBody := sc.MaxMessageBytes
	if maxBody <= 0 {
		maxBody = DefaultMaxMessageBytes
	}
	cs := &compatFront{srv: s, prefix: sc.Prefix, maxBody: int64(maxBody), live: make(map[string]*compatSession)}
	cs.next = compat.New(compat.Options{
		Prefix:             sc.Prefix,
		HeartbeatDelay:     sc.HeartbeatDelay,
		DisconnectDelay:    sc.DisconnectDelay,
		ResponseLimit:      sc.ResponseLimit,
		Websocket:          !sc.DisableWebsocket,
		RawWebsocket:       !sc.DisableWebsocket && !sc.DisableRawWebsocket,
		CookieNeeded:       sc.CookieNeeded,
		DisabledTransports: sc.DisabledTransports,
		SockJSURL:          url,
		Logger:             s.log.With().Str("service", sc.Prefix).Str("engine", EngineSockJSGo).Logger(),
	}, cs.counted(handlerOf(sc)))
	return cs
}

// handlerOf is the service's code as a session.Handler.
func handlerOf(sc Service) session.Handler {
	if sc.Events != nil {
		return session.EventsHandler(sc.Events)
	}
	return sc.Handler
}

// compatFront enforces the origin policy and the session limits in front of
// one compat service. sockjs-go creates a session on the first receiving
// request of an id and runs its handler in a goroutine; the front takes a
// place in the session limiter when it sees a receiving request for an id
// it does not know (503 when there is none), and gives it back when that
// session ends, or, if no session started for it, compatStartGrace after
// the request.
type compatFront struct {
	srv     *Server
	prefix  string
	maxBody int64 // Service.MaxMessageBytes, for send bodies
	next    http.Handler
	mu      sync.Mutex
	live    map[string]*compatSession // by session id
}

// compatSession is the place one session id holds in the limiter.
type compatSession struct {
	ip      netip.Addr
	started bool // its handler runs: it is released when the session ends
}

// compatRoute is what the front needs to know of a request path.
type compatRoute struct {
	checked   bool   // subject to the origin policy
	noOrigin  bool   // a GET browsers send without Origin (jsonp, htmlfile)
	send      bool   // xhr_send or jsonp_send: a body of messages
	receiving string // the session id a receiving request may create
	raw       bool   // the raw websocket: one session per request
}

// compatRouteOf classifies rest, the path after the service prefix.
func compatRouteOf(rest string) compatRoute {
	switch {
	case rest == "/info":
		return compatRoute{checked: true}
	case rest == "/websocket":
		return compatRoute{checked: true, raw: true}
	}
	parts := strings.Split(strings.TrimPrefix(rest, "/"), "/")
	if len(parts) != 3 {
		return compatRoute{}
	}
	rt := compatRoute{checked: true}
	switch parts[2] {
	case "jsonp", "htmlfile":
		rt.noOrigin = true
		rt.receiving = parts[1]
	case "xhr", "xhr_streaming", "eventsource", "websocket":
		rt.receiving = parts[1]
	case "xhr_send", "jsonp_send":
		rt.send = true
	}
	return rt
}

// ServeHTTP checks the request's origin and, for one that may open a
// session, takes a place for it, then hands it to sockjs-go.
func (cs *compatFront) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest := strings.TrimPrefix(r.URL.Path, cs.prefix)
	rt := compatRouteOf(rest)
	if rt.checked && !cs.originAllowed(w, r, rt) {
		return
	}
	if r.Method == http.MethodOptions {
		cs.next.ServeHTTP(w, r)
		return
	}
	switch {
	case rt.send:
		// sockjs-go reads a send body whole, with no bound.
		if r.ContentLength > cs.maxBody {
			cs.srv.metrics.refused(refusedTooLarge)
			w.Header().Set("Connection", "close")
			writeText(w, http.StatusRequestEntityTooLarge, "Payload too large.")
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, cs.maxBody)
	case rt.raw:
		ip, ok := cs.admit(w, r)
		if !ok {
			return
		}
		defer cs.srv.limiter.release(ip) // the request lasts the session
	case rt.receiving != "":
		if !cs.take(w, r, rt.receiving) {
			return
		}
		defer cs.settle(rt.receiving)
	}
	cs.next.ServeHTTP(w, r)
}

// originAllowed enforces the origin policy, answering 403 itself.
func (cs *compatFront) originAllowed(w http.ResponseWriter, r *http.Request, rt compatRoute) bool {
	origin := r.Header.Get("Origin")
	host := cs.srv.proxies.host(r)
	if !cs.srv.origins.allowed(origin, host) {
		cs.srv.refuseOrigin(w, r, origin)
		return false
	}
	if rt.noOrigin && origin == "" {
		if from, ok := cs.srv.origins.crossSiteAllowed(r, host); !ok {
			cs.srv.refuseOrigin(w, r, from)
			return false
		}
	}
	return true
}

// admit takes a place in the session limiter for the client of r, or
// answers 503 itself.
func (cs *compatFront) admit(w http.ResponseWriter, r *http.Request) (netip.Addr, bool) {
	ip := cs.srv.proxies.clientIP(r)
	if cause, ok := cs.srv.limiter.acquire(ip); !ok {
		cs.srv.metrics.refused(cause)
		cs.srv.warnSampled("session|"+cause+"|"+limitKey(ip).String(), "session refused", func(e *zerolog.Event) *zerolog.Event {
			return e.Str("service", cs.prefix).Str("client", ip.String()).Str("cause", cause)
		})
		w.Header().Set("Retry-After", "5")
		writeText(w, http.StatusServiceUnavailable, "Server busy, try again later.")
		return ip, false
	}
	return ip, true
}

// take makes sure session id holds a place, taking one when it is new.
func (cs *compatFront) take(w http.ResponseWriter, r *http.Request, id string) bool {
	cs.mu.Lock()
	_, known := cs.live[id]
	cs.mu.Unlock()
	if known {
		return true
	}
	ip, ok := cs.admit(w, r)
	if !ok {
		return false
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if _, known := cs.live[id]; known { // a concurrent request took it
		cs.srv.limiter.release(ip)
		return true
	}
	cs.live[id] = &compatSession{ip: ip}
	return true
}

// settle runs when a receiving request for id ends: if no session started
// for it (a refused or failed request), its place is given back after
// compatStartGrace.
func (cs *compatFront) settle(id string) {
	cs.mu.Lock()
	e := cs.live[id]
	waiting := e != nil && !e.started
	cs.mu.Unlock()
	if !waiting {
		return
	}
	time.AfterFunc(compatStartGrace, func() {
		cs.mu.Lock()
		defer cs.mu.Unlock()
		if cs.live[id] == e && !e.started {
			delete(cs.live, id)
			cs.srv.limiter.release(e.ip)
		}
	})
}

// counted wraps the service's handler: a session that starts keeps its
// place until it ends.
func (cs *compatFront) counted(h session.Handler) session.Handler {
	return func(ctx context.Context, s session.Session) {
		id := s.ID()
		cs.mu.Lock()
		e := cs.live[id]
		if e != nil && !e.started && id != "" {
			e.started = true
		} else {
			e = nil // the raw websocket, or a session the front did not count
		}
		cs.mu.Unlock()
		if e != nil {
			go func() {
				<-s.Done()
				cs.mu.Lock()
				if cs.live[id] == e {
					delete(cs.live, id)
				}
				cs.mu.Unlock()
				cs.srv.limiter.release(e.ip)
			}()
		}
		h(ctx, s)
	}
}
