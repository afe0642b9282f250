package gateway

import (
	"bufio"
	"bytes"
	"crypto/md5"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/websocket"
)

// hixie-76 (draft-76) is the websocket handshake and framing of Safari 5,
// iOS 5 and old Chrome. gorilla/websocket does not speak it, so the
// websocket transport serves it here: a challenge-response handshake with
// two numeric keys in headers and eight key bytes after them, then text
// frames as 0x00 <utf-8> 0xFF and a close as 0xFF 0x00.

// isHixie76 reports whether r is a hixie-76 handshake.
func isHixie76(r *http.Request) bool {
	return r.Header.Get("Sec-Websocket-Key1") != "" && r.Header.Get("Sec-Websocket-Key2") != ""
}

var errHixieKey = errors.New("gateway: bad hixie-76 key")

// hixieKeyNumber decodes a Sec-WebSocket-Key header: its digits as a number
// divided by its count of spaces.
func hixieKeyNumber(key string) (uint32, error) {
	var n uint64
	spaces := uint64(0)
	for i := 0; i < len(key); i++ {
		switch c := key[i]; {
		case c >= '0' && c <= '9':
			n = n*10 + uint64(c-'0')
			if n > 1<<42 {
				return 0, errHixieKey
			}
		case c == ' ':
			spaces++
		}
	}
	if spaces == 0 || n%spaces != 0 {
		return 0, errHixieKey
	}
	return uint32(n / spaces), nil
}

// serveHixie76 completes a hixie-76 handshake and runs the session on it.
// The 101 headers go out before the eight key bytes are read, so proxies
// that hold those bytes back until the server answers (old HAProxy) work.
func (svc *service) serveHixie76(w http.ResponseWriter, r *http.Request, sid string) {
	k1, err1 := hixieKeyNumber(r.Header.Get("Sec-Websocket-Key1"))
	k2, err2 := hixieKeyNumber(r.Header.Get("Sec-Websocket-Key2"))
	if err1 != nil || err2 != nil {
		writeText(w, http.StatusBadRequest, "Invalid hixie-76 keys.")
		return
	}
	netConn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	var hs bytes.Buffer
	hs.WriteString("HTTP/1.1 101 WebSocket Protocol Handshake\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\n")
	hs.WriteString("Sec-WebSocket-Origin: " + sanitizeHeader(r.Header.Get("Origin")) + "\r\n")
	hs.WriteString("Sec-WebSocket-Location: " + sanitizeHeader(svc.hixieLocation(r)) + "\r\n\r\n")
	_ = netConn.SetDeadline(time.Now().Add(writeTimeout))
	if _, err := netConn.Write(hs.Bytes()); err != nil {
		_ = netConn.Close()
		return
	}
	var key3 [8]byte
	if _, err := io.ReadFull(brw.Reader, key3[:]); err != nil {
		_ = netConn.Close()
		return
	}
	var challenge [16]byte
	binary.BigEndian.PutUint32(challenge[0:], k1)
	binary.BigEndian.PutUint32(challenge[4:], k2)
	copy(challenge[8:], key3[:])
	sum := md5.Sum(challenge[:])
	if _, err := netConn.Write(sum[:]); err != nil {
		_ = netConn.Close()
		return
	}
	_ = netConn.SetDeadline(time.Time{})
	// Hixie-76 has no ping: a peer that stops taking our heartbeat frames
	// is dropped by the kernel after the bound an RFC 6455 peer gets to
	// answer a ping (see wsConnRFC6455.KeepAlive).
	if err := setPeerTimeout(netConn, wsIdleTimeout(svc.opts.HeartbeatDelay)); err != nil {
		svc.log.Debug().Err(err).Msg("hixie-76: TCP_USER_TIMEOUT not set")
	}
	svc.openWebsocket(&hixieConn{conn: netConn, br: brw.Reader}, nil, r, sid).readWebsocket()
}

func sanitizeHeader(s string) string {
	return strings.NewReplacer("\r", "", "\n", "").Replace(s)
}

// hixieConn is a hixie-76 connection: wsConn over draft-76 framing.
type hixieConn struct {
	conn  net.Conn
	br    *bufio.Reader
	limit int64
}

func (c *hixieConn) ReadText() ([]byte, error) {
	typ, err := c.br.ReadByte()
	if err != nil {
		return nil, err
	}
	if typ == 0xff { // closing handshake: 0xFF 0x00
		_, _ = c.br.ReadByte()
		return nil, &websocket.CloseError{Code: websocket.CloseNormalClosure}
	}
	if typ != 0x00 {
		return nil, errors.New("gateway: unsupported hixie-76 frame type")
	}
	p, err := c.br.ReadSlice(0xff)
	if errors.Is(err, bufio.ErrBufferFull) {
		p, err = c.readLong(p)
	}
	if err != nil {
		return nil, err
	}
	p = p[:len(p)-1]
	if c.limit > 0 && int64(len(p)) > c.limit {
		return nil, errMessageTooBig
	}
	return append([]byte(nil), p...), nil
}

// readLong reads a frame longer than the bufio buffer, up to the limit.
func (c *hixieConn) readLong(head []byte) ([]byte, error) {
	buf := append([]byte(nil), head...)
	for {
		if c.limit > 0 && int64(len(buf)) > c.limit {
			return nil, errMessageTooBig
		}
		p, err := c.br.ReadSlice(0xff)
		buf = append(buf, p...)
		if err == nil {
			return buf, nil
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			return nil, err
		}
	}
}

func (c *hixieConn) AppendText(dst, p []byte) []byte {
	dst = append(dst, 0x00)
	dst = append(dst, p...)
	return append(dst, 0xff)
}

func (c *hixieConn) AppendPing(dst []byte) []byte { return dst } // no pings in hixie-76
func (c *hixieConn) AppendClose(dst []byte, _ int, _ string) []byte {
	return append(dst, 0xff, 0x00)
}
func (c *hixieConn) NetConn() net.Conn                 { return c.conn }
func (c *hixieConn) OnControl(func([]byte, bool))      {} // the client's close needs no answer
func (c *hixieConn) KeepAlive()                        {}
func (c *hixieConn) SetReadLimit(n int64)              { c.limit = n }
func (c *hixieConn) SetReadDeadline(t time.Time) error { return c.conn.SetReadDeadline(t) }
func (c *hixieConn) Close() error                      { return c.conn.Close() }

// hixieLocation is the URL the client asked for, which hixie-76 browsers
// check: the original request target (with any -base-path), and the scheme
// and host a trusted proxy in front says the client used.
func (svc *service) hixieLocation(r *http.Request) string {
	scheme := "ws"
	if svc.srv.proxies.https(r) {
		scheme = "wss"
	}
	return scheme + "://" + svc.srv.proxies.host(r) + r.RequestURI
}
