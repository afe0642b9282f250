package protocol

import (
	"encoding/json"
	"math"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// Official: BaseUrlGreeting.test_greeting.
func TestGreeting(t *testing.T) {
	t.Parallel()
	for _, path := range []string{"/echo", "/echo/"} {
		r := do(t, "GET", path, nil, "")
		r.wantStatus(t, http.StatusOK)
		r.wantHeader(t, "Content-Type", ctPlain)
		r.wantBody(t, "Welcome to SockJS!\n")
		r.wantNoCookie(t)
	}
}

// Official: BaseUrlGreeting.test_notFound, plus SOCKJS.md's list.
func TestNotFound(t *testing.T) {
	t.Parallel()
	for _, suffix := range []string{"/a", "/a.html", "//", "///", "/a/a", "/a/a/", "/a/",
		"/a/a/a/a", "/a/a/a/a/", "/info/a", "/websocket/a"} {
		do(t, "GET", "/echo"+suffix, nil, "").wantStatus(t, http.StatusNotFound)
	}
}

// iframeBody is the page the reference server serves, with the script URL
// captured.
var iframeBody = regexp.MustCompile(`^<!DOCTYPE html>
<html>
<head>
  <meta http-equiv="X-UA-Compatible" content="IE=edge" />
  <meta http-equiv="Content-Type" content="text/html; charset=UTF-8" />
  <script src="([^"]*)"></script>
  <script>
    document.domain = document.domain;
    SockJS.bootstrap_iframe\(\);
  </script>
</head>
<body>
  <h2>Don't panic!</h2>
  <p>This is a SockJS hidden iframe. It's used for cross domain magic.</p>
</body>
</html>$`)

// Official: IframePage.test_simpleUrl, test_versionedUrl, test_queriedUrl.
func TestIframePage(t *testing.T) {
	t.Parallel()
	first := do(t, "GET", "/echo/iframe.html", nil, "")
	for _, suffix := range []string{"/iframe.html", "/iframe-a.html", "/iframe-.html",
		"/iframe-0.1.2.html", "/iframe-0.1.2abc-dirty.2144.html", "/iframe-a.html?t=1234",
		"/iframe-0.1.2.html?t=123414", "/iframe-0.1.2abc-dirty.2144.html?t=qweqweq123",
		"/iframe-1.6.1.html"} {
		r := do(t, "GET", "/echo"+suffix, nil, "")
		r.wantStatus(t, http.StatusOK)
		r.wantHeader(t, "Content-Type", ctHTML)
		r.wantCacheForYear(t)
		if etag := r.header.Get("ETag"); !strings.HasPrefix(etag, `"`) || !strings.HasSuffix(etag, `"`) || len(etag) < 3 {
			t.Errorf("%s: ETag %q, want a non-empty quoted tag", r.req, etag)
		}
		r.wantNoHeader(t, "Last-Modified")
		r.wantNoCookie(t)
		m := iframeBody.FindStringSubmatch(strings.TrimSpace(r.body))
		if m == nil {
			t.Errorf("%s: body is not the iframe page:\n%s", r.req, r.body)
			continue
		}
		if !strings.HasPrefix(m[1], "/") && !strings.HasPrefix(m[1], "http") {
			t.Errorf("%s: script src %q is neither absolute nor rooted", r.req, m[1])
		}
		eq(t, r.req+": body differs from /iframe.html's", r.body, first.body)
		eq(t, r.req+": ETag differs from /iframe.html's", r.header.Get("ETag"), first.header.Get("ETag"))
	}
}

// SOCKJS.md: the iframe loads a pinned sockjs-client build, never a
// floating CDN tag such as sockjs-client@1.
func TestIframeScriptPinned(t *testing.T) {
	t.Parallel()
	r := do(t, "GET", "/echo/iframe.html", nil, "")
	m := iframeBody.FindStringSubmatch(strings.TrimSpace(r.body))
	if m == nil {
		t.Fatalf("%s: body is not the iframe page:\n%s", r.req, r.body)
	}
	src := m[1]
	if strings.HasPrefix(src, "http") && !regexp.MustCompile(`\d+\.\d+\.\d+`).MatchString(src) {
		t.Errorf("%s: script src %q is a floating (unversioned) URL", r.req, src)
	}
}

// Official: IframePage.test_invalidUrl.
func TestIframeNotFound(t *testing.T) {
	t.Parallel()
	for _, suffix := range []string{"/iframe.htm", "/iframe", "/IFRAME.HTML", "/IFRAME",
		"/iframe.HTML", "/iframe.xml", "/iframe-/.html"} {
		do(t, "GET", "/echo"+suffix, nil, "").wantStatus(t, http.StatusNotFound)
	}
}

// Official: IframePage.test_cacheability.
func TestIframeCacheability(t *testing.T) {
	t.Parallel()
	r1 := do(t, "GET", "/echo/iframe.html", nil, "")
	r2 := do(t, "GET", "/echo/iframe.html", nil, "")
	etag := r1.header.Get("ETag")
	if etag == "" {
		t.Fatalf("%s: no ETag", r1.req)
	}
	eq(t, "ETag of two GETs", r2.header.Get("ETag"), etag)

	r := do(t, "GET", "/echo/iframe.html", h{"If-None-Match": etag}, "")
	r.wantStatus(t, http.StatusNotModified)
	r.wantNoHeader(t, "Content-Type")
	r.wantNoHeader(t, "Last-Modified")
	r.wantBody(t, "")

	r = do(t, "GET", "/echo/iframe.html", h{"If-None-Match": `"not-the-etag"`}, "")
	r.wantStatus(t, http.StatusOK)
	r.wantBody(t, r1.body)
}

// info is the /info document.
type info struct {
	Websocket    *bool    `json:"websocket"`
	CookieNeeded *bool    `json:"cookie_needed"`
	Origins      []string `json:"origins"`
	Entropy      *float64 `json:"entropy"`
	raw          anyFields
}

// anyFields holds an object's keys.
type anyFields map[string]json.RawMessage

// getInfo fetches and decodes service's /info.
func getInfo(t *testing.T, service string, hdr h) (*response, info) {
	t.Helper()
	r := do(t, "GET", service+"/info", hdr, "")
	var in info
	if err := json.Unmarshal([]byte(r.body), &in); err != nil {
		t.Fatalf("%s: body %q is not JSON: %v", r.req, r.body, err)
	}
	_ = json.Unmarshal([]byte(r.body), &in.raw)
	return r, in
}

// Official: InfoTest.test_basic.
func TestInfo(t *testing.T) {
	t.Parallel()
	r, in := getInfo(t, "/echo", h{"Origin": "test"})
	r.wantStatus(t, http.StatusOK)
	r.wantHeader(t, "Content-Type", ctJSON)
	r.wantNoCookie(t)
	r.wantNotCached(t)
	r.wantCORS(t, "test")
	if in.Websocket == nil || !*in.Websocket {
		t.Errorf("%s: websocket %v, want true (body %s)", r.req, in.Websocket, r.body)
	}
	if in.CookieNeeded == nil || *in.CookieNeeded {
		t.Errorf("%s: cookie_needed %v, want false (body %s)", r.req, in.CookieNeeded, r.body)
	}
	if len(in.Origins) != 1 || in.Origins[0] != "*:*" {
		t.Errorf(`%s: origins %q, want ["*:*"]`, r.req, in.Origins)
	}
	if e := in.Entropy; e == nil || *e != math.Trunc(*e) || *e < 0 || *e > math.MaxUint32 {
		t.Errorf("%s: entropy %v, want an integer in [0, 2^32-1] (body %s)", r.req, e, r.body)
	}
	for k := range in.raw {
		switch k {
		case "websocket", "cookie_needed", "origins", "entropy":
		default:
			t.Errorf("%s: unexpected field %q", r.req, k)
		}
	}
}

// SOCKJS.md: without Origin, /info answers Access-Control-Allow-Origin: *.
func TestInfoNoOrigin(t *testing.T) {
	t.Parallel()
	r, _ := getInfo(t, "/echo", nil)
	r.wantStatus(t, http.StatusOK)
	r.wantCORS(t, "")
}

// Official: InfoTest.test_entropy.
func TestInfoEntropy(t *testing.T) {
	t.Parallel()
	_, a := getInfo(t, "/echo", nil)
	_, b := getInfo(t, "/echo", nil)
	if a.Entropy == nil || b.Entropy == nil {
		t.Fatal("entropy missing")
	}
	if *a.Entropy == *b.Entropy {
		t.Errorf("two /info calls gave the same entropy %v", *a.Entropy)
	}
}

// Official: InfoTest.test_options_null_origin.
func TestInfoOptionsNullOrigin(t *testing.T) {
	t.Parallel()
	r := do(t, "OPTIONS", "/echo/info", h{"Origin": "null", "Access-Control-Request-Method": "POST"}, "")
	if r.status != http.StatusOK && r.status != http.StatusNoContent {
		t.Errorf("%s: status %d, want 200 or 204", r.req, r.status)
	}
	r.wantBody(t, "")
	r.wantHeader(t, "Access-Control-Allow-Origin", "null")
}

// Official: InfoTest.test_disabled_websocket.
func TestInfoDisabledWebsocket(t *testing.T) {
	t.Parallel()
	r, in := getInfo(t, "/disabled_websocket_echo", nil)
	r.wantStatus(t, http.StatusOK)
	if in.Websocket == nil || *in.Websocket {
		t.Errorf("%s: websocket %v, want false (body %s)", r.req, in.Websocket, r.body)
	}
}
