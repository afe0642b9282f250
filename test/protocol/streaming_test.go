package protocol

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// prelude is the xhr_streaming prelude: 2 KiB of "h" and a newline.
var prelude = strings.Repeat("h", 2048) + "\n"

// Official: XhrStreaming.test_transport.
func TestXHRStreaming(t *testing.T) {
	t.Parallel()
	s := sess("/echo")
	st := open(t, "POST", s+"/xhr_streaming", h{"Origin": "test"}, "")
	st.resp.wantStatus(t, http.StatusOK)
	st.resp.wantHeader(t, "Content-Type", ctJavaScript)
	st.resp.wantCORS(t, "test")
	st.resp.wantNotCached(t)
	st.resp.wantNoHeader(t, "Content-Length")
	eq(t, "xhr_streaming prelude", st.readN(2049), prelude)
	eq(t, "xhr_streaming", st.readUntil("\n"), "o\n")
	xhrSend(t, s, `["x"]`)
	eq(t, "xhr_streaming", st.readUntil("\n"), "a[\"x\"]\n")
	st.close()
}

// Official: XhrStreaming.test_response_limit. The /echo service has a
// 4096-byte limit counted over the frames (not the prelude): after 30
// frames of 134 bytes (4022 with "o\n") the stream is open, after 31 it ends.
func TestXHRStreamingResponseLimit(t *testing.T) {
	t.Parallel()
	s := sess("/echo")
	st := open(t, "POST", s+"/xhr_streaming", nil, "")
	st.resp.wantStatus(t, http.StatusOK)
	eq(t, "xhr_streaming prelude", st.readN(2049), prelude)
	eq(t, "xhr_streaming", st.readUntil("\n"), "o\n")
	msg := `"` + strings.Repeat("x", 128) + `"`
	for range 31 {
		xhrSend(t, s, "["+msg+"]")
		eq(t, "xhr_streaming", st.readUntil("\n"), "a["+msg+"]\n")
	}
	st.wantEOF()
	// The session lives on: the next request gets what was sent meanwhile.
	xhrSend(t, s, `["after"]`)
	poll(t, s, "a[\"after\"]\n")
}

// Official: EventSource.test_transport.
func TestEventSource(t *testing.T) {
	t.Parallel()
	s := sess("/echo")
	st := open(t, "GET", s+"/eventsource", nil, "")
	st.resp.wantStatus(t, http.StatusOK)
	st.resp.wantHeader(t, "Content-Type", ctEventSrc)
	st.resp.wantNotCached(t)
	st.resp.wantNoHeader(t, "Content-Length")
	eq(t, "eventsource prelude", st.readN(2), "\r\n")
	eq(t, "eventsource", st.readUntil("\r\n\r\n"), "data: o\r\n\r\n")
	xhrSend(t, s, `["x"]`)
	eq(t, "eventsource", st.readUntil("\r\n\r\n"), "data: a[\"x\"]\r\n\r\n")
	xhrSend(t, s, `["  \u0000\n\r "]`)
	eq(t, "eventsource", st.readUntil("\r\n\r\n"), `data: a["  \u0000\n\r "]`+"\r\n\r\n")
	st.close()
}

// SOCKJS.md: sockjs-client decodes eventsource data with decodeURI, so "%"
// must reach it as "%25" (the reference server escapes %, \r, \n and NUL).
func TestEventSourcePercentEscaped(t *testing.T) {
	t.Parallel()
	s := sess("/echo")
	st := open(t, "GET", s+"/eventsource", nil, "")
	st.readN(2)
	eq(t, "eventsource", st.readUntil("\r\n\r\n"), "data: o\r\n\r\n")
	xhrSend(t, s, `["%61bc 100%"]`)
	eq(t, "eventsource", st.readUntil("\r\n\r\n"), `data: a["%2561bc 100%25"]`+"\r\n\r\n")
	st.close()
}

// Official: EventSource.test_response_limit.
func TestEventSourceResponseLimit(t *testing.T) {
	t.Parallel()
	s := sess("/echo")
	st := open(t, "GET", s+"/eventsource", nil, "")
	st.resp.wantStatus(t, http.StatusOK)
	eq(t, "eventsource prelude", st.readN(2), "\r\n")
	eq(t, "eventsource", st.readUntil("\r\n\r\n"), "data: o\r\n\r\n")
	msg := `"` + strings.Repeat("x", 4096) + `"`
	xhrSend(t, s, "["+msg+"]")
	eq(t, "eventsource", st.readUntil("\r\n\r\n"), "data: a["+msg+"]\r\n\r\n")
	st.wantEOF()
}

// htmlfileHead is the htmlfile page before its padding, as the reference
// server sends it.
const htmlfileHead = `<!doctype html>
<html><head>
  <meta http-equiv="X-UA-Compatible" content="IE=edge" />
  <meta http-equiv="Content-Type" content="text/html; charset=UTF-8" />
</head><body><h2>Don't panic!</h2>
  <script>
    document.domain = document.domain;
    var c = parent.%s;
    c.start();
    function p(d) {c.message(d);};
    window.onload = function() {c.stop();};
  </script>`

