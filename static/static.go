// Package static serves sockgate's browser side: the chat page at "/", its
// script and style sheet, and the pinned sockjs-client build, all under
// /static/ and all embedded in the binary.
//
// The pinned sockjs-client build is committed in dist/ with its licence, so
// a module consumer (`go get`) embeds it without running anything. `make
// assets` (static/build.sh) checks that it is byte for byte the file of the
// npm package pinned in package-lock.json. Should the file be missing from a
// build, ClientPath answers 503 with an explanation.
package static

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"sync"
	"time"
)

// ClientPath is the URL path of the pinned sockjs-client build. The gateway
// serves the same build under every service prefix too (see Client), and
// every service's iframe page loads it from there, so the iframe and the
// page always run the same client version.
const ClientPath = "/static/sockjs.min.js"

// Cache lifetimes, as Cache-Control values.
const (
	// pageCache makes browsers revalidate the page and its own assets on
	// every load (cheap: a 304 on a matching ETag), so a new binary's page
	// shows at once.
	pageCache = "no-cache"
	// clientCache lets browsers keep the sockjs-client build for a day. Its
	// URL carries no version, so the lifetime stays short enough for an
	// upgrade to reach every browser soon.
	clientCache = "public, max-age=86400"
)

// contentSecurityPolicy allows the chat page only its own origin's scripts,
// styles, connections and frames, which is all sockjs-client needs when the
// page and the service share an origin (iframe transports frame
// /chat/iframe.html, jsonp-polling adds same-origin script tags and posts a
// form into a hidden frame).
// frame-ancestors 'self' keeps other sites from framing the page (click
// jacking); X-Frame-Options says the same to browsers older than CSP 2.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; " +
	"style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"frame-src 'self'; form-action 'self'; base-uri 'none'; object-src 'none'; " +
	"frame-ancestors 'self'"

// clientMissing is the body of the 503 answered for ClientPath when the
// binary was built without `make assets`.
const clientMissing = "sockjs-client is not embedded in this binary: " +
	"run `make assets` (static/build.sh), then rebuild sockgate"

//go:embed web all:dist
var files embed.FS

// asset is one embedded file ready to serve.
type asset struct {
	name         string // file name, for http.ServeContent
	contentType  string
	cacheControl string
	etag         string // quoted, strong
	body         []byte
}

// routes maps a URL path to the embedded file it serves.
var routes = []struct {
	path, file, contentType, cacheControl string
}{
	{"/", "web/index.html", "text/html; charset=UTF-8", pageCache},
	{"/static/app.js", "web/app.js", "application/javascript; charset=UTF-8", pageCache},
	{"/static/app.css", "web/app.css", "text/css; charset=UTF-8", pageCache},
	{ClientPath, "dist/sockjs.min.js", "application/javascript; charset=UTF-8", clientCache},
}

// loadAssets reads every routed file once. A file that is missing (only the
// sockjs-client build can be) has no entry.
var loadAssets = sync.OnceValue(func() map[string]*asset {
	assets := make(map[string]*asset, len(routes))
	for _, rt := range routes {
		body, err := fs.ReadFile(files, rt.file)
		if err != nil {
			continue
		}
		sum := sha256.Sum256(body)
		assets[rt.path] = &asset{
			name:         rt.file,
			contentType:  rt.contentType,
			cacheControl: rt.cacheControl,
			etag:         `"` + hex.EncodeToString(sum[:12]) + `"`,
			body:         body,
		}
	}
	return assets
})

// ClientBuilt reports whether the sockjs-client build was embedded, that is
// whether ClientPath serves it rather than a 503. cmd/sockgate may warn when
// it was not.
func ClientBuilt() bool {
	_, ok := loadAssets()[ClientPath]
	return ok
}

// Handler serves the chat page at "/", its script and style sheet under
// /static/, and the sockjs-client build at ClientPath (503 with a plain-text
// explanation if it was not embedded). Only GET and HEAD are allowed (405
// otherwise); any other path is 404. Responses carry a strong ETag and
// answer a matching If-None-Match with 304. The handler is safe for
// concurrent use.
func Handler() http.Handler {
	return handler(loadAssets())
}

// Client serves the pinned sockjs-client build, as ClientPath does, at
// whatever path it is mounted: the gateway mounts it under each service
// prefix too (<prefix>/sockjs.min.js), so that an iframe page reaches it
// where only the service prefix is proxied to the gateway.
func Client() http.Handler {
	assets := loadAssets()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r2 := *r
		u := *r.URL
		u.Path = ClientPath
		r2.URL = &u
		handler(assets).ServeHTTP(w, &r2)
	})
}

// handler serves a set of assets by URL path; ClientPath may be missing.
type handler map[string]*asset

// ServeHTTP implements http.Handler.
func (assets handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a, known := assets[r.URL.Path]
	if !known && r.URL.Path != ClientPath {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
		return
	}
	if !known {
		http.Error(w, clientMissing, http.StatusServiceUnavailable)
		return
	}
	h := w.Header()
	h.Set("Content-Type", a.contentType)
	h.Set("Cache-Control", a.cacheControl)
	h.Set("ETag", a.etag)
	h.Set("X-Content-Type-Options", "nosniff")
	if r.URL.Path == "/" {
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Frame-Options", "SAMEORIGIN")
		h.Set("Referrer-Policy", "same-origin")
	}
	http.ServeContent(w, r, a.name, time.Time{}, bytes.NewReader(a.body))
}
