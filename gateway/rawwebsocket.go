package gateway

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"

	"github.com/sockgate/sockgate/session"
)

// serveRawWebsocket serves <prefix>/websocket: plain RFC 6455 text messages,
// no SockJS framing; close codes pass through; pings keep it alive.
func (svc *service) serveRawWebsocket(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		methodNotAllowed(w, "GET")
		return
	}
	if !checkUpgrade(w, r) {
		return
	}
	ip, err := svc.admit(r)
	if err != nil {
		svc.refuse(w, err)
		return
	}
	defer svc.srv.limiter.release(ip)
	conn, err := svc.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	var s *rawSession
	svc.srv.metrics.opened(TransportRawWebsocket)
	defer func() { svc.srv.metrics.closed(TransportRawWebsocket, s.closeInfo()) }()
	conn.SetReadLimit(int64(svc.cfg.MaxMessageBytes))
	s = newRawSession(conn, svc.opts)
	idle := 2*svc.opts.HeartbeatDelay + writeTimeout
	_ = conn.SetReadDeadline(time.Now().Add(idle))
	conn.SetPongHandler(func(string) error { return conn.SetReadDeadline(time.Now().Add(idle)) })
	svc.ws.add(s)
	defer svc.ws.remove(s)
	svc.start(s)
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		s.writeLoop(svc.opts.HeartbeatDelay)
	}()
	s.readLoop(idle)
	<-writerDone
	_ = conn.Close()
}

// rawSession is a session on the raw websocket endpoint. It implements
// session.Session with its own bounded queue of messages.
type rawSession struct {
	conn     *websocket.Conn
	id       string
	inbox    chan string
	done     chan struct{}
	wakeCh   chan struct{}
	maxQueue int

	mu     sync.Mutex
	queue  []string
	queued int
	info   session.CloseInfo
	closed bool
}

func newRawSession(conn *websocket.Conn, opts *session.Options) *rawSession {
	return &rawSession{
		conn:     conn,
		id:       conn.RemoteAddr().String(),
		inbox:    make(chan string, opts.InboxSize),
		done:     make(chan struct{}),
		wakeCh:   make(chan struct{}, 1),
		maxQueue: opts.MaxQueueBytes,
	}
}

func (s *rawSession) ID() string            { return s.id }
func (s *rawSession) Transport() string     { return TransportRawWebsocket }
func (s *rawSession) Done() <-chan struct{} { return s.done }

func (s *rawSession) Recv(ctx context.Context) (string, error) {
	select {
	case m := <-s.inbox:
		return m, nil
	case <-s.done:
		select {
		case m := <-s.inbox:
			return m, nil
		default:
			return "", session.ErrClosed
		}
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

func (s *rawSession) Send(msg string) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return session.ErrClosed
	}
	s.queue = append(s.queue, msg)
	s.queued += len(msg)
	if s.queued > s.maxQueue {
		s.queue, s.queued = nil, 0
		s.closeLocked(session.CodeSlowClient, session.ReasonSlowClient)
		s.mu.Unlock()
		s.wake()
		return session.ErrQueueFull
	}
	s.mu.Unlock()
	s.wake()
	return nil
}

func (s *rawSession) Close(code int, reason string) error {
	s.mu.Lock()
	if !s.closed {
		s.closeLocked(code, reason)
	}
	s.mu.Unlock()
	s.wake()
	return nil
}

func (s *rawSession) closeLocked(code int, reason string) {
	s.closed = true
	s.info = session.CloseInfo{Code: code, Reason: reason}
	close(s.done)
}

func (s *rawSession) wake() {
	select {
	case s.wakeCh <- struct{}{}:
	default:
	}
}

// readLoop delivers messages until the connection ends.
func (s *rawSession) readLoop(idle time.Duration) {
	for {
		typ, p, err := s.conn.ReadMessage()
		if err == nil {
			_ = s.conn.SetReadDeadline(time.Now().Add(idle))
		}
		if err != nil {
			code := websocket.CloseAbnormalClosure
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				code = ce.Code
			}
			_ = s.Close(code, reasonClientClosed)
			return
		}
		if typ != websocket.TextMessage {
			continue
		}
		if !utf8.Valid(p) {
			_ = s.Close(websocket.CloseInvalidFramePayloadData, "Invalid UTF-8")
			continue // the writer sends the close; read on until it lands
		}
		select {
		case s.inbox <- string(p):
		case <-s.done:
		}
	}
}

// writeLoop writes queued messages, pings when idle, and the close frame
// once the session closes.
func (s *rawSession) writeLoop(pingEvery time.Duration) {
	ping := time.NewTicker(pingEvery)
	defer ping.Stop()
	for {
		select {
		case <-s.wakeCh:
		case <-ping.C:
			if err := s.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeTimeout)); err != nil {
				_ = s.conn.Close()
				return
			}
			continue
		}
		s.mu.Lock()
		batch, closed, info := s.queue, s.closed, s.info
		s.queue, s.queued = nil, 0
		s.mu.Unlock()
		for _, m := range batch {
			if !utf8.ValidString(m) { // a browser would drop the connection
				m = strings.ToValidUTF8(m, "\uFFFD")
			}
			_ = s.conn.SetWriteDeadline(time.Now().Add(writeTimeout))
			if err := s.conn.WriteMessage(websocket.TextMessage, []byte(m)); err != nil {
				_ = s.conn.Close()
				return
			}
		}
		if closed {
			msg := websocket.FormatCloseMessage(wsCloseCode(info.Code), info.Reason)
			_ = s.conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(writeTimeout))
			_ = s.conn.SetReadDeadline(time.Now().Add(closeGrace))
			return
		}
	}
}

// Idle reports whether the handler took every message received.
func (s *rawSession) Idle() bool { return len(s.inbox) == 0 }

func (s *rawSession) closeInfo() session.CloseInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.info
}
