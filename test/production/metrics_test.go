package production

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sockgate/sockgate/gateway"
	"github.com/sockgate/sockgate/test/sockjsclient"
)

// After a known sequence (two sessions open, three messages each way, both
// closed) the counters moved by exactly that much and no session is open.
func TestMetricsCountASequence(t *testing.T) {
	t.Parallel()
	srv := startGateway(t, gateway.Config{Services: []gateway.Service{echoService("/echo")}})
	metrics := srv.URL() + "/metrics"
	samples := []string{
		`sockgate_sessions_opened_total{transport="websocket"}`,
		`sockgate_sessions_opened_total{transport="xhr-polling"}`,
		`sockgate_messages_in_total{transport="websocket"}`,
		`sockgate_messages_in_total{transport="xhr-polling"}`,
		`sockgate_messages_out_total{transport="websocket"}`,
		`sockgate_messages_out_total{transport="xhr-polling"}`,
		`sockgate_message_bytes_in_total{transport="xhr-polling"}`,
		`sockgate_message_bytes_out_total{transport="xhr-polling"}`,
	}
	before := make(map[string]float64)
	for _, s := range samples {
		before[s] = metric(t, metrics, s)
	}

	ws := dial(t, srv.URL()+"/echo", sockjsclient.Options{Transport: sockjsclient.TransportWebsocket})
	xhr := dial(t, srv.URL()+"/echo", sockjsclient.Options{Transport: sockjsclient.TransportXHRPolling})
	echoRoundTrip(t, ws, "one")
	echoRoundTrip(t, xhr, "two")
	echoRoundTrip(t, xhr, "three")
	ws.Close()
	xhr.Close()

	want := map[string]float64{
		`sockgate_sessions_opened_total{transport="websocket"}`:     1,
		`sockgate_sessions_opened_total{transport="xhr-polling"}`:   1,
		`sockgate_messages_in_total{transport="websocket"}`:         1,
		`sockgate_messages_in_total{transport="xhr-polling"}`:       2,
		`sockgate_messages_out_total{transport="websocket"}`:        1,
		`sockgate_messages_out_total{transport="xhr-polling"}`:      2,
		`sockgate_message_bytes_in_total{transport="xhr-polling"}`:  8, // "two" + "three"
		`sockgate_message_bytes_out_total{transport="xhr-polling"}`: 8,
	}
	for _, s := range samples {
		if got := metric(t, metrics, s) - before[s]; got != want[s] {
			t.Errorf("%s grew by %v, want %v", s, got, want[s])
		}
	}
	eventually(t, "both sessions to be counted closed", func() bool {
		body := do(t, http.MethodGet, metrics, nil, "").body
		return sampleValue(body, `sockgate_sessions_open{transport="websocket"}`) == 0 &&
			sampleValue(body, `sockgate_sessions_open{transport="xhr-polling"}`) == 0
	})
	body := do(t, http.MethodGet, metrics, nil, "").body
	for _, name := range []string{"sockgate_sessions_closed_total", "sockgate_http_requests_total", "go_goroutines", "sockgate_draining 0"} {
		if !strings.Contains(body, name) {
			t.Errorf("/metrics has no %s", name)
		}
	}
}

// Close reasons a client chooses must not become label values: one series
// per distinct text would let any client grow the metrics without bound.
func TestMetricsClientCloseReasonNotALabel(t *testing.T) {
	t.Parallel()
	srv := startGateway(t, gateway.Config{Services: []gateway.Service{echoService("/echo")}})
	const text = "client-chosen-reason-4f1c"
	for _, path := range []string{"/echo/000/reason/websocket", "/echo/websocket"} {
		c, _, err := dialWS(srv.URL()+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(4321, text), time.Now().Add(waitTimeout))
		_, _ = readUntilClose(c)
		c.Close()
	}
	eventually(t, "both sessions to be counted closed", func() bool {
		body := do(t, http.MethodGet, srv.URL()+"/metrics", nil, "").body
		return sampleValue(body, `sockgate_sessions_open{transport="websocket"}`) == 0 &&
			sampleValue(body, `sockgate_sessions_open{transport="raw-websocket"}`) == 0
	})
	body := do(t, http.MethodGet, srv.URL()+"/metrics", nil, "").body
	for _, line := range strings.Split(body, "\n") {
		if strings.Contains(line, text) {
			t.Errorf("a client's close reason became a label: %s", line)
		}
	}
}

