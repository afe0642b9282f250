package gateway

import (
	"net/http"
	"strings"

	"github.com/sockgate/sockgate/session/transport"
)

// xhrStreamingPrelude is 2048 'h' bytes and a newline: enough for old
// browsers to start handing the response to the page.
var xhrStreamingPrelude = strings.Repeat("h", 2048) + "\n"

// serveXHRStreaming serves xhr streaming: a prelude, then frames each ending
// in "\n" until the response limit.
func (svc *service) serveXHRStreaming(w http.ResponseWriter, r *http.Request, sid string) {
	svc.receive(w, r, sid, streamReceiving(w, transport.XHRStreaming, streamFraming{
		headers: func(h http.Header) {
			svc.xhrHeaders(w, r)
			h["X-Accel-Buffering"] = hdrNo
		},
		prelude: xhrStreamingPrelude,
		frame: func(dst, frame []byte) []byte {
			return append(append(dst, frame...), '\n')
		},
	}))
}
