package upstream

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sockgate/sockgate/session"
)

// link is one session's backend connection. read is its only reader;
// write (called by OnMessage, which the session serializes) its only data
// writer; control frames (pings, close) go through WriteControl, which
// gorilla allows concurrently. An open link costs one goroutine (read);
// finish starts a second one for the close handshake.
type link struct {
	b         *Bridge
	s         session.Session
	conn      *websocket.Conn
	readDn    chan struct{} // closed when read returns
	finishing atomic.Bool   // finish was called

	pingMu sync.Mutex
	pinger *time.Timer // the heartbeat's ping
}

// start runs the link: read in a goroutine of its own, pings on a timer.
func (l *link) start() {
	l.b.wg.Add(2)   // read, and finish's goroutine
	l.pingMu.Lock() // ping may run before AfterFunc has returned
	l.pinger = time.AfterFunc(l.b.cfg.HeartbeatDelay, l.ping)
	l.pingMu.Unlock()
	go l.read()
}

// silence is how long the backend may send nothing, not even a pong,
// before it is taken for dead.
func (l *link) silence() time.Duration { return 2 * l.b.cfg.HeartbeatDelay }

// read carries the backend's messages to the client until the backend
// connection ends, then closes the session with what the backend said.
func (l *link) read() {
	defer l.b.wg.Done()
	defer close(l.readDn)
	c := l.conn
	c.SetReadLimit(l.b.cfg.MaxMessageBytes)
	alive := func() { _ = c.SetReadDeadline(time.Now().Add(l.silence())) }
	alive()
	c.SetPongHandler(func(string) error { alive(); return nil })
	c.SetPingHandler(func(data string) error {
		alive()
		err := c.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(controlTimeout))
		if errors.Is(err, websocket.ErrCloseSent) {
			return nil
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return nil
		}
		return err
	})
	for {
		typ, data, err := c.ReadMessage()
		if err != nil {
			l.ended(err)
			return
		}
		alive()
		if typ != websocket.TextMessage {
			l.b.m.binary.Inc()
			l.b.log.Warn().Str("session", l.s.ID()).Int("bytes", len(data)).
				Msg("binary frame from backend dropped: SockJS carries text only")
			continue
		}
		if err := l.s.Send(string(data)); err != nil {
			// Closed (too slow: 3008, or ended otherwise): keep reading
			// until finish's close handshake ends the connection.
			continue
		}
		l.b.m.msgsFrom.Inc()
		l.b.m.bytesFrom.Add(float64(len(data)))
	}
}

// ended closes the session after the backend connection ended with err;
// nothing happens when the session had ended first (err is then the end of
// our own close handshake).
func (l *link) ended(err error) {
	select {
	case <-l.s.Done():
		return
	default:
	}
	var ce *websocket.CloseError
	if errors.As(err, &ce) && passable(ce.Code) {
		l.b.log.Debug().Str("session", l.s.ID()).Int("code", ce.Code).Str("reason", ce.Text).
			Msg("backend closed")
		_ = l.s.Close(ce.Code, ce.Text)
		return
	}
	l.b.log.Info().Err(err).Str("session", l.s.ID()).Str("url", l.b.URL()).
		Msg("backend connection lost")
	_ = l.s.Close(session.CodeBackendClosed, session.ReasonBackendClosed)
}

// passable reports whether a backend close code goes to the client as is.
func passable(code int) bool {
	return code == websocket.CloseNormalClosure || code >= 3000 && code <= 4999
}

// ping runs on the heartbeat timer: a ping to the backend every heartbeat
// delay, until the link finishes. No goroutine waits for it.
func (l *link) ping() {
	if l.finishing.Load() {
		return
	}
	_ = l.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(controlTimeout))
	l.pingMu.Lock()
	l.pinger.Reset(l.b.cfg.HeartbeatDelay)
	l.pingMu.Unlock()
}

// finish closes the backend connection once the session ended (OnClose):
// a close frame with code and reason, up to closeGrace for the backend to
// answer it (read then ends), and the connection is released. It runs in
// a goroutine of its own, so that a backend that does not read cannot
// hold up whoever closed the session (a drain closing every session).
func (l *link) finish(code int, reason string) {
	if l.finishing.Swap(true) {
		return
	}
	l.pingMu.Lock()
	l.pinger.Stop()
	l.pingMu.Unlock()
	go func() {
		defer l.b.wg.Done()
		defer l.b.m.open.Dec()
		defer l.b.links.Delete(l.s)
		select {
		case <-l.readDn: // the backend ended first: nothing to say
		default:
			_ = l.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason),
				time.Now().Add(controlTimeout))
			grace := time.NewTimer(closeGrace)
			select {
			case <-l.readDn:
			case <-grace.C:
			}
			grace.Stop()
		}
		_ = l.conn.Close()
		<-l.readDn
	}()
}

// closeFor is the close frame the backend gets when the session ended with
// info: 1000 when its client closed its websocket with 1000, else 1001
// with the session's close reason.
func closeFor(info session.CloseInfo) (int, string) {
	if info.Code == session.CodeNormal && info.Reason == clientClosedReason {
		return websocket.CloseNormalClosure, clientClosedReason
	}
	return websocket.CloseGoingAway, info.Reason
}

// clientClosedReason is the close reason the gateway gives a session whose
// client closed its websocket.
const clientClosedReason = "Client closed"

// write sends msg to the backend as one text frame, bounded by the write
// timeout; a backend that does not take it in time stalls the session.
func (l *link) write(msg string) {
	_ = l.conn.SetWriteDeadline(time.Now().Add(l.b.cfg.WriteTimeout))
	err := l.conn.WriteMessage(websocket.TextMessage, []byte(msg))
	if err == nil {
		l.b.m.msgsTo.Inc()
		l.b.m.bytesTo.Add(float64(len(msg)))
		return
	}
	if isTimeout(err) {
		l.b.log.Warn().Str("session", l.s.ID()).Str("url", l.b.URL()).Dur("timeout", l.b.cfg.WriteTimeout).
			Msg("backend not reading: session closed")
		_ = l.s.Close(session.CodeBackendStalled, session.ReasonBackendStalled)
	}
	// Other errors: the connection is ending, and read reports why.
}
