package gateway

import (
	"net/http"
)

// setCORS adds the CORS headers every XHR-family response carries: the
// request's Origin echoed with credentials allowed ("null" stays "null"), or
// "*" without credentials when there is no Origin,
// and the requested headers allowed.
func setCORS(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	if len(h["Vary"]) == 0 {
		h["Vary"] = hdrOrigin
	} else {
		h.Add("Vary", "Origin")
	}
	if origin := r.Header["Origin"]; len(origin) > 0 && origin[0] != "" {
		h["Access-Control-Allow-Origin"] = origin[:1:1] // the request's own slice, read only
		h["Access-Control-Allow-Credentials"] = hdrTrue
	} else {
		h["Access-Control-Allow-Origin"] = hdrAny
	}
	if req := r.Header.Get("Access-Control-Request-Headers"); req != "" {
		h.Set("Access-Control-Allow-Headers", req)
	}
}

// preflight answers an OPTIONS request for a resource that allows methods.
func preflight(w http.ResponseWriter, r *http.Request, methods string) {
	setCORS(w, r)
	h := w.Header()
	setCacheForever(h)
	h.Set("Access-Control-Max-Age", oneYearSeconds)
	h.Set("Access-Control-Allow-Methods", methods)
	w.WriteHeader(http.StatusNoContent)
}
