package protocol

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// ioTimeout bounds every single network read or write of a test.
const ioTimeout = 5 * time.Second

// h is a request header set; keys are sent in sorted order.
type h map[string]string

// conn is one raw TCP connection to the server under test. The suite speaks
// HTTP by hand so that it sees exactly what the server sends: status line,
// header fields, chunk boundaries and connection close.
type conn struct {
	t    *testing.T
	nc   net.Conn
	br   *bufio.Reader
	host string
}

// dial opens a connection to the host of base (baseURL or timedURL).
func dial(t *testing.T, base string) *conn {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse %q: %v", base, err)
	}
	nc, err := net.DialTimeout("tcp", u.Host, ioTimeout)
	if err != nil {
		t.Fatalf("dial %s: %v", u.Host, err)
	}
	c := &conn{t: t, nc: nc, br: bufio.NewReader(nc), host: u.Host}
	t.Cleanup(func() { nc.Close() })
	return c
}

// basePath is the path part of base ("" for a server mounted at the root).
func basePath(base string) string {
	u, err := url.Parse(base)
	if err != nil {
		return ""
	}
	return strings.TrimRight(u.Path, "/")
}

// send writes one request. POST always carries a Content-Length (0 for no
// body), like the official suite's client; other methods only with a body.
func (c *conn) send(method, path, proto string, hdr h, body string) {
	c.t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s\r\nHost: %s\r\n", method, path, proto, c.host)
	keys := make([]string, 0, len(hdr))
	for k := range hdr {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "%s: %s\r\n", k, hdr[k])
	}
	if method == http.MethodPost || body != "" {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(body))
	}
	b.WriteString("\r\n")
	b.WriteString(body)
	c.write(b.String())
}

