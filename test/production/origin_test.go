package production

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/sockgate/sockgate/gateway"
	"github.com/sockgate/sockgate/test/sockjsclient"
)

// originConfig allows one exact origin and one wildcard domain.
func originConfig() gateway.Config {
	return gateway.Config{
		AllowedOrigins: []string{"https://app.example.com", "*.example.org"},
		Services:       []gateway.Service{echoService("/echo")},
	}
}

// Every endpoint that starts or carries a session, or tells a page about
// the service, answers a disallowed origin 403 "Origin not allowed." with
// no CORS headers, and each refusal is counted.
func TestOriginDisallowedIs403Everywhere(t *testing.T) {
	t.Parallel()
	srv := startGateway(t, originConfig())
	u := srv.URL()
	metrics := u + "/metrics"
	const refusal = `sockgate_refusals_total{cause="origin"}`
	before := metric(t, metrics, refusal)

	const evil = "https://evil.example.com"
	tests := []struct{ name, method, path, body string }{
		{"info GET", http.MethodGet, "/echo/info", ""},
		{"info OPTIONS", http.MethodOptions, "/echo/info", ""},
		{"xhr OPTIONS", http.MethodOptions, "/echo/000/o1/xhr", ""},
		{"xhr", http.MethodPost, "/echo/000/o1/xhr", ""},
		{"xhr_send", http.MethodPost, "/echo/000/o1/xhr_send", `["x"]`},
		{"xhr_send OPTIONS", http.MethodOptions, "/echo/000/o1/xhr_send", ""},
		{"xhr_streaming", http.MethodPost, "/echo/000/o1/xhr_streaming", ""},
		{"xhr_streaming OPTIONS", http.MethodOptions, "/echo/000/o1/xhr_streaming", ""},
		{"eventsource", http.MethodGet, "/echo/000/o1/eventsource", ""},
		{"jsonp", http.MethodGet, "/echo/000/o1/jsonp?c=cb", ""},
		{"jsonp_send", http.MethodPost, "/echo/000/o1/jsonp_send", "d=%5B%22x%22%5D"},
		{"htmlfile", http.MethodGet, "/echo/000/o1/htmlfile?c=cb", ""},
	}
	refused := 0
	for _, tc := range tests {
		t.Run(tc.name+" → 403", func(t *testing.T) {
			r := do(t, tc.method, u+tc.path, origin(evil), tc.body)
			r.want(t, http.StatusForbidden, "Origin not allowed.")
			r.wantNoHeader(t, "Access-Control-Allow-Origin")
			r.wantNoHeader(t, "Access-Control-Allow-Credentials")
		})
		refused++
	}
	for _, path := range []string{"/echo/000/o1/websocket", "/echo/websocket"} {
		t.Run("upgrade "+path+" → handshake 403", func(t *testing.T) {
			c, resp, err := dialWS(u+path, origin(evil))
			if err == nil {
				c.Close()
				t.Fatalf("websocket handshake with Origin %s succeeded", evil)
			}
			if resp == nil || resp.StatusCode != http.StatusForbidden {
				t.Fatalf("handshake: %v, response %v; want 403", err, resp)
			}
			b, _ := io.ReadAll(resp.Body)
			if string(b) != "Origin not allowed." {
				t.Errorf("handshake body %q, want %q", b, "Origin not allowed.")
			}
		})
		refused++
	}
	// Look-alikes of the allowed entries, on /info.
	for _, o := range []string{
		"null",
		"http://app.example.com",           // scheme differs
		"https://app.example.com:8443",     // port differs
		"https://app.example.com.evil.net", // suffix attack
		"https://example.org",              // *.example.org is for subdomains
		"https://evilexample.org",          // not a subdomain
		"https://x.example.org.evil.net",   // suffix attack
		"https://app.example.com@evil.net", // userinfo trick
		"garbage",
	} {
		t.Run("info Origin "+o+" → 403", func(t *testing.T) {
			do(t, http.MethodGet, u+"/echo/info", origin(o), "").want(t, http.StatusForbidden, "Origin not allowed.")
		})
		refused++
	}
	if got := metric(t, metrics, refusal) - before; got != float64(refused) {
		t.Errorf("%s grew by %v, want %d", refusal, got, refused)
	}
	// None of the refused requests created a session: o1 is new.
	do(t, http.MethodPost, u+"/echo/000/o1/xhr", nil, "").want(t, http.StatusOK, "o\n")
}

// Allowed origins (exact, wildcard subdomains, the gateway's own host) and
// requests without Origin reach every transport, with CORS headers echoing
// the origin on the XHR family.
func TestOriginAllowed(t *testing.T) {
	t.Parallel()
	srv := startGateway(t, originConfig())
	u := srv.URL()
	for i, o := range []string{
		"https://app.example.com",
		"https://chat.example.org",
		"http://deep.sub.example.org:8080",
		"HTTPS://APP.EXAMPLE.COM",       // origins compare case-insensitively
		"http://" + srv.Addr().String(), // same host
		"",                              // no Origin: not a browser page
	} {
		sid := "ok" + string(rune('a'+i))
		t.Run("Origin "+o, func(t *testing.T) {
			t.Parallel()
			checkAllowedOrigin(t, u, o, sid)
		})
	}
}

