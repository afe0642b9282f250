package gateway

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/mux"
	"github.com/rs/zerolog"

	"github.com/sockgate/sockgate/session"
	"github.com/sockgate/sockgate/session/engine"
	"github.com/sockgate/sockgate/static"
)

// Defaults of Config.
const (
	// DefaultShutdownTimeout bounds Close when Config.ShutdownTimeout is zero.
	DefaultShutdownTimeout = 10 * time.Second
	// DefaultMaxSessionIDLength bounds ids in session URLs.
	DefaultMaxSessionIDLength = 128
	// DefaultBodyReadTimeout bounds the reading of a request body when
	// Config.BodyReadTimeout is zero.
	DefaultBodyReadTimeout = 10 * time.Second
	// tcpKeepAlive finds dead peers under idle connections.
	tcpKeepAlive = 30 * time.Second
	// readHeaderTimeout bounds the time a client has to send a request's
	// headers (both listeners).
	readHeaderTimeout = 10 * time.Second
	// idleTimeout closes a keep-alive connection with no request for this
	// long.
	idleTimeout = 2 * time.Minute
	// maxHeaderBytes bounds a request's headers.
	maxHeaderBytes = 64 << 10
	// drainIdleWait bounds how long a drain waits for the services to
	// handle the messages clients already sent before it closes the
	// sessions.
	drainIdleWait = 2 * time.Second
	// clientScriptPath is where, under each service prefix, the gateway
	// serves Config.ClientScript.
	clientScriptPath = "/sockjs.min.js"
)

// Server is the gateway: an HTTP server with the SockJS services mounted.
// Open starts it; Close drains and stops it.
type Server struct {
	cfg      Config
	log      zerolog.Logger
	services []*service
	http     *http.Server
	admin    *http.Server
	ln       net.Listener
	port     *drainingListener // under ln (nil when not a TCP listener)
	adminLn  net.Listener
	handlers sync.WaitGroup // service handler goroutines and the connections taken from net/http (counted before they are taken)
	unused   unusedConns    // connections that have not sent a request yet
	draining atomic.Bool
	origins  *originPolicy
	proxies  *proxyPolicy
	limiter  *sessionLimiter
	metrics  *metrics
	sampler  *logSampler // repeated warn lines
	// busy and unfinished count the native sessions whose service is not
	// done with the messages delivered to it, and those that have not
	// collected their close frame (see engine.Options); the drain waits
	// on them.
	busy       engine.Counter
	unfinished engine.Counter
	closeMu    sync.Mutex
	closed     bool
	stopping   stopSignal // the listener closes: forwarded receivers end (forward.go)
	// healthRoutes and appRoutes are the route tables the routers and the
	// fast path are generated from (see routes.go).
	healthRoutes routeTable
	appRoutes    routeTable
	router       http.Handler // the routers, without the fast path
}

