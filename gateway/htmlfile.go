package gateway

import (
	"net/http"
	"strings"

	"github.com/sockgate/sockgate/session/engine"
	"github.com/sockgate/sockgate/session/transport"
)

// htmlfileHead is the page that starts an htmlfile stream; {{callback}} is
// the validated callback name. It is padded to over 1 KiB so browsers start
// rendering at once.
const htmlfileHead = `<!doctype html>
<html><head>
  <meta http-equiv="X-UA-Compatible" content="IE=edge" />
  <meta http-equiv="Content-Type" content="text/html; charset=UTF-8" />
</head><body><h2>Don't panic!</h2>
  <script>
    document.domain = document.domain;
    var c = parent.{{callback}};
    c.start();
    function p(d) {c.message(d);};
    window.onload = function() {c.stop();};
  </script>`

// htmlfilePrelude renders the head for cb, padded and terminated.
func htmlfilePrelude(cb string) string {
	head := strings.Replace(htmlfileHead, "{{callback}}", cb, 1)
	pad := 1024 - len(head)
	if pad < 0 {
		pad = 0
	}
	return head + strings.Repeat(" ", pad+14) + "\r\n\r\n"
}

// serveHTMLFile serves the htmlfile transport: an HTML page that calls the
// parent's callback, then each frame as a <script> block.
func (svc *service) serveHTMLFile(w http.ResponseWriter, r *http.Request, sid string) {
	cb, err := callbackParam(r)
	if err != nil {
		writeText(w, http.StatusInternalServerError, err.Error())
		return
	}
	svc.receive(w, r, sid, streamReceiving(w, transport.HTMLFile, streamFraming{
		headers: func(h http.Header) {
			h.Set("Content-Type", contentTypeHTML)
			h.Set("X-Accel-Buffering", "no")
			setNoCache(h)
			svc.setCookie(w, r)
		},
		prelude: htmlfilePrelude(cb),
		frame: func(dst, frame []byte) []byte {
			dst = append(dst, "<script>\np("...)
			dst = append(dst, quoteForScript(frame)...)
			return append(dst, ");\n</script>\r\n"...)
		},
	}))
}

// quoteForScript quotes frame as a JavaScript string literal that is also
// safe inside an HTML <script> element ("<" is escaped, so a message cannot
// close the element).
func quoteForScript(frame []byte) []byte {
	q := engine.AppendQuoted(make([]byte, 0, len(frame)+16), string(frame))
	n := 0
	for _, c := range q {
		if c == '<' {
			n++
		}
	}
	if n == 0 {
		return q
	}
	out := make([]byte, 0, len(q)+5*n)
	for _, c := range q {
		if c == '<' {
			out = append(out, `\u003c`...)
			continue
		}
		out = append(out, c)
	}
	return out
}
