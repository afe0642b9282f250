package gateway

import (
	"bufio"
	"io"
	"log"
	"net"
	"net/http"
	"strconv"
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
		if r.ContentLength != 0 && s.cfg.BodyReadTimeout > 0 {
			s.boundBody(w, r)
		}
		next.ServeHTTP(sw, r)
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		s.metrics.request(sw.route, sw.status)
		if sw.status >= 500 {
			s.warnSampled("status|"+sw.route+"|"+strconv.Itoa(sw.status), "request", func(e *zerolog.Event) *zerolog.Event {
				return s.requestFields(e, r, sw, start)
			})
			return
		}
		if s.log.GetLevel() <= zerolog.DebugLevel {
			s.requestFields(s.log.Debug(), r, sw, start).Msg("request")
		}
	})
}

// requestFields adds what a request log line says about r.
func (s *Server) requestFields(e *zerolog.Event, r *http.Request, sw *statusWriter, start time.Time) *zerolog.Event {
	return e.Str("method", r.Method).Str("path", r.URL.Path).Str("route", sw.route).
		Int("status", sw.status).Int("bytes", sw.bytes).Dur("duration", time.Since(start)).
		Str("client", s.proxies.clientIP(r).String())
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

// boundBody gives the client of r BodyReadTimeout to send its whole body: a
// read deadline on the connection, lifted once the body has been read to its
// end. It bounds the handler's reads and the ones net/http makes itself to
// drain an unread body before answering, so a client that declares a body
// and sends it slowly, or not at all, cannot hold the connection: the read
// fails, and the handler answers 408 (see deliver) on a connection that
// then closes.
func (s *Server) boundBody(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	if err := rc.SetReadDeadline(time.Now().Add(s.cfg.BodyReadTimeout)); err != nil {
		return // HTTP/2: its own flow control and timeouts
	}
	r.Body = &deadlineBody{ReadCloser: r.Body, lift: func() { _ = rc.SetReadDeadline(time.Time{}) }}
}

// deadlineBody lifts the read deadline of boundBody once its body is read
// to the end.
type deadlineBody struct {
	io.ReadCloser
	lift   func()
	lifted bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF && !b.lifted {
		b.lifted = true
		b.lift()
	}
	return n, err
}
