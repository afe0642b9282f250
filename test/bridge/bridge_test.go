package bridge

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/sockgate/sockgate/gateway"
	"github.com/sockgate/sockgate/gateway/upstream"
	"github.com/sockgate/sockgate/test/sockjsclient"
)

// Timing and sizes of the test gateway.
const (
	// waitTimeout bounds every wait for the gateway.
	waitTimeout = 10 * time.Second
	// writeTimeout is the bridges' bound on a write to a backend that does
	// not read.
	writeTimeout = 500 * time.Millisecond
	// silentHeartbeat is the heartbeat delay of /silent: its backend
	// answers no pings and is dead after two of these.
	silentHeartbeat = 200 * time.Millisecond
	// vanishDelay is the disconnect delay of /vanish.
	vanishDelay = 300 * time.Millisecond
	// floodQueue is the client queue bound of /flood.
	floodQueue = 64 << 10
	// closeWithin is how soon a client must get its close frame once its
	// backend is gone.
	closeWithin = time.Second
	// silentSlack is how long after two silent heartbeats the client of a
	// silent backend may get its close frame (the dial, a poll, -race).
	silentSlack = 3 * time.Second
)

// gw is a running gateway bridging to one backend.
type gw struct {
	url     string // http://127.0.0.1:PORT
	srv     *gateway.Server
	bridges []*upstream.Bridge
}

// startGateway runs a gateway whose services bridge to b:
//
//	/ws/chat    the echo path (X-Extra passed on; writes bounded by writeTimeout)
//	/flood      the same, with a 64 KiB client queue
//	/silent     a backend that answers no pings, 200 ms heartbeat
//	/vanish     the echo path, 300 ms disconnect delay
//	/down       nothing listening
//	/forbidden  a backend answering the upgrade with 403
func startGateway(t *testing.T, b *backend) *gw {
	t.Helper()
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel)
	metrics := upstream.NewMetrics()
	g := &gw{}
	mount := func(prefix, url string, sc gateway.Service) gateway.Service {
		br, err := upstream.New(upstream.Config{
			URL: url, Name: prefix, WriteTimeout: writeTimeout, HeartbeatDelay: sc.HeartbeatDelay,
			Headers: []string{"X-Extra"}, Metrics: metrics, Logger: log,
		})
		if err != nil {
			t.Fatalf("upstream.New(%s): %v", url, err)
		}
		g.bridges = append(g.bridges, br)
		return br.Service(sc, prefix)
	}
	srv, err := gateway.New(gateway.Config{
		Addr:            "127.0.0.1:0",
		Logger:          log,
		ShutdownTimeout: 2 * time.Second,
		AllowedOrigins:  []string{"*"},
		TrustedProxies:  []string{"127.0.0.1/32"},
		Collectors:      []prometheus.Collector{metrics},
		Services: []gateway.Service{
			mount("/ws/chat", b.url("/ws/chat"), gateway.Service{}),
			mount("/flood", b.url("/ws/chat"), gateway.Service{MaxQueueBytes: floodQueue}),
			mount("/silent", b.url("/silent"), gateway.Service{HeartbeatDelay: silentHeartbeat}),
			mount("/vanish", b.url("/ws/chat"), gateway.Service{DisconnectDelay: vanishDelay}),
			mount("/down", "ws://"+freeAddr(t)+"/ws", gateway.Service{}),
			mount("/forbidden", b.url("/forbidden"), gateway.Service{}),
		},
	})
	if err != nil {
		t.Fatalf("gateway.New: %v", err)
	}
	if err := srv.Open(); err != nil {
		t.Fatalf("Open: %v", err)
	}
	g.url, g.srv = srv.URL(), srv
	t.Cleanup(func() {
		if err := srv.Close(); err != nil && !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("gateway Close: %v", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		for _, br := range g.bridges {
			if err := br.Wait(ctx); err != nil {
				t.Errorf("bridge Wait: %v", err)
			}
		}
	})
	return g
}

// freeAddr is a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// metric returns the value of the metric line starting with name{labels}
// on the gateway's /metrics (0 when absent).
func (g *gw) metric(t *testing.T, series string) float64 {
	t.Helper()
	resp, err := http.Get(g.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(body), "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			var v float64
			_, _ = fmt.Sscan(rest, &v)
			return v
		}
	}
	return 0
}

func ctxT(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	t.Cleanup(cancel)
	return ctx
}

// clientHeader is what every test client sends: the headers the bridge
// passes on, one it must not pass, and a forwarded client address the
// gateway believes (127.0.0.1 is a trusted proxy).
func clientHeader() http.Header {
	return http.Header{
		"Origin":          {"http://app.example"},
		"Cookie":          {"sid=s3cret"},
		"User-Agent":      {"bridge-test/1"},
		"Accept-Language": {"ko-KR"},
		"X-Extra":         {"extra-value"},
		"X-Not-Passed":    {"secret"},
		"Authorization":   {"Bearer not-for-the-backend"},
		"X-Forwarded-For": {"203.0.113.7"},
	}
}

