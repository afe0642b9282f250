package gateway

import (
	"net/http"
	"strconv"
	"time"

	"github.com/sockgate/sockgate/session/transport"
)

// serveXHR serves xhr polling: one response per poll, its frames each ending
// in "\n".
func (svc *service) serveXHR(w http.ResponseWriter, r *http.Request, sid string) {
	svc.receive(w, r, sid, receiving{
		transport: transport.XHRPolling,
		start: func() error {
			svc.xhrHeaders(w, r)
			return nil
		},
		fw: frameWriterFunc(func(frame []byte) (int, error) {
			return writePoll(w, "", frame, "\n")
		}),
	})
}

// xhrHeaders sets what every xhr-family response carries.
func (svc *service) xhrHeaders(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h["Content-Type"] = hdrContentTypeJS
	setNoCache(h)
	setCORS(w, r)
	svc.setCookie(w, r)
}

// writePoll writes the one frame of a polling response, with its length.
// It does not flush: net/http sends the response when the handler returns.
// A small response gets no write deadline either (a client cannot have
// unread poll responses piling up in the socket: it polls again only once
// it read one, so a small response never waits for room); a large one
// does, so a client that stops reading cannot hold the goroutine.
func writePoll(w http.ResponseWriter, prefix string, frame []byte, suffix string) (int, error) {
	size := len(prefix) + len(frame) + len(suffix)
	w.Header()["Content-Length"] = []string{strconv.Itoa(size)}
	if size > smallPoll {
		_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(writeTimeout))
	}
	bp := bufPool.Get().(*[]byte)
	b := append((*bp)[:0], prefix...)
	b = append(b, frame...)
	b = append(b, suffix...)
	n, err := w.Write(b)
	if cap(b) <= 64*1024 {
		*bp = b[:0]
		bufPool.Put(bp)
	}
	return n, err
}

// smallPoll is the largest poll response written without a deadline: far
// below any socket's send buffer.
const smallPoll = 16 << 10

// frameWriterFunc adapts a function to frameWriter.
type frameWriterFunc func(frame []byte) (int, error)

func (f frameWriterFunc) writeFrame(frame []byte) (int, error) { return f(frame) }
