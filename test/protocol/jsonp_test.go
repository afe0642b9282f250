package protocol

import (
	"net/http"
	"strings"
	"testing"
)

const formType = "application/x-www-form-urlencoded"

// jsonp does one jsonp poll with callback x and checks its body.
func jsonp(t *testing.T, s, want string) *response {
	t.Helper()
	r := do(t, "GET", s+"/jsonp?c=x", nil, "")
	r.wantStatus(t, http.StatusOK)
	r.wantBody(t, want)
	return r
}

// jsonpSend posts a form body to jsonp_send and checks the "ok".
func jsonpSend(t *testing.T, s, ctype, body string) *response {
	t.Helper()
	r := do(t, "POST", s+"/jsonp_send", h{"Content-Type": ctype}, body)
	r.wantStatus(t, http.StatusOK)
	r.wantBody(t, "ok")
	return r
}

// Official: JsonPolling.test_transport.
func TestJSONP(t *testing.T) {
	t.Parallel()
	s := sess("/echo")
	r := do(t, "GET", s+"/jsonp?c=%63allback", nil, "")
	r.wantStatus(t, http.StatusOK)
	r.wantHeader(t, "Content-Type", ctJavaScript)
	r.wantNotCached(t)
	r.wantBody(t, "/**/callback(\"o\");\r\n")

	r = jsonpSend(t, s, formType, "d=%5B%22x%22%5D")
	r.wantHeader(t, "Content-Type", ctPlain)
	r.wantNotCached(t)

	r = do(t, "GET", s+"/jsonp?c=%63allback", nil, "")
	r.wantStatus(t, http.StatusOK)
	r.wantBody(t, "/**/callback(\"a[\\\"x\\\"]\");\r\n")
}

// The reference server marks jsonp answers nosniff, so that a browser never
// runs them as anything but script.
func TestJSONPNosniff(t *testing.T) {
	t.Parallel()
	r := do(t, "GET", sess("/echo")+"/jsonp?c=x", nil, "")
	r.wantStatus(t, http.StatusOK)
	r.wantHeader(t, "X-Content-Type-Options", "nosniff")
}

// Official: JsonPolling.test_invalid_json.
func TestJSONPSendInvalid(t *testing.T) {
	t.Parallel()
	s := sess("/echo")
	jsonp(t, s, "/**/x(\"o\");\r\n")

	r := do(t, "POST", s+"/jsonp_send", h{"Content-Type": formType}, "d=%5B%22x")
	r.wantStatus(t, http.StatusInternalServerError)
	r.wantBody(t, "Broken JSON encoding.")

	for _, body := range []string{"", "d=", "p=p"} {
		r := do(t, "POST", s+"/jsonp_send", h{"Content-Type": formType}, body)
		r.wantStatus(t, http.StatusInternalServerError)
		r.wantBody(t, "Payload expected.")
	}

	jsonpSend(t, s, formType, "d=%5B%22b%22%5D")
	jsonp(t, s, "/**/x(\"a[\\\"b\\\"]\");\r\n")
}

// Official: JsonPolling.test_content_types.
func TestJSONPSendContentTypes(t *testing.T) {
	t.Parallel()
	s := sess("/echo")
	jsonp(t, s, "/**/x(\"o\");\r\n")
	jsonpSend(t, s, formType, "d=%5B%22abc%22%5D")
	jsonpSend(t, s, "text/plain", `["%61bc"]`)
	jsonp(t, s, "/**/x(\"a[\\\"abc\\\",\\\"%61bc\\\"]\");\r\n")
}

// Official: JsonPolling.test_close.
func TestJSONPClose(t *testing.T) {
	t.Parallel()
	s := sess("/close")
	jsonp(t, s, "/**/x(\"o\");\r\n")
	jsonp(t, s, "/**/x(\"c[3000,\\\"Go away!\\\"]\");\r\n")
	jsonp(t, s, "/**/x(\"c[3000,\\\"Go away!\\\"]\");\r\n")
}

// Official: JsonPolling.test_sending_empty_frame.
func TestJSONPSendEmptyFrame(t *testing.T) {
	t.Parallel()
	s := sess("/echo")
	jsonp(t, s, "/**/x(\"o\");\r\n")
	jsonpSend(t, s, formType, "d=%5B%5D")
	jsonpSend(t, s, formType, "d=%5B%22x%22%5D")
	jsonp(t, s, "/**/x(\"a[\\\"x\\\"]\");\r\n")
}

// SOCKJS.md: sending to an unknown session is 404.
func TestJSONPSendUnknownSession(t *testing.T) {
	t.Parallel()
	r := do(t, "POST", sess("/echo")+"/jsonp_send", h{"Content-Type": formType}, "d=%5B%22x%22%5D")
	r.wantStatus(t, http.StatusNotFound)
}

// SOCKJS.md: the form field may come among others and in any order; "+"
// and percent escapes decode as in any form.
func TestJSONPSendFormFields(t *testing.T) {
	t.Parallel()
	s := sess("/echo")
	jsonp(t, s, "/**/x(\"o\");\r\n")
	jsonpSend(t, s, formType, "a=1&d=%5B%22a+b%22%2C%22%C3%A9%22%5D&z=2")
	jsonp(t, s, "/**/x(\"a[\\\"a b\\\",\\\"\u00e9\\\"]\");\r\n")
}

// The reference server caps jsonp callback names at 32 characters.
func TestJSONPCallbackTooLong(t *testing.T) {
	t.Parallel()
	r := do(t, "GET", sess("/echo")+"/jsonp?c="+strings.Repeat("a", 33), nil, "")
	r.wantStatus(t, http.StatusInternalServerError)
	r.wantBody(t, `invalid "callback" parameter`)
	r = do(t, "GET", sess("/echo")+"/jsonp?c="+strings.Repeat("a", 32), nil, "")
	r.wantStatus(t, http.StatusOK)
}