func checkAllowedOrigin(t *testing.T, u, o, sid string) {
	hdr := origin(o)
	acao, acac := o, "true"
	if o == "" {
		acao = "*"
	}
	cors := func(r response) {
		t.Helper()
		r.wantHeader(t, "Access-Control-Allow-Origin", acao)
		if o == "" {
			r.wantNoHeader(t, "Access-Control-Allow-Credentials")
		} else {
			r.wantHeader(t, "Access-Control-Allow-Credentials", acac)
		}
	}
	r := do(t, http.MethodGet, u+"/echo/info", hdr, "")
	if r.status != http.StatusOK || !strings.HasPrefix(r.body, `{"websocket":true,`) {
		t.Errorf("%s: %d %q", r.req, r.status, r.body)
	}
	cors(r)
	r = do(t, http.MethodOptions, u+"/echo/000/"+sid+"/xhr", hdr, "")
	r.want(t, http.StatusNoContent, "")
	cors(r)
	sess := u + "/echo/000/" + sid
	r = do(t, http.MethodPost, sess+"/xhr", hdr, "")
	r.want(t, http.StatusOK, "o\n")
	cors(r)
	r = do(t, http.MethodPost, sess+"/xhr_send", hdr, `["hello"]`)
	r.want(t, http.StatusNoContent, "")
	cors(r)
	do(t, http.MethodPost, sess+"/xhr", hdr, "").want(t, http.StatusOK, `a["hello"]`+"\n")
	form := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	if o != "" {
		form.Set("Origin", o)
	}
	do(t, http.MethodPost, sess+"/jsonp_send", form, "d=%5B%22j%22%5D").want(t, http.StatusOK, "ok")
	do(t, http.MethodGet, sess+"/jsonp?c=cb", hdr, "").want(t, http.StatusOK, `/**/cb("a[\"j\"]");`+"\r\n")

	for i, st := range []struct{ transport, method, ct string }{
		{"xhr_streaming", http.MethodPost, ctJS},
		{"eventsource", http.MethodGet, ctSSE},
		{"htmlfile?c=cb", http.MethodGet, ctHTML},
	} {
		url := u + "/echo/000/" + sid + "-" + strconv.Itoa(i) + "/" + st.transport
		resp, _ := openStream(t, st.method, url, hdr, 2)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != st.ct {
			t.Errorf("%s: %d %q, want 200 %q", st.transport, resp.StatusCode, resp.Header.Get("Content-Type"), st.ct)
		}
	}

	c := dial(t, u+"/echo", sockjsclient.Options{Transport: sockjsclient.TransportWebsocket, Header: hdr})
	echoRoundTrip(t, c, "ws "+o)
	raw, _, err := dialWS(u+"/echo/websocket", hdr)
	if err != nil {
		t.Fatalf("raw websocket with Origin %q: %v", o, err)
	}
	defer raw.Close()
	writeWS(t, raw, "raw")
	if got := readWS(t, raw); got != "raw" {
		t.Errorf("raw websocket echo %q", got)
	}
	_ = raw.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
}

// The iframe page may only be framed by the allowed origins.
func TestOriginIframeCSP(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		allowed []string
		want    string
	}{
		{"exact and wildcard", []string{"https://app.example.com", "*.example.org"}, "frame-ancestors 'self' https://app.example.com *.example.org"},
		{"own host only", nil, "frame-ancestors 'self'"},
		{"any", []string{"*"}, "frame-ancestors *"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := startGateway(t, gateway.Config{AllowedOrigins: tc.allowed, Services: []gateway.Service{echoService("/echo")}})
			r := do(t, http.MethodGet, srv.URL()+"/echo/iframe.html", nil, "")
			if r.status != http.StatusOK {
				t.Fatalf("%s: %d", r.req, r.status)
			}
			r.wantHeader(t, "Content-Security-Policy", tc.want)
		})
	}
}

// With no AllowedOrigins only the gateway's own host may connect.
func TestOriginDefaultIsOwnHost(t *testing.T) {
	t.Parallel()
	srv := startGateway(t, gateway.Config{Services: []gateway.Service{echoService("/echo")}})
	u := srv.URL()
	do(t, http.MethodGet, u+"/echo/info", origin("https://app.example.com"), "").want(t, http.StatusForbidden, "Origin not allowed.")
	r := do(t, http.MethodGet, u+"/echo/info", origin(u), "")
	if r.status != http.StatusOK {
		t.Errorf("%s with its own origin: %d %q", r.req, r.status, r.body)
	}
}
