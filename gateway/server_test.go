package gateway

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/sockgate/sockgate/session"
)

func nopHandler(context.Context, session.Session) {}

func TestNewRejectsBadConfig(t *testing.T) {
	t.Parallel()
	svc := Service{Prefix: "/echo", Handler: nopHandler}
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"unknown engine", Config{Engine: "other"}, "unknown engine"},
		{"relative base path", Config{BasePath: "sg"}, "base path"},
		{"prefix without slash", Config{Services: []Service{{Prefix: "echo", Handler: nopHandler}}}, "prefix"},
		{"root prefix", Config{Services: []Service{{Prefix: "/", Handler: nopHandler}}}, "prefix"},
		{"prefix with trailing slash", Config{Services: []Service{{Prefix: "/echo/", Handler: nopHandler}}}, "prefix"},
		{"no handler", Config{Services: []Service{{Prefix: "/echo"}}}, "exactly one of Handler and Events"},
		{"handler and events", Config{Services: []Service{{Prefix: "/echo", Handler: nopHandler, Events: session.EventFuncs{}}}}, "exactly one of Handler and Events"},
		{"bad origin", Config{AllowedOrigins: []string{"https://a.example.com/x"}, Services: []Service{svc}}, "allowed origin"},
		{"bad proxy", Config{TrustedProxies: []string{"nope"}, Services: []Service{svc}}, "trusted proxy"},
	}
	for _, tc := range tests {
		_, err := New(tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: New: %v, want an error about %q", tc.name, err, tc.want)
		}
	}
}

// serve answers one request through the gateway's whole handler.
func serve(s *Server, method, path string) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	s.Handler().ServeHTTP(w, httptest.NewRequest(method, path, nil))
	return w
}

func TestHealthAndReadiness(t *testing.T) {
	t.Parallel()
	s, err := New(Config{Addr: "127.0.0.1:0", Services: []Service{{Prefix: "/echo", Handler: nopHandler}}})
	if err != nil {
		t.Fatal(err)
	}
	if s.Addr() != nil || s.URL() != "" || s.AdminAddr() != nil {
		t.Errorf("before Open: Addr %v, URL %q, AdminAddr %v", s.Addr(), s.URL(), s.AdminAddr())
	}
	check := func(path string, status int, body string) {
		t.Helper()
		w := serve(s, http.MethodGet, path)
		if w.Code != status || w.Body.String() != body {
			t.Errorf("GET %s: %d %q, want %d %q", path, w.Code, w.Body.String(), status, body)
		}
		if cc := w.Header().Get("Cache-Control"); cc != noCache {
			t.Errorf("GET %s: Cache-Control %q", path, cc)
		}
	}
	check("/healthz", http.StatusOK, "ok\n")
	check("/readyz", http.StatusOK, "ready\n")
	if err := s.Open(); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(s.URL(), "http://127.0.0.1:") {
		t.Errorf("URL %q", s.URL())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := s.Shutdown(ctx); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close after Shutdown: %v", err)
	}
	check("/healthz", http.StatusOK, "ok\n")
	check("/readyz", http.StatusServiceUnavailable, "draining\n")
}

