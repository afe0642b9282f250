package protocol

import (
	"net/http"
	"strings"
	"testing"
)

const greeting = "Welcome to SockJS!\n"

// Official: Http10.test_synchronous. An HTTP/1.0 answer has no chunking:
// either Content-Length (and maybe keep-alive) or Connection: close.
func TestHTTP10Synchronous(t *testing.T) {
	t.Parallel()
	c := dial(t, baseURL)
	path := basePath(baseURL) + "/echo"
	c.send("GET", path, "HTTP/1.0", h{"Connection": "Keep-Alive"}, "")
	r := c.readHead("GET " + path + " HTTP/1.0")
	r.wantStatus(t, http.StatusOK)
	if r.proto != "HTTP/1.0" && r.proto != "HTTP/1.1" {
		t.Errorf("%s: response protocol %q", r.req, r.proto)
	}
	r.wantNoHeader(t, "Transfer-Encoding")
	st := c.stream(r)
	if r.header.Get("Content-Length") == "" {
		eq(t, r.req+": Connection", strings.ToLower(r.header.Get("Connection")), "close")
		st.length = -1
		eq(t, r.req+": body", st.readN(len(greeting)), greeting)
		st.wantConnClosed()
		return
	}
	r.wantHeader(t, "Content-Length", "19")
	eq(t, r.req+": body", st.readN(19), greeting)
	switch conn := strings.ToLower(r.header.Get("Connection")); conn {
	case "close", "":
		st.wantConnClosed()
	case "keep-alive":
		c.send("GET", path, "HTTP/1.0", h{"Connection": "Keep-Alive"}, "")
		r2 := c.readHead("second GET " + path + " HTTP/1.0 on a kept-alive connection")
		r2.wantStatus(t, http.StatusOK)
		r2.body = c.readBody(r2, "GET")
		r2.wantBody(t, greeting)
	default:
		t.Errorf("%s: Connection %q, want close, keep-alive or none", r.req, conn)
	}
}

// Official: Http10.test_streaming: HTTP/1.0 streaming is neither chunked nor
// sized; the body ends when the server closes the connection.
func TestHTTP10Streaming(t *testing.T) {
	t.Parallel()
	c := dial(t, baseURL)
	path := basePath(baseURL) + sess("/close") + "/xhr_streaming"
	c.send("POST", path, "HTTP/1.0", h{"Connection": "Keep-Alive"}, "")
	r := c.readHead("POST " + path + " HTTP/1.0")
	r.wantStatus(t, http.StatusOK)
	r.wantNoHeader(t, "Transfer-Encoding")
	r.wantNoHeader(t, "Content-Length")
	st := c.stream(r)
	st.chunked, st.length = false, -1
	eq(t, r.req+": prelude", st.readN(2049), prelude)
	eq(t, r.req, st.readN(2), "o\n")
	eq(t, r.req, st.readN(19), frame3000)
	st.wantConnClosed()
}

// HTTP/1.0 polling answers are sized or closed, never chunked.
func TestHTTP10Polling(t *testing.T) {
	t.Parallel()
	c := dial(t, baseURL)
	path := basePath(baseURL) + sess("/echo") + "/xhr"
	c.send("POST", path, "HTTP/1.0", nil, "")
	r := c.readHead("POST " + path + " HTTP/1.0")
	r.wantStatus(t, http.StatusOK)
	r.wantNoHeader(t, "Transfer-Encoding")
	if r.header.Get("Content-Length") == "" {
		eq(t, r.req+": Connection", strings.ToLower(r.header.Get("Connection")), "close")
	}
	r.body = c.readBody(r, "POST")
	r.wantBody(t, "o\n")
}

// Official: Http11.test_synchronous: keep-alive by default, body sized or
// chunked, a second request on the same connection works.
func TestHTTP11Synchronous(t *testing.T) {
	t.Parallel()
	c := dial(t, baseURL)
	path := basePath(baseURL) + "/echo"
	c.send("GET", path, "HTTP/1.1", h{"Connection": "Keep-Alive"}, "")
	r := c.readHead("GET " + path)
	r.wantStatus(t, http.StatusOK)
	if conn := strings.ToLower(r.header.Get("Connection")); conn != "keep-alive" && conn != "" {
		t.Errorf("%s: Connection %q: the server does not keep HTTP/1.1 connections alive", r.req, conn)
	}
	if r.header.Get("Content-Length") != "" {
		r.wantHeader(t, "Content-Length", "19")
		r.wantNoHeader(t, "Transfer-Encoding")
	} else {
		r.wantHeader(t, "Transfer-Encoding", "chunked")
	}
	r.body = c.readBody(r, "GET")
	r.wantBody(t, greeting)

	c.send("GET", path, "HTTP/1.1", h{"Connection": "Keep-Alive"}, "")
	r2 := c.readHead("second GET " + path + " on the same connection")
	r2.wantStatus(t, http.StatusOK)
	r2.body = c.readBody(r2, "GET")
	r2.wantBody(t, greeting)
}

// Official: Http11.test_streaming: chunked, one frame per chunk, the
// zero-length chunk after the close frame.
func TestHTTP11Streaming(t *testing.T) {
	t.Parallel()
	c := dial(t, baseURL)
	path := basePath(baseURL) + sess("/close") + "/xhr_streaming"
	c.send("POST", path, "HTTP/1.1", h{"Connection": "Keep-Alive"}, "")
	r := c.readHead("POST " + path)
	r.wantStatus(t, http.StatusOK)
	r.wantHeader(t, "Transfer-Encoding", "chunked")
	r.wantNoHeader(t, "Content-Length")
	st := c.stream(r)
	eq(t, r.req+": chunk 1 (prelude)", st.readChunk(), prelude)
	eq(t, r.req+": chunk 2", st.readChunk(), "o\n")
	eq(t, r.req+": chunk 3", st.readChunk(), frame3000)
	eq(t, r.req+": chunk 4 (last)", st.readChunk(), "")
}

// SOCKJS.md: HTTP/1.1 keeps the connection alive between polls.
func TestHTTP11KeepAlivePolling(t *testing.T) {
	t.Parallel()
	c := dial(t, baseURL)
	s := basePath(baseURL) + sess("/echo")
	for i, step := range []struct{ path, body, want string }{
		{s + "/xhr", "", "o\n"},
		{s + "/xhr_send", `["k"]`, ""},
		{s + "/xhr", "", "a[\"k\"]\n"},
	} {
		c.send("POST", step.path, "HTTP/1.1", nil, step.body)
		r := c.readHead("POST " + step.path + " (request " + string(rune('1'+i)) + " on one connection)")
		r.body = c.readBody(r, "POST")
		r.wantBody(t, step.want)
		if strings.EqualFold(r.header.Get("Connection"), "close") {
			t.Fatalf("%s: Connection: close on an HTTP/1.1 poll", r.req)
		}
	}
}