// write sends raw bytes.
func (c *conn) write(s string) {
	c.t.Helper()
	_ = c.nc.SetWriteDeadline(time.Now().Add(ioTimeout))
	if _, err := io.WriteString(c.nc, s); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// response is a parsed HTTP response; body is filled only by do.
type response struct {
	req    string // "POST /echo/000/x/xhr", for failure messages
	proto  string
	status int
	header http.Header
	body   string
}

// readHead reads a status line and header fields.
func (c *conn) readHead(req string) *response {
	c.t.Helper()
	_ = c.nc.SetReadDeadline(time.Now().Add(ioTimeout))
	tp := textproto.NewReader(c.br)
	line, err := tp.ReadLine()
	if err != nil {
		c.t.Fatalf("%s: reading status line: %v", req, err)
	}
	proto, rest, _ := strings.Cut(line, " ")
	code, _, _ := strings.Cut(rest, " ")
	status, err := strconv.Atoi(code)
	if err != nil || !strings.HasPrefix(proto, "HTTP/") {
		c.t.Fatalf("%s: bad status line %q", req, line)
	}
	mh, err := tp.ReadMIMEHeader()
	if err != nil {
		c.t.Fatalf("%s: reading header: %v", req, err)
	}
	return &response{req: req, proto: proto, status: status, header: http.Header(mh)}
}

// readBody reads a whole body as the response's framing says.
func (c *conn) readBody(r *response, method string) string {
	c.t.Helper()
	if r.status/100 == 1 || r.status == 204 || r.status == 304 || method == http.MethodHead {
		return ""
	}
	s := c.stream(r)
	var b strings.Builder
	for {
		chunk, err := s.fill()
		b.WriteString(chunk)
		if errors.Is(err, io.EOF) {
			return b.String()
		}
		if err != nil {
			c.t.Fatalf("%s: reading body: %v (got %q so far)", r.req, err, clip(b.String()))
		}
	}
}

// do sends one HTTP/1.1 request on a fresh connection to baseURL and reads
// the whole response.
func do(t *testing.T, method, path string, hdr h, body string) *response {
	t.Helper()
	return doAt(t, baseURL, method, path, hdr, body)
}

// doAt is do against another server root.
func doAt(t *testing.T, base, method, path string, hdr h, body string) *response {
	t.Helper()
	c := dial(t, base)
	defer c.nc.Close()
	path = basePath(base) + path
	c.send(method, path, "HTTP/1.1", hdr, body)
	r := c.readHead(method + " " + path)
	r.body = c.readBody(r, method)
	return r
}

// stream is a response body read incrementally.
type stream struct {
	t       *testing.T
	c       *conn
	resp    *response
	chunked bool
	length  int // remaining Content-Length, -1 when unknown
	buf     []byte
	eof     bool
}

// open sends a request on a fresh connection and returns its response with
// the body unread: for streaming transports.
func open(t *testing.T, method, path string, hdr h, body string) *stream {
	t.Helper()
	return openAt(t, baseURL, method, path, hdr, body)
}

// openAt is open against another server root.
func openAt(t *testing.T, base, method, path string, hdr h, body string) *stream {
	t.Helper()
	c := dial(t, base)
	path = basePath(base) + path
	c.send(method, path, "HTTP/1.1", hdr, body)
	return c.stream(c.readHead(method + " " + path))
}

// pending is a request sent whose response has not been read yet: a poll
// that the server answers only when it has a frame.
type pending struct {
	c   *conn
	req string
}

// begin sends a request on a fresh connection to baseURL without waiting
// for the response.
func begin(t *testing.T, method, path string, hdr h, body string) *pending {
	t.Helper()
	c := dial(t, baseURL)
	path = basePath(baseURL) + path
	c.send(method, path, "HTTP/1.1", hdr, body)
	return &pending{c: c, req: method + " " + path}
}

// stream reads the response head and returns the body unread.
func (p *pending) stream() *stream {
	p.c.t.Helper()
	return p.c.stream(p.c.readHead(p.req))
}

// close drops the connection (the client aborts the request).
func (p *pending) close() { p.c.nc.Close() }

// stream wraps the connection's remaining bytes as r's body.
func (c *conn) stream(r *response) *stream {
	s := &stream{t: c.t, c: c, resp: r, length: -1}
	for _, te := range r.header.Values("Transfer-Encoding") {
		if strings.EqualFold(strings.TrimSpace(te), "chunked") {
			s.chunked = true
		}
	}
	if cl := r.header.Get("Content-Length"); cl != "" && !s.chunked {
		s.length, _ = strconv.Atoi(cl)
	}
	return s
}

// fill returns the next piece of body: one chunk when chunked, else what one
// read returns. It reports io.EOF at the end of the body.
func (s *stream) fill() (string, error) {
	if s.eof {
		return "", io.EOF
	}
	_ = s.c.nc.SetReadDeadline(time.Now().Add(ioTimeout))
	if s.chunked {
		return s.nextChunk()
	}
	if s.length == 0 {
		s.eof = true
		return "", io.EOF
	}
	p := make([]byte, 64*1024)
	if s.length > 0 && s.length < len(p) {
		p = p[:s.length]
	}
	n, err := s.c.br.Read(p)
	if s.length > 0 {
		s.length -= n
	}
	if errors.Is(err, io.EOF) {
		s.eof = true
		if n > 0 {
			err = nil
		}
	}
	return string(p[:n]), err
}

// nextChunk reads one chunk of a chunked body.
func (s *stream) nextChunk() (string, error) {
	line, err := s.c.br.ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("chunk size line: %w", err)
	}
	sizeText, _, _ := strings.Cut(strings.TrimRight(line, "\r\n"), ";")
	size, err := strconv.ParseInt(strings.TrimSpace(sizeText), 16, 32)
	if err != nil {
		return "", fmt.Errorf("bad chunk size line %q", line)
	}
	if size == 0 {
		for { // trailer section up to the empty line
			l, err := s.c.br.ReadString('\n')
			if err != nil {
				return "", fmt.Errorf("chunked trailer: %w", err)
			}
			if l == "\r\n" || l == "\n" {
				break
			}
		}
		s.eof = true
		return "", io.EOF
	}
	p := make([]byte, size+2)
	if _, err := io.ReadFull(s.c.br, p); err != nil {
		return "", fmt.Errorf("chunk of %d bytes: %w", size, err)
	}
	if string(p[size:]) != "\r\n" {
		return "", fmt.Errorf("chunk of %d bytes not followed by CRLF", size)
	}
	return string(p[:size]), nil
}

