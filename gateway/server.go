package gateway

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/mux"
	"github.com/rs/zerolog"

	"github.com/sockgate/sockgate/session"
)

// DefaultShutdownTimeout bounds Close when Config.ShutdownTimeout is zero.
const DefaultShutdownTimeout = 10 * time.Second

// Server is the gateway: an HTTP server with the SockJS services mounted.
// Open starts it; Close drains and stops it.
type Server struct {
	cfg      Config
	log      zerolog.Logger
	router   *mux.Router
	services []*service
	http     *http.Server
	ln       net.Listener
	handlers sync.WaitGroup // service handler goroutines
	draining atomic.Bool
	closeMu  sync.Mutex
	closed   bool
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
	s := &Server{cfg: cfg, log: cfg.Logger}
	s.router = mux.NewRouter()
	s.router.SkipClean(true)
	s.router.HandleFunc("/healthz", s.serveHealthz)
	s.router.HandleFunc("/readyz", s.serveReadyz)
	for _, sc := range cfg.Services {
		if err := s.mount(sc); err != nil {
			return nil, err
		}
	}
	if cfg.Static != nil {
		s.router.PathPrefix("/").Handler(cfg.Static)
	}
	s.http = &http.Server{
		Handler:           s.logRequests(s.router),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          newStdLogger(s.log),
	}
	return s, nil
}

// mount adds one service's routes.
func (s *Server) mount(sc Service) error {
	if !strings.HasPrefix(sc.Prefix, "/") || sc.Prefix == "/" || strings.HasSuffix(sc.Prefix, "/") {
		return fmt.Errorf("gateway: service prefix %q must start with / and not end with it", sc.Prefix)
	}
	if sc.Handler == nil {
		return fmt.Errorf("gateway: service %q has no handler", sc.Prefix)
	}
	var h http.Handler
	if s.cfg.Engine == EngineSockJSGo {
		h = newCompatService(sc, s.log)
	} else {
		svc := newService(sc, s.log, &s.handlers)
		s.services = append(s.services, svc)
		h = svc
	}
	prefix := sc.Prefix
	s.router.MatcherFunc(func(r *http.Request, _ *mux.RouteMatch) bool {
		p := r.URL.Path
		return p == prefix || strings.HasPrefix(p, prefix) && p[len(prefix)] == '/'
	}).Handler(h)
	return nil
}

// Handler is the gateway's whole HTTP handler, for embedding it elsewhere.
func (s *Server) Handler() http.Handler { return s.http.Handler }

// Open listens on the configured address and serves in the background. It
// returns once the listener is bound, so ":0" works in tests.
func (s *Server) Open() error {
	addr := s.cfg.Addr
	if addr == "" {
		addr = ":8080"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("gateway: listen on %s: %w", addr, err)
	}
	s.ln = ln
	go func() {
		if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error().Err(err).Msg("serve")
		}
	}()
	s.log.Info().Str("addr", ln.Addr().String()).Str("engine", s.cfg.Engine).Msg("gateway listening")
	return nil
}

// Addr is the bound address; nil before Open.
func (s *Server) Addr() net.Addr {
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
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

// Shutdown stops taking new sessions, sends every open session a close
// frame (session.CodeShutdown) after its queued messages, waits for the
// handlers and connections to finish until ctx ends, then stops. It is
// idempotent.
func (s *Server) Shutdown(ctx context.Context) error {
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	s.draining.Store(true)
	for _, svc := range s.services {
		svc.closeAll(session.CodeShutdown, session.ReasonShutdown)
	}
	err := s.http.Shutdown(ctx)
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
	return err
}

// closeAll closes every session of the service.
func (svc *service) closeAll(code int, reason string) {
	svc.reg.Range(func(s *session.SockJS) bool {
		_ = s.Close(code, reason)
		return true
	})
	for _, s := range svc.ws.snapshot() {
		_ = s.Close(code, reason)
	}
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
	writeText(w, http.StatusOK, "ready\n")
}
