package gateway

import (
	"net/http"
	"strings"
)

// xhrStreamingPrelude is 2048 'h' bytes and a newline: enough for old
// browsers to start handing the response to the page.
var xhrStreamingPrelude = strings.Repeat("h", 2048) + "\n"

// serveXHRStreaming serves xhr streaming: a prelude, then frames each ending
// in "\n" until the response limit.
func (svc *service) serveXHRStreaming(w http.ResponseWriter, r *http.Request, sid string) {
	rw := newRespWriter(w)
	svc.receive(w, r, sid, receiving{
		transport: TransportXHRStreaming,
		streaming: true,
		start: func() error {
			svc.xhrHeaders(w, r)
			w.Header().Set("X-Accel-Buffering", "no")
			w.WriteHeader(http.StatusOK)
			_, err := rw.write(xhrStreamingPrelude, nil, "")
			return err
		},
		fw: frameWriterFunc(func(frame []byte) (int, error) {
			return rw.write("", frame, "\n")
		}),
	})
}