// dial opens a session at path (with its query) over transport.
func dial(t *testing.T, g *gw, path, transport string) *sockjsclient.Conn {
	t.Helper()
	c, err := sockjsclient.Dial(ctxT(t), g.url+path, sockjsclient.Options{Transport: transport, Header: clientHeader()})
	if err != nil {
		t.Fatalf("Dial %s over %s: %v", path, transport, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func recv(t *testing.T, c *sockjsclient.Conn) string {
	t.Helper()
	m, err := c.Recv(ctxT(t))
	if err != nil {
		t.Fatalf("Recv over %s: %v", c.Transport(), err)
	}
	return m
}

// recvClose reads until the session's close frame and returns it.
func recvClose(t *testing.T, c *sockjsclient.Conn) *sockjsclient.CloseError {
	t.Helper()
	for {
		_, err := c.Recv(ctxT(t))
		if err == nil {
			continue
		}
		var ce *sockjsclient.CloseError
		if !errors.As(err, &ce) {
			t.Fatalf("Recv over %s: want a close frame, got %v", c.Transport(), err)
		}
		return ce
	}
}

func send(t *testing.T, c *sockjsclient.Conn, msgs ...string) {
	t.Helper()
	if err := c.SendContext(ctxT(t), msgs...); err != nil {
		t.Fatalf("Send over %s: %v", c.Transport(), err)
	}
}

// sessionTransports are the transports a browser session can use.
var sessionTransports = []string{
	sockjsclient.TransportWebsocket, sockjsclient.TransportXHRStreaming, sockjsclient.TransportXHRPolling,
	sockjsclient.TransportEventSource, sockjsclient.TransportHTMLFile, sockjsclient.TransportJSONP,
}

// backends starts each backend kind for a test.
var backends = []struct {
	name  string
	start func(*testing.T) *backend
}{
	{"gorilla", startGorillaBackend},
	{"node", startNodeBackend},
}

// Every transport echoes through the bridge to both backends: unicode, a
// 64 KiB message and a burst of 500 in order; the backend's handshake
// carries the client's query and exactly the headers it should.
func TestEcho(t *testing.T) {
	t.Parallel()
	for _, bk := range backends {
		t.Run(bk.name, func(t *testing.T) {
			t.Parallel()
			b := bk.start(t)
			g := startGateway(t, b)
			for _, tr := range sessionTransports {
				t.Run(tr, func(t *testing.T) {
					t.Parallel()
					c := dial(t, g, "/ws/chat?token=abc&lang=ko", tr)
					echoes(t, c)
					checkHandshake(t, b, g, c)
					if tr == sockjsclient.TransportWebsocket {
						c.Close()
						if got := b.closed(t, c.SessionID()); got.Code != 1000 {
							t.Errorf("client closed its websocket: backend got close %+v, want 1000", got)
						}
					}
				})
			}
		})
	}
}

// tricky is text that SockJS escapes, or that breaks careless framing.
const tricky = "héllo ☃ 世界 🎉 \u2028\u2029\u200c \ufff0 \"quoted\" \\ back\\slash a[\"x\"] c[1,\"y\"] \x00 end"

func echoes(t *testing.T, c *sockjsclient.Conn) {
	t.Helper()
	send(t, c, tricky)
	if got := recv(t, c); got != tricky {
		t.Fatalf("unicode echo over %s: got %q", c.Transport(), got)
	}
	big := strings.Repeat("€uro ", (64<<10)/len("€uro ")+1)[:64<<10-4] + "done"
	send(t, c, big)
	if got := recv(t, c); got != big {
		t.Fatalf("64 KiB echo over %s: got %d bytes", c.Transport(), len(got))
	}
	const burst = 500
	var batch []string
	for i := range burst {
		batch = append(batch, fmt.Sprintf("m%03d", i))
		if len(batch) == 50 {
			send(t, c, batch...)
			batch = nil
		}
	}
	for i := range burst {
		if got, want := recv(t, c), fmt.Sprintf("m%03d", i); got != want {
			t.Fatalf("burst over %s: message %d is %q, want %q", c.Transport(), i, got, want)
		}
	}
}

// passedHeaders are the only request headers the backend may see: the
// WebSocket handshake's own, and what the bridge passes on.
var passedHeaders = []string{
	"host", "upgrade", "connection", "sec-websocket-key", "sec-websocket-version", "sec-websocket-extensions",
	"origin", "cookie", "user-agent", "accept-language", "x-extra",
	"x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-sockgate-session", "x-sockgate-transport",
}

func checkHandshake(t *testing.T, b *backend, g *gw, c *sockjsclient.Conn) {
	t.Helper()
	hs := b.handshake(t, c.SessionID())
	if hs.Path != "/ws/chat" {
		t.Errorf("backend path %q, want /ws/chat", hs.Path)
	}
	wantQuery := map[string][]string{"token": {"abc"}, "lang": {"ko"}}
	if fmt.Sprint(hs.Query) != fmt.Sprint(wantQuery) {
		t.Errorf("backend query %v, want %v (sockjs-client's own t= and c= dropped)", hs.Query, wantQuery)
	}
	host := strings.TrimPrefix(g.url, "http://")
	want := map[string]string{
		"origin":               "http://app.example",
		"cookie":               "sid=s3cret",
		"user-agent":           "bridge-test/1",
		"accept-language":      "ko-KR",
		"x-extra":              "extra-value",
		"x-forwarded-for":      "203.0.113.7",
		"x-forwarded-proto":    "http",
		"x-forwarded-host":     host,
		"x-sockgate-session":   c.SessionID(),
		"x-sockgate-transport": c.Transport(),
	}
	for name, v := range want {
		if got := hs.Header[name]; len(got) != 1 || got[0] != v {
			t.Errorf("backend header %s: %q, want %q", name, got, v)
		}
	}
	for name := range hs.Header {
		if !slices.Contains(passedHeaders, name) {
			t.Errorf("backend got header %s: %q; nothing but the listed headers may pass", name, hs.Header[name])
		}
	}
}
