package upstream

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/rs/zerolog"

	"github.com/sockgate/sockgate/gateway"
	"github.com/sockgate/sockgate/session"
)

func TestNewRejectsBadConfig(t *testing.T) {
	t.Parallel()
	for name, cfg := range map[string]Config{
		"empty URL":          {},
		"http scheme":        {URL: "http://127.0.0.1:9000/ws"},
		"no host":            {URL: "ws:///ws"},
		"fragment":           {URL: "ws://127.0.0.1:9000/ws#x"},
		"user info":          {URL: "ws://u:p@127.0.0.1:9000/ws"},
		"unparsable":         {URL: "ws://[::1"},
		"Host header":        {URL: "ws://h/ws", Headers: []string{"Host"}},
		"Sec-WebSocket-Key":  {URL: "ws://h/ws", Headers: []string{"sec-websocket-key"}},
		"X-Forwarded-For":    {URL: "ws://h/ws", Headers: []string{"X-Forwarded-For"}},
		"X-Sockgate-User":    {URL: "ws://h/ws", Headers: []string{"x-sockgate-user"}},
		"Connection":         {URL: "ws://h/ws", Headers: []string{"Connection"}},
		"not a token":        {URL: "ws://h/ws", Headers: []string{"Bad Header"}},
		"colon in the name":  {URL: "ws://h/ws", Headers: []string{"X-A:b"}},
		"non-ASCII in name":  {URL: "ws://h/ws", Headers: []string{"X-Ünicode"}},
		"Forwarded (policy)": {URL: "ws://h/ws", Headers: []string{"Forwarded"}},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: New accepted %+v", name, cfg)
		}
	}
}

func TestNewDefaults(t *testing.T) {
	t.Parallel()
	b, err := New(Config{URL: "wss://backend.example:8443/ws/chat?v=2", Headers: []string{"x-request-id", " ", "X-Request-Id", "Authorization"}})
	if err != nil {
		t.Fatal(err)
	}
	if b.cfg.Name != "backend.example:8443/ws/chat" || b.cfg.ConnectTimeout != DefaultConnectTimeout ||
		b.cfg.WriteTimeout != DefaultWriteTimeout || b.cfg.HeartbeatDelay != gateway.DefaultHeartbeatDelay {
		t.Errorf("defaults: %+v", b.cfg)
	}
	want := "Origin,Cookie,User-Agent,Accept-Language,X-Request-Id,Authorization"
	if got := strings.Join(b.headers, ","); got != want {
		t.Errorf("headers %s, want %s (canonical, deduplicated, blanks dropped)", got, want)
	}
}

func TestClientQuery(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		query, transport, want string
	}{
		{"", "websocket", ""},
		{"token=abc", "websocket", "token=abc"},
		{"token=abc&t=1700000000000", "xhr-polling", "token=abc"},
		{"token=abc&t=1700000000000", "xhr-streaming", "token=abc"},
		{"t=mine&t=1700000000000", "xhr-polling", "t=mine"},
		{"t=mine", "xhr-polling", "t=mine"},                      // not sockjs-client's form: kept
		{"t=1700000000000", "websocket", "t=1700000000000"},      // only xhr adds t
		{"token=abc&c=_jp.a1b2c3", "jsonp-polling", "token=abc"}, // the callback
		{"token=abc&c=_jp.a1b2c3", "htmlfile", "token=abc"},
		{"c=mine", "htmlfile", "c=mine"},
		{"c=_jp.x", "eventsource", "c=_jp.x"},
		{"a=1&a=2&b=%E2%98%83", "websocket", "a=1&a=2&b=%E2%98%83"},
	} {
		q, _ := url.ParseQuery(tc.query)
		orig := q.Encode()
		if got := clientQuery(q, tc.transport); got != tc.want {
			t.Errorf("clientQuery(%q, %s) = %q, want %q", tc.query, tc.transport, got, tc.want)
		}
		if q.Encode() != orig {
			t.Errorf("clientQuery(%q) modified its argument", tc.query)
		}
	}
}

func TestTargetAppendsTheClientQuery(t *testing.T) {
	t.Parallel()
	for base, want := range map[string]string{
		"ws://h/ws/chat":     "ws://h/ws/chat?token=a%2Bb",
		"ws://h/ws/chat?v=2": "ws://h/ws/chat?v=2&token=a%2Bb",
	} {
		b, err := New(Config{URL: base})
		if err != nil {
			t.Fatal(err)
		}
		s := fakeSession("s1", "websocket", &session.Request{Query: url.Values{"token": {"a+b"}}})
		if got := b.targetFor(s); got != want {
			t.Errorf("%s: target %s, want %s", base, got, want)
		}
	}
}

