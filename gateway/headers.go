package gateway

import (
	"net/http"
	"strconv"
	"time"
)

// Content types of SockJS responses.
const (
	contentTypeJS    = "application/javascript; charset=UTF-8"
	contentTypePlain = "text/plain; charset=UTF-8"
	contentTypeJSON  = "application/json; charset=UTF-8"
	contentTypeHTML  = "text/html; charset=UTF-8"
	contentTypeSSE   = "text/event-stream"
)

const (
	noCache = "no-store, no-cache, no-transform, must-revalidate, max-age=0"
	// oneYear is how long OPTIONS answers and the iframe page may be cached.
	oneYear = 365 * 24 * time.Hour
)

var oneYearSeconds = strconv.Itoa(int(oneYear / time.Second))

// Header values the hot paths set, one shared slice each: net/http only
// reads them, and assigning a canonical key directly saves an allocation
// and a canonicalization per header per request.
var (
	hdrNoCache       = []string{noCache}
	hdrContentTypeJS = []string{contentTypeJS}
	hdrContentTypeTx = []string{contentTypePlain}
	hdrOrigin        = []string{"Origin"}
	hdrAny           = []string{"*"}
	hdrTrue          = []string{"true"}
	hdrNo            = []string{"no"}
)

// setNoCache marks a dynamic response as never cacheable.
func setNoCache(h http.Header) {
	h["Cache-Control"] = hdrNoCache
}

// setCacheForever marks a static response (iframe page, OPTIONS) as
// cacheable for a year.
func setCacheForever(h http.Header) {
	h.Set("Cache-Control", "public, max-age="+oneYearSeconds)
	h.Set("Expires", time.Now().Add(oneYear).UTC().Format(http.TimeFormat))
}

// setCookie sets the JSESSIONID cookie in cookie-needed mode, echoing the
// client's own value when it sent one.
func (svc *service) setCookie(w http.ResponseWriter, r *http.Request) {
	if !svc.cfg.CookieNeeded {
		return
	}
	value := "dummy"
	if c, err := r.Cookie("JSESSIONID"); err == nil && c.Value != "" {
		value = c.Value
	}
	w.Header().Add("Set-Cookie", "JSESSIONID="+value+"; path=/")
}

// writeText answers with a short plain-text body.
func writeText(w http.ResponseWriter, status int, body string) {
	h := w.Header()
	h["Content-Type"] = hdrContentTypeTx
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

// methodNotAllowed answers 405 with an Allow header and no body.
func methodNotAllowed(w http.ResponseWriter, allow string) {
	w.Header().Set("Allow", allow)
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusMethodNotAllowed)
}
