package gateway

import (
	"errors"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sockgate/sockgate/session"
	"github.com/sockgate/sockgate/session/engine"
	"github.com/sockgate/sockgate/session/transport"
)

// streamFraming is how a streaming transport (xhr-streaming, eventsource,
// htmlfile) frames its response.
type streamFraming struct {
	// headers sets the response headers (the status is 200).
	headers func(h http.Header)
	// prelude is the body before the first frame.
	prelude string
	// frame appends one SockJS frame in the transport's framing.
	frame func(dst, frame []byte) []byte
}

// streamReceiving is the receiving of a streaming transport: served on a
// connection taken over from net/http when it can be (see serveStream),
// through net/http otherwise.
func streamReceiving(w http.ResponseWriter, tr transport.Name, f streamFraming) receiving {
	rw := newRespWriter(w)
	return receiving{
		transport: tr,
		streaming: true,
		stream:    &f,
		start: func() error {
			f.headers(w.Header())
			w.WriteHeader(http.StatusOK)
			_, err := rw.write(f.prelude, nil, "")
			return err
		},
		fw: frameWriterFunc(func(frame []byte) (int, error) {
			bp := bufPool.Get().(*[]byte)
			b := f.frame((*bp)[:0], frame)
			n, err := rw.write("", b, "")
			if cap(b) <= 64*1024 {
				*bp = b[:0]
				bufPool.Put(bp)
			}
			return n, err
		}),
	}
}

// canTakeOver reports whether a streaming response to r can be served on
// the connection itself: an HTTP/1.x connection net/http lets us hijack.
func canTakeOver(w http.ResponseWriter, r *http.Request) bool {
	if r.ProtoMajor != 1 {
		return false
	}
	for {
		if sw, ok := w.(*statusWriter); ok { // its Hijack only passes the call on
			w = sw.ResponseWriter
			continue
		}
		if _, ok := w.(http.Hijacker); ok {
			return true
		}
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return false
		}
		w = u.Unwrap()
	}
}

// stream is a streaming response on a connection taken over from net/http
// (an ownedConn). Frames are written as in a websocket (see connWriter): by
// whoever queues them, with non-blocking writes. One goroutine reads the
// connection only to see the client leave. So an idle stream costs one
// small goroutine instead of net/http's connection goroutine, its
// background reader and their buffers, and a frame costs one write system
// call and no wake-up.
type stream struct {
	svc     *service
	rv      receiving
	chunked bool // HTTP/1.1: chunked body; HTTP/1.0: the body ends at close
	o       *ownedConn
	ready   atomic.Bool // o is set: wakes may write

	// Touched only by appendFrame, which the connWriter never runs
	// concurrently.
	written int // body bytes so far, against the response limit

	endOnce sync.Once
	ended   atomic.Bool // the response ended on our side: the client's EOF is no abort
}

// serveStream serves a streaming receiving request on its own connection.
// It returns once the response has started; a goroutine of the stream's
// own reads until the client leaves.
func (svc *service) serveStream(w http.ResponseWriter, r *http.Request, sid string, rv receiving) {
	st := &stream{svc: svc, rv: rv, chunked: r.ProtoAtLeast(1, 1)}
	rcv, err := svc.attachPush(r, sid, rv.transport, st.wake)
	if err != nil {
		svc.refuseReceiver(w, rv, err)
		return
	}
	h := w.Header()
	rv.stream.headers(h)
	h.Del("Content-Length")
	h.Set("Connection", "close") // the connection is ours now: it ends with the response
	if st.chunked {
		h.Set("Transfer-Encoding", "chunked")
	}
	setStatus(w, http.StatusOK)
	// Bytes the client sent after this request (pipelined requests) are
	// not served: the connection ends with the response. The stream is
	// counted before net/http lets go of the connection (and its Shutdown
	// stops waiting for it): see serveWebsocket.
	svc.srv.handlers.Add(1)
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		svc.srv.handlers.Done()
		rcv.Abort()
		return
	}
	status := "HTTP/1.1 200 OK\r\n"
	if !st.chunked {
		status = "HTTP/1.0 200 OK\r\n"
	}
	hw := headWriter{b: append(make([]byte, 0, 512+len(rv.stream.prelude)), status...)}
	_ = h.Write(&hw)
	head := append(hw.b, "Date: "...)
	head = time.Now().UTC().AppendFormat(head, http.TimeFormat)
	head = append(head, "\r\n\r\n"...)
	head = st.appendBody(head, []byte(rv.stream.prelude))
	_ = conn.SetWriteDeadline(time.Now().Add(writeTimeout))
	if _, err := conn.Write(head); err != nil {
		svc.srv.handlers.Done()
		_ = conn.Close()
		rcv.Abort()
		return
	}
	_ = conn.SetWriteDeadline(time.Time{})
	st.o = svc.newOwnedConn(conn, st, st.finish)
	st.o.rcv = rcv
	st.ready.Store(true)
	st.o.start() // the open frame, and whatever is queued
	go st.read()
}

