package gateway

import (
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/sockgate/sockgate/session/transport"
)

// writeTimeout bounds each write to a client; a client that cannot take a
// frame in this time is treated as gone.
const writeTimeout = 10 * time.Second

// frameWriter frames SockJS frames on one HTTP response of a receiving
// transport.
type frameWriter interface {
	// writeFrame writes frame with the transport's framing and flushes it,
	// returning how many bytes went out.
	writeFrame(frame []byte) (int, error)
}

// receiving describes one receiving request.
type receiving struct {
	transport transport.Name
	streaming bool         // many frames per response, up to the limit
	start     func() error // headers and prelude, before the first frame
	fw        frameWriter
	stream    *streamFraming // streaming transports: the framing, to serve on the connection itself
}

// receive serves a receiving request: attach to the session (creating it),
// then pass frames to the client until the response is done.
func (svc *service) receive(w http.ResponseWriter, r *http.Request, sid string, rv receiving) {
	if svc.forwardReceive(w, r, sid, rv) {
		return // the session lives on another node
	}
	if rv.stream != nil && canTakeOver(w, r) {
		svc.serveStream(w, r, sid, rv)
		return
	}
	rcv, err := svc.attach(r, sid, rv.transport)
	if err != nil {
		svc.refuseReceiver(w, rv, err)
		return
	}
	if err := rv.start(); err != nil {
		rcv.Abort()
		return
	}
	ctx := r.Context()
	written := 0
	for {
		frame, last, err := rcv.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				rcv.Abort()
			} else {
				rcv.Detach()
			}
			return
		}
		// A poll detaches before its write: the client may poll again the
		// moment it has the response, and must never meet this receiver.
		final := last || !rv.streaming
		if final {
			rcv.Detach()
		}
		n, err := rv.fw.writeFrame(frame)
		if err != nil {
			rcv.Abort()
			return
		}
		written += n
		if isHeartbeat(frame) {
			svc.srv.metrics.heartbeats.Inc()
		}
		if final {
			return
		}
		if written >= svc.cfg.ResponseLimit {
			rcv.Detach()
			return
		}
	}
}

// refuse answers a request for a session that could not be had.
func (svc *service) refuse(w http.ResponseWriter, err error) {
	var refused errRefused
	if errors.As(err, &refused) {
		w.Header().Set("Retry-After", "5")
		writeText(w, http.StatusServiceUnavailable, "Server busy, try again later.")
		return
	}
	writeText(w, http.StatusInternalServerError, "Session unavailable.")
}

// bufPool holds buffers for framing frames.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// respWriter writes and flushes framed bytes, each write with at least
// writeTimeout/2 to complete. The deadline is moved only when it comes
// closer than that, not on every frame (each move is a timer change).
type respWriter struct {
	w        http.ResponseWriter
	rc       *http.ResponseController
	deadline time.Time
}

func newRespWriter(w http.ResponseWriter) *respWriter {
	return &respWriter{w: w, rc: http.NewResponseController(w)}
}

func (rw *respWriter) extendDeadline() {
	now := time.Now()
	if rw.deadline.Sub(now) > writeTimeout/2 {
		return
	}
	rw.deadline = now.Add(writeTimeout)
	_ = rw.rc.SetWriteDeadline(rw.deadline)
}

// write writes prefix, frame and suffix in one write and flushes.
func (rw *respWriter) write(prefix string, frame []byte, suffix string) (int, error) {
	bp := bufPool.Get().(*[]byte)
	b := append((*bp)[:0], prefix...)
	b = append(b, frame...)
	b = append(b, suffix...)
	rw.extendDeadline()
	n, err := rw.w.Write(b)
	if err == nil {
		err = rw.rc.Flush()
	}
	if cap(b) <= 64*1024 {
		*bp = b
		bufPool.Put(bp)
	}
	return n, err
}
