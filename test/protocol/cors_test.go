package protocol

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// preflights are the URLs that answer CORS preflight requests, with the
// methods they must allow.
var preflights = []struct{ path, methods string }{
	{"/echo/info", "OPTIONS, GET"},
	{"/echo/abc/abc/xhr", "OPTIONS, POST"},
	{"/echo/abc/abc/xhr_send", "OPTIONS, POST"},
	{"/echo/abc/abc/xhr_streaming", "OPTIONS, POST"},
}

// Official: InfoTest.test_options, XhrPolling.test_options,
// XhrStreaming.test_options (verify_options).
func TestOptions(t *testing.T) {
	t.Parallel()
	for _, p := range preflights {
		for _, origin := range []string{"test", "null"} {
			r := do(t, "OPTIONS", p.path, h{"Origin": origin, "Access-Control-Request-Method": p.methods}, "")
			if r.status != http.StatusOK && r.status != http.StatusNoContent {
				t.Errorf("%s: status %d, want 200 or 204", r.req, r.status)
			}
			r.wantCacheForYear(t)
			r.wantHeader(t, "Access-Control-Max-Age", yearSeconds)
			if age, err := strconv.Atoi(r.header.Get("Access-Control-Max-Age")); err != nil || age <= 1000000 {
				t.Errorf("%s: Access-Control-Max-Age %q, want > 1000000", r.req, r.header.Get("Access-Control-Max-Age"))
			}
			allowed := r.header.Get("Access-Control-Allow-Methods")
			for _, m := range strings.Split(p.methods, ",") {
				if !strings.Contains(allowed, strings.TrimSpace(m)) {
					t.Errorf("%s: Access-Control-Allow-Methods %q lacks %s", r.req, allowed, m)
				}
			}
			r.wantBody(t, "")
			r.wantCORS(t, origin)
			r.wantNoCookie(t)
		}
	}
}

// SOCKJS.md: a preflight without Origin answers "*" and no credentials.
func TestOptionsNoOrigin(t *testing.T) {
	t.Parallel()
	for _, p := range preflights {
		r := do(t, "OPTIONS", p.path, h{"Access-Control-Request-Method": "POST"}, "")
		if r.status != http.StatusOK && r.status != http.StatusNoContent {
			t.Errorf("%s: status %d, want 200 or 204", r.req, r.status)
		}
		r.wantCORS(t, "")
	}
}

// Official: XhrPolling.test_request_headers_cors.
func TestCORSRequestHeaders(t *testing.T) {
	t.Parallel()
	for _, p := range preflights {
		r := do(t, "OPTIONS", p.path, h{"Origin": "test", "Access-Control-Request-Method": "POST",
			"Access-Control-Request-Headers": "a, b, c"}, "")
		r.wantCORS(t, "test")
		r.wantHeader(t, "Access-Control-Allow-Headers", "a, b, c")

		r = do(t, "OPTIONS", p.path, h{"Origin": "test", "Access-Control-Request-Method": "POST",
			"Access-Control-Request-Headers": ""}, "")
		r.wantCORS(t, "test")
		r.wantNoHeader(t, "Access-Control-Allow-Headers")

		r = do(t, "OPTIONS", p.path, h{"Origin": "test", "Access-Control-Request-Method": "POST"}, "")
		r.wantCORS(t, "test")
		r.wantNoHeader(t, "Access-Control-Allow-Headers")
	}
}

// SOCKJS.md: every XHR-family response (not only preflights) echoes Origin,
// "null" included, and answers "*" without one.
func TestCORSOnResponses(t *testing.T) {
	t.Parallel()
	for _, origin := range []string{"", "test", "null", "https://example.com:8443"} {
		hdr := h{}
		if origin != "" {
			hdr["Origin"] = origin
		}
		s := sess("/echo")
		r := do(t, "POST", s+"/xhr", hdr, "")
		r.wantBody(t, "o\n")
		r.wantCORS(t, origin)
		r = do(t, "POST", s+"/xhr_send", hdr, `["x"]`)
		r.wantStatus(t, http.StatusNoContent)
		r.wantCORS(t, origin)
		r, _ = getInfo(t, "/echo", hdr)
		r.wantCORS(t, origin)

		st := open(t, "POST", sess("/echo")+"/xhr_streaming", hdr, "")
		st.resp.wantStatus(t, http.StatusOK)
		st.resp.wantCORS(t, origin)
		st.close()
	}
}

// SOCKJS.md: Access-Control-Request-Headers is echoed on actual requests
// too, not only on preflights.
func TestCORSRequestHeadersOnResponses(t *testing.T) {
	t.Parallel()
	r := do(t, "POST", sess("/echo")+"/xhr", h{"Origin": "test", "Access-Control-Request-Headers": "x-a"}, "")
	r.wantStatus(t, http.StatusOK)
	r.wantHeader(t, "Access-Control-Allow-Headers", "x-a")
}
