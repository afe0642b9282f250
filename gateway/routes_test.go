package gateway

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestFastPathAgreesWithRouters: for every configuration of the listeners
// (plain, base path, admin address, backend API), each path gets the same
// answer through the fast path as through the routers alone, including
// service prefixes that a health or API route shadows.
func TestFastPathAgreesWithRouters(t *testing.T) {
	t.Parallel()
	services := []Service{
		{Prefix: "/echo", Handler: nopHandler},
		{Prefix: "/metrics", Handler: nopHandler}, // /metrics itself is the health route's
		{Prefix: "/api", Handler: nopHandler},     // all of it is the API's when the API is on
		{Prefix: "/healthzz", Handler: nopHandler},
	}
	configs := map[string]Config{
		"plain":     {Services: services},
		"base path": {BasePath: "/sg", Services: services},
		"admin":     {AdminAddr: "127.0.0.1:0", Services: services},
		"api":       {APIKey: "0123456789abcdef", Services: services},
		"api+base":  {APIKey: "0123456789abcdef", BasePath: "/sg", Services: services},
	}
	paths := []string{
		"/echo", "/echo/info", "/echo/iframe.html", "/echo/sockjs.min.js", "/echox/info",
		"/metrics", "/metrics/info", "/api", "/api/info", "/api/rooms/x", "/healthz", "/healthzz/info",
		"/sg/echo/info", "/sg/metrics/info", "/sg/api/info", "/sg/echo/sockjs.min.js", "/sg", "/nosuch",
	}
	for name, cfg := range configs {
		s, err := New(cfg)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, p := range paths {
			fast := httptest.NewRecorder()
			s.Handler().ServeHTTP(fast, httptest.NewRequest(http.MethodGet, p, nil))
			routed := httptest.NewRecorder()
			s.router.ServeHTTP(routed, httptest.NewRequest(http.MethodGet, p, nil))
			if fast.Code != routed.Code || head(fast) != head(routed) {
				t.Errorf("%s: GET %s: fast path %d %q, routers %d %q", name, p, fast.Code, head(fast), routed.Code, head(routed))
			}
		}
	}
	// The API owns every path under /api when it is on: the service
	// mounted there is shadowed on both paths, as on the routers.
	s, err := New(configs["api"])
	if err != nil {
		t.Fatal(err)
	}
	if w := serve(s, http.MethodGet, "/api/info"); w.Code != http.StatusUnauthorized {
		t.Errorf("GET /api/info with the API on: %d, want 401 from the API", w.Code)
	}
}

// head is what identifies an answer: its content type and the start of
// its body (info's entropy and the metrics' values differ between calls).
func head(w *httptest.ResponseRecorder) string {
	b := w.Body.String()
	return w.Header().Get("Content-Type") + " " + b[:min(len(b), 24)]
}

// TestRouteOwners: the first route of a table that matches owns the path;
// a service prefix owns itself and what is under it, not a longer name.
func TestRouteOwners(t *testing.T) {
	t.Parallel()
	table := routeTable{
		{path: "/echo/sockjs.min.js", kind: matchExact, label: "client_script"},
		{path: "/echo", kind: matchUnder, label: "echo"},
		{path: "/api", kind: matchStart, label: "api"},
		{path: "/", kind: matchStart, label: "static"},
	}
	for path, want := range map[string]string{
		"/echo": "echo", "/echo/": "echo", "/echo/info": "echo", "/echo/sockjs.min.js": "client_script",
		"/echox": "static", "/api": "api", "/apix": "api", "/": "static",
	} {
		if got := table.owner(path); got == nil || got.label != want {
			t.Errorf("owner(%q) = %v, want %s", path, got, want)
		}
	}
	if got := (routeTable{{path: "/echo", kind: matchUnder}}).owner("/other"); got != nil {
		t.Errorf("owner(/other) = %v, want none", got)
	}
}
