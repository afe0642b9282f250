package gateway

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/sockgate/sockgate/session"
	"github.com/sockgate/sockgate/session/cluster"
	"github.com/sockgate/sockgate/session/cluster/clustertest"
)

// clusterNode starts a gateway with an echo service joined to the NATS
// server at url.
func clusterNode(t *testing.T, url, name string) *Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
	bus, err := cluster.NATS(ctx, url, cluster.NATSOptions{NodeID: name, Logger: log, ReconnectWait: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bus.Close() })
	sessions, err := cluster.NewSessions(ctx, bus, cluster.SessionsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	echo := session.EventFuncs{Message: func(s session.Session, m string) { _ = s.Send(m) }}
	srv, err := New(Config{Addr: "127.0.0.1:0", Logger: log, Sessions: sessions, ShutdownTimeout: 500 * time.Millisecond,
		Services: []Service{{Prefix: "/echo", Events: echo}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sessions.Close() })
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

// post sends one request and returns its status and body.
func post(t *testing.T, url, contentType, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(url, contentType, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// TestForwarding: a session created on node A is served through node B:
// sends and polls are forwarded, and bad input gets the answer it gets on
// one node, from either node.
func TestForwarding(t *testing.T) {
	t.Parallel()
	nats := clustertest.StartNATS(t, false)
	a := clusterNode(t, nats.URL(), "a")
	b := clusterNode(t, nats.URL(), "b")
	sess := "/echo/000/fwd1"
	if code, body := post(t, a.URL()+sess+"/xhr", "", ""); code != 200 || body != "o\n" {
		t.Fatalf("first poll on A: %d %q", code, body)
	}
	if code, body := post(t, b.URL()+sess+"/xhr_send", "text/plain", `["hi"]`); code != http.StatusNoContent {
		t.Fatalf("send through B: %d %q; want 204", code, body)
	}
	if code, body := post(t, b.URL()+sess+"/xhr", "", ""); code != 200 || body != "a[\"hi\"]\n" {
		t.Fatalf("poll through B: %d %q; want the echo", code, body)
	}
	form := "d=" + `["form"]`
	if code, body := post(t, b.URL()+sess+"/jsonp_send", "application/x-www-form-urlencoded", form); code != 200 || body != "ok" {
		t.Fatalf("jsonp_send through B: %d %q", code, body)
	}
	if code, body := post(t, a.URL()+sess+"/xhr", "", ""); code != 200 || body != "a[\"form\"]\n" {
		t.Fatalf("poll on A: %d %q", code, body)
	}
	for _, tc := range []struct {
		name, path, body string
		code             int
		want             string
	}{
		{"broken JSON", sess + "/xhr_send", `["x"`, 500, "Broken JSON encoding."},
		{"empty payload", sess + "/xhr_send", ``, 500, "Payload expected."},
		{"unknown session", "/echo/000/nowhere/xhr_send", `["x"]`, 404, "Session not found."},
	} {
		for _, n := range []*Server{a, b} {
			if code, body := post(t, n.URL()+tc.path, "text/plain", tc.body); code != tc.code || body != tc.want {
				t.Errorf("%s on %s: %d %q; want %d %q", tc.name, n.URL(), code, body, tc.code, tc.want)
			}
		}
	}
	resp, err := http.Get(b.URL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(m), `sockgate_forwarded_requests_total{kind="send"} 2`) {
		t.Errorf("B's metrics do not count its 2 forwarded sends:\n%s", m)
	}
}

// TestReadyzWithoutNATS: /readyz is 503 while NATS is away, 200 again once
// it is back.
func TestReadyzWithoutNATS(t *testing.T) {
	t.Parallel()
	nats := clustertest.StartNATS(t, false)
	a := clusterNode(t, nats.URL(), "a")
	ready := func() int {
		w := serve(a, http.MethodGet, "/readyz")
		return w.Code
	}
	if c := ready(); c != 200 {
		t.Fatalf("readyz with NATS: %d", c)
	}
	nats.Shutdown()
	waitCode(t, ready, http.StatusServiceUnavailable)
	nats.Restart()
	waitCode(t, ready, http.StatusOK)
}

func waitCode(t *testing.T, get func() int, want int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for get() != want {
		if time.Now().After(deadline) {
			t.Fatalf("readyz: %d; want %d", get(), want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
