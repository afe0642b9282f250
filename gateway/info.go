package gateway

import (
	"math/rand/v2"
	"net/http"
	"strconv"

	"github.com/sockgate/sockgate/session/transport"
)

// serveInfo answers /info: what the client may use, and fresh entropy.
func (svc *service) serveInfo(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
	case http.MethodOptions:
		preflight(w, r, "OPTIONS, GET")
		return
	default:
		methodNotAllowed(w, "OPTIONS, GET")
		return
	}
	b := make([]byte, 0, 96)
	b = append(b, `{"websocket":`...)
	b = strconv.AppendBool(b, !svc.off[transport.Websocket])
	b = append(b, `,"cookie_needed":`...)
	b = strconv.AppendBool(b, svc.cfg.CookieNeeded)
	b = append(b, `,"origins":["*:*"],"entropy":`...)
	b = strconv.AppendUint(b, uint64(rand.Uint32()), 10)
	b = append(b, '}')
	setCORS(w, r)
	h := w.Header()
	setNoCache(h)
	h.Set("Content-Type", contentTypeJSON)
	h.Set("Content-Length", strconv.Itoa(len(b)))
	_, _ = w.Write(b)
}
