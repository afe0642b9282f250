package production

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sockgate/sockgate/gateway"
)

// compatConfig is the compat engine with an origin policy and a per-address
// session limit of one.
func compatConfig() gateway.Config {
	svc := echoService("/echo")
	svc.DisconnectDelay = 300 * time.Millisecond
	return gateway.Config{
		Engine:           gateway.EngineSockJSGo,
		AllowedOrigins:   []string{"https://app.example.com"},
		MaxSessionsPerIP: 1,
		Services:         []gateway.Service{svc},
	}
}

// With -engine sockjs-go, -allowed-origins is enforced as on the native
// engine: a refused origin gets 403 "Origin not allowed." on /info, the
// transports and the websocket, with no CORS headers; an allowed one is
// served (issue 13.6).
func TestCompatOriginPolicy(t *testing.T) {
	t.Parallel()
	srv := startGateway(t, compatConfig())
	u := srv.URL() + "/echo"
	for _, req := range []struct{ method, path string }{
		{http.MethodGet, "/info"},
		{http.MethodOptions, "/info"},
		{http.MethodPost, "/000/o1/xhr"},
		{http.MethodPost, "/000/o1/xhr_streaming"},
		{http.MethodPost, "/000/o1/xhr_send"},
		{http.MethodGet, "/000/o1/eventsource"},
		{http.MethodGet, "/000/o1/jsonp?c=cb"},
	} {
		r := do(t, req.method, u+req.path, origin("http://evil.com"), "")
		r.want(t, http.StatusForbidden, "Origin not allowed.")
		r.wantNoHeader(t, "Access-Control-Allow-Origin")
		r.wantNoHeader(t, "Access-Control-Allow-Credentials")
	}
	for _, path := range []string{"/000/o2/websocket", "/websocket"} {
		_, resp, err := dialWS(u+path, origin("http://evil.com"))
		if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Errorf("websocket %s from http://evil.com: %v %v, want 403", path, err, resp)
		}
	}
	// A cross-site script tag reading jsonp carries no Origin.
	r := do(t, http.MethodGet, u+"/000/o3/jsonp?c=cb", http.Header{"Sec-Fetch-Site": {"cross-site"}, "Referer": {"http://evil.com/"}}, "")
	r.want(t, http.StatusForbidden, "Origin not allowed.")
	ok := do(t, http.MethodGet, u+"/info", origin("https://app.example.com"), "")
	if ok.status != http.StatusOK || !strings.Contains(ok.body, `"websocket":true`) {
		t.Errorf("%s from the allowed origin: %d %q", ok.req, ok.status, ok.body)
	}
	ok.wantHeader(t, "Access-Control-Allow-Origin", "https://app.example.com")
	if got := metric(t, srv.URL()+"/metrics", `sockgate_refusals_total{cause="origin"}`); got < 10 {
		t.Errorf("origin refusals counted: %v, want at least 10", got)
	}
}

// With -engine sockjs-go, -max-sessions-per-ip is enforced in front of
// sockjs-go: a second session from one address gets 503 on every transport,
// the websocket included, while the first one works, and its place comes
// back when it ends (issue 13.6).
func TestCompatSessionsPerIP(t *testing.T) {
	t.Parallel()
	srv := startGateway(t, compatConfig())
	u := srv.URL() + "/echo/000/"
	app := origin("https://app.example.com")
	do(t, http.MethodPost, u+"s1/xhr", app, "").want(t, http.StatusOK, "o\n")
	wantBusy(t, do(t, http.MethodPost, u+"s2/xhr", app, ""))
	wantBusy(t, do(t, http.MethodGet, u+"s3/jsonp?c=cb", nil, ""))
	for _, url := range []string{u + "s4/websocket", srv.URL() + "/echo/websocket"} {
		_, resp, err := dialWS(url, app)
		if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("websocket %s beside a session: %v %v, want 503", url, err, resp)
		}
	}
	// The session's own requests are not new sessions.
	do(t, http.MethodPost, u+"s1/xhr_send", app, `["x"]`).want(t, http.StatusNoContent, "")
	do(t, http.MethodPost, u+"s1/xhr", app, "").want(t, http.StatusOK, "a[\"x\"]\n")
	// s1 times out (nobody polls): its place is given back.
	eventually(t, "the place of a timed-out session", func() bool {
		return tryOpen(t, u+"s5/xhr")
	})
	c, _, err := dialWS(u+"s6/websocket", app)
	if err == nil {
		c.Close()
		t.Error("a websocket beside s5 was let in")
	}
}

// With -engine sockjs-go a send body over -max-message-bytes gets 413
// before sockjs-go reads it whole.
func TestCompatSendBodyBound(t *testing.T) {
	t.Parallel()
	cfg := compatConfig()
	cfg.Services[0].MaxMessageBytes = 1024
	srv := startGateway(t, cfg)
	u := srv.URL() + "/echo/000/b1/"
	do(t, http.MethodPost, u+"xhr", nil, "").want(t, http.StatusOK, "o\n")
	big := `["` + strings.Repeat("x", 2000) + `"]`
	do(t, http.MethodPost, u+"xhr_send", nil, big).want(t, http.StatusRequestEntityTooLarge, "Payload too large.")
	do(t, http.MethodPost, u+"jsonp_send", nil, big).want(t, http.StatusRequestEntityTooLarge, "Payload too large.")
	do(t, http.MethodPost, u+"xhr_send", nil, `["small"]`).want(t, http.StatusNoContent, "")
}
