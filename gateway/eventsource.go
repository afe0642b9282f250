package gateway

import (
	"net/http"

	"github.com/sockgate/sockgate/session/transport"
)

// serveEventSource serves the eventsource transport: a "\r\n" prelude, then
// each frame as "data: <frame>\r\n\r\n" until the response limit.
func (svc *service) serveEventSource(w http.ResponseWriter, r *http.Request, sid string) {
	svc.receive(w, r, sid, streamReceiving(w, transport.EventSource, streamFraming{
		headers: func(h http.Header) {
			h.Set("Content-Type", contentTypeSSE)
			h.Set("X-Accel-Buffering", "no")
			setNoCache(h)
			setCORS(w, r) // EventSource across origins needs it
			svc.setCookie(w, r)
		},
		prelude: "\r\n",
		frame: func(dst, frame []byte) []byte {
			dst = append(dst, "data: "...)
			dst = append(dst, escapeEventSource(frame)...)
			return append(dst, "\r\n\r\n"...)
		},
	}))
}

// escapeEventSource percent-escapes '%', '\r', '\n' and NUL, which would
// break the event stream; sockjs-client undoes it.
func escapeEventSource(frame []byte) []byte {
	n := 0
	for _, c := range frame {
		if c == '%' || c == '\r' || c == '\n' || c == 0 {
			n++
		}
	}
	if n == 0 {
		return frame
	}
	out := make([]byte, 0, len(frame)+2*n)
	for _, c := range frame {
		switch c {
		case '%':
			out = append(out, "%25"...)
		case '\r':
			out = append(out, "%0D"...)
		case '\n':
			out = append(out, "%0A"...)
		case 0:
			out = append(out, "%00"...)
		default:
			out = append(out, c)
		}
	}
	return out
}
