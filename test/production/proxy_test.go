package production

import (
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sockgate/sockgate/gateway"
)

func perIPConfig(trusted []string) gateway.Config {
	svc := echoService("/echo")
	svc.DisconnectDelay = 300 * time.Millisecond
	return gateway.Config{TrustedProxies: trusted, MaxSessionsPerIP: 1, Services: []gateway.Service{svc}}
}

// xff is a header set with X-Forwarded-For.
func xff(v string) http.Header { return http.Header{"X-Forwarded-For": {v}} }

// Behind a trusted proxy the client address comes from X-Forwarded-For or
// Forwarded: two clients with different addresses each get their session,
// two with the same one are limited.
func TestTrustedProxyClientAddress(t *testing.T) {
	t.Parallel()
	srv := startGateway(t, perIPConfig([]string{"127.0.0.1/32"}))
	u := srv.URL() + "/echo/000/"
	do(t, http.MethodPost, u+"a1/xhr", xff("203.0.113.1"), "").want(t, http.StatusOK, "o\n")
	do(t, http.MethodPost, u+"a2/xhr", xff("203.0.113.2"), "").want(t, http.StatusOK, "o\n")
	wantBusy(t, do(t, http.MethodPost, u+"a3/xhr", xff("203.0.113.1"), ""))
	// The proxy appends the peer it saw: what the client wrote on the left
	// does not count.
	wantBusy(t, do(t, http.MethodPost, u+"a4/xhr", xff("198.51.100.7, 203.0.113.2"), ""))
	do(t, http.MethodPost, u+"a5/xhr", xff("203.0.113.1, 203.0.113.3"), "").want(t, http.StatusOK, "o\n")
	// RFC 7239 Forwarded.
	fwd := http.Header{"Forwarded": {`for="[2001:db8::1]:4711";proto=https`}}
	do(t, http.MethodPost, u+"a6/xhr", fwd, "").want(t, http.StatusOK, "o\n")
	wantBusy(t, do(t, http.MethodPost, u+"a7/xhr", fwd, ""))
	// Websocket sessions count per forwarded address as well.
	c, _, err := dialWS(u+"w1/websocket", xff("203.0.113.9"))
	if err != nil {
		t.Fatalf("websocket from a new forwarded address: %v", err)
	}
	defer c.Close()
	_, resp, err := dialWS(u+"w2/websocket", xff("203.0.113.9"))
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("second websocket from 203.0.113.9: %v %v, want 503", err, resp)
	}
	_ = c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
}

// Without trusted proxies the forwarding headers are ignored: every request
// here comes from 127.0.0.1, whatever it claims.
func TestUntrustedForwardedForIgnored(t *testing.T) {
	t.Parallel()
	for name, trusted := range map[string][]string{"none": nil, "another proxy": {"10.0.0.0/8"}} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := startGateway(t, perIPConfig(trusted))
			u := srv.URL() + "/echo/000/"
			do(t, http.MethodPost, u+"b1/xhr", xff("203.0.113.1"), "").want(t, http.StatusOK, "o\n")
			wantBusy(t, do(t, http.MethodPost, u+"b2/xhr", xff("203.0.113.2"), ""))
			wantBusy(t, do(t, http.MethodPost, u+"b3/xhr", http.Header{"Forwarded": {"for=203.0.113.3"}}, ""))
		})
	}
}

// X-Forwarded-Host from a trusted proxy is the host the page talked to, for
// the same-host origin rule; from anyone else it is ignored.
func TestTrustedProxyForwardedHost(t *testing.T) {
	t.Parallel()
	hdr := http.Header{"Origin": {"https://public.example.net"}, "X-Forwarded-Host": {"public.example.net"}}
	trusted := startGateway(t, gateway.Config{TrustedProxies: []string{"127.0.0.1"}, Services: []gateway.Service{echoService("/echo")}})
	if r := do(t, http.MethodGet, trusted.URL()+"/echo/info", hdr, ""); r.status != http.StatusOK {
		t.Errorf("same host through a trusted proxy: %d %q, want 200", r.status, r.body)
	}
	untrusted := startGateway(t, gateway.Config{Services: []gateway.Service{echoService("/echo")}})
	do(t, http.MethodGet, untrusted.URL()+"/echo/info", hdr, "").want(t, http.StatusForbidden, "Origin not allowed.")
}