func TestBasePathRoutes(t *testing.T) {
	t.Parallel()
	s, err := New(Config{BasePath: "/sg/", Services: []Service{{Prefix: "/echo", Handler: nopHandler}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path   string
		status int
	}{
		{"/sg/echo/info", http.StatusOK},
		{"/sg/echo", http.StatusOK},
		{"/echo/info", http.StatusNotFound},
		{"/sgecho/info", http.StatusNotFound},
		{"/healthz", http.StatusOK},
		{"/readyz", http.StatusOK},
		{"/metrics", http.StatusOK},
	} {
		if w := serve(s, http.MethodGet, tc.path); w.Code != tc.status {
			t.Errorf("GET %s: %d, want %d", tc.path, w.Code, tc.status)
		}
	}
}

func TestAdminAddrRoutes(t *testing.T) {
	t.Parallel()
	s, err := New(Config{AdminAddr: "127.0.0.1:0", Services: []Service{{Prefix: "/echo", Handler: nopHandler}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/healthz", "/readyz", "/metrics"} {
		if w := serve(s, http.MethodGet, p); w.Code != http.StatusNotFound {
			t.Errorf("main handler GET %s: %d, want 404 (served on the admin address)", p, w.Code)
		}
	}
}

func TestProxyIdleTimeoutWarning(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	_, err := New(Config{
		Logger:           zerolog.New(&buf),
		ProxyIdleTimeout: 20 * time.Second,
		Services: []Service{
			{Prefix: "/slow", Handler: nopHandler, HeartbeatDelay: 30 * time.Second},
			{Prefix: "/fine", Handler: nopHandler, HeartbeatDelay: 10 * time.Second},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	log := buf.String()
	if !strings.Contains(log, `"service":"/slow"`) || strings.Contains(log, `"service":"/fine"`) {
		t.Errorf("warnings %q: want one for /slow only", log)
	}
}

// TestPprofRoutes: the profiler is served only when asked for, beside
// /metrics on the admin listener, never on the main one.
func TestPprofRoutes(t *testing.T) {
	t.Parallel()
	for _, on := range []bool{false, true} {
		s, err := New(Config{Pprof: on, AdminAddr: "127.0.0.1:0", Services: []Service{{Prefix: "/echo", Handler: nopHandler}}})
		if err != nil {
			t.Fatal(err)
		}
		want := http.StatusNotFound
		if on {
			want = http.StatusOK
		}
		for _, p := range []string{"/debug/pprof/", "/debug/pprof/heap", "/debug/pprof/cmdline"} {
			w := httptest.NewRecorder()
			s.admin.Handler.ServeHTTP(w, httptest.NewRequest(http.MethodGet, p, nil))
			if w.Code != want {
				t.Errorf("pprof %v: admin GET %s: %d, want %d", on, p, w.Code, want)
			}
			if w := serve(s, http.MethodGet, p); w.Code != http.StatusNotFound {
				t.Errorf("pprof %v: main GET %s: %d, want 404", on, p, w.Code)
			}
		}
		if w := serve(s, http.MethodGet, "/echo/info"); w.Code != http.StatusOK {
			t.Errorf("pprof %v: GET /echo/info: %d", on, w.Code)
		}
	}
}

// TestFastPathKeepsHealthRoutes: a service whose prefix is a health route
// does not take that route from the routers, and the fast path serves every
// other service path as the routers would.
func TestFastPathKeepsHealthRoutes(t *testing.T) {
	t.Parallel()
	s, err := New(Config{Services: []Service{
		{Prefix: "/metrics", Handler: nopHandler},
		{Prefix: "/echo", Handler: nopHandler},
		{Prefix: "/echo2", Handler: nopHandler},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if w := serve(s, http.MethodGet, "/metrics"); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "sockgate_draining") {
		t.Errorf("GET /metrics: %d, not the metrics page", w.Code)
	}
	for path, body := range map[string]string{
		"/echo":         "Welcome to SockJS!\n",
		"/echo/":        "Welcome to SockJS!\n",
		"/echo2/":       "Welcome to SockJS!\n",
		"/metrics/":     "Welcome to SockJS!\n",
		"/echoX/":       "404 page not found\n",
		"/echo/a/b/xyz": "404 page not found\n",
	} {
		if w := serve(s, http.MethodGet, path); w.Body.String() != body {
			t.Errorf("GET %s: %d %q, want %q", path, w.Code, w.Body.String(), body)
		}
	}
}

// TestPprofNeedsAdmin: the profiler (and the full command line it shows)
// is never served on the public listener: New refuses it without an admin
// address.
func TestPprofNeedsAdmin(t *testing.T) {
	t.Parallel()
	_, err := New(Config{Pprof: true, Services: []Service{{Prefix: "/echo", Handler: nopHandler}}})
	if err == nil || !strings.Contains(err.Error(), "admin address") {
		t.Fatalf("New with the profiler and no admin address: %v, want a refusal", err)
	}
}
