package gateway

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
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
		conn, answer, err := upgradeWS(w, r, "")
		if err == nil {
			err = answerWS(conn, answer)
		}
		if err != nil {
			t.Errorf("upgrade: %v", err)
			return
		}
		t.Cleanup(func() { _ = conn.Close() })
		ready <- newConnWriter(conn, q.fill)
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

// TestConnWriterKeepsLatestPong: while a write is blocked, pongs do not
// pile up: each replaces the one waiting, so a ping flood holds one pong,
// and the client gets the pong in flight and then only the latest.
func TestConnWriterKeepsLatestPong(t *testing.T) {
	t.Parallel()
	server, client := net.Pipe() // no descriptor: writes block until read
	defer client.Close()
	w := newConnWriter(server, func(dst []byte) ([]byte, bool) { return dst, false })
	pong := func(i int) []byte { return appendWSFrame(nil, opPong, []byte(fmt.Sprintf("p%04d", i))) }
	pending := func() int {
		w.mu.Lock()
		defer w.mu.Unlock()
		return len(w.pong)
	}
	w.control(pong(0), false)
	for deadline := time.Now().Add(5 * time.Second); pending() > 0; { // taken: its write blocks
		if time.Now().After(deadline) {
			t.Fatal("the writer never took the first pong")
		}
		time.Sleep(time.Millisecond)
	}
	for i := 1; i < 1000; i++ {
		w.control(pong(i), false)
	}
	if n := pending(); n != len(pong(0)) {
		t.Fatalf("%d bytes of pongs pending, want one pong", n)
	}
	want := append(pong(0), pong(999)...)
	got := make([]byte, len(want))
	_ = client.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(client, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("client got %q, want the pong in flight and then the latest", got)
	}
	w.control(appendWSClose(nil, 1000, ""), true)
	w.control(pong(1000), false) // after the close: dropped
	closeFrame := appendWSClose(nil, 1000, "")
	got = make([]byte, len(closeFrame))
	if _, err := io.ReadFull(client, got); err != nil || !bytes.Equal(got, closeFrame) {
		t.Fatalf("after the pongs: %q, %v, want the close frame", got, err)
	}
	w.stop()
	_ = server.Close()
}
