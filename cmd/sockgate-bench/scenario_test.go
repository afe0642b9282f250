package main

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"go.uber.org/goleak"

	"github.com/sockgate/sockgate/gateway"
	"github.com/sockgate/sockgate/session/services"
	"github.com/sockgate/sockgate/session/services/testserver"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// startGateway serves /echo and /broadcast with engine on 127.0.0.1:0.
func startGateway(t *testing.T, engine string) string {
	t.Helper()
	srv, err := gateway.New(gateway.Config{
		Addr:           "127.0.0.1:0",
		Engine:         engine,
		Logger:         zerolog.Nop(),
		AllowedOrigins: []string{"*"},
		Services: []gateway.Service{
			{Prefix: "/echo", Handler: services.Echo},
			{Prefix: "/broadcast", Handler: testserver.NewBroadcast().Handler},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv.URL()
}

// testConfig is a small run of scenario against url.
func testConfig(t *testing.T, scenario, url, transport string, sessions int) config {
	t.Helper()
	c := config{scenario: scenario, baseURL: url, transport: transport, server: "test", sessions: sessions,
		size: 64, duration: 300 * time.Millisecond, messages: 5, rate: 50, hold: 200 * time.Millisecond,
		pid: os.Getpid(), timeout: 5 * time.Second, concurrency: 8}
	if err := c.resolve(); err != nil {
		t.Fatal(err)
	}
	return c
}

func runTest(t *testing.T, c config) result {
	t.Helper()
	r, err := runScenario(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if r.Errors != 0 {
		t.Errorf("%s %s: %d errors: %v", c.scenario, c.transport, r.Errors, r.ErrorSamples)
	}
	return r
}

func TestEchoEveryTransport(t *testing.T) {
	t.Parallel()
	base := startGateway(t, gateway.EngineNative)
	for _, tr := range []string{"websocket", "raw-websocket", "xhr-streaming", "xhr-polling", "eventsource"} {
		t.Run(tr, func(t *testing.T) {
			t.Parallel()
			r := runTest(t, testConfig(t, scenarioEcho, base+"/echo", tr, 4))
			if r.RoundTrips == 0 || r.P99us <= 0 || r.ClientCPUSec <= 0 {
				t.Fatalf("no round trips measured: %+v", r)
			}
		})
	}
}

func TestBroadcast(t *testing.T) {
	t.Parallel()
	for _, engine := range []string{gateway.EngineNative, gateway.EngineSockJSGo} {
		for _, tr := range []string{"websocket", "xhr-streaming"} {
			t.Run(engine+"/"+tr, func(t *testing.T) {
				t.Parallel()
				base := startGateway(t, engine)
				r := runTest(t, testConfig(t, scenarioBroadcast, base+"/broadcast", tr, 10))
				if r.Subscribed != 10 || r.Delivered != 50 || r.Fraction != 1 || r.P99ms <= 0 {
					t.Fatalf("broadcast: %+v", r)
				}
			})
		}
	}
}

func TestIdle(t *testing.T) {
	t.Parallel()
	base := startGateway(t, gateway.EngineNative)
	c := testConfig(t, scenarioIdle, base+"/echo", "websocket", 20)
	r := runTest(t, c)
	if r.Opened != 20 || r.Alive != 20 || r.RSSAfterKiB <= 0 || r.GoroutinesTo <= r.GoroutinesFrom {
		t.Fatalf("idle: %+v", r)
	}
}

func TestEchoCountsFailures(t *testing.T) {
	t.Parallel()
	c := testConfig(t, scenarioEcho, "http://127.0.0.1:1/echo", "websocket", 2)
	c.duration = 150 * time.Millisecond
	r, err := runScenario(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if r.Errors == 0 || r.ErrorKinds["dial:other"] == 0 || r.RoundTrips != 0 {
		t.Fatalf("a refused dial must be counted: %+v", r)
	}
}

// TestBroadcastCompression: with -compression and -chat-json, a broadcast
// of chat-like JSON over compressed websockets reads fewer bytes per
// delivery than without, every message delivered both ways. Not parallel:
// the options are the tool's globals (as its flags set them).
func TestBroadcastCompression(t *testing.T) {
	srv, err := gateway.New(gateway.Config{
		Addr: "127.0.0.1:0", Logger: zerolog.Nop(), AllowedOrigins: []string{"*"},
		Services: []gateway.Service{{Prefix: "/broadcast", Handler: testserver.NewBroadcast().Handler, WebsocketCompression: true}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Open(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = srv.Close() }()
	chatPayload = true
	defer func() { chatPayload, wsCompression = false, false }()
	perDelivery := map[bool]float64{}
	for _, on := range []bool{false, true} {
		wsCompression = on
		c := testConfig(t, scenarioBroadcast, srv.URL()+"/broadcast", "websocket", 10)
		c.size = 300
		r := runTest(t, c)
		if r.Delivered != 50 || r.WireBytesPerOp <= 0 {
			t.Fatalf("compression %v: %+v", on, r)
		}
		perDelivery[on] = r.WireBytesPerOp
	}
	if perDelivery[true] > 0.8*perDelivery[false] {
		t.Errorf("bytes per delivery: %.0f compressed, %.0f not: want at most 0.8x", perDelivery[true], perDelivery[false])
	}
	t.Logf("bytes per delivery: %.0f compressed, %.0f not", perDelivery[true], perDelivery[false])
}

// TestChatText: the chat-like padding has the size asked for and is not
// one letter repeated.
func TestChatText(t *testing.T) {
	t.Parallel()
	for _, n := range []int{1, 64, 300, 5000} {
		s := chatText(n)
		if len(s) != n || n > 20 && strings.Count(s, s[:1]) == n {
			t.Errorf("chatText(%d): %d bytes %.30q", n, len(s), s)
		}
	}
}
