package gateway

import (
	"net/http"

	"github.com/sockgate/sockgate/session/engine"
	"github.com/sockgate/sockgate/session/transport"
)

// serveJSONP serves jsonp polling: one "/**/cb("<frame>");\r\n" per poll.
func (svc *service) serveJSONP(w http.ResponseWriter, r *http.Request, sid string) {
	cb, err := callbackParam(r)
	if err != nil {
		writeText(w, http.StatusInternalServerError, err.Error())
		return
	}
	prefix := "/**/" + cb + "("
	svc.receive(w, r, sid, receiving{
		transport: transport.JSONP,
		start: func() error {
			h := w.Header()
			h.Set("Content-Type", contentTypeJS)
			h.Set("X-Content-Type-Options", "nosniff")
			setNoCache(h)
			svc.setCookie(w, r)
			return nil
		},
		fw: frameWriterFunc(func(frame []byte) (int, error) {
			q := engine.AppendQuoted(make([]byte, 0, len(frame)+16), string(frame))
			return writePoll(w, prefix, q, ");\r\n")
		}),
	})
}
