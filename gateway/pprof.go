package gateway

import (
	"net/http"
	"net/http/pprof"
	"strings"
)

// servePprof serves net/http/pprof's pages under /debug/pprof/ without
// registering them on http.DefaultServeMux.
func servePprof(w http.ResponseWriter, r *http.Request) {
	setNoCache(w.Header())
	switch name := strings.TrimPrefix(r.URL.Path, "/debug/pprof/"); name {
	case "cmdline":
		pprof.Cmdline(w, r)
	case "profile":
		pprof.Profile(w, r)
	case "symbol":
		pprof.Symbol(w, r)
	case "trace":
		pprof.Trace(w, r)
	case "":
		pprof.Index(w, r)
	default:
		pprof.Handler(name).ServeHTTP(w, r)
	}
}
