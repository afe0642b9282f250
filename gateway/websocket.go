package gateway

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sockgate/sockgate/session"
	"github.com/sockgate/sockgate/session/engine"
	"github.com/sockgate/sockgate/session/transport"
)

// Websocket timing.
const (
	// closeGrace is how long we wait for the client's close frame after
	// sending ours.
	closeGrace = 2 * time.Second
)

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
	if isHixie76(r) {
		defer svc.srv.limiter.release(ip)
		svc.serveHixie76(w, r, sid)
		return
	}
	// Counted before the upgrade takes the connection from net/http, whose
	// Shutdown no longer waits for it: the drain's wait for the handlers
	// must not start before this count (see Server.Shutdown).
	svc.srv.handlers.Add(1)
	conn, answer, err := svc.upgrade(w, r)
	if err != nil {
		svc.srv.handlers.Done()
		svc.srv.limiter.release(ip)
		svc.log.Debug().Err(err).Msg("websocket upgrade failed")
		return
	}
	// Read in a goroutine of our own and let this one return: net/http then
	// frees the request and the connection's 8 KiB of buffers, which it
	// would otherwise hold for the life of the websocket.
	ws := svc.openWebsocket(conn, answer, r, sid)
	go func() {
		defer svc.srv.handlers.Done()
		defer svc.srv.limiter.release(ip)
		ws.readWebsocket()
	}()
}

// upgrade answers an RFC 6455 handshake (permessage-deflate accepted when
// the service compresses and the client offers it in a form sockgate
// takes) and returns the connection, ready to read, with the 101 answer
// that startWebsocket writes.
func (svc *service) upgrade(w http.ResponseWriter, r *http.Request) (*wsConnRFC6455, []byte, error) {
	var extensions string
	if svc.deflater != nil {
		extensions = negotiateDeflate(r.Header)
	}
	nc, answer, err := upgradeWS(w, r, extensions)
	if err != nil {
		return nil, nil, err
	}
	c := newWSConn(nc, svc.opts.HeartbeatDelay)
	if extensions != "" {
		c.deflate = svc.deflater
		svc.srv.metrics.wsCompressed.Inc()
	}
	return c, answer, nil
}

// wsConn is what the websocket transport needs of a connection, so RFC 6455
// and hixie-76 connections share one session loop. Reads go through it;
// writes go straight to NetConn, framed by the Append methods.
type wsConn interface {
	// ReadText returns the next text message.
	ReadText() ([]byte, error)
	// AppendText appends p framed as one text message.
	AppendText(dst, p []byte) []byte
	// AppendPing appends a ping (nothing where the protocol has none).
	AppendPing(dst []byte) []byte
	// AppendClose appends the close frame with code and reason.
	AppendClose(dst []byte, code int, reason string) []byte
	// NetConn is the connection frames are written to.
	NetConn() net.Conn
	// OnControl routes the control frames the reader answers with (pongs,
	// the reply to a close) to the writer.
	OnControl(write func(frame []byte, closing bool))
	// KeepAlive runs once per heartbeat delay: a peer that sent nothing
	// (not even a pong) since the call before last is dead, and its reads
	// time out.
	KeepAlive()
	// SetReadLimit bounds one incoming message.
	SetReadLimit(n int64)
	// SetReadDeadline bounds the next reads.
	SetReadDeadline(t time.Time) error
	// Close closes the connection at once.
	Close() error
}

// openWebsocket starts a new session over conn: the handler, the heartbeat
// and the open frame. Then readWebsocket serves it. The two are apart so
// that this deep setup runs in net/http's goroutine and the reader's own
// goroutine keeps a small stack while its session stays idle.
func (svc *service) openWebsocket(conn wsConn, answer []byte, r *http.Request, sid string) *wsSession {
	f := &sockjsWSFraming{conn: conn}
	o := svc.newOwnedConn(conn.NetConn(), f, nil)
	s, rcv := engine.NewSockJSPush(sid, transport.Websocket, svc.opts, o.wake)
	f.s = s
	return svc.startWebsocket(conn, answer, o, s, rcv, r, transport.Websocket, engine.DecodeWebsocketMessage)
}

// startWebsocket starts the session s, received by rcv over o, of a
// websocket (SockJS or raw); decode turns one websocket message into the
// session's messages. The handshake's answer (nil when it was written
// already, as hixie-76's is) goes out once the session is registered and
// its service started: a client that has its 101 is known to the API
// and the hub, which a raw websocket client, with no open frame to wait
// for, relies on.
func (svc *service) startWebsocket(conn wsConn, answer []byte, o *ownedConn, s *engine.SockJS, rcv *engine.Receiver,
	r *http.Request, tr transport.Name, decode func([]byte) ([]string, error)) *wsSession {
	o.rcv = rcv
	c := svc.srv.identify(r)
	s.SetRequest(svc.srv.requestFacts(r, c))
	svc.ws.add(s)
	svc.opened(s)
	conn.OnControl(o.w.control)
	conn.SetReadLimit(int64(svc.cfg.MaxMessageBytes))
	svc.begin(s, c)
	if answer != nil {
		if err := answerWS(conn.NetConn(), answer); err != nil {
			svc.log.Debug().Err(err).Str("session", s.ID()).Msg("websocket handshake not answered")
		}
	}
	o.start()
	return &wsSession{svc: svc, conn: conn, o: o, s: s, decode: decode}
}