// readN returns exactly n more body bytes.
func (s *stream) readN(n int) string {
	s.t.Helper()
	for len(s.buf) < n {
		s.more(fmt.Sprintf("%d bytes", n))
	}
	out := string(s.buf[:n])
	s.buf = s.buf[n:]
	return out
}

// readUntil returns body bytes up to and including delim.
func (s *stream) readUntil(delim string) string {
	s.t.Helper()
	for {
		if i := strings.Index(string(s.buf), delim); i >= 0 {
			out := string(s.buf[:i+len(delim)])
			s.buf = s.buf[i+len(delim):]
			return out
		}
		s.more(fmt.Sprintf("%q", clip(delim)))
	}
}

// more appends the next piece of body to buf or fails the test.
func (s *stream) more(what string) {
	s.t.Helper()
	chunk, err := s.fill()
	s.buf = append(s.buf, chunk...)
	if err != nil {
		s.t.Fatalf("%s: waiting for %s: %v; unread body so far %q",
			s.resp.req, what, err, clip(string(s.buf)))
	}
}

// readChunk returns the next raw chunk of a chunked body ("" for the last,
// zero-length chunk).
func (s *stream) readChunk() string {
	s.t.Helper()
	if !s.chunked {
		s.t.Fatalf("%s: body is not chunked (Transfer-Encoding %q)",
			s.resp.req, s.resp.header.Values("Transfer-Encoding"))
	}
	if len(s.buf) > 0 {
		s.t.Fatalf("%s: readChunk with %d buffered bytes", s.resp.req, len(s.buf))
	}
	chunk, err := s.fill()
	if err != nil && !errors.Is(err, io.EOF) {
		s.t.Fatalf("%s: reading chunk: %v", s.resp.req, err)
	}
	return chunk
}

// wantEOF asserts that the body ends now, with nothing more in it.
func (s *stream) wantEOF() {
	s.t.Helper()
	for !s.eof {
		chunk, err := s.fill()
		s.buf = append(s.buf, chunk...)
		if err != nil && !errors.Is(err, io.EOF) {
			s.t.Errorf("%s: body did not end: %v", s.resp.req, err)
			return
		}
	}
	if len(s.buf) > 0 {
		s.t.Errorf("%s: body went on after the expected end: %q", s.resp.req, clip(string(s.buf)))
	}
}

// wantConnClosed asserts that the server closes the TCP connection.
func (s *stream) wantConnClosed() {
	s.t.Helper()
	_ = s.c.nc.SetReadDeadline(time.Now().Add(ioTimeout))
	p := make([]byte, 1)
	n, err := s.c.br.Read(p)
	if n > 0 || !errors.Is(err, io.EOF) {
		s.t.Errorf("%s: connection not closed: read %q, %v", s.resp.req, p[:n], err)
	}
}

// close drops the connection (the client "aborts" the request).
func (s *stream) close() { s.c.nc.Close() }

// newSID returns a fresh random session id.
func newSID() string {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// sess returns the session URL prefix /<service>/000/<new id>.
func sess(service string) string { return service + "/000/" + newSID() }

// clip shortens s for failure messages.
func clip(s string) string {
	const max = 300
	if len(s) <= max {
		return s
	}
	return fmt.Sprintf("%s...(%d bytes)...%s", s[:max/2], len(s)-max, s[len(s)-max/2:])
}
