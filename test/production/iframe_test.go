package production

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/sockgate/sockgate/gateway"
	"github.com/sockgate/sockgate/static"
)

// iframeScript is the script URL of an iframe page.
var iframeScript = regexp.MustCompile(`<script src="([^"]*)"></script>`)

// An application on its own origin that forwards only the service prefix
// to sockgate (the usual same-origin set-up) keeps the iframe transports:
// the iframe page's script URL is under that prefix and serves the pinned
// sockjs-client, with either engine and with a base path given with or
// without its trailing slash (issue 13.7).
func TestIframeScriptBehindPrefixProxy(t *testing.T) {
	t.Parallel()
	if !static.ClientBuilt() {
		t.Fatal("static/dist/sockjs.min.js is not built: run `make assets` (make test-go does) before go test")
	}
	for _, tc := range []struct {
		name, engine, basePath, forward string
	}{
		{"native", gateway.EngineNative, "", "/echo/"},
		{"compat", gateway.EngineSockJSGo, "", "/echo/"},
		{"native, base path with a slash", gateway.EngineNative, "/sg/", "/sg/echo/"},
		{"native, base path", gateway.EngineNative, "/sg", "/sg/echo/"},
		{"compat, base path with a slash", gateway.EngineSockJSGo, "/sg/", "/sg/echo/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := startGateway(t, gateway.Config{
				Engine:       tc.engine,
				BasePath:     tc.basePath,
				Static:       static.Handler(),
				ClientScript: static.Client(),
				Services:     []gateway.Service{echoService("/echo")},
			})
			want := do(t, http.MethodGet, srv.URL()+strings.TrimSuffix(tc.basePath, "/")+static.ClientPath, nil, "")
			if want.status != http.StatusOK || len(want.body) < 10000 {
				t.Fatalf("%s: %d, %d bytes", want.req, want.status, len(want.body))
			}
			app := prefixProxy(t, srv.URL(), tc.forward)
			page := do(t, http.MethodGet, app+tc.forward+"iframe.html", nil, "")
			if page.status != http.StatusOK {
				t.Fatalf("%s: %d", page.req, page.status)
			}
			m := iframeScript.FindStringSubmatch(page.body)
			if m == nil {
				t.Fatalf("%s: no script in %q", page.req, page.body)
			}
			if strings.Contains(m[1], "//") {
				t.Errorf("script URL %q has an empty path segment", m[1])
			}
			base, _ := url.Parse(app + tc.forward + "iframe.html")
			ref, err := url.Parse(m[1])
			if err != nil {
				t.Fatalf("script URL %q: %v", m[1], err)
			}
			got := do(t, http.MethodGet, base.ResolveReference(ref).String(), nil, "")
			if got.status != http.StatusOK || got.body != want.body {
				t.Errorf("%s through the proxy: %d, %d bytes, want 200 and the %d bytes of %s", got.req, got.status, len(got.body), len(want.body), static.ClientPath)
			}
			got.wantHeader(t, "Content-Type", ctJS)
		})
	}
}

// prefixProxy is an application origin that forwards only the paths under
// prefix to the gateway at target and answers 404 to every other one.
func prefixProxy(t *testing.T, target, prefix string) string {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, prefix) {
			http.Error(w, "not forwarded", http.StatusNotFound)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(app.Close)
	return app.URL
}
