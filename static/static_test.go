package static

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
)

// pinnedClient is the sockjs-client version package-lock.json must pin.
const pinnedClient = "1.6.1"

// get runs one request through h and returns the response with its body read.
func get(t *testing.T, h http.Handler, method, path string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	res := rec.Result()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return res, string(body)
}

func TestPages(t *testing.T) {
	t.Parallel()
	h := Handler()
	tests := []struct {
		path, contentType, cache, contains string
	}{
		// Relative, so the page works under the gateway's -base-path; from
		// under /chat, the URL the chat's iframe page loads, so the iframe
		// transports find the client in the cache.
		{"/", "text/html; charset=UTF-8", "no-cache", `<script src="chat/sockjs.min.js"></script>`},
		{"/static/app.js", "application/javascript; charset=UTF-8", "no-cache", "new SockJS(SERVICE, null, opts)"},
		{"/static/app.css", "text/css; charset=UTF-8", "no-cache", "@media"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			t.Parallel()
			res, body := get(t, h, http.MethodGet, tt.path, nil)
			if res.StatusCode != http.StatusOK {
				t.Fatalf("status = %d, want 200", res.StatusCode)
			}
			if got := res.Header.Get("Content-Type"); got != tt.contentType {
				t.Errorf("Content-Type = %q, want %q", got, tt.contentType)
			}
			if got := res.Header.Get("Cache-Control"); got != tt.cache {
				t.Errorf("Cache-Control = %q, want %q", got, tt.cache)
			}
			if got := res.Header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options = %q, want nosniff", got)
			}
			if res.Header.Get("Last-Modified") != "" {
				t.Errorf("unexpected Last-Modified %q", res.Header.Get("Last-Modified"))
			}
			if !strings.Contains(body, tt.contains) {
				t.Errorf("body lacks %q", tt.contains)
			}
		})
	}
}

func TestIndexHasTestIDs(t *testing.T) {
	t.Parallel()
	_, body := get(t, Handler(), http.MethodGet, "/", nil)
	for _, id := range []string{"nick", "room", "transport", "join", "status",
		"transport-used", "members", "messages", "text", "send", "leave"} {
		if !strings.Contains(body, `id="`+id+`"`) {
			t.Errorf("index.html lacks element #%s", id)
		}
	}
	for _, tr := range []string{"websocket", "xhr-streaming", "eventsource", "iframe-eventsource",
		"iframe-htmlfile", "xhr-polling", "iframe-xhr-polling", "jsonp-polling"} {
		if !strings.Contains(body, `<option value="`+tr+`">`) {
			t.Errorf("#transport lacks option %s", tr)
		}
	}
	if !strings.Contains(body, `name="viewport"`) {
		t.Error("index.html lacks a viewport meta tag")
	}
}

func TestIndexSecurityHeaders(t *testing.T) {
	t.Parallel()
	res, _ := get(t, Handler(), http.MethodGet, "/", nil)
	csp := res.Header.Get("Content-Security-Policy")
	for _, want := range []string{"script-src 'self'", "connect-src 'self'", "frame-src 'self'", "form-action 'self'", "frame-ancestors 'self'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("Content-Security-Policy %q lacks %q", csp, want)
		}
	}
}

// TestIndexNotFramable: the chat page may be framed only by its own origin
// (issue 13, 10h).
func TestIndexNotFramable(t *testing.T) {
	t.Parallel()
	res, _ := get(t, Handler(), http.MethodGet, "/", nil)
	if !regexp.MustCompile(`(^|; )frame-ancestors 'self'($|;)`).MatchString(res.Header.Get("Content-Security-Policy")) {
		t.Errorf("Content-Security-Policy %q: want frame-ancestors 'self'", res.Header.Get("Content-Security-Policy"))
	}
	if got := res.Header.Get("X-Frame-Options"); got != "SAMEORIGIN" {
		t.Errorf("X-Frame-Options %q, want SAMEORIGIN", got)
	}
}

// TestClientAtAnyPath: Client serves the same bytes as ClientPath wherever
// it is mounted.
func TestClientAtAnyPath(t *testing.T) {
	t.Parallel()
	if !ClientBuilt() {
		t.Fatal("dist/sockjs.min.js is not built: run `make assets` before go test")
	}
	_, want := get(t, Handler(), http.MethodGet, ClientPath, nil)
	res, body := get(t, Client(), http.MethodGet, "/echo/sockjs.min.js", nil)
	if res.StatusCode != http.StatusOK || body != want || res.Header.Get("Content-Type") != "application/javascript; charset=UTF-8" {
		t.Errorf("Client at /echo/sockjs.min.js: %d %s, %d bytes, want the %d bytes of %s", res.StatusCode, res.Header.Get("Content-Type"), len(body), len(want), ClientPath)
	}
	if res, _ := get(t, Client(), http.MethodPost, "/echo/sockjs.min.js", nil); res.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d, want 405", res.StatusCode)
	}
}

func TestAppNeverParsesHTML(t *testing.T) {
	t.Parallel()
	_, body := get(t, Handler(), http.MethodGet, "/static/app.js", nil)
	for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("} {
		if strings.Contains(body, bad) {
			t.Errorf("app.js uses %s; user text must go through textContent", bad)
		}
	}
}

