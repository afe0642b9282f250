package production

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/rs/zerolog"

	"github.com/sockgate/sockgate/gateway"
	"github.com/sockgate/sockgate/session/services"
	"github.com/sockgate/sockgate/test/sockjsclient"
)

const (
	// waitTimeout bounds every wait for something the test expects.
	waitTimeout = 10 * time.Second
	// pollEvery is the period of the loops that poll for a state change
	// (a metric, /readyz) that has no other signal.
	pollEvery = 20 * time.Millisecond
	// testDisconnect is the disconnect delay of the test services: short,
	// so that abandoned sessions (and the drain in Close) end quickly.
	testDisconnect = 2 * time.Second
	// testShutdown bounds each test gateway's Close.
	testShutdown = 3 * time.Second
)

// Header values the gateway sends.
const (
	ctPlain = "text/plain; charset=UTF-8"
	ctJS    = "application/javascript; charset=UTF-8"
	ctJSON  = "application/json; charset=UTF-8"
	ctHTML  = "text/html; charset=UTF-8"
	ctSSE   = "text/event-stream"
)

// httpClient carries the plain HTTP requests of the tests.
var httpClient = &http.Client{
	Timeout:   waitTimeout,
	Transport: &http.Transport{MaxIdleConnsPerHost: 64},
}

// testLogger sends the gateway's log to the test log.
func testLogger(t *testing.T) zerolog.Logger {
	return zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel)
}

// startGateway runs an in-process gateway on a free loopback port until the
// test ends.
func startGateway(t *testing.T, cfg gateway.Config) *gateway.Server {
	t.Helper()
	cfg.Addr = "127.0.0.1:0"
	cfg.Logger = testLogger(t)
	if cfg.ShutdownTimeout == 0 {
		cfg.ShutdownTimeout = testShutdown
	}
	srv, err := gateway.New(cfg)
	if err != nil {
		t.Fatalf("gateway.New: %v", err)
	}
	if err := srv.Open(); err != nil {
		t.Fatalf("gateway Open: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Logf("gateway Close: %v", err)
		}
	})
	return srv
}

// echoService is services.Echo at prefix with the short test delays.
func echoService(prefix string) gateway.Service {
	return gateway.Service{Prefix: prefix, Handler: services.Echo, DisconnectDelay: testDisconnect}
}

// response is a whole HTTP answer.
type response struct {
	req    string
	status int
	header http.Header
	body   string
}

// do sends one request and reads the whole answer. hdr may be nil.
func do(t *testing.T, method, url string, hdr http.Header, body string) response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		t.Fatalf("new request %s %s: %v", method, url, err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, clip(url), err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, clip(url), err)
	}
	return response{req: method + " " + clip(url), status: resp.StatusCode, header: resp.Header, body: string(b)}
}

// origin is a header set holding only Origin ("" for none).
func origin(o string) http.Header {
	if o == "" {
		return nil
	}
	return http.Header{"Origin": {o}}
}

func (r response) want(t *testing.T, status int, body string) {
	t.Helper()
	if r.status != status || r.body != body {
		t.Errorf("%s: %d %q, want %d %q", r.req, r.status, clip(r.body), status, clip(body))
	}
}

func (r response) wantHeader(t *testing.T, key, want string) {
	t.Helper()
	if got := r.header.Values(key); len(got) != 1 || got[0] != want {
		t.Errorf("%s: %s %q, want %q", r.req, key, got, want)
	}
}

func (r response) wantNoHeader(t *testing.T, key string) {
	t.Helper()
	if got := r.header.Values(key); len(got) > 0 {
		t.Errorf("%s: unexpected %s %q", r.req, key, got)
	}
}

// clip shortens long strings (10,000-character ids) in messages.
func clip(s string) string {
	if len(s) > 200 {
		return s[:200] + "...(" + strconv.Itoa(len(s)) + " bytes)"
	}
	return s
}

// openStream starts a streaming request and returns its response and the
// first n body bytes; the stream is aborted when the test ends.
func openStream(t *testing.T, method, url string, hdr http.Header, n int) (*http.Response, string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		cancel()
		t.Fatalf("new request: %v", err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	timer := time.AfterFunc(waitTimeout, cancel)
	defer timer.Stop()
	resp, err := httpClient.Transport.RoundTrip(req)
	if err != nil {
		cancel()
		t.Fatalf("%s %s: %v", method, url, err)
	}
	t.Cleanup(func() {
		cancel()
		resp.Body.Close()
	})
	buf := make([]byte, n)
	if _, err := io.ReadFull(resp.Body, buf); err != nil {
		t.Fatalf("%s %s: read %d bytes: %v", method, url, n, err)
	}
	return resp, string(buf)
}

// wsURL maps an http:// URL onto ws://.
func wsURL(u string) string { return "ws://" + strings.TrimPrefix(u, "http://") }

// dialWS opens a websocket with the default dialer within waitTimeout.
func dialWS(url string, hdr http.Header) (*websocket.Conn, *http.Response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	return websocket.DefaultDialer.DialContext(ctx, wsURL(url), hdr)
}

// readWS reads one text message within waitTimeout.
func readWS(t *testing.T, c *websocket.Conn) string {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(waitTimeout))
	_, p, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("websocket read: %v", err)
	}
	return string(p)
}

