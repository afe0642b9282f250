package gateway

import (
	"bufio"
	"log"
	"net"
	"net/http"
	"time"

	"github.com/rs/zerolog"
)

// statusWriter records the status and size of a response. It passes
// flushing and hijacking through to the real writer.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int
	route  string // metrics label, set by the handler through routeLabel
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.bytes += n
	return n, err
}

// Unwrap lets http.ResponseController reach the real writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush implements http.Flusher.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Hijack implements http.Hijacker, for websocket upgrades.
func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if w.status == 0 {
		w.status = http.StatusSwitchingProtocols
	}
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

// observe logs every request when it ends (at debug level, at warn level
// for server errors) and counts it by route and status.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var start time.Time
		if s.log.GetLevel() <= zerolog.WarnLevel { // the duration may be logged
			start = time.Now()
		}
		sw := &statusWriter{ResponseWriter: w, route: "other"}
		if len(r.TransferEncoding) > 0 {
			// No SockJS client sends a chunked body; a proxy in front may
			// have framed this request differently (smuggling). Answer it
			// and close, so nothing after it on this connection is served.
			r.Close = true
			w.Header().Set("Connection", "close")
		}
		next.ServeHTTP(sw, r)
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		s.metrics.request(sw.route, sw.status)
		level := zerolog.DebugLevel
		if sw.status >= 500 {
			level = zerolog.WarnLevel
		}
		if s.log.GetLevel() > level {
			return
		}
		s.log.WithLevel(level).Str("method", r.Method).Str("path", r.URL.Path).Str("route", sw.route).
			Int("status", sw.status).Int("bytes", sw.bytes).Dur("duration", time.Since(start)).
			Str("client", s.proxies.clientIP(r).String()).Msg("request")
	})
}

// setRoute names the route of a request for the metrics.
func setRoute(w http.ResponseWriter, route string) {
	if sw, ok := w.(*statusWriter); ok {
		sw.route = route
	}
}

// routeLabel names the route of every request h serves.
func routeLabel(route string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setRoute(w, route)
		h.ServeHTTP(w, r)
	})
}

// newStdLogger routes net/http's own error log into zerolog.
func newStdLogger(l zerolog.Logger) *log.Logger {
	return log.New(zerologWriter{l}, "", 0)
}

type zerologWriter struct{ l zerolog.Logger }

func (z zerologWriter) Write(p []byte) (int, error) {
	z.l.Warn().Msg(string(trimNewline(p)))
	return len(p), nil
}

func trimNewline(p []byte) []byte {
	for len(p) > 0 && (p[len(p)-1] == '\n' || p[len(p)-1] == '\r') {
		p = p[:len(p)-1]
	}
	return p
}
