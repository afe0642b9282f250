package gateway

import (
	"crypto/sha256"
	"encoding/hex"
	"html"
	"net/http"
	"strconv"
	"strings"
)

// iframeTemplate is the bootstrap page sockjs-client loads in a hidden iframe
// for its iframe-based transports, exactly as the reference server serves it.
const iframeTemplate = `<!DOCTYPE html>
<html>
<head>
  <meta http-equiv="X-UA-Compatible" content="IE=edge" />
  <meta http-equiv="Content-Type" content="text/html; charset=UTF-8" />
  <script src="{{ sockjs_url }}"></script>
  <script>
    document.domain = document.domain;
    SockJS.bootstrap_iframe();
  </script>
</head>
<body>
  <h2>Don't panic!</h2>
  <p>This is a SockJS hidden iframe. It's used for cross domain magic.</p>
</body>
</html>`

// iframePage is a service's iframe page with its strong ETag.
type iframePage struct {
	body []byte
	etag string
}

func newIframePage(sockjsURL string) iframePage {
	body := strings.Replace(iframeTemplate, "{{ sockjs_url }}", html.EscapeString(sockjsURL), 1)
	sum := sha256.Sum256([]byte(body))
	return iframePage{body: []byte(body), etag: `"` + hex.EncodeToString(sum[:16]) + `"`}
}

// serveIframe answers /iframe.html and /iframe-<version>.html, cacheable for
// a year, with 304 for a client that has it already. Only pages of allowed
// origins may frame it (CSP frame-ancestors).
func (svc *service) serveIframe(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		methodNotAllowed(w, "GET")
		return
	}
	h := w.Header()
	setCacheForever(h)
	h.Set("ETag", svc.iframe.etag)
	h.Set("Content-Security-Policy", svc.srv.origins.csp)
	if inm := r.Header.Get("If-None-Match"); inm != "" && inm == svc.iframe.etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", contentTypeHTML)
	h.Set("Content-Length", strconv.Itoa(len(svc.iframe.body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(svc.iframe.body)
	}
}
