package protocol

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// Header values the protocol fixes.
const (
	ctPlain      = "text/plain; charset=UTF-8"
	ctJSON       = "application/json; charset=UTF-8"
	ctJavaScript = "application/javascript; charset=UTF-8"
	ctHTML       = "text/html; charset=UTF-8"
	ctEventSrc   = "text/event-stream"
	noCache      = "no-store, no-cache, no-transform, must-revalidate, max-age=0"
	cacheYear    = "public, max-age=31536000"
	yearSeconds  = "31536000"
)

// wantStatus checks the status code.
func (r *response) wantStatus(t *testing.T, want int) {
	t.Helper()
	if r.status != want {
		t.Errorf("%s: status %d, want %d (body %q)", r.req, r.status, want, clip(r.body))
	}
}

// wantHeader checks that key has exactly one field whose value is want.
func (r *response) wantHeader(t *testing.T, key, want string) {
	t.Helper()
	got := r.header.Values(key)
	if len(got) != 1 || got[0] != want {
		t.Errorf("%s: %s %q, want %q", r.req, key, got, want)
	}
}

// wantNoHeader checks that key is absent.
func (r *response) wantNoHeader(t *testing.T, key string) {
	t.Helper()
	if got := r.header.Values(key); len(got) > 0 {
		t.Errorf("%s: unexpected %s %q", r.req, key, got)
	}
}

// wantBody checks the whole body.
func (r *response) wantBody(t *testing.T, want string) {
	t.Helper()
	if r.body != want {
		t.Errorf("%s: body %q, want %q", r.req, clip(r.body), clip(want))
	}
}

// wantNotCached checks the headers of a dynamic response.
func (r *response) wantNotCached(t *testing.T) {
	t.Helper()
	r.wantHeader(t, "Cache-Control", noCache)
	r.wantNoHeader(t, "Expires")
	r.wantNoHeader(t, "Last-Modified")
}

// wantCacheForYear checks the headers of a response cacheable for a year.
func (r *response) wantCacheForYear(t *testing.T) {
	t.Helper()
	r.wantHeader(t, "Cache-Control", cacheYear)
	exp := r.header.Get("Expires")
	when, err := http.ParseTime(exp)
	if err != nil {
		t.Errorf("%s: Expires %q is not an HTTP date: %v", r.req, exp, err)
		return
	}
	ahead := time.Until(when)
	if ahead < 364*24*time.Hour || ahead > 366*24*time.Hour {
		t.Errorf("%s: Expires %q is %v ahead, want about a year", r.req, exp, ahead.Round(time.Hour))
	}
}

// wantCORS checks the CORS answer to a request with Origin origin ("" for a
// request without Origin).
func (r *response) wantCORS(t *testing.T, origin string) {
	t.Helper()
	if origin == "" {
		r.wantHeader(t, "Access-Control-Allow-Origin", "*")
		r.wantNoHeader(t, "Access-Control-Allow-Credentials")
		return
	}
	r.wantHeader(t, "Access-Control-Allow-Origin", origin)
	r.wantHeader(t, "Access-Control-Allow-Credentials", "true")
}

// wantNoCookie checks that no cookie is set.
func (r *response) wantNoCookie(t *testing.T) {
	t.Helper()
	r.wantNoHeader(t, "Set-Cookie")
}

// wantCookie checks Set-Cookie: JSESSIONID=<value>; path=/ (attribute
// names case-insensitive, other attributes allowed after path).
func (r *response) wantCookie(t *testing.T, value string) {
	t.Helper()
	got := r.header.Values("Set-Cookie")
	if len(got) != 1 {
		t.Errorf("%s: Set-Cookie %q, want one JSESSIONID=%s; path=/", r.req, got, value)
		return
	}
	parts := strings.Split(got[0], ";")
	if strings.TrimSpace(parts[0]) != "JSESSIONID="+value ||
		len(parts) < 2 || strings.ToLower(strings.TrimSpace(parts[1])) != "path=/" {
		t.Errorf("%s: Set-Cookie %q, want JSESSIONID=%s; path=/", r.req, got[0], value)
	}
}

// want405 checks a wrong-method answer: 405, an Allow header listing allow,
// no content type and no body.
func (r *response) want405(t *testing.T, allow ...string) {
	t.Helper()
	r.wantStatus(t, http.StatusMethodNotAllowed)
	got := r.header.Get("Allow")
	if got == "" {
		t.Errorf("%s: no Allow header", r.req)
	}
	for _, m := range allow {
		if !strings.Contains(got, m) {
			t.Errorf("%s: Allow %q lacks %s", r.req, got, m)
		}
	}
	r.wantNoHeader(t, "Content-Type")
	r.wantBody(t, "")
}

// eq compares two strings in a failure message naming what was compared.
func eq(t *testing.T, what, got, want string) {
	t.Helper()
	if got != want {
		t.Errorf("%s: got %q, want %q", what, clip(got), clip(want))
	}
}