// wsSession is a websocket session being served: its connection, owned,
// and what its reader needs.
type wsSession struct {
	svc    *service
	conn   wsConn
	o      *ownedConn
	s      *engine.SockJS
	decode func([]byte) ([]string, error)
}

// readWebsocket reads in the calling goroutine until the connection ends;
// frames are written by whoever queues them (see connWriter), so an idle
// websocket costs this goroutine (and a Handler service's goroutine) and
// nothing more. The session ends with the connection.
func (ws *wsSession) readWebsocket() {
	code, reason := ws.read()
	ws.s.Forget(code, reason)
	ws.o.teardown()
	ws.o.rcv.Detach()
}

// sockjsWSFraming writes a session's SockJS frames as websocket messages
// (RFC 6455 or hixie-76): a ping with each heartbeat frame, and after the
// close frame the closing handshake.
type sockjsWSFraming struct {
	conn wsConn
	s    *engine.SockJS
}

func (f *sockjsWSFraming) appendFrame(dst, frame []byte, heartbeat, last bool) ([]byte, bool) {
	dst = f.conn.AppendText(dst, frame)
	if heartbeat {
		dst = f.conn.AppendPing(dst)
	}
	if !last {
		return dst, false
	}
	return appendWSEnd(dst, f.conn, f.s), true
}

func (f *sockjsWSFraming) appendGone(dst []byte) []byte { return dst }
func (f *sockjsWSFraming) keepAlive()                   { f.conn.KeepAlive() }

// appendWSEnd appends the close frame of a closed session and gives the
// client closeGrace to answer it.
func appendWSEnd(dst []byte, conn wsConn, s *engine.SockJS) []byte {
	info := s.CloseInfo()
	dst = conn.AppendClose(dst, wsCloseCode(info.Code), info.Reason)
	_ = conn.SetReadDeadline(time.Now().Add(closeGrace))
	return dst
}

// read delivers the client's messages until the connection ends, and
// tells why it ended.
func (ws *wsSession) read() (int, string) {
	for {
		p, err := ws.conn.ReadText()
		if err != nil {
			return ws.readEnded(err)
		}
		msgs, err := ws.decode(p)
		if err != nil {
			ws.o.w.control(ws.conn.AppendClose(nil, session.CodeGoAway, "Broken framing."), true)
			awaitClose(ws.conn)
			return session.CodeGoAway, "Broken framing."
		}
		if len(msgs) == 0 {
			continue
		}
		if err := ws.s.Deliver(context.Background(), msgs); err != nil {
			if errors.Is(err, engine.ErrRateLimited) {
				ws.svc.srv.metrics.refused(refusedRateLimited)
			}
			// The session closed; keep reading so the writer can finish
			// the closing handshake.
			continue
		}
	}
}

// readEnded handles the error that ended reading and tells why the
// session ends.
func (ws *wsSession) readEnded(err error) (int, string) {
	var ce *wsCloseError
	var pe *wsProtocolError
	var ne net.Error
	switch {
	case errors.Is(err, errMessageTooBig):
		// c[1009,...] and a 1009 close go out at once; what the client
		// sends meanwhile cannot be framed (the big message's payload
		// was never read), so it is dropped until the client answers.
		_ = ws.s.Close(session.CodeMessageTooBig, session.ReasonMessageTooBig)
		discardUntilClosed(ws.conn)
		return session.CodeMessageTooBig, session.ReasonMessageTooBig
	case errors.As(err, &ce):
		return ce.code, reasonClientClosed
	case errors.As(err, &pe):
		return pe.code, pe.reason
	case errors.As(err, &ne) && ne.Timeout():
		// Silent for the keep-alive bound (or for closeGrace after our
		// close frame, when the session is closed already).
		return session.CodeTimeout, session.ReasonTimeout
	}
	return session.CodeInterrupted, session.ReasonInterrupted
}

// discardUntilClosed reads and drops what the client sends until it closes
// the connection or closeGrace passes.
func discardUntilClosed(conn wsConn) {
	_ = conn.SetReadDeadline(time.Now().Add(closeGrace))
	var buf [512]byte
	for {
		if _, err := conn.NetConn().Read(buf[:]); err != nil {
			return
		}
	}
}

// awaitClose reads (and drops) what the client still sends until it
// answers our close frame or closeGrace passes, so that closing the socket
// then ends the connection cleanly instead of resetting it over unread
// data.
func awaitClose(conn wsConn) {
	_ = conn.SetReadDeadline(time.Now().Add(closeGrace))
	for {
		if _, err := conn.ReadText(); err != nil && !errors.Is(err, errMessageTooBig) {
			return
		}
	}
}

// reasonClientClosed is the close reason of a session whose client closed
// its websocket (the client's own text is not kept: it would become an
// unbounded metric label).
const reasonClientClosed = "Client closed"

// errMessageTooBig is returned by wsConn.ReadText for a message over the
// read limit; nothing more can be read from the connection.
var errMessageTooBig = errors.New("gateway: websocket message too big")

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
