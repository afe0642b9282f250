package gateway

import (
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/sockgate/sockgate/session/engine"
	"github.com/sockgate/sockgate/session/transport"
)

// serveRawWebsocket serves <prefix>/websocket: plain RFC 6455 text messages,
// no SockJS framing; close codes pass through; pings keep it alive. The
// session is the same engine.SockJS as every other transport's, in raw
// mode, so its limits (queue, rate, size), meters, close log and drain are
// the same too.
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
	svc.srv.handlers.Add(1) // before the upgrade, as for the SockJS websocket
	conn, answer, err := svc.upgrade(w, r)
	if err != nil {
		svc.srv.handlers.Done()
		svc.srv.limiter.release(ip)
		svc.log.Debug().Err(err).Msg("websocket upgrade failed")
		return
	}
	// As for the SockJS websocket: set up here, then read in a goroutine of
	// our own so that net/http frees this one and its buffers.
	ws := svc.openRawWebsocket(conn, answer, r)
	go func() {
		defer svc.srv.handlers.Done()
		defer svc.srv.limiter.release(ip)
		ws.readWebsocket()
	}()
}

// openRawWebsocket starts a raw websocket session over conn; its id is the
// client's address.
func (svc *service) openRawWebsocket(conn *wsConnRFC6455, answer []byte, r *http.Request) *wsSession {
	f := &rawWSFraming{conn: conn}
	o := svc.newOwnedConn(conn.NetConn(), f, nil)
	s, rcv := engine.NewRawPush(conn.NetConn().RemoteAddr().String(), transport.RawWebsocket,
		svc.opts, o.wake, appendRawMessage)
	f.s = s
	return svc.startWebsocket(conn, answer, o, s, rcv, r, transport.RawWebsocket, rawMessage)
}

// appendRawMessage frames one message of a raw websocket session as a text
// message; text that is not UTF-8 is mended (a browser would drop the
// connection).
func appendRawMessage(dst []byte, msg string) []byte {
	if !utf8.ValidString(msg) {
		msg = strings.ToValidUTF8(msg, "\uFFFD")
	}
	dst = appendWSHeader(dst, opText, len(msg))
	return append(dst, msg...)
}

// rawMessage is a raw websocket message as the session's one message.
func rawMessage(p []byte) ([]string, error) { return []string{string(p)}, nil }

// rawWSFraming writes a raw-mode session's receiver output: its messages
// come framed already, a heartbeat is a ping, and the close frame is the
// session's close code and reason.
type rawWSFraming struct {
	conn *wsConnRFC6455
	s    *engine.SockJS
}

func (f *rawWSFraming) appendFrame(dst, frame []byte, heartbeat, last bool) ([]byte, bool) {
	switch {
	case last:
		return appendWSEnd(dst, f.conn, f.s), true
	case heartbeat:
		return f.conn.AppendPing(dst), false
	}
	return f.conn.appendFrames(dst, frame), false
}

func (f *rawWSFraming) appendGone(dst []byte) []byte { return dst }
func (f *rawWSFraming) keepAlive()                   { f.conn.KeepAlive() }
