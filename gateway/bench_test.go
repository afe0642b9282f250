package gateway

import (
	"bufio"
	"bytes"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// loopConn is a net.Conn whose reads replay one byte stream forever, so a
// benchmark reads frames without a network.
type loopConn struct {
	net.Conn
	stream []byte
	off    int
}

func (c *loopConn) Read(p []byte) (int, error) {
	n := copy(p, c.stream[c.off:])
	c.off = (c.off + n) % len(c.stream)
	return n, nil
}

func (c *loopConn) SetReadDeadline(time.Time) error  { return nil }
func (c *loopConn) SetWriteDeadline(time.Time) error { return nil }
func (c *loopConn) SetDeadline(time.Time) error      { return nil }
func (c *loopConn) Write(p []byte) (int, error)      { return len(p), nil }
func (c *loopConn) Close() error                     { return nil }

// hijackable is a ResponseWriter that hands over a loopConn, so gorilla
// can upgrade onto it.
type hijackable struct {
	httptest.ResponseRecorder
	conn net.Conn
}

func (h *hijackable) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return h.conn, bufio.NewReadWriter(bufio.NewReader(h.conn), bufio.NewWriter(h.conn)), nil
}

// gorillaOver upgrades a gorilla server connection onto conn, as
// sockgate's upgrader did before it read frames itself (1 KiB buffer).
func gorillaOver(b *testing.B, conn net.Conn) *websocket.Conn {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Connection", "Upgrade")
	r.Header.Set("Upgrade", "websocket")
	r.Header.Set("Sec-WebSocket-Version", "13")
	r.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	u := websocket.Upgrader{ReadBufferSize: 1024, CheckOrigin: func(*http.Request) bool { return true }}
	c, err := u.Upgrade(&hijackable{conn: conn}, r, nil)
	if err != nil {
		b.Fatal(err)
	}
	return c
}

// BenchmarkWSReadText is the websocket frame reader on a 64-byte SockJS
// message, against gorilla/websocket's reader (the baseline it replaced)
// on the same bytes, in the same run.
func BenchmarkWSReadText(b *testing.B) {
	frame := clientFrame(true, opText, []byte(`["`+string(bytes.Repeat([]byte("x"), 60))+`"]`))
	stream := bytes.Repeat(frame, 64)
	b.Run("sockgate", func(b *testing.B) {
		c := newWSConn(&loopConn{stream: stream}, time.Hour)
		b.ReportAllocs()
		b.SetBytes(int64(len(frame)))
		for range b.N {
			if _, err := c.ReadText(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("gorilla", func(b *testing.B) {
		c := gorillaOver(b, &loopConn{stream: stream})
		b.ReportAllocs()
		b.SetBytes(int64(len(frame)))
		for range b.N {
			if _, _, err := c.ReadMessage(); err != nil {
				b.Fatal(err)
			}
		}
	})
}