func TestNotFoundAndMethods(t *testing.T) {
	t.Parallel()
	h := Handler()
	tests := []struct {
		method, path string
		status       int
	}{
		{http.MethodGet, "/index.html", http.StatusNotFound},
		{http.MethodGet, "/static/", http.StatusNotFound},
		{http.MethodGet, "/static", http.StatusNotFound},
		{http.MethodGet, "/static/nope.js", http.StatusNotFound},
		{http.MethodGet, "/static/sockjs.min.js.map", http.StatusNotFound},
		{http.MethodGet, "/web/app.js", http.StatusNotFound},
		{http.MethodGet, "/dist/sockjs.min.js", http.StatusNotFound},
		{http.MethodGet, "/dist/LICENSE-sockjs-client", http.StatusNotFound},
		{http.MethodGet, "/favicon.ico", http.StatusNotFound},
		{http.MethodPost, "/", http.StatusMethodNotAllowed},
		{http.MethodPut, "/static/app.js", http.StatusMethodNotAllowed},
		{http.MethodDelete, ClientPath, http.StatusMethodNotAllowed},
		{http.MethodPost, "/nope", http.StatusNotFound},
	}
	for _, tt := range tests {
		res, _ := get(t, h, tt.method, tt.path, nil)
		if res.StatusCode != tt.status {
			t.Errorf("%s %s: status = %d, want %d", tt.method, tt.path, res.StatusCode, tt.status)
		}
		if tt.status == http.StatusMethodNotAllowed && res.Header.Get("Allow") != "GET, HEAD" {
			t.Errorf("%s %s: Allow = %q, want %q", tt.method, tt.path, res.Header.Get("Allow"), "GET, HEAD")
		}
	}
}

func TestHeadAndConditional(t *testing.T) {
	t.Parallel()
	h := Handler()
	res, body := get(t, h, http.MethodHead, "/static/app.css", nil)
	if res.StatusCode != http.StatusOK || body != "" {
		t.Fatalf("HEAD: status %d, body %d bytes; want 200 and no body", res.StatusCode, len(body))
	}
	etag := res.Header.Get("ETag")
	if !strings.HasPrefix(etag, `"`) || !strings.HasSuffix(etag, `"`) || len(etag) < 4 {
		t.Fatalf("ETag = %q, want a quoted strong tag", etag)
	}
	res, body = get(t, h, http.MethodGet, "/static/app.css", map[string]string{"If-None-Match": etag})
	if res.StatusCode != http.StatusNotModified || body != "" {
		t.Errorf("If-None-Match: status %d, body %d bytes; want 304 and no body", res.StatusCode, len(body))
	}
	other, _ := get(t, h, http.MethodGet, "/", nil)
	if other.Header.Get("ETag") == etag {
		t.Error("index.html and app.css share an ETag")
	}
}

func TestClientEmbedded(t *testing.T) {
	t.Parallel()
	if !ClientBuilt() {
		t.Fatal("dist/sockjs.min.js is missing, so this binary would serve no sockjs-client: it is committed; restore it with UPDATE=1 sh static/build.sh")
	}
	res, body := get(t, Handler(), http.MethodGet, ClientPath, nil)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status = %d, want 200", res.StatusCode)
	}
	if got := res.Header.Get("Content-Type"); got != "application/javascript; charset=UTF-8" {
		t.Errorf("Content-Type = %q", got)
	}
	if got := res.Header.Get("Cache-Control"); !strings.HasPrefix(got, "public, max-age=") {
		t.Errorf("Cache-Control = %q, want a public max-age", got)
	}
	if want := "/* sockjs-client v" + pinnedClient + " "; !strings.HasPrefix(body, want) {
		t.Errorf("client starts %q, want %q", body[:min(len(body), 40)], want)
	}
}

func TestClientMissing(t *testing.T) {
	t.Parallel()
	h := handler{}
	for path, a := range loadAssets() {
		if path != ClientPath {
			h[path] = a
		}
	}
	res, body := get(t, h, http.MethodGet, ClientPath, nil)
	if res.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("status = %d, want 503", res.StatusCode)
	}
	if !strings.Contains(body, "make assets") {
		t.Errorf("body %q does not say how to build the client", body)
	}
	if res, _ := get(t, h, http.MethodGet, "/", nil); res.StatusCode != http.StatusOK {
		t.Errorf("page without client: status = %d, want 200", res.StatusCode)
	}
}

func TestLockPinsClient(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("package-lock.json")
	if err != nil {
		t.Fatal(err)
	}
	var lock struct {
		Packages map[string]struct {
			Version      string            `json:"version"`
			Dependencies map[string]string `json:"dependencies"`
		} `json:"packages"`
	}
	if err := json.Unmarshal(raw, &lock); err != nil {
		t.Fatalf("parse package-lock.json: %v", err)
	}
	if got := lock.Packages[""].Dependencies["sockjs-client"]; got != pinnedClient {
		t.Errorf("package.json wants sockjs-client %q, want exactly %q", got, pinnedClient)
	}
	if got := lock.Packages["node_modules/sockjs-client"].Version; got != pinnedClient {
		t.Errorf("lock resolves sockjs-client %q, want %q", got, pinnedClient)
	}
}