// New builds a gateway from cfg without listening yet.
func New(cfg Config) (*Server, error) {
	if cfg.Engine == "" {
		cfg.Engine = EngineNative
	}
	if cfg.Engine != EngineNative && cfg.Engine != EngineSockJSGo {
		return nil, fmt.Errorf("gateway: unknown engine %q (want %q or %q)", cfg.Engine, EngineNative, EngineSockJSGo)
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = DefaultShutdownTimeout
	}
	if cfg.MaxSessionIDLength <= 0 {
		cfg.MaxSessionIDLength = DefaultMaxSessionIDLength
	}
	if err := checkIdentity(&cfg); err != nil {
		return nil, err
	}
	if cfg.BodyReadTimeout == 0 {
		cfg.BodyReadTimeout = DefaultBodyReadTimeout
	}
	if cfg.ClientScript == nil {
		cfg.ClientScript = static.Client()
	}
	if cfg.Pprof && cfg.AdminAddr == "" {
		return nil, errors.New("gateway: the profiler needs an admin address: it must not be served on the public listener")
	}
	cfg.BasePath = strings.TrimRight(cfg.BasePath, "/")
	if cfg.BasePath != "" && !strings.HasPrefix(cfg.BasePath, "/") {
		return nil, fmt.Errorf("gateway: base path %q must start with /", cfg.BasePath)
	}
	cfg.Logger = loggerOrStderr(cfg.Logger)
	cfg.MaxSessions = limit(cfg.MaxSessions, DefaultMaxSessions)
	cfg.MaxSessionsPerIP = limit(cfg.MaxSessionsPerIP, DefaultMaxSessionsPerIP)
	s := &Server{cfg: cfg, log: cfg.Logger, limiter: newSessionLimiter(cfg.MaxSessions, cfg.MaxSessionsPerIP), metrics: newMetrics(), sampler: newLogSampler(logSampleInterval)}
	for _, c := range cfg.Collectors {
		if err := s.metrics.reg.Register(c); err != nil {
			return nil, fmt.Errorf("gateway: registering a collector: %w", err)
		}
	}
	if cfg.Sessions != nil && cfg.Engine != EngineNative {
		return nil, errors.New("gateway: a cluster without sticky sessions needs the native engine")
	}
	s.metrics.cluster.Store(cfg.Sessions)
	var err error
	if s.origins, err = newOriginPolicy(cfg.AllowedOrigins); err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	if s.proxies, err = newProxyPolicy(cfg.TrustedProxies); err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	for _, sc := range cfg.Services {
		if err := s.mount(sc); err != nil {
			return nil, err
		}
	}
	if cfg.Static != nil {
		s.appRoutes = append(s.appRoutes, route{path: "/", kind: matchStart, label: "static", handler: cfg.Static})
	}
	app := mux.NewRouter()
	app.SkipClean(true)
	s.appRoutes.register(app)
	app.NotFoundHandler = routeLabel("other", http.NotFoundHandler())

	s.healthRoutes = s.healthTable()
	root := mux.NewRouter()
	root.SkipClean(true)
	health := root
	if cfg.AdminAddr != "" {
		health = mux.NewRouter()
		s.admin = &http.Server{Handler: health, ReadHeaderTimeout: readHeaderTimeout, IdleTimeout: idleTimeout, MaxHeaderBytes: maxHeaderBytes, ErrorLog: newStdLogger(s.log)}
	}
	s.healthRoutes.register(health)
	if cfg.BasePath != "" {
		base := cfg.BasePath
		routeTable{
			{path: base + "/", kind: matchStart, handler: http.StripPrefix(base, app)},
			{path: base, kind: matchExact, handler: http.RedirectHandler(base+"/", http.StatusMovedPermanently)},
		}.register(root)
		root.NotFoundHandler = routeLabel("other", http.NotFoundHandler())
	} else {
		root.NotFoundHandler = app
	}
	s.router = root
	s.http = &http.Server{
		Handler:           s.observe(s.fastPath(root)),
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          newStdLogger(s.log),
		ConnState:         s.unused.track,
	}
	s.warnProxyTimeout()
	return s, nil
}

// warnProxyTimeout warns when a proxy in front would cut idle sessions
// before their heartbeat.
func (s *Server) warnProxyTimeout() {
	if s.cfg.ProxyIdleTimeout <= 0 {
		return
	}
	for _, sc := range s.cfg.Services {
		hb := sc.HeartbeatDelay
		if hb <= 0 {
			hb = engine.DefaultHeartbeatDelay
		}
		if hb >= s.cfg.ProxyIdleTimeout {
			s.log.Warn().Str("service", sc.Prefix).Dur("heartbeat_delay", hb).Dur("proxy_idle_timeout", s.cfg.ProxyIdleTimeout).
				Msg("heartbeat delay is not shorter than the proxy idle timeout: the proxy will cut idle sessions")
		}
	}
}

