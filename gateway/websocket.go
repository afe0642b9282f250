package gateway

import (
	"context"
	"errors"
	"io"
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
	if isHixie76(r) {
		defer svc.srv.limiter.release(ip)
		svc.serveHixie76(w, r, sid)
		return
	}
	conn, err := svc.upgrader.Upgrade(w, r, nil)
	if err != nil {
		svc.srv.limiter.release(ip)
		svc.log.Debug().Err(err).Msg("websocket upgrade failed")
		return
	}
	// Read in a goroutine of our own and let this one return: net/http then
	// frees the request and the connection's 8 KiB of buffers, which it
	// would otherwise hold for the life of the websocket.
	svc.srv.handlers.Add(1)
	go func() {
		defer svc.srv.handlers.Done()
		defer svc.srv.limiter.release(ip)
		svc.runWebsocket(newGorillaConn(conn, svc.opts.HeartbeatDelay), sid)
	}()
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

// runWebsocket carries a new session over conn. The calling goroutine
// reads; frames are written by a pump goroutine that runs only while there
// is something to write, so an idle websocket costs its reader and its
// handler and nothing more. The session ends with the connection.
func (svc *service) runWebsocket(conn wsConn, sid string) {
	s := session.NewSockJS(sid, TransportWebsocket, svc.opts)
	svc.ws.add(s)
	svc.srv.metrics.opened(TransportWebsocket)
	p := &wsPump{svc: svc, conn: conn, s: s}
	p.cond.L = &p.mu
	rcv, err := s.AttachPush(p.wake)
	if err != nil {
		_ = conn.Close()
		return
	}
	p.rcv = rcv
	svc.start(s)
	conn.SetReadLimit(int64(svc.cfg.MaxMessageBytes))
	p.mu.Lock()
	p.heartbeat = time.AfterFunc(svc.opts.HeartbeatDelay, p.beat)
	p.mu.Unlock()
	p.wake() // the open frame
	code, reason := svc.wsRead(conn, s)
	s.Forget(code, reason)
	p.stop()
	rcv.Detach()
	_ = conn.Close()
}

// wsPump writes a websocket session's frames. wake starts a writer
// goroutine when none runs; the writer drains every ready frame and ends.
type wsPump struct {
	svc       *service
	conn      wsConn
	s         *session.SockJS
	rcv       *session.Receiver
	heartbeat *time.Timer

	mu      sync.Mutex
	cond    sync.Cond
	running bool // a writer goroutine runs
	again   bool // woken while running: look once more before ending
	stopped bool // no more writers
}

func (p *wsPump) wake() {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.stopped:
	case p.running:
		p.again = true
	default:
		p.running = true
		go p.write()
	}
}

// beat runs on the heartbeat timer: a heartbeat frame (and a ping) every
// heartbeat delay, for as long as the pump runs.
func (p *wsPump) beat() {
	p.mu.Lock()
	if p.stopped {
		p.mu.Unlock()
		return
	}
	p.heartbeat.Reset(p.svc.opts.HeartbeatDelay)
	p.mu.Unlock()
	p.rcv.Heartbeat()
}

// stop waits for a running writer and starts no new one.
func (p *wsPump) stop() {
	p.mu.Lock()
	p.heartbeat.Stop()
	p.stopped = true
	for p.running {
		p.cond.Wait()
	}
	p.mu.Unlock()
}

// write is the writer goroutine: it drains, and drains again if woken
// meanwhile, then ends.
func (p *wsPump) write() {
	for {
		alive := p.drain()
		p.mu.Lock()
		if alive && p.again && !p.stopped {
			p.again = false
			p.mu.Unlock()
			continue
		}
		p.running, p.again = false, false
		if !alive {
			p.stopped = true
		}
		p.cond.Broadcast()
		p.mu.Unlock()
		return
	}
}

