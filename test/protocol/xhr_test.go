package protocol

import (
	"net/http"
	"strings"
	"testing"
)

// poll does one xhr poll and checks it is a 200 with body want.
func poll(t *testing.T, s, want string) *response {
	t.Helper()
	r := do(t, "POST", s+"/xhr", nil, "")
	r.wantStatus(t, http.StatusOK)
	r.wantBody(t, want)
	return r
}

// xhrSend posts body to s's xhr_send and checks the 204.
func xhrSend(t *testing.T, s, body string) *response {
	t.Helper()
	r := do(t, "POST", s+"/xhr_send", nil, body)
	r.wantStatus(t, http.StatusNoContent)
	r.wantBody(t, "")
	return r
}

// Official: XhrPolling.test_transport.
func TestXHRPolling(t *testing.T) {
	t.Parallel()
	s := sess("/echo")
	r := do(t, "POST", s+"/xhr", h{"Origin": "test"}, "")
	r.wantStatus(t, http.StatusOK)
	r.wantBody(t, "o\n")
	r.wantHeader(t, "Content-Type", ctJavaScript)
	r.wantCORS(t, "test")
	r.wantNotCached(t)

	r = do(t, "POST", s+"/xhr_send", h{"Origin": "test"}, `["x"]`)
	r.wantStatus(t, http.StatusNoContent)
	r.wantBody(t, "")
	r.wantHeader(t, "Content-Type", ctPlain)
	r.wantCORS(t, "test")
	r.wantNotCached(t)

	poll(t, s, "a[\"x\"]\n")
}

// Official: Protocol.test_simpleSession (first half) and
// SessionURLs.test_ignoringServerId.
func TestXHRSimpleSession(t *testing.T) {
	t.Parallel()
	id := newSID()
	poll(t, "/echo/000/"+id, "o\n")
	xhrSend(t, "/echo/000/"+id, `["a"]`)
	poll(t, "/echo/999/"+id, "a[\"a\"]\n")
}

// Official: XhrPolling.test_invalid_session, Protocol.test_simpleSession.
func TestXHRSendUnknownSession(t *testing.T) {
	t.Parallel()
	for _, s := range []string{sess("/echo"), "/echo/000/bad_session"} {
		do(t, "POST", s+"/xhr_send", nil, `["x"]`).wantStatus(t, http.StatusNotFound)
	}
}

// Official: XhrPolling.test_invalid_json.
func TestXHRSendInvalidJSON(t *testing.T) {
	t.Parallel()
	s := sess("/echo")
	poll(t, s, "o\n")

	r := do(t, "POST", s+"/xhr_send", nil, `["x`)
	r.wantStatus(t, http.StatusInternalServerError)
	r.wantBody(t, "Broken JSON encoding.")

	r = do(t, "POST", s+"/xhr_send", nil, "")
	r.wantStatus(t, http.StatusInternalServerError)
	r.wantBody(t, "Payload expected.")

	xhrSend(t, s, `["a"]`)
	poll(t, s, "a[\"a\"]\n")
}

// The reference server (sockjs-node) refuses a payload that is valid JSON
// but not an array with 500 "Payload expected.".
func TestXHRSendNotAnArray(t *testing.T) {
	t.Parallel()
	s := sess("/echo")
	poll(t, s, "o\n")
	for _, body := range []string{`{}`, `"x"`, `null`} {
		r := do(t, "POST", s+"/xhr_send", nil, body)
		r.wantStatus(t, http.StatusInternalServerError)
		r.wantBody(t, "Payload expected.")
	}
}

// Official: XhrPolling.test_content_types.
func TestXHRSendContentTypes(t *testing.T) {
	t.Parallel()
	s := sess("/echo")
	poll(t, s, "o\n")
	ctypes := []string{"text/plain", "T", "application/json", "application/xml", "",
		"application/json; charset=utf-8", "text/xml; charset=utf-8", "text/xml"}
	for _, ct := range ctypes {
		r := do(t, "POST", s+"/xhr_send", h{"Content-Type": ct}, `["a"]`)
		r.wantStatus(t, http.StatusNoContent)
		r.wantBody(t, "")
	}
	want := "a[" + strings.Repeat(`"a",`, len(ctypes)-1) + `"a"]` + "\n"
	poll(t, s, want)
}

// Official: XhrPolling.test_sending_empty_frame.
func TestXHRSendEmptyFrame(t *testing.T) {
	t.Parallel()
	s := sess("/echo")
	poll(t, s, "o\n")
	xhrSend(t, s, "[]")
	xhrSend(t, s, `["a"]`)
	poll(t, s, "a[\"a\"]\n")
}

// SOCKJS.md: a path that matches with the wrong method is 405 with Allow and
// no body.
func TestXHRWrongMethod(t *testing.T) {
	t.Parallel()
	s := sess("/echo")
	for _, tr := range []string{"/xhr", "/xhr_send", "/xhr_streaming"} {
		do(t, "GET", s+tr, nil, "").want405(t, "POST")
	}
	do(t, "POST", s+"/eventsource", nil, "").want405(t, "GET")
	do(t, "POST", s+"/htmlfile?c=x", nil, "").want405(t, "GET")
	do(t, "POST", s+"/jsonp?c=x", nil, "").want405(t, "GET")
	do(t, "GET", s+"/jsonp_send", nil, "").want405(t, "POST")
}

// An unknown transport name is 404.
func TestUnknownTransport(t *testing.T) {
	t.Parallel()
	s := sess("/echo")
	for _, tr := range []string{"/xhr_stream", "/XHR", "/chunking_test", "/a"} {
		do(t, "POST", s+tr, nil, "").wantStatus(t, http.StatusNotFound)
		do(t, "GET", s+tr, nil, "").wantStatus(t, http.StatusNotFound)
	}
}