// healthTable is the routes of the health listener (the admin address, or
// the main one): probes, metrics, the backend API and the profiler.
func (s *Server) healthTable() routeTable {
	t := routeTable{
		{path: "/healthz", kind: matchExact, label: "healthz", handler: http.HandlerFunc(s.serveHealthz)},
		{path: "/readyz", kind: matchExact, label: "readyz", handler: http.HandlerFunc(s.serveReadyz)},
		{path: "/metrics", kind: matchExact, label: "metrics", handler: s.metrics.handler()},
	}
	if s.cfg.APIKey != "" {
		api := mux.NewRouter()
		api.SkipClean(true)
		s.registerAPIRoutes(api) // labels its routes itself
		t = append(t, route{path: apiPrefix, kind: matchStart, handler: api})
	}
	if s.cfg.Pprof {
		t = append(t, route{path: "/debug/pprof/", kind: matchStart, label: "pprof", handler: http.HandlerFunc(servePprof)})
	}
	return t
}

// mount adds one service's routes to the application's table.
func (s *Server) mount(sc Service) error {
	if !strings.HasPrefix(sc.Prefix, "/") || sc.Prefix == "/" || strings.HasSuffix(sc.Prefix, "/") {
		return fmt.Errorf("gateway: service prefix %q must start with / and not end with it", sc.Prefix)
	}
	if (sc.Handler == nil) == (sc.Events == nil) {
		return fmt.Errorf("gateway: service %q needs exactly one of Handler and Events", sc.Prefix)
	}
	if s.cfg.ClientScript != nil {
		if sc.SockJSURL == "" {
			sc.SockJSURL = s.cfg.BasePath + sc.Prefix + clientScriptPath
		}
		s.appRoutes = append(s.appRoutes, route{path: sc.Prefix + clientScriptPath, kind: matchExact, label: "client_script", handler: s.cfg.ClientScript})
	}
	if s.cfg.Engine == EngineSockJSGo {
		s.appRoutes = append(s.appRoutes, route{path: sc.Prefix, kind: matchUnder, label: "compat", handler: newCompatService(sc, s)})
		return nil
	}
	svc := newService(sc, s)
	s.services = append(s.services, svc)
	s.appRoutes = append(s.appRoutes, route{path: svc.prefix, kind: matchUnder, handler: svc, fast: svc.serve})
	return nil
}

// Handler is the gateway's whole HTTP handler, for embedding it elsewhere.
func (s *Server) Handler() http.Handler { return s.http.Handler }

// Open listens on the configured addresses and serves in the background.
// It returns once the listeners are bound, so ":0" works in tests.
func (s *Server) Open() error {
	addr := s.cfg.Addr
	if addr == "" {
		addr = DefaultAddr
	}
	lc := net.ListenConfig{KeepAlive: tcpKeepAlive}
	ln, err := lc.Listen(context.Background(), "tcp", addr)
	if err != nil {
		return fmt.Errorf("gateway: listen on %s: %w", addr, err)
	}
	if tl, ok := ln.(*net.TCPListener); ok {
		s.port = newDrainingListener(tl)
		ln = s.port
	}
	if s.cfg.MaxConnectionsPerIP > 0 {
		ln = limitListener{Listener: ln, l: newConnLimiter(s.cfg.MaxConnectionsPerIP, s.proxies, s.connRefused)}
	}
	s.ln = ln
	if c := s.cfg.Sessions; c != nil {
		if err := c.Serve(s, s.metrics.forward.observe); err != nil {
			_ = ln.Close()
			return fmt.Errorf("gateway: %w", err)
		}
	}
	if s.admin != nil {
		if s.adminLn, err = lc.Listen(context.Background(), "tcp", s.cfg.AdminAddr); err != nil {
			_ = ln.Close()
			return fmt.Errorf("gateway: listen on admin address %s: %w", s.cfg.AdminAddr, err)
		}
		go s.serve(s.admin, s.adminLn)
	}
	go s.serve(s.http, ln)
	s.warnOpenOrigins(ln.Addr())
	s.logListening()
	return nil
}