// openHTMLFile opens an htmlfile stream with callback cb and checks its head.
func openHTMLFile(t *testing.T, path, cb string) *stream {
	t.Helper()
	st := open(t, "GET", path, nil, "")
	st.resp.wantStatus(t, http.StatusOK)
	st.resp.wantHeader(t, "Content-Type", ctHTML)
	st.resp.wantNotCached(t)
	first := st.readUntil(`<script>` + "\n" + `p("o");` + "\n" + `</script>` + "\r\n")
	head := strings.TrimSuffix(first, "<script>\np(\"o\");\n</script>\r\n")
	eq(t, "htmlfile head", strings.TrimSpace(head), strings.Replace(htmlfileHead, "%s", cb, 1))
	if len(head) <= 1024 {
		t.Errorf("htmlfile head is %d bytes, want more than 1024 (IE needs the padding)", len(head))
	}
	return st
}

// Official: HtmlFile.test_transport.
func TestHTMLFile(t *testing.T) {
	t.Parallel()
	s := sess("/echo")
	st := openHTMLFile(t, s+"/htmlfile?c=%63allback", "callback")
	xhrSend(t, s, `["x"]`)
	eq(t, "htmlfile", st.readUntil("</script>\r\n"), "<script>\np(\"a[\\\"x\\\"]\");\n</script>\r\n")
	st.close()
}

// SOCKJS.md: a frame is JSON-quoted inside a script element, so a message
// holding "</script>" must not end the element early: any JSON escape of
// "<" or "/" that the page's JavaScript decodes back is fine.
func TestHTMLFileScriptEscape(t *testing.T) {
	t.Parallel()
	s := sess("/echo")
	st := openHTMLFile(t, s+"/htmlfile?c=cb", "cb")
	xhrSend(t, s, `["</script><script>alert(1)</script>"]`)
	got := st.readUntil(");\n</script>\r\n")
	lit, ok := strings.CutPrefix(got, "<script>\np(")
	lit, ok2 := strings.CutSuffix(lit, ");\n</script>\r\n")
	if !ok || !ok2 {
		t.Fatalf("htmlfile frame %q is not <script>\\np(...);\\n</script>\\r\\n", got)
	}
	if strings.Contains(strings.ToLower(lit), "</script") {
		t.Errorf("htmlfile frame %q carries a raw </script> that ends the element", got)
	}
	var frame string
	if err := json.Unmarshal([]byte(lit), &frame); err != nil {
		t.Fatalf("htmlfile frame argument %q is not a JSON string: %v", lit, err)
	}
	eq(t, "htmlfile frame decoded", frame, `a["</script><script>alert(1)</script>"]`)
	st.close()
}

// Official: HtmlFile.test_response_limit.
func TestHTMLFileResponseLimit(t *testing.T) {
	t.Parallel()
	s := sess("/echo")
	st := openHTMLFile(t, s+"/htmlfile?c=callback", "callback")
	msg := strings.Repeat("x", 4096)
	xhrSend(t, s, `["`+msg+`"]`)
	eq(t, "htmlfile", st.readUntil("</script>\r\n"), "<script>\np(\"a[\\\""+msg+"\\\"]\");\n</script>\r\n")
	st.wantEOF()
}

// Official: HtmlFile.test_no_callback, JsonPolling.test_no_callback.
func TestCallbackRequired(t *testing.T) {
	t.Parallel()
	for _, tr := range []string{"/htmlfile", "/jsonp"} {
		r := do(t, "GET", "/echo/a/a"+tr, nil, "")
		r.wantStatus(t, http.StatusInternalServerError)
		r.wantBody(t, `"callback" parameter required`)
	}
}

// Official: HtmlFile.test_invalid_callback, JsonPolling.test_invalid_callback.
func TestCallbackInvalid(t *testing.T) {
	t.Parallel()
	for _, tr := range []string{"/htmlfile", "/jsonp"} {
		for _, cb := range []string{"%20", "*", "abc(", "abc%28", "a;b", "a%0Ab", "%3Cscript%3E", "%C3%A9"} {
			r := do(t, "GET", "/echo/a/a"+tr+"?c="+cb, nil, "")
			r.wantStatus(t, http.StatusInternalServerError)
			r.wantBody(t, `invalid "callback" parameter`)
		}
	}
}

// SOCKJS.md: callbacks made of [a-zA-Z0-9-_.] are accepted.
func TestCallbackValid(t *testing.T) {
	t.Parallel()
	st := openHTMLFile(t, sess("/echo")+"/htmlfile?c=a-Z_0.9", "a-Z_0.9")
	st.close()
	r := do(t, "GET", sess("/echo")+"/jsonp?c=a-Z_0.9", nil, "")
	r.wantStatus(t, http.StatusOK)
	r.wantBody(t, "/**/a-Z_0.9(\"o\");\r\n")
}