// /healthz is 200 always, /readyz 200 until a drain starts and 503 during it.
func TestMetricsHealthAndReadiness(t *testing.T) {
	t.Parallel()
	srv := startGateway(t, gateway.Config{ShutdownTimeout: waitTimeout, Services: []gateway.Service{echoService("/echo")}})
	u := srv.URL()
	r := do(t, http.MethodGet, u+"/healthz", nil, "")
	r.want(t, http.StatusOK, "ok\n")
	r.wantHeader(t, "Content-Type", ctPlain)
	do(t, http.MethodGet, u+"/readyz", nil, "").want(t, http.StatusOK, "ready\n")
	if got := metric(t, u+"/metrics", "sockgate_draining"); got != 0 {
		t.Errorf("sockgate_draining = %v before the drain", got)
	}

	// An unpolled session keeps the drain going until it polls.
	do(t, http.MethodPost, u+"/echo/000/linger/xhr", nil, "").want(t, http.StatusOK, "o\n")
	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(context.Background()) }()
	eventually(t, "/readyz to turn 503", func() bool {
		return do(t, http.MethodGet, u+"/readyz", nil, "").status == http.StatusServiceUnavailable
	})
	do(t, http.MethodGet, u+"/readyz", nil, "").want(t, http.StatusServiceUnavailable, "draining\n")
	do(t, http.MethodGet, u+"/healthz", nil, "").want(t, http.StatusOK, "ok\n")
	if got := metric(t, u+"/metrics", "sockgate_draining"); got != 1 {
		t.Errorf("sockgate_draining = %v while draining, want 1", got)
	}
	if got := metric(t, u+"/metrics", `sockgate_refusals_total{cause="draining"}`); got != 0 {
		t.Errorf("draining refusals %v before any new session", got)
	}
	wantBusy(t, do(t, http.MethodPost, u+"/echo/000/late/xhr", nil, ""))
	if got := metric(t, u+"/metrics", `sockgate_refusals_total{cause="draining"}`); got != 1 {
		t.Errorf("draining refusals = %v, want 1", got)
	}
	do(t, http.MethodPost, u+"/echo/000/linger/xhr", nil, "").want(t, http.StatusOK, `c[3001,"Server shutting down"]`+"\n")
	select {
	case err := <-shut:
		if err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("Shutdown did not return after the last close frame was collected")
	}
}

// With AdminAddr, /metrics, /healthz and /readyz move to the admin
// listener and the main one no longer serves them.
func TestMetricsAdminAddr(t *testing.T) {
	t.Parallel()
	srv := startGateway(t, gateway.Config{AdminAddr: "127.0.0.1:0", Services: []gateway.Service{echoService("/echo")}})
	admin := "http://" + srv.AdminAddr().String()
	r := do(t, http.MethodGet, admin+"/metrics", nil, "")
	if r.status != http.StatusOK || !strings.Contains(r.body, "sockgate_draining 0") {
		t.Errorf("admin /metrics: %d %q", r.status, clip(r.body))
	}
	do(t, http.MethodGet, admin+"/healthz", nil, "").want(t, http.StatusOK, "ok\n")
	do(t, http.MethodGet, admin+"/readyz", nil, "").want(t, http.StatusOK, "ready\n")
	for _, p := range []string{"/metrics", "/healthz", "/readyz"} {
		if r := do(t, http.MethodGet, srv.URL()+p, nil, ""); r.status != http.StatusNotFound {
			t.Errorf("main listener %s: %d, want 404", p, r.status)
		}
	}
	if r := do(t, http.MethodGet, admin+"/echo/info", nil, ""); r.status != http.StatusNotFound {
		t.Errorf("admin listener /echo/info: %d, want 404", r.status)
	}
	do(t, http.MethodPost, srv.URL()+"/echo/000/a/xhr", nil, "").want(t, http.StatusOK, "o\n")
}
