package production

import (
	"net/http"
	"strings"
	"testing"

	"github.com/sockgate/sockgate/gateway"
	"github.com/sockgate/sockgate/test/sockjsclient"
)

// With BasePath every service lives under it; /healthz, /readyz and
// /metrics stay at the root.
func TestBasePath(t *testing.T) {
	t.Parallel()
	srv := startGateway(t, gateway.Config{BasePath: "/sg", Services: []gateway.Service{echoService("/echo")}})
	u := srv.URL()
	r := do(t, http.MethodGet, u+"/sg/echo/info", nil, "")
	if r.status != http.StatusOK || !strings.HasPrefix(r.body, `{"websocket":true,`) {
		t.Errorf("%s: %d %q", r.req, r.status, r.body)
	}
	r.wantHeader(t, "Content-Type", ctJSON)
	do(t, http.MethodGet, u+"/sg/echo", nil, "").want(t, http.StatusOK, "Welcome to SockJS!\n")
	for _, p := range []string{"/echo/info", "/echo", "/sgx/echo/info", "/sg/healthz", "/sg/echo/info/x"} {
		if r := do(t, http.MethodGet, u+p, nil, ""); r.status != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, r.status)
		}
	}
	do(t, http.MethodGet, u+"/healthz", nil, "").want(t, http.StatusOK, "ok\n")
	do(t, http.MethodGet, u+"/readyz", nil, "").want(t, http.StatusOK, "ready\n")
	if r := do(t, http.MethodGet, u+"/metrics", nil, ""); r.status != http.StatusOK {
		t.Errorf("/metrics: %d", r.status)
	}
	for _, tr := range []string{sockjsclient.TransportWebsocket, sockjsclient.TransportXHRStreaming, sockjsclient.TransportRawWebsocket} {
		c := dial(t, u+"/sg/echo", sockjsclient.Options{Transport: tr})
		echoRoundTrip(t, c, "under /sg via "+tr)
	}
}
