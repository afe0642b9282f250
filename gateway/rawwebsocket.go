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
	conn, err := svc.upgrader.Upgrade(w, r, nil)
	if err != nil {
		svc.srv.limiter.release(ip)
		return
	}
	// As for the SockJS websocket: set up here, then read in a goroutine of
	// our own so that net/http frees this one and its buffers.
	s := svc.openRawWebsocket(newWSConn(conn.NetConn(), svc.opts.HeartbeatDelay), r)
	svc.srv.handlers.Add(1)
	go func() {
		defer svc.srv.handlers.Done()
		defer svc.srv.limiter.release(ip)
		s.serve()
	}()
}

// openRawWebsocket starts a raw websocket session over conn.
func (svc *service) openRawWebsocket(conn *wsConnRFC6455, r *http.Request) *rawSession {
	s := newRawSession(conn, svc)
	c := svc.srv.identify(r)
	s.req = svc.srv.requestFacts(r, c)
	svc.srv.metrics.opened(TransportRawWebsocket)
	svc.ws.add(s)
	conn.OnControl(s.w.control)
	conn.SetReadLimit(int64(svc.cfg.MaxMessageBytes))
	s.w.mu.Lock() // beat reads the timer after taking the lock
	s.heartbeat = time.AfterFunc(svc.opts.HeartbeatDelay, s.beat)
	s.w.mu.Unlock()
	svc.begin(s, c)
	return s
}

// serve reads in the calling goroutine until the connection ends.
func (s *rawSession) serve() {
	s.readLoop()
	s.w.stop()
	s.heartbeat.Stop()
	_ = s.conn.Close()
	s.svc.ws.remove(s)
	s.svc.disarm(s)
	s.svc.srv.metrics.closed(TransportRawWebsocket, s.closeInfo())
}

// rawSession is a session on the raw websocket endpoint: each message is
// one websocket text message, close codes pass through. It implements
// session.Session; its frames go out through a connWriter.
type rawSession struct {
	conn      *wsConnRFC6455
	id        string
	svc       *service
	inbox     chan string         // Handler services
	events    *session.Dispatcher // Events services
	req       *session.Request
	done      chan struct{}
	w         *connWriter
	heartbeat *time.Timer
	maxQueue  int

	mu     sync.Mutex
	out    []byte // framed messages waiting for the writer
	info   session.CloseInfo
	closed bool
}

func newRawSession(conn *wsConnRFC6455, svc *service) *rawSession {
	s := &rawSession{
		conn:     conn,
		id:       conn.NetConn().RemoteAddr().String(),
		svc:      svc,
		done:     make(chan struct{}),
		maxQueue: svc.opts.MaxQueueBytes,
	}
	if svc.opts.Events != nil {
		s.events = session.NewDispatcher(svc.opts.Events, s, svc.log)
	} else {
		s.inbox = make(chan string, svc.opts.InboxSize)
	}
	s.w = newConnWriter(conn.NetConn(), s.fill)
	return s
}

func (s *rawSession) ID() string                { return s.id }
func (s *rawSession) Request() *session.Request { return s.req }
func (s *rawSession) Transport() string         { return TransportRawWebsocket }
func (s *rawSession) Done() <-chan struct{}     { return s.done }

// Start calls OnOpen for an Events service.
func (s *rawSession) Start() {
	if s.events != nil {
		s.events.Open()
	}
}

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
	if !utf8.ValidString(msg) { // a browser would drop the connection
		msg = strings.ToValidUTF8(msg, "\uFFFD")
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return session.ErrClosed
	}
	s.out = appendWSHeader(s.out, opText, len(msg))
	s.out = append(s.out, msg...)
	if len(s.out) > s.maxQueue {
		s.out = nil
		info := s.closeLocked(session.CodeSlowClient, session.ReasonSlowClient)
		s.mu.Unlock()
		go s.closedEvent(info) // the sender may hold locks OnClose needs (see session.Events)
		s.w.wake()
		return session.ErrQueueFull
	}
	s.mu.Unlock()
	s.w.wake()
	return nil
}

func (s *rawSession) Close(code int, reason string) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	info := s.closeLocked(code, reason)
	s.mu.Unlock()
	s.closedEvent(info)
	s.w.wake()
	return nil
}

func (s *rawSession) closeLocked(code int, reason string) session.CloseInfo {
	s.closed = true
	s.info = session.CloseInfo{Code: code, Reason: reason}
	close(s.done)
	return s.info
}

func (s *rawSession) closedEvent(info session.CloseInfo) {
	if s.events != nil {
		s.events.Close(info)
	}
}

// fill hands the writer every queued message, then the close frame.
func (s *rawSession) fill(dst []byte) ([]byte, bool) {
	s.mu.Lock()
	dst = append(dst, s.out...)
	if cap(s.out) > 4096 {
		s.out = nil // an idle session keeps no large buffer
	} else {
		s.out = s.out[:0]
	}
	closed, info := s.closed, s.info
	s.mu.Unlock()
	if !closed {
		return dst, false
	}
	dst = appendWSClose(dst, wsCloseCode(info.Code), info.Reason)
	_ = s.conn.SetReadDeadline(time.Now().Add(closeGrace))
	return dst, true
}

// beat pings the client every heartbeat delay.
func (s *rawSession) beat() {
	if s.w.isStopped() {
		return
	}
	s.heartbeat.Reset(s.svc.opts.HeartbeatDelay)
	s.conn.KeepAlive()
	s.w.control(appendWSFrame(nil, opPing, nil), false)
}

// readLoop delivers messages until the connection ends.
func (s *rawSession) readLoop() {
	for {
		p, err := s.conn.ReadText()
		if errors.Is(err, errMessageTooBig) {
			_ = s.Close(session.CodeMessageTooBig, session.ReasonMessageTooBig)
			continue // read on until the client answers the close
		}
		if err != nil {
			code := websocket.CloseAbnormalClosure
			var ce *wsCloseError
			if errors.As(err, &ce) {
				code = ce.code
			}
			_ = s.Close(code, reasonClientClosed)
			return
		}
		if !utf8.Valid(p) {
			_ = s.Close(websocket.CloseInvalidFramePayloadData, "Invalid UTF-8")
			continue // the writer sends the close; read on until it lands
		}
		if s.events != nil {
			one := [1]string{string(p)}
			_ = s.events.Message(one[:], nil)
			continue
		}
		select {
		case s.inbox <- string(p):
		case <-s.done:
		}
	}
}

// Idle reports whether the handler took every message received.
func (s *rawSession) Idle() bool {
	if s.events != nil {
		return s.events.Idle()
	}
	return len(s.inbox) == 0
}

func (s *rawSession) closeInfo() session.CloseInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.info
}
