package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"go.uber.org/goleak"

	"github.com/sockgate/sockgate/gateway"
	"github.com/sockgate/sockgate/session/cluster"
	"github.com/sockgate/sockgate/session/cluster/clustertest"
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
		pids: []int{os.Getpid()}, window: 4, timeout: 5 * time.Second, concurrency: 8}
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

// TestIdle is not parallel: it reads the goroutines of the whole test
// process, which other tests ending at the same time would take away.
func TestIdle(t *testing.T) {
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

// TestSaturation: the publisher keeps its window in flight for the
// duration; every subscriber gets every message once, in order, on both
// engines.
func TestSaturation(t *testing.T) {
	t.Parallel()
	for _, engine := range []string{gateway.EngineNative, gateway.EngineSockJSGo} {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			base := startGateway(t, engine)
			c := testConfig(t, scenarioSaturation, base+"/broadcast", "websocket", 10)
			r := runTest(t, c)
			if r.Messages <= c.window || r.Expected != int64(10*r.Messages) || r.Delivered != r.Expected || r.Fraction != 1 {
				t.Fatalf("saturation: %d messages, delivered %d of %d; want more than the window (%d), all delivered: %+v",
					r.Messages, r.Delivered, r.Expected, c.window, r)
			}
			if r.Lost != 0 || r.Duplicates != 0 || r.OutOfOrder != 0 || r.DeliveriesSec <= 0 || r.Window != c.window || r.ServerCPUusPerOp <= 0 {
				t.Fatalf("saturation: %+v", r)
			}
		})
	}
}

// clusterNode starts a native gateway with /echo joined to the NATS server
// at url.
func clusterNode(t *testing.T, url, name string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	bus, err := cluster.NATS(ctx, url, cluster.NATSOptions{NodeID: name, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bus.Close() })
	sessions, err := cluster.NewSessions(ctx, bus, cluster.SessionsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := gateway.New(gateway.Config{Addr: "127.0.0.1:0", Logger: zerolog.Nop(), Sessions: sessions,
		AllowedOrigins: []string{"*"}, ShutdownTimeout: 500 * time.Millisecond,
		Services: []gateway.Service{{Prefix: "/echo", Handler: services.Echo}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sessions.Close() })
	t.Cleanup(func() { _ = srv.Close() })
	return srv.URL()
}

// TestForwardedEcho: with -url2 on a second node, every session's requests
// alternate between the nodes (half are forwarded to the owner over NATS)
// and echo runs without an error on both HTTP transports of the bench.
func TestForwardedEcho(t *testing.T) {
	t.Parallel()
	nats := clustertest.StartNATS(t, false)
	a := clusterNode(t, nats.URL(), "a")
	b := clusterNode(t, nats.URL(), "b")
	for _, tr := range []string{"xhr-polling", "xhr-streaming"} {
		t.Run(tr, func(t *testing.T) {
			c := testConfig(t, scenarioEcho, a+"/echo", tr, 4)
			c.baseURL2 = b + "/echo"
			r := runTest(t, c)
			if r.RoundTrips == 0 {
				t.Fatalf("no round trips: %+v", r)
			}
		})
	}
	// Node b served half the requests by forwarding them to a.
	for _, kind := range []string{"send", "pull"} {
		if n := forwarded(t, b, kind); n < 4 {
			t.Errorf("node b forwarded %v %s requests; want at least one per session", n, kind)
		}
	}
}

// forwarded reads sockgate_forwarded_requests_total{kind} of the node at
// url.
func forwarded(t *testing.T, url, kind string) float64 {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	prefix := `sockgate_forwarded_requests_total{kind="` + kind + `"} `
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, prefix); ok {
			n, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	return 0
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