func TestHandshakeHeader(t *testing.T) {
	t.Parallel()
	b, err := New(Config{URL: "ws://h/ws", Headers: []string{"X-Tenant"}, Claims: []string{"email", "roles", "absent"}})
	if err != nil {
		t.Fatal(err)
	}
	req := &session.Request{
		RemoteAddr: netip.MustParseAddr("::ffff:203.0.113.7"),
		Header: http.Header{
			"Origin": {"https://app.example"}, "Cookie": {"a=1", "b=2"}, "User-Agent": {"UA"},
			"Accept-Language": {"ko"}, "X-Tenant": {"t1"}, "Authorization": {"Bearer x"},
			"X-Forwarded-For": {"10.0.0.1"}, "X-Sockgate-User": {"forged"},
		},
		Host:   "gw.example",
		Secure: true,
	}
	h := b.handshakeHeader(fakeSession("sid1", "xhr-polling", req))
	want := http.Header{
		"Origin": {"https://app.example"}, "Cookie": {"a=1", "b=2"}, "User-Agent": {"UA"},
		"Accept-Language": {"ko"}, "X-Tenant": {"t1"},
		"X-Forwarded-For": {"203.0.113.7"}, "X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"gw.example"},
		"X-Sockgate-Session": {"sid1"}, "X-Sockgate-Transport": {"xhr-polling"},
	}
	if !headersEqual(h, want) {
		t.Errorf("anonymous handshake:\n got %v\nwant %v", h, want)
	}
	req.User = &session.Identity{Subject: "user-42", Name: "ann", Claims: map[string]any{
		"sub": "user-42", "email": "ann@example.com", "roles": []any{"admin", "ops"}, "secret": "not named",
	}}
	h = b.handshakeHeader(fakeSession("sid1", "xhr-polling", req))
	want["X-Sockgate-User"] = []string{"user-42"}
	want["X-Sockgate-Claim-Email"] = []string{"ann@example.com"}
	want["X-Sockgate-Claim-Roles"] = []string{`["admin","ops"]`}
	if !headersEqual(h, want) {
		t.Errorf("with an identity:\n got %v\nwant %v", h, want)
	}
}

func headersEqual(a, b http.Header) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if strings.Join(v, "\x00") != strings.Join(b[k], "\x00") {
			return false
		}
	}
	return true
}

func TestCloseFor(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		info       session.CloseInfo
		code       int
		reason     string
		clientSide string
	}{
		{session.CloseInfo{Code: 1000, Reason: "Client closed"}, 1000, "Client closed", "client closed its websocket"},
		{session.CloseInfo{Code: 1001, Reason: "Client closed"}, 1001, "Client closed", "client went away"},
		{session.CloseInfo{Code: session.CodeInterrupted, Reason: session.ReasonInterrupted}, 1001, session.ReasonInterrupted, "aborted"},
		{session.CloseInfo{Code: session.CodeTimeout, Reason: session.ReasonTimeout}, 1001, session.ReasonTimeout, "vanished"},
		{session.CloseInfo{Code: session.CodeShutdown, Reason: session.ReasonShutdown}, 1001, session.ReasonShutdown, "drain"},
		{session.CloseInfo{Code: session.CodeSlowClient, Reason: session.ReasonSlowClient}, 1001, session.ReasonSlowClient, "slow"},
	} {
		code, reason := closeFor(tc.info)
		if code != tc.code || reason != tc.reason {
			t.Errorf("%s: backend gets %d %q, want %d %q", tc.clientSide, code, reason, tc.code, tc.reason)
		}
	}
}

func TestPassable(t *testing.T) {
	t.Parallel()
	for code, want := range map[int]bool{1000: true, 1001: false, 1005: false, 1006: false, 1011: false,
		2999: false, 3000: true, 3499: true, 4001: true, 4999: true, 5000: false} {
		if passable(code) != want {
			t.Errorf("passable(%d) = %v", code, !want)
		}
	}
}

func TestSystemRootsWith(t *testing.T) {
	t.Parallel()
	if _, err := SystemRootsWith(""); err != nil {
		t.Errorf("system roots alone: %v", err)
	}
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.pem")
	if err := os.WriteFile(bad, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := SystemRootsWith(bad); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Errorf("a file without PEM: %v", err)
	}
	if _, err := SystemRootsWith(filepath.Join(dir, "missing.pem")); err == nil {
		t.Error("a missing file: no error")
	}
}

// A backend that accepts TCP but never answers the upgrade: OnOpen gives
// up at the connect timeout, closes the session with 3011 and counts a
// timeout.
func TestDialTimeout(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // held open, never answered
		}
	}()
	m := NewMetrics()
	b, err := New(Config{URL: "ws://" + ln.Addr().String() + "/ws", ConnectTimeout: 200 * time.Millisecond,
		Metrics: m, Logger: zerolog.New(zerolog.NewTestWriter(t))})
	if err != nil {
		t.Fatal(err)
	}
	s := fakeSession("slow", "websocket", nil)
	start := time.Now()
	b.OnOpen(s)
	if took := time.Since(start); took < 200*time.Millisecond || took > 2*time.Second {
		t.Errorf("OnOpen took %v with a 200ms connect timeout", took)
	}
	if s.closed != (session.CloseInfo{Code: session.CodeBackendUnavailable, Reason: session.ReasonBackendUnavailable}) {
		t.Errorf("session closed with %+v", s.closed)
	}
	if n := counterValue(t, m, "sockgate_upstream_dials_total", DialTimeout); n != 1 {
		t.Errorf("timeouts counted: %v", n)
	}
}

func TestClassify(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	if c, _ := classify(ctx, errors.New("x"), &http.Response{Status: "502 Bad Gateway", Body: http.NoBody}); c != DialHTTPStatus {
		t.Errorf("an HTTP answer: %s", c)
	}
	if c, _ := classify(ctx, &net.DNSError{Name: "nx.invalid", IsNotFound: true}, nil); c != DialDNS {
		t.Errorf("a DNS failure: %s", c)
	}
	if c, _ := classify(ctx, &net.OpError{Op: "dial", Net: "tcp", Addr: &net.TCPAddr{}, Err: errors.New("refused")}, nil); c != DialRefused {
		t.Errorf("a refused dial: %s", c)
	}
	if c, _ := classify(ctx, errors.New("tls: handshake failure"), nil); c != DialTLS {
		t.Errorf("a TLS failure: %s", c)
	}
	if c, _ := classify(ctx, websocket.ErrBadHandshake, nil); c != DialOther {
		t.Errorf("anything else: %s", c)
	}
}
