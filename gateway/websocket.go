package gateway

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sockgate/sockgate/session"
)

// Websocket timing.
const (
	// closeGrace is how long we wait for the client's close frame after
	// sending ours.
	closeGrace = 2 * time.Second
)

// wsWriteBuffers is shared by every websocket: an idle connection holds no
// write buffer.
var wsWriteBuffers = &sync.Pool{}

// newUpgrader returns the websocket upgrader of a service. Origins are
// checked by the gateway's origin policy before the upgrade.
func newUpgrader() *websocket.Upgrader {
	return &websocket.Upgrader{
		ReadBufferSize:  1024,
		WriteBufferSize: 4096,
		WriteBufferPool: wsWriteBuffers,
		CheckOrigin:     func(*http.Request) bool { return true },
	}
}

// checkUpgrade answers the websocket endpoints' errors for a GET that is not
// a usable upgrade, as the reference server words them; it returns false
// when it answered.
func checkUpgrade(w http.ResponseWriter, r *http.Request) bool {
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		writeText(w, http.StatusBadRequest, `Can "Upgrade" only to "WebSocket".`)
		return false
	}
	if !headerHasToken(r.Header, "Connection", "upgrade") {
		writeText(w, http.StatusBadRequest, "Not a valid websocket request")
		return false
	}
	return true
}

// headerHasToken reports whether a comma-separated header holds token.
func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// serveWebsocket serves the SockJS websocket transport: every frame is one
// text message. A websocket session lives exactly as long as its connection,
// so it is not kept in the id registry (the same id may be reused).
func (svc *service) serveWebsocket(w http.ResponseWriter, r *http.Request, sid string) {
	if !checkUpgrade(w, r) {
		return
	}
	ip, err := svc.admit(r)
	if err != nil {
		svc.refuse(w, err)
		return
	}
	defer svc.srv.limiter.release(ip)
	if isHixie76(r) {
		svc.serveHixie76(w, r, sid)
		return
	}
	conn, err := svc.upgrader.Upgrade(w, r, nil)
	if err != nil {
		svc.log.Debug().Err(err).Msg("websocket upgrade failed")
		return
	}
	svc.runWebsocket(newGorillaConn(conn, svc.opts.HeartbeatDelay), sid)
}

// wsConn is what the websocket transport needs of a connection, so RFC 6455
// and hixie-76 connections share one session loop.
type wsConn interface {
	// ReadText returns the next text message.
	ReadText() ([]byte, error)
	// WriteText writes one text message before the deadline.
	WriteText(p []byte, deadline time.Time) error
	// WriteClose starts the closing handshake with code and reason.
	WriteClose(code int, reason string, deadline time.Time) error
	// SetReadLimit bounds one incoming message.
	SetReadLimit(n int64)
	// SetReadDeadline bounds the next reads.
	SetReadDeadline(t time.Time) error
	// Ping asks the peer to prove it is alive (a no-op where the protocol
	// has no pings).
	Ping(deadline time.Time) error
	// Close closes the connection at once.
	Close() error
}

// runWebsocket carries a new session over conn: the calling goroutine reads,
// a second one writes, and the session ends with the connection.
func (svc *service) runWebsocket(conn wsConn, sid string) {
	s := session.NewSockJS(sid, TransportWebsocket, svc.opts)
	svc.ws.add(s)
	svc.srv.metrics.opened(TransportWebsocket)
	rcv, err := s.Attach()
	if err != nil {
		_ = conn.Close()
		return
	}
	svc.start(s)
	conn.SetReadLimit(int64(svc.cfg.MaxMessageBytes))
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		svc.wsWrite(conn, s, rcv)
	}()
	code, reason := svc.wsRead(conn, s)
	s.Forget(code, reason)
	<-writerDone
	_ = conn.Close()
}

// wsRead delivers the client's messages until the connection ends, and
// tells why it ended.
func (svc *service) wsRead(conn wsConn, s *session.SockJS) (int, string) {
	for {
		p, err := conn.ReadText()
		if err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				return ce.Code, "Client closed: " + ce.Text
			}
			if errors.Is(err, websocket.ErrReadLimit) {
				return session.CodeMessageTooBig, session.ReasonMessageTooBig
			}
			return session.CodeInterrupted, session.ReasonInterrupted
		}
		msgs, err := session.DecodeWebsocketMessage(p)
		if err != nil {
			_ = conn.WriteClose(session.CodeGoAway, "Broken framing.", time.Now().Add(writeTimeout))
			return session.CodeGoAway, "Broken framing."
		}
		if len(msgs) == 0 {
			continue
		}
		if err := s.Deliver(context.Background(), msgs); err != nil {
			// The session closed; keep reading so the writer can finish
			// the closing handshake.
			continue
		}
	}
}

// wsWrite writes the session's frames until its close frame or until the
// session is forgotten.
func (svc *service) wsWrite(conn wsConn, s *session.SockJS, rcv *session.Receiver) {
	defer rcv.Detach()
	for {
		frame, last, err := rcv.Next(context.Background())
		if err != nil {
			return
		}
		if err := conn.WriteText(frame, time.Now().Add(writeTimeout)); err != nil {
			_ = conn.Close() // unblocks the reader
			return
		}
		if len(frame) == 1 && frame[0] == 'h' {
			svc.srv.metrics.heartbeats.Inc()
			_ = conn.Ping(time.Now().Add(writeTimeout))
		}
		if last {
			info := s.CloseInfo()
			_ = conn.WriteClose(wsCloseCode(info.Code), info.Reason, time.Now().Add(writeTimeout))
			_ = conn.SetReadDeadline(time.Now().Add(closeGrace))
			return
		}
	}
}

// wsCloseCode maps a SockJS close code to one RFC 6455 lets a server send.
func wsCloseCode(code int) int {
	switch {
	case code >= 3000 && code <= 4999:
		return code
	case code == 1000 || code == 1001 || code == 1002 || code == 1003 ||
		code >= 1007 && code <= 1011:
		return code
	}
	return websocket.CloseNormalClosure
}

// gorillaConn adapts a gorilla websocket connection to wsConn. A peer that
// neither sends nor answers pings for twice the heartbeat delay (plus a
// margin) is dead: its reads time out.
type gorillaConn struct {
	*websocket.Conn
	idle time.Duration
}

func newGorillaConn(c *websocket.Conn, heartbeat time.Duration) gorillaConn {
	g := gorillaConn{Conn: c, idle: 2*heartbeat + writeTimeout}
	_ = c.SetReadDeadline(time.Now().Add(g.idle))
	c.SetPongHandler(func(string) error { return c.SetReadDeadline(time.Now().Add(g.idle)) })
	return g
}

func (c gorillaConn) ReadText() ([]byte, error) {
	for {
		typ, p, err := c.ReadMessage()
		if err != nil {
			return p, err
		}
		_ = c.Conn.SetReadDeadline(time.Now().Add(c.idle))
		if typ == websocket.TextMessage {
			return p, nil
		}
	}
}

func (c gorillaConn) Ping(deadline time.Time) error {
	return c.WriteControl(websocket.PingMessage, nil, deadline)
}

func (c gorillaConn) WriteText(p []byte, deadline time.Time) error {
	_ = c.SetWriteDeadline(deadline)
	return c.WriteMessage(websocket.TextMessage, p)
}

func (c gorillaConn) WriteClose(code int, reason string, deadline time.Time) error {
	return c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), deadline)
}

func (c gorillaConn) SetReadLimit(n int64) { c.Conn.SetReadLimit(n) }