// connRefused counts and logs a connection over MaxConnectionsPerIP.
func (s *Server) connRefused(peer netip.Addr) {
	s.metrics.refused(refusedConnsPerIP)
	s.warnSampled("conn|"+limitKey(peer).String(), "connection refused", func(e *zerolog.Event) *zerolog.Event {
		return e.Str("client", peer.String()).Str("cause", refusedConnsPerIP)
	})
}

func (s *Server) serve(hs *http.Server, ln net.Listener) {
	if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		s.log.Error().Err(err).Str("addr", ln.Addr().String()).Msg("serve")
	}
}

// Addr is the bound address; nil before Open.
func (s *Server) Addr() net.Addr {
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// AdminAddr is the bound admin address; nil without one.
func (s *Server) AdminAddr() net.Addr {
	if s.adminLn == nil {
		return nil
	}
	return s.adminLn.Addr()
}

// URL is the base URL of the running gateway, e.g. "http://127.0.0.1:8080".
func (s *Server) URL() string {
	if s.ln == nil {
		return ""
	}
	return "http://" + s.ln.Addr().String()
}

// Close drains and stops the gateway within Config.ShutdownTimeout.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	return s.Shutdown(ctx)
}

// Shutdown drains the gateway and stops it; it is idempotent. Draining:
// /readyz turns 503 and new sessions are refused; messages clients already
// sent are given to the handlers; every session gets the close frame
// c[3001,"Server shutting down"] after its queued messages; the listener
// stays open until every session has collected its close frame (polling
// clients on their next poll) or ctx ends; then the port closes, the
// connections already made are served, and the server stops.
func (s *Server) Shutdown(ctx context.Context) error {
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	s.draining.Store(true)
	s.metrics.draining.Set(1)
	s.log.Info().Msg("draining")
	idleCtx, cancel := context.WithTimeout(ctx, drainIdleWait)
	s.busy.Wait(idleCtx)
	cancel()
	for _, svc := range s.services {
		svc.closeAll(session.CodeShutdown, session.ReasonShutdown)
	}
	s.unfinished.Wait(ctx)
	s.http.SetKeepAlivesEnabled(false) // what is answered from now on closes its connection
	// The port closes before net/http's Shutdown, which would drop the
	// requests of connections made but not read yet: those are accepted
	// and read first (up to unusedGrace each).
	if s.port != nil {
		s.port.closeAccepting(ctx)
	}
	// The forwarded receivers end only now: a client whose poll is
	// answered polls again at once, and must find the port closed (its
	// balancer tries another node) rather than open but about to close.
	s.stopping.fire()
	s.unused.settle(ctx)
	// net/http's Shutdown waits up to 5 s for a connection that never
	// sent a request (HTTP clients keep spares). With the port closed and
	// the fresh ones read, those left have sat unused for the grace: they
	// go now.
	s.unused.closeStale()
	err := s.http.Shutdown(ctx)
	if s.admin != nil {
		_ = s.admin.Shutdown(ctx)
	}
	done := make(chan struct{})
	go func() {
		s.handlers.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		if err == nil {
			err = fmt.Errorf("gateway: shutdown: %w", ctx.Err())
		}
	}
	_ = s.http.Close()
	if s.admin != nil {
		_ = s.admin.Close()
	}
	return err
}

func (s *Server) serveHealthz(w http.ResponseWriter, _ *http.Request) {
	setNoCache(w.Header())
	writeText(w, http.StatusOK, "ok\n")
}

func (s *Server) serveReadyz(w http.ResponseWriter, _ *http.Request) {
	setNoCache(w.Header())
	if s.draining.Load() {
		writeText(w, http.StatusServiceUnavailable, "draining\n")
		return
	}
	if c := s.cfg.Sessions; c != nil && !c.Connected() {
		writeText(w, http.StatusServiceUnavailable, "NATS unreachable\n")
		return
	}
	writeText(w, http.StatusOK, "ready\n")
}
