package gateway

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sockgate/sockgate/session"
)

// streamServer runs a gateway with an echo service whose streams end
// after limit bytes.
func streamServer(t *testing.T, limit int) *Server {
	t.Helper()
	echo := session.EventFuncs{Message: func(s session.Session, m string) { _ = s.Send(m) }}
	s, err := New(Config{Addr: "127.0.0.1:0", ShutdownTimeout: 2 * time.Second, Services: []Service{
		{Prefix: "/echo", Events: echo, ResponseLimit: limit},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// rawRequest sends req on a new connection and returns the connection
// and a reader of the response.
func rawRequest(t *testing.T, s *Server, req string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	return c, bufio.NewReader(c)
}

// TestStreamTakenOverHTTP11: an HTTP/1.1 stream is chunked, says it closes,
// carries the prelude and the frames, ends with the last chunk at the
// response limit, and then the server ends the connection cleanly (EOF,
// not a reset).
func TestStreamTakenOverHTTP11(t *testing.T) {
	t.Parallel()
	s := streamServer(t, 64) // the open frame plus a few messages
	_, br := rawRequest(t, s, "POST /echo/0/s1/xhr_streaming HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || !resp.Close || len(resp.TransferEncoding) != 1 || resp.TransferEncoding[0] != "chunked" {
		t.Fatalf("status %d, close %v, transfer encoding %v; want 200, close, chunked", resp.StatusCode, resp.Close, resp.TransferEncoding)
	}
	if ct := resp.Header.Get("Content-Type"); ct != contentTypeJS {
		t.Errorf("Content-Type %q", ct)
	}
	body := bufio.NewReader(resp.Body)
	line, err := body.ReadString('\n')
	if err != nil || line != xhrStreamingPrelude {
		t.Fatalf("prelude %q, %v", line, err)
	}
	if line, _ = body.ReadString('\n'); line != "o\n" {
		t.Fatalf("first frame %q, want o", line)
	}
	// "o\n" and two 36-byte echoes pass the 64-byte limit: the body ends.
	for i := range 2 {
		if code := postSend(t, s, "s1", `["0123456789012345678901234567890"]`); code != http.StatusNoContent {
			t.Fatalf("xhr_send: %d", code)
		}
		if line, err = body.ReadString('\n'); line != "a[\"0123456789012345678901234567890\"]\n" {
			t.Fatalf("frame %d %q, %v", i, line, err)
		}
	}
	if rest, err := body.ReadString('\n'); rest != "" || !errors.Is(err, io.EOF) {
		t.Fatalf("after the limit: %q, %v; want the end of the body", rest, err)
	}
	// The connection ends with a FIN once the body is over.
	if _, err := br.ReadByte(); !errors.Is(err, io.EOF) {
		t.Errorf("after the body: %v, want EOF", err)
	}
}

func postSend(t *testing.T, s *Server, sid, body string) int {
	t.Helper()
	resp, err := http.Post(s.URL()+"/echo/0/"+sid+"/xhr_send", "text/plain", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

// TestStreamTakenOverHTTP10: an HTTP/1.0 client gets a body delimited by
// the end of the connection, without chunks.
func TestStreamTakenOverHTTP10(t *testing.T) {
	t.Parallel()
	s := streamServer(t, 1)
	_, br := rawRequest(t, s, "GET /echo/0/s2/eventsource HTTP/1.0\r\n\r\n")
	all, err := io.ReadAll(br)
	if err != nil {
		t.Fatal(err)
	}
	got := string(all)
	if !strings.HasPrefix(got, "HTTP/1.0 200 OK\r\n") || strings.Contains(got, "chunked") {
		t.Fatalf("response %q: want HTTP/1.0 without chunks", got)
	}
	if !strings.HasSuffix(got, "\r\n\r\n\r\ndata: o\r\n\r\n") {
		t.Errorf("body of %q: want the prelude and the open frame, then the end", got)
	}
}

// TestStreamClientGone: a client that leaves mid-stream interrupts the
// session: the next receiver gets c[1002,"Connection interrupted"].
func TestStreamClientGone(t *testing.T) {
	t.Parallel()
	s := streamServer(t, 0)
	c, br := rawRequest(t, s, "POST /echo/0/s3/xhr_streaming HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	body := bufio.NewReader(resp.Body)
	_, _ = body.ReadString('\n') // prelude
	if line, _ := body.ReadString('\n'); line != "o\n" {
		t.Fatalf("first frame %q", line)
	}
	_ = c.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		poll, err := http.Post(s.URL()+"/echo/0/s3/xhr", "text/plain", nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(poll.Body)
		_ = poll.Body.Close()
		if string(b) == "c[1002,\"Connection interrupted\"]\n" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("poll after the abort: %q; want the 1002 close frame", b)
		}
		time.Sleep(20 * time.Millisecond) // the server has yet to see the EOF
	}
}

// TestStreamNotTakenOver: where the connection cannot be taken over (a
// ResponseWriter without Hijack, like HTTP/2's), the stream goes through
// net/http with the same framing.
func TestStreamNotTakenOver(t *testing.T) {
	t.Parallel()
	s, err := New(Config{Services: []Service{{Prefix: "/echo", Handler: nopHandler, ResponseLimit: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	w := httptest.NewRecorder()
	s.Handler().ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/echo/0/s4/xhr_streaming", nil).WithContext(ctx))
	if w.Code != http.StatusOK || w.Body.String() != xhrStreamingPrelude+"o\n" {
		t.Errorf("%d %q", w.Code, w.Body.String())
	}
	if w.Header().Get("Connection") != "" {
		t.Errorf("Connection: %q; net/http keeps the connection", w.Header().Get("Connection"))
	}
}