// drain writes every ready frame; false means the connection is done.
func (p *wsPump) drain() bool {
	for {
		frame, last, ok, err := p.rcv.TryNext(context.Background())
		switch {
		case err != nil:
			return false
		case !ok:
			return true
		case !p.send(frame, last) || last:
			return false
		}
	}
}

// send writes one frame, and after the close frame the closing handshake.
func (p *wsPump) send(frame []byte, last bool) bool {
	if err := p.conn.WriteText(frame, time.Now().Add(writeTimeout)); err != nil {
		_ = p.conn.Close() // unblocks the reader
		return false
	}
	if len(frame) == 1 && frame[0] == 'h' {
		p.svc.srv.metrics.heartbeats.Inc()
		_ = p.conn.Ping(time.Now().Add(writeTimeout))
	}
	if last {
		info := p.s.CloseInfo()
		_ = p.conn.WriteClose(wsCloseCode(info.Code), info.Reason, time.Now().Add(writeTimeout))
		_ = p.conn.SetReadDeadline(time.Now().Add(closeGrace))
	}
	return true
}

// wsRead delivers the client's messages until the connection ends, and
// tells why it ended.
func (svc *service) wsRead(conn wsConn, s *session.SockJS) (int, string) {
	for {
		p, err := conn.ReadText()
		if errors.Is(err, errMessageTooBig) {
			// c[1009,...] then a 1009 close from the pump; read on until
			// the client answers or the pump's read deadline passes.
			_ = s.Close(session.CodeMessageTooBig, session.ReasonMessageTooBig)
			continue
		}
		if err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				return ce.Code, reasonClientClosed
			}
			return session.CodeInterrupted, session.ReasonInterrupted
		}
		msgs, err := session.DecodeWebsocketMessage(p)
		if err != nil {
			_ = conn.WriteClose(session.CodeGoAway, "Broken framing.", time.Now().Add(writeTimeout))
			awaitClose(conn)
			return session.CodeGoAway, "Broken framing."
		}
		if len(msgs) == 0 {
			continue
		}
		if err := s.Deliver(context.Background(), msgs); err != nil {
			if errors.Is(err, session.ErrRateLimited) {
				svc.srv.metrics.refused(refusedRateLimited)
			}
			// The session closed; keep reading so the writer can finish
			// the closing handshake.
			continue
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
// read limit; the rest of the message is discarded.
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

// gorillaConn adapts a gorilla websocket connection to wsConn. A peer that
// neither sends nor answers pings for twice the heartbeat delay (plus a
// margin) is dead: its reads time out.
type gorillaConn struct {
	*websocket.Conn
	idle  time.Duration
	limit *int64 // largest message; set by SetReadLimit
}

func newGorillaConn(c *websocket.Conn, heartbeat time.Duration) gorillaConn {
	g := gorillaConn{Conn: c, idle: 2*heartbeat + writeTimeout, limit: new(int64)}
	_ = c.SetReadDeadline(time.Now().Add(g.idle))
	c.SetPongHandler(func(string) error { return c.SetReadDeadline(time.Now().Add(g.idle)) })
	return g
}

// ReadText reads the next text message, at most the read limit: a longer
// one is errMessageTooBig (and gorilla skips the rest of it on the next
// read), so the session can send its close frame itself.
func (c gorillaConn) ReadText() ([]byte, error) {
	for {
		typ, r, err := c.NextReader()
		if err != nil {
			return nil, err
		}
		_ = c.Conn.SetReadDeadline(time.Now().Add(c.idle))
		if typ != websocket.TextMessage {
			continue
		}
		limit := *c.limit
		if limit <= 0 {
			return io.ReadAll(r)
		}
		p, err := io.ReadAll(io.LimitReader(r, limit+1))
		if err != nil {
			return nil, err
		}
		if int64(len(p)) > limit {
			return nil, errMessageTooBig
		}
		return p, nil
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

func (c gorillaConn) SetReadLimit(n int64) { *c.limit = n }
