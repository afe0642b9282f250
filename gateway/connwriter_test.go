package gateway

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"
)

// queueSource is a connWriter fill function over a queue of messages.
type queueSource struct {
	mu     sync.Mutex
	msgs   [][]byte
	closed bool
	code   int
	reason string
}

func (q *queueSource) push(p []byte) {
	q.mu.Lock()
	q.msgs = append(q.msgs, p)
	q.mu.Unlock()
}

func (q *queueSource) close(code int, reason string) {
	q.mu.Lock()
	q.closed, q.code, q.reason = true, code, reason
	q.mu.Unlock()
}

func (q *queueSource) fill(dst []byte) ([]byte, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, m := range q.msgs {
		dst = appendWSFrame(dst, opText, m)
	}
	q.msgs = nil
	if q.closed {
		return appendWSClose(dst, q.code, q.reason), true
	}
	return dst, false
}

// writerPair upgrades one connection and returns the server's connWriter
// over it and the client's end.
func writerPair(t *testing.T) (*connWriter, *queueSource, *websocket.Conn) {
	t.Helper()
	q := &queueSource{}
	ready := make(chan *connWriter, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := newUpgrader().Upgrade(w, r, nil)
		if err != nil {
			t.Errorf("upgrade: %v", err)
			return
		}
		t.Cleanup(func() { _ = conn.Close() })
		ready <- newConnWriter(conn.NetConn(), q.fill)
	}))
	t.Cleanup(srv.Close)
	c, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	w := <-ready
	if w.raw == nil {
		t.Fatal("a TCP connection must take non-blocking writes")
	}
	return w, q, c
}

// TestConnWriterFrameSizes: every length encoding reaches a real client
// intact (7-bit, 16-bit and 64-bit lengths, at their edges).
func TestConnWriterFrameSizes(t *testing.T) {
	t.Parallel()
	w, q, c := writerPair(t)
	sizes := []int{0, 1, 125, 126, 127, 65535, 65536, 300000}
	for i, n := range sizes {
		q.push(bytes.Repeat([]byte{byte('a' + i)}, n))
		w.wake()
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for i, n := range sizes {
		typ, p, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("message %d (%d bytes): %v", i, n, err)
		}
		if typ != websocket.TextMessage || len(p) != n || n > 0 && p[0] != byte('a'+i) {
			t.Fatalf("message %d: type %d, %d bytes; want a text message of %d", i, typ, len(p), n)
		}
	}
	w.stop()
}

// TestConnWriterBackpressure: a client that does not read makes the socket
// full; wake still returns at once (the rest goes on in a goroutine), and
// once the client reads, every message arrives in order.
func TestConnWriterBackpressure(t *testing.T) {
	t.Parallel()
	w, q, c := writerPair(t)
	const count, size = 4000, 4096 // 16 MiB: far more than socket buffers
	queued := make(chan struct{})
	go func() {
		defer close(queued)
		for i := range count {
			p := bytes.Repeat([]byte{'x'}, size)
			copy(p, fmt.Sprintf("%08d", i))
			q.push(p)
			w.wake()
		}
	}()
	select {
	case <-queued:
	case <-time.After(20 * time.Second):
		t.Fatal("wake blocked on a client that does not read")
	}
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	for i := range count {
		_, p, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if want := fmt.Sprintf("%08d", i); len(p) != size || string(p[:8]) != want {
			t.Fatalf("message %d: %d bytes starting %q; want %d starting %q", i, len(p), p[:8], size, want)
		}
	}
	w.stop()
}

// TestConnWriterControlAndClose: a control frame goes out ahead of queued
// messages, the close ends writing, and a long reason is cut at a
// character boundary to fit the 125-byte control frame.
func TestConnWriterControlAndClose(t *testing.T) {
	t.Parallel()
	w, q, c := writerPair(t)
	pongs := make(chan string, 1)
	c.SetPongHandler(func(data string) error { pongs <- data; return nil })
	w.control(appendWSFrame(nil, opPong, []byte("p1")), false)
	q.push([]byte("m1"))
	q.close(4001, strings.Repeat("é", 100)) // 200 bytes of reason
	w.wake()
	q.push([]byte("after the close")) // must never be written
	w.wake()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, p, err := c.ReadMessage()
	if err != nil || string(p) != "m1" {
		t.Fatalf("ReadMessage = %q, %v; want m1", p, err)
	}
	if got := <-pongs; got != "p1" {
		t.Errorf("pong %q, want p1", got)
	}
	_, _, err = c.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) {
		t.Fatalf("after m1: %v; want the close frame", err)
	}
	if ce.Code != 4001 || !utf8.ValidString(ce.Text) || len(ce.Text) > 123 || !strings.HasPrefix(ce.Text, "éé") {
		t.Errorf("close %d %q (%d bytes); want 4001 with the reason cut to at most 123 valid bytes", ce.Code, ce.Text, len(ce.Text))
	}
	if !w.isStopped() {
		t.Error("writer not stopped after its close frame")
	}
}

// TestConnWriterPeerGone: a write to a connection the client closed fails,
// closes the connection and stops the writer, without blocking.
func TestConnWriterPeerGone(t *testing.T) {
	t.Parallel()
	w, q, c := writerPair(t)
	_ = c.NetConn().Close()
	deadline := time.Now().Add(10 * time.Second)
	for !w.isStopped() {
		if time.Now().After(deadline) {
			t.Fatal("writer still running after the peer closed")
		}
		q.push(bytes.Repeat([]byte{'x'}, 64<<10))
		w.wake()
		time.Sleep(10 * time.Millisecond)
	}
	w.stop()
}
