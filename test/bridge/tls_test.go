package bridge

import (
	"encoding/pem"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/sockgate/sockgate/gateway"
	"github.com/sockgate/sockgate/gateway/upstream"
	"github.com/sockgate/sockgate/session"
	"github.com/sockgate/sockgate/test/sockjsclient"
)

// A wss:// backend whose certificate only -upstream-ca-file vouches for:
// trusted with the CA file, a TLS dial failure (3011, counted as tls)
// with the system roots alone.
func TestWSSBackend(t *testing.T) {
	t.Parallel()
	g := &gorillaBackend{log: map[string]*logEntry{}, conns: map[*websocket.Conn]bool{}, ctx: t.Context()}
	srv := httptest.NewUnstartedServer(g)
	srv.StartTLS()
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
	})
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(caFile, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	withCA, err := upstream.SystemRootsWith(caFile)
	if err != nil {
		t.Fatal(err)
	}
	systemOnly, err := upstream.SystemRootsWith("")
	if err != nil {
		t.Fatal(err)
	}
	target := "wss://" + strings.TrimPrefix(srv.URL, "https://") + "/ws/chat"
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel)
	metrics := upstream.NewMetrics()
	trusted, err := upstream.New(upstream.Config{URL: target, Name: "/trusted", TLS: withCA, Metrics: metrics, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	untrusted, err := upstream.New(upstream.Config{URL: target, Name: "/untrusted", TLS: systemOnly, Metrics: metrics, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	gwSrv, err := gateway.New(gateway.Config{
		Addr: "127.0.0.1:0", Logger: log, ShutdownTimeout: 2 * time.Second, AllowedOrigins: []string{"*"},
		Collectors: []prometheus.Collector{metrics},
		Services:   []gateway.Service{trusted.Service(gateway.Service{}, "/trusted"), untrusted.Service(gateway.Service{}, "/untrusted")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := gwSrv.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = gwSrv.Close() })
	gw := &gw{url: gwSrv.URL(), srv: gwSrv}

	c := dial(t, gw, "/trusted", sockjsclient.TransportXHRStreaming)
	send(t, c, "über TLS")
	if got := recv(t, c); got != "über TLS" {
		t.Fatalf("echo through wss: %q", got)
	}
	c.Close()
	u := dial(t, gw, "/untrusted", sockjsclient.TransportWebsocket)
	wantClose(t, recvClose(t, u), session.CodeBackendUnavailable, session.ReasonBackendUnavailable)
	if n := gw.metric(t, `sockgate_upstream_dials_total{result="tls",upstream="/untrusted"}`); n != 1 {
		t.Errorf("TLS dial failures counted: %v", n)
	}
}