// headWriter collects http.Header.Write output.
type headWriter struct{ b []byte }

func (w *headWriter) Write(p []byte) (int, error)       { w.b = append(w.b, p...); return len(p), nil }
func (w *headWriter) WriteString(s string) (int, error) { w.b = append(w.b, s...); return len(s), nil }

// wake is the receiver's notify: write what is ready.
func (st *stream) wake() {
	if st.ready.Load() {
		st.o.wake()
	}
}

// appendFrame implements connFraming: the frame in the transport's
// framing as body bytes; at the response limit or after the close frame
// it ends the body.
func (st *stream) appendFrame(dst, frame []byte, _, last bool) ([]byte, bool) {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	b := st.rv.stream.frame((*bp)[:0], frame)
	st.written += len(b)
	dst = st.appendBody(dst, b)
	*bp = b[:0]
	if last || st.written >= st.svc.cfg.ResponseLimit {
		// Detached before the bytes go out: the client may ask again the
		// moment it has them, and must never meet this receiver.
		st.o.rcv.Detach()
		return st.end(dst), true
	}
	return dst, false
}

// appendGone implements connFraming: the end of the body.
func (st *stream) appendGone(dst []byte) []byte { return st.end(dst) }

// keepAlive implements connFraming: a stream has no keep-alive of its own
// (the client never writes; TCP keepalive watches the peer).
func (st *stream) keepAlive() {}

// appendBody appends p as body bytes: one chunk when chunked.
func (st *stream) appendBody(dst, p []byte) []byte {
	if !st.chunked {
		return append(dst, p...)
	}
	dst = strconv.AppendInt(dst, int64(len(p)), 16)
	dst = append(dst, "\r\n"...)
	dst = append(dst, p...)
	return append(dst, "\r\n"...)
}

// end appends the end of the body and marks the response ended: once it is
// written the connection is half-closed and the reader waits for the client
// to close its side.
func (st *stream) end(dst []byte) []byte {
	st.ended.Store(true)
	if st.chunked {
		dst = append(dst, "0\r\n\r\n"...)
	}
	return dst
}

// read is the stream's goroutine: it reads (and drops) what the client
// sends until the connection ends. A client that leaves before the
// response ended aborts the receiver: the session closes with 1002.
func (st *stream) read() {
	defer st.svc.srv.handlers.Done()
	var buf [64]byte
	for {
		if _, err := st.o.conn.Read(buf[:]); err != nil {
			break
		}
	}
	if !st.ended.Load() {
		st.o.rcv.Abort()
	}
	st.o.teardown()
}

// finish runs after the last write: the client gets a clean end of the
// connection (half-close, then a bounded wait for its side) rather than a
// reset.
func (st *stream) finish() {
	st.endOnce.Do(func() {
		if tc, ok := st.o.conn.(interface{ CloseWrite() error }); ok {
			_ = tc.CloseWrite()
		}
		_ = st.o.conn.SetReadDeadline(time.Now().Add(closeGrace))
	})
}

// refuseReceiver answers a receiving request that could not attach: a
// second receiver gets the 2010 close frame in the transport's framing.
func (svc *service) refuseReceiver(w http.ResponseWriter, rv receiving, err error) {
	if errors.Is(err, engine.ErrReceiverAttached) {
		if rv.start() == nil {
			_, _ = rv.fw.writeFrame(engine.CloseFrame(session.CodeAnotherConnection, session.ReasonAnotherConnection))
		}
		return
	}
	svc.refuse(w, err)
}

// setStatus records the status of a response the handler writes itself.
func setStatus(w http.ResponseWriter, code int) {
	if sw, ok := w.(*statusWriter); ok && sw.status == 0 {
		sw.status = code
	}
}
