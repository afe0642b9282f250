// Command plainhttp is the HTTP "limit" baseline of make bench: a plain
// net/http long-polling echo server doing the least work a SockJS
// xhr-polling or xhr-streaming transport must do, as plainws is for the
// websockets. It has none of sockgate's session machinery: no heartbeats,
// no session timeouts beyond a sweep of abandoned sessions, no limits, no
// origin checks, no logging, no metrics beyond the few sockgate-bench reads.
// Requests go through the standard library's ServeMux and ResponseWriter
// only (no hijacking), so its CPU per round trip is the floor set by
// net/http's request parsing and response writing.
//
//	POST /echo/<server>/<session>/xhr            "o\n" on the first request;
//	                                             later ones answer the queued
//	                                             messages as one a[...] frame,
//	                                             held until one comes (or
//	                                             "h\n" after 25 s)
//	POST /echo/<server>/<session>/xhr_send       a JSON array of strings:
//	                                             each is queued back to the
//	                                             session (echo), 204
//	POST /echo/<server>/<session>/xhr_streaming  2048 'h' and "\n", "o\n" for
//	                                             a new session, then one
//	                                             a[...] frame per wake-up,
//	                                             ended after 128 KiB of frames
//	GET  /metrics                                go_goroutines and the heap
//	                                             and stack bytes in use, for
//	                                             sockgate-bench
//
// A second receiving request while one is held gets
// c[2010,"Another connection still open"], as SockJS requires.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
)

const (
	// pollTimeout is how long a poll is held without messages before it
	// is answered with "h" (sockjs-node's heartbeat delay).
	pollTimeout = 25 * time.Second
	// streamLimit is how many frame bytes one xhr_streaming response
	// carries before it ends and the client reconnects (SockJS's
	// response_limit).
	streamLimit = 128 << 10
	// maxMessage bounds one xhr_send body, as sockgate's default.
	maxMessage = 1 << 20
	// sweepEvery is how often abandoned sessions are dropped: a session
	// with no receiving request during a whole period goes.
	sweepEvery = 5 * time.Second
)

// Frames and answers.
var (
	streamPrelude = []byte(strings.Repeat("h", 2048) + "\n")
	openFrame     = []byte("o\n")
	heartbeat     = []byte("h\n")
	anotherOpen   = []byte("c[2010,\"Another connection still open\"]\n")
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8091", "listen address")
	flag.Parse()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	s := newServer()
	go s.sweep(sweepEvery)
	srv := &http.Server{Handler: s.mux(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Fatal(err)
		}
	}()
	fmt.Fprintf(os.Stderr, "plainhttp listening on %s\n", ln.Addr())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	_ = srv.Close()
}

// server is the session map.
type server struct {
	pollTimeout time.Duration
	mu          sync.Mutex
	sessions    map[string]*session
}

// session is one echo session: the messages queued for it, and at most one
// receiving request waiting for them.
type session struct {
	mu        sync.Mutex
	pending   []byte // queued messages, JSON-encoded and comma-separated
	spare     []byte // the previous pending buffer, reused
	receiving bool   // a receiving request is attached
	seen      bool   // a receiving request came since the last sweep
	wake      chan struct{}
}

func newServer() *server {
	return &server{pollTimeout: pollTimeout, sessions: make(map[string]*session)}
}

// mux routes the endpoints listed in the package comment.
func (s *server) mux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /echo/{server}/{session}/xhr", s.serveXHR)
	mux.HandleFunc("POST /echo/{server}/{session}/xhr_send", s.serveSend)
	mux.HandleFunc("POST /echo/{server}/{session}/xhr_streaming", s.serveStreaming)
	mux.HandleFunc("GET /metrics", serveMetrics)
	return mux
}

// serveMetrics writes the few samples sockgate-bench reads, under the
// names sockgate's Prometheus Go collector gives them.
func serveMetrics(w http.ResponseWriter, _ *http.Request) {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	fmt.Fprintf(w, "go_goroutines %d\ngo_memstats_heap_inuse_bytes %d\ngo_memstats_stack_inuse_bytes %d\n",
		runtime.NumGoroutine(), m.HeapInuse, m.StackInuse)
}

// open returns the session id names, creating it when it does not exist;
// created is true then.
func (s *server) open(id string) (sess *session, created bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sess = s.sessions[id]; sess != nil {
		return sess, false
	}
	sess = &session{wake: make(chan struct{}, 1), seen: true}
	s.sessions[id] = sess
	return sess, true
}

func (s *server) get(id string) *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions[id]
}

// sweep drops, every period, the sessions no receiving request came for
// during the previous period, so that sessions the load tool abandons do
// not pile up over a long run.
func (s *server) sweep(period time.Duration) {
	for range time.Tick(period) {
		s.sweepOnce()
	}
}

// sweepOnce drops the sessions without a receiving request since the last
// sweep.
func (s *server) sweepOnce() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, sess := range s.sessions {
		sess.mu.Lock()
		if !sess.receiving && !sess.seen {
			delete(s.sessions, id)
		}
		sess.seen = false
		sess.mu.Unlock()
	}
}

// sockjsHeaders sets what SockJS requires on every xhr response: its
// content type, no caching, and CORS (the browser's page may be on another
// origin).
func sockjsHeaders(w http.ResponseWriter, r *http.Request, contentType string) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Cache-Control", "no-store, no-cache, no-transform, must-revalidate, max-age=0")
	origin := r.Header.Get("Origin")
	if origin == "" {
		origin = "*"
	}
	h.Set("Access-Control-Allow-Origin", origin)
}