// writeWS writes one text message.
func writeWS(t *testing.T, c *websocket.Conn, msg string) {
	t.Helper()
	_ = c.SetWriteDeadline(time.Now().Add(waitTimeout))
	if err := c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		t.Fatalf("websocket write: %v", err)
	}
}

// readUntilClose reads a websocket until it ends and returns the text
// messages read and the close error (a *websocket.CloseError when the
// server sent a close message).
func readUntilClose(c *websocket.Conn) ([]string, error) {
	var msgs []string
	_ = c.SetReadDeadline(time.Now().Add(waitTimeout))
	for {
		_, p, err := c.ReadMessage()
		if err != nil {
			return msgs, err
		}
		msgs = append(msgs, string(p))
	}
}

// wsCloseCode is the code of a websocket close error, or -1.
func wsCloseCode(err error) int {
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		return ce.Code
	}
	return -1
}

// dial opens a sockjsclient session within waitTimeout.
func dial(t *testing.T, baseURL string, opts sockjsclient.Options) *sockjsclient.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	c, err := sockjsclient.Dial(ctx, baseURL, opts)
	if err != nil {
		t.Fatalf("dial %s %s: %v", opts.Transport, baseURL, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// recv is Recv within waitTimeout.
func recv(c *sockjsclient.Conn) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	return c.Recv(ctx)
}

// echoRoundTrip sends msg and expects it back.
func echoRoundTrip(t *testing.T, c *sockjsclient.Conn, msg string) {
	t.Helper()
	if err := c.Send(msg); err != nil {
		t.Fatalf("%s send %q: %v", c.Transport(), msg, err)
	}
	got, err := recv(c)
	if err != nil || got != msg {
		t.Fatalf("%s echo of %q: %q, %v", c.Transport(), msg, clip(got), err)
	}
}

// wantClose reads c until its session ends and checks the close frame.
func wantClose(t *testing.T, c *sockjsclient.Conn, code int, reason string) {
	t.Helper()
	for {
		m, err := recv(c)
		if err == nil {
			continue
		}
		var ce *sockjsclient.CloseError
		if !errors.As(err, &ce) || ce.Code != code || ce.Reason != reason {
			t.Fatalf("%s: session ended with %v (last message %q), want c[%d,%q]", c.Transport(), err, clip(m), code, reason)
		}
		return
	}
}

// metric returns the value of one sample at metricsURL, e.g.
// `sockgate_refusals_total{cause="origin"}` (labels sorted by name, as the
// exposition writes them); 0 when the sample is absent.
func metric(t *testing.T, metricsURL, sample string) float64 {
	t.Helper()
	r := do(t, http.MethodGet, metricsURL, nil, "")
	if r.status != http.StatusOK {
		t.Fatalf("GET %s: %d", metricsURL, r.status)
	}
	return sampleValue(r.body, sample)
}

func sampleValue(exposition, sample string) float64 {
	for _, line := range strings.Split(exposition, "\n") {
		if v, ok := strings.CutPrefix(line, sample+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err == nil {
				return f
			}
		}
	}
	return 0
}

// eventually polls cond until it holds or waitTimeout passes; for states
// that have no signal of their own.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(pollEvery)
	}
}

// rawResponse is one response read off a raw connection.
type rawResponse struct {
	status int
	body   string
}

// rawExchange writes req on a new connection to addr, half-closes it, and
// returns every response the server wrote before it closed the connection.
func rawExchange(t *testing.T, addr, req string) []rawResponse {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, waitTimeout)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(waitTimeout))
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatalf("write: %v", err)
	}
	_ = conn.(*net.TCPConn).CloseWrite()
	br := bufio.NewReader(conn)
	var out []rawResponse
	for {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || isReset(err) {
				return out
			}
			t.Fatalf("read response %d: %v", len(out)+1, err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil && !isReset(err) {
			t.Fatalf("read body %d: %v", len(out)+1, err)
		}
		out = append(out, rawResponse{status: resp.StatusCode, body: string(b)})
	}
}

func isReset(err error) bool {
	return err != nil && strings.Contains(err.Error(), "connection reset")
}

// ioCopy reads a response body into w and closes it.
func ioCopy(w io.Writer, resp *http.Response) (int64, error) {
	defer resp.Body.Close()
	return io.Copy(w, resp.Body)
}
