package gateway

import (
	"net/http"
	"strconv"
)

// serveXHR serves xhr polling: one response per poll, its frames each ending
// in "\n".
func (svc *service) serveXHR(w http.ResponseWriter, r *http.Request, sid string) {
	rw := newRespWriter(w)
	svc.receive(w, r, sid, receiving{
		transport: TransportXHRPolling,
		start: func() error {
			svc.xhrHeaders(w, r)
			return nil
		},
		fw: frameWriterFunc(func(frame []byte) (int, error) {
			w.Header().Set("Content-Length", strconv.Itoa(len(frame)+1))
			return rw.write("", frame, "\n")
		}),
	})
}

// xhrHeaders sets what every xhr-family response carries.
func (svc *service) xhrHeaders(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", contentTypeJS)
	setNoCache(h)
	setCORS(w, r)
	svc.setCookie(w, r)
}

// frameWriterFunc adapts a function to frameWriter.
type frameWriterFunc func(frame []byte) (int, error)

func (f frameWriterFunc) writeFrame(frame []byte) (int, error) { return f(frame) }