// serveXHR answers one poll.
func (s *server) serveXHR(w http.ResponseWriter, r *http.Request) {
	sockjsHeaders(w, r, "application/javascript; charset=UTF-8")
	sess, created := s.open(r.PathValue("session"))
	if created {
		_, _ = w.Write(openFrame)
		return
	}
	if !sess.attach() {
		_, _ = w.Write(anotherOpen)
		return
	}
	timer := time.NewTimer(s.pollTimeout)
	defer timer.Stop()
	for {
		if frame := sess.take(); frame != nil {
			sess.detach()
			_, _ = w.Write(frame)
			sess.recycle(frame)
			return
		}
		select {
		case <-sess.wake:
		case <-timer.C:
			sess.detach()
			_, _ = w.Write(heartbeat)
			return
		case <-r.Context().Done():
			sess.detach()
			return
		}
	}
}

// serveStreaming holds one xhr_streaming response until streamLimit bytes
// of frames have gone or the client leaves.
func (s *server) serveStreaming(w http.ResponseWriter, r *http.Request) {
	sockjsHeaders(w, r, "application/javascript; charset=UTF-8")
	rc := http.NewResponseController(w)
	sess, created := s.open(r.PathValue("session"))
	_, _ = w.Write(streamPrelude)
	if !sess.attach() {
		_, _ = w.Write(anotherOpen)
		return
	}
	defer sess.detach()
	if created {
		_, _ = w.Write(openFrame)
	}
	if rc.Flush() != nil {
		return
	}
	for sent := 0; sent < streamLimit; {
		frame := sess.take()
		if frame == nil {
			select {
			case <-sess.wake:
				continue
			case <-r.Context().Done():
				return
			}
		}
		n, err := w.Write(frame)
		sess.recycle(frame)
		if err != nil || rc.Flush() != nil {
			return
		}
		sent += n
	}
}

// serveSend queues the posted messages back to their session.
func (s *server) serveSend(w http.ResponseWriter, r *http.Request) {
	sockjsHeaders(w, r, "text/plain; charset=UTF-8")
	sess := s.get(r.PathValue("session"))
	if sess == nil {
		http.Error(w, "Session not found.", http.StatusNotFound)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxMessage))
	if err != nil {
		http.Error(w, "Could not read the request body.", http.StatusBadRequest)
		return
	}
	msgs, problem := encoded(body)
	if problem != "" {
		http.Error(w, problem, http.StatusInternalServerError)
		return
	}
	if len(msgs) > 0 {
		sess.queue(msgs)
	}
	w.WriteHeader(http.StatusNoContent)
}

// encoded checks that body is a JSON array of strings and returns its
// elements as they go into an a[...] frame: JSON-encoded, comma-separated.
// A body of one printable-ASCII string without escapes is used as it is;
// anything else is decoded and encoded again. problem is SockJS's answer
// to a body that is not such an array.
func encoded(body []byte) (msgs []byte, problem string) {
	if simpleArray(body) {
		return body[1 : len(body)-1], ""
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, "Payload expected."
	}
	var decoded []string
	if err := json.Unmarshal(body, &decoded); err != nil || decoded == nil {
		return nil, "Broken JSON encoding."
	}
	b, err := json.Marshal(decoded) // cannot fail on strings
	if err != nil {
		return nil, "Broken JSON encoding."
	}
	return b[1 : len(b)-1], ""
}

// simpleArray reports whether p is ["<text>"] with text printable ASCII
// without '"' or '\'.
func simpleArray(p []byte) bool {
	if len(p) < 4 || p[0] != '[' || p[1] != '"' || p[len(p)-2] != '"' || p[len(p)-1] != ']' {
		return false
	}
	for _, c := range p[2 : len(p)-2] {
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// queue appends encoded messages and wakes the receiving request, if any.
func (sess *session) queue(msgs []byte) {
	sess.mu.Lock()
	if len(sess.pending) == 0 {
		sess.pending = append(sess.pending, "a["...)
	} else {
		sess.pending = append(sess.pending, ',')
	}
	sess.pending = append(sess.pending, msgs...)
	sess.mu.Unlock()
	select {
	case sess.wake <- struct{}{}:
	default:
	}
}

// take returns the queued messages as one a[...] frame ending in "\n", or
// nil when none are queued. Hand the frame back with recycle once written.
func (sess *session) take() []byte {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if len(sess.pending) == 0 {
		return nil
	}
	frame := append(sess.pending, ']', '\n')
	sess.pending, sess.spare = sess.spare[:0], nil
	return frame
}

// recycle keeps a written frame's buffer for the next messages.
func (sess *session) recycle(frame []byte) {
	sess.mu.Lock()
	if sess.spare == nil && cap(frame) <= 64<<10 {
		sess.spare = frame[:0]
	}
	sess.mu.Unlock()
}

// attach marks a receiving request as attached; false when one already is.
func (sess *session) attach() bool {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if sess.receiving {
		return false
	}
	sess.receiving, sess.seen = true, true
	return true
}

func (sess *session) detach() {
	sess.mu.Lock()
	sess.receiving = false
	sess.mu.Unlock()
}
