package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/sockgate/sockgate/gateway"
	"github.com/sockgate/sockgate/session/cluster"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestConfigDefaults(t *testing.T) {
	t.Parallel()
	c, err := parseConfig(nil, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.addr != ":8080" || c.engine != "native" || c.heartbeatDelay != 25*time.Second ||
		c.disconnectDelay != 5*time.Second || c.allowedOrigins != "" {
		t.Fatalf("defaults: %+v", c)
	}
}

func TestConfigEnvAndFlags(t *testing.T) {
	t.Parallel()
	c, err := parseConfig([]string{"-addr", "127.0.0.1:9000"}, env(map[string]string{
		"SOCKGATE_ADDR":            "0.0.0.0:1",
		"SOCKGATE_HEARTBEAT_DELAY": "3s",
		"SOCKGATE_ALLOWED_ORIGINS": "https://a.example, *.b.example",
		"SOCKGATE_JSESSIONID":      "true",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.addr != "127.0.0.1:9000" {
		t.Errorf("the flag must win over the environment: addr %q", c.addr)
	}
	if c.heartbeatDelay != 3*time.Second || !c.cookieNeeded {
		t.Errorf("environment not applied: %+v", c)
	}
	if got := splitList(c.allowedOrigins); len(got) != 2 || got[1] != "*.b.example" {
		t.Errorf("origins %q", got)
	}
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		args []string
		env  map[string]string
	}{
		"bad duration in env": {nil, map[string]string{"SOCKGATE_DISCONNECT_DELAY": "soon"}},
		"unknown flag":        {[]string{"-nope"}, nil},
		"stray argument":      {[]string{"extra"}, nil},
	} {
		if _, err := parseConfig(tc.args, env(tc.env)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestConformanceAllowsAllOrigins(t *testing.T) {
	t.Parallel()
	c, err := parseConfig([]string{"-conformance"}, env(nil))
	if err != nil || c.allowedOrigins != "*" {
		t.Fatalf("-conformance origins %q, %v", c.allowedOrigins, err)
	}
	gc := gatewayConfig(c, testLogger(t), nil)
	if len(gc.Services) != 7 || gc.Services[0].ResponseLimit != 4096 {
		t.Fatalf("conformance services: %d, echo limit %d", len(gc.Services), gc.Services[0].ResponseLimit)
	}
}

func testLogger(t *testing.T) zerolog.Logger { return zerolog.New(zerolog.NewTestWriter(t)) }

// TestConfigNATSAuth: the NATS credential flags, and their environment
// forms, reach the bus options.
func TestConfigNATSAuth(t *testing.T) {
	t.Parallel()
	c, err := parseConfig([]string{"-nats-nkey", "/etc/sockgate/node.nk", "-nats-ca-file", "/etc/nats/ca.pem",
		"-nats-cert-file", "/c.pem", "-nats-key-file", "/k.pem"},
		env(map[string]string{"SOCKGATE_NATS_CREDS": "/etc/sockgate/node.creds"}))
	if err != nil {
		t.Fatal(err)
	}
	a := c.natsAuth
	if a.NkeyFile != "/etc/sockgate/node.nk" || a.CredsFile != "/etc/sockgate/node.creds" || a.CAFile != "/etc/nats/ca.pem" ||
		a.CertFile != "/c.pem" || a.KeyFile != "/k.pem" {
		t.Fatalf("NATS auth options: %+v", a)
	}
}

func TestConfigUpstreams(t *testing.T) {
	t.Parallel()
	c, err := parseConfig([]string{"-upstream", "/ws/chat=ws://127.0.0.1:9000/ws/chat", "-upstream", "/b=wss://b.example/x,/c=ws://c/"},
		env(map[string]string{"SOCKGATE_UPSTREAM": "/env=ws://e/"}))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.upstreams.String(); got != "/ws/chat=ws://127.0.0.1:9000/ws/chat,/b=wss://b.example/x,/c=ws://c/" {
		t.Errorf("the flags must replace SOCKGATE_UPSTREAM and keep their order: %s", got)
	}
	c, err = parseConfig(nil, env(map[string]string{"SOCKGATE_UPSTREAM": "/a=ws://a/, /b=ws://b/"}))
	if err != nil || c.upstreams.String() != "/a=ws://a/,/b=ws://b/" {
		t.Errorf("SOCKGATE_UPSTREAM: %s, %v", c.upstreams.String(), err)
	}
	if c.upstreamConnect != 5*time.Second {
		t.Errorf("connect timeout default %v", c.upstreamConnect)
	}
	gc := gatewayConfig(c, testLogger(t), nil)
	bridges, err := mountUpstreams(c, testLogger(t), &gc)
	if err != nil || len(bridges) != 2 || len(gc.Services) != 4 || gc.Services[2].Prefix != "/a" ||
		gc.Services[3].Events == nil || len(gc.Collectors) != 1 {
		t.Fatalf("mounted: %d bridges, %d services, %d collectors, %v", len(bridges), len(gc.Services), len(gc.Collectors), err)
	}
}

func TestConfigUpstreamErrors(t *testing.T) {
	t.Parallel()
	for name, args := range map[string][]string{
		"no equals":      {"-upstream", "/x"},
		"empty URL":      {"-upstream", "/x="},
		"relative":       {"-upstream", "x=ws://h/"},
		"trailing slash": {"-upstream", "/x/=ws://h/"},
		"root":           {"-upstream", "/=ws://h/"},
		"twice":          {"-upstream", "/x=ws://h/", "-upstream", "/x=ws://i/"},
		"compat engine":  {"-upstream", "/x=ws://h/", "-engine", "sockjs-go"},
		"slow dial":      {"-upstream", "/x=ws://h/", "-upstream-connect-timeout", "6s"},
	} {
		if _, err := parseConfig(args, env(nil)); err == nil {
			t.Errorf("%s: %v accepted", name, args)
		}
	}
	for name, args := range map[string][]string{
		"built-in prefix": {"-upstream", "/chat=ws://h/"},
		"bad scheme":      {"-upstream", "/x=http://h/"},
		"bad header":      {"-upstream", "/x=ws://h/", "-upstream-headers", "Upgrade"},
		"missing CA":      {"-upstream", "/x=ws://h/", "-upstream-ca-file", "/nonexistent.pem"},
	} {
		c, err := parseConfig(args, env(nil))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		gc := gatewayConfig(c, testLogger(t), nil)
		if _, err := mountUpstreams(c, testLogger(t), &gc); err == nil {
			t.Errorf("%s: %v mounted", name, args)
		}
	}
}

func TestConfigUpstreamBesideConformance(t *testing.T) {
	t.Parallel()
	c, err := parseConfig([]string{"-conformance", "-upstream", "/ws/chat=ws://127.0.0.1:9000/ws/chat"}, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	gc := gatewayConfig(c, testLogger(t), nil)
	if _, err := mountUpstreams(c, testLogger(t), &gc); err != nil || len(gc.Services) != 8 || gc.Services[7].Prefix != "/ws/chat" {
		t.Fatalf("a bridge beside the 7 conformance services: %d services, %v", len(gc.Services), err)
	}
	c, _ = parseConfig([]string{"-conformance", "-upstream", "/amplify=ws://h/"}, env(nil))
	gc = gatewayConfig(c, testLogger(t), nil)
	if _, err := mountUpstreams(c, testLogger(t), &gc); err == nil {
		t.Error("a bridge over the conformance /amplify was mounted")
	}
}

// Flags the gateway cannot honour safely stop it before it listens: exit 2
// and one line naming the flag (issue 13, 10a and 6).
func TestRefusedCommandLines(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		flag string
	}{
		{[]string{"-pprof"}, "-pprof needs -admin-addr"},
		{[]string{"-pprof", "-admin-addr", ""}, "-pprof needs -admin-addr"},
		{[]string{"-engine", "sockjs-go", "-max-messages-per-second", "5"}, "-max-messages-per-second"},
		{[]string{"-engine", "sockjs-go", "-websocket-compression"}, "-websocket-compression"},
		{[]string{"-websocket-compression-min-bytes", "0"}, "-websocket-compression-min-bytes"},
		{[]string{"-body-read-timeout", "0s"}, "-body-read-timeout"},
	} {
		err := run(append(tc.args, "-addr", "127.0.0.1:0"))
		if code := exitCode(err, io.Discard, io.Discard); code != 2 {
			t.Errorf("%v: exit %d (%v), want 2", tc.args, code, err)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, tc.flag) || strings.Contains(msg, "\n") {
			t.Errorf("%v: %q, want one line naming %s", tc.args, msg, tc.flag)
		}
	}
	if _, err := parseConfig([]string{"-pprof", "-admin-addr", "127.0.0.1:0"}, env(nil)); err != nil {
		t.Errorf("-pprof with -admin-addr: %v", err)
	}
	if code := exitCode(nil, io.Discard, io.Discard); code != 0 {
		t.Errorf("exit %d without an error", code)
	}
}

// -base-path with a trailing slash serves the iframe page with a script URL
// under the service prefix, without "//", and that URL serves the pinned
// client (issue 13.7).
func TestBasePathTrailingSlashIframe(t *testing.T) {
	t.Parallel()
	c, err := parseConfig([]string{"-base-path", "/sg/", "-addr", "127.0.0.1:0"}, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := gateway.New(gatewayConfig(c, testLogger(t), cluster.Local()))
	if err != nil {
		t.Fatal(err)
	}
	get := func(path string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		srv.Handler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
		return w
	}
	page := get("/sg/echo/iframe.html").Body.String()
	const want = `<script src="/sg/echo/sockjs.min.js"></script>`
	if !strings.Contains(page, want) {
		t.Fatalf("iframe page lacks %s:\n%s", want, page)
	}
	if w := get("/sg/echo/sockjs.min.js"); w.Code != http.StatusOK || w.Body.Len() < 10000 {
		t.Errorf("GET /sg/echo/sockjs.min.js: %d, %d bytes", w.Code, w.Body.Len())
	}
}

// -websocket-compression and its threshold reach every service, from the
// command line or the environment; both are off and 256 by default.
func TestWebsocketCompressionFlags(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		env  map[string]string
		on   bool
		min  int
	}{
		{nil, nil, false, 256},
		{[]string{"-websocket-compression"}, nil, true, 256},
		{nil, map[string]string{"SOCKGATE_WEBSOCKET_COMPRESSION": "true", "SOCKGATE_WEBSOCKET_COMPRESSION_MIN_BYTES": "1024"}, true, 1024},
	} {
		c, err := parseConfig(tc.args, env(tc.env))
		if err != nil {
			t.Fatalf("%v %v: %v", tc.args, tc.env, err)
		}
		if s := serviceBase(c); s.WebsocketCompression != tc.on || s.WebsocketCompressionMinBytes != tc.min {
			t.Errorf("%v %v: compression %v, min %d; want %v, %d", tc.args, tc.env,
				s.WebsocketCompression, s.WebsocketCompressionMinBytes, tc.on, tc.min)
		}
	}
}
