package e2e

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/sockgate/sockgate/test/sockjsclient"
)

// badRequest is a malformed request and the exact answer SOCKJS.md wants.
type badRequest struct {
	name        string
	method      string
	path        string // after the session URL ("/000/<id>"); "" for none
	liveSession bool   // open the session with a poll first
	contentType string
	body        string
	status      int
	wantBody    string // exact, when status is not 405
	// compat is the answer sockjs-go was observed to give instead; the
	// compat engine skips when it still answers exactly that.
	compat *observed
}

type observed struct {
	status int
	body   string
}

var badRequests = []badRequest{
	{name: "xhr_send-broken-json", method: "POST", path: "/xhr_send", liveSession: true,
		body: `["x",`, status: 500, wantBody: "Broken JSON encoding.",
		compat: &observed{400, "Broken JSON encoding."}},
	{name: "xhr_send-not-an-array", method: "POST", path: "/xhr_send", liveSession: true,
		body: `{"x":1}`, status: 500, wantBody: "Payload expected.", // as sockjs-node
		compat: &observed{204, ""}},
	{name: "xhr_send-empty-body", method: "POST", path: "/xhr_send", liveSession: true,
		status: 500, wantBody: "Payload expected.", compat: &observed{400, "Payload expected."}},
	{name: "xhr_send-unknown-session", method: "POST", path: "/xhr_send", body: `["x"]`, status: 404},
	{name: "jsonp_send-broken-json", method: "POST", path: "/jsonp_send", liveSession: true,
		contentType: "application/x-www-form-urlencoded", body: "d=%5B%22x", status: 500, wantBody: "Broken JSON encoding.",
		compat: &observed{400, "Broken JSON encoding.\n"}},
	{name: "jsonp_send-empty-body", method: "POST", path: "/jsonp_send", liveSession: true,
		contentType: "application/x-www-form-urlencoded", status: 500, wantBody: "Payload expected.",
		compat: &observed{400, "Payload expected.\n"}},
	{name: "jsonp_send-unknown-session", method: "POST", path: "/jsonp_send",
		contentType: "application/x-www-form-urlencoded", body: "d=%5B%22x%22%5D", status: 404},
	{name: "jsonp-invalid-callback", method: "GET", path: "/jsonp?c=%3Cscript%3E", status: 500, wantBody: `invalid "callback" parameter`,
		compat: &observed{400, "invalid character in \"callback\" parameter\n"}},
	{name: "htmlfile-invalid-callback", method: "GET", path: "/htmlfile?c=a%20b", status: 500, wantBody: `invalid "callback" parameter`,
		compat: &observed{400, "invalid character in \"callback\" parameter\n"}},
	{name: "jsonp-missing-callback", method: "GET", path: "/jsonp", status: 500, wantBody: `"callback" parameter required`,
		compat: &observed{500, "\"callback\" parameter required\n"}},
	{name: "xhr-get", method: "GET", path: "/xhr", status: 405},
	{name: "xhr_send-get", method: "GET", path: "/xhr_send", status: 405},
	{name: "xhr_streaming-get", method: "GET", path: "/xhr_streaming", status: 405},
	{name: "eventsource-post", method: "POST", path: "/eventsource", status: 405},
	{name: "jsonp_send-get", method: "GET", path: "/jsonp_send", status: 405},
	{name: "websocket-post", method: "POST", path: "/websocket", status: 405},
}

// TestBadInput sends malformed requests: TestBadInput/<engine>/http/<case>.
func TestBadInput(t *testing.T) {
	t.Parallel()
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			e := startGateway(t, engine)
			for _, br := range badRequests {
				t.Run("http/"+br.name, func(t *testing.T) {
					t.Parallel()
					testBadRequest(t, e, br)
				})
			}
		})
	}
}

func testBadRequest(t *testing.T, e *env, br badRequest) {
	p := newRawPoller(e, "/echo", sockjsclient.TransportXHRPolling)
	if br.liveSession {
		frames, err := p.poll(ctxT(t))
		wantFrames(t, frames, err, "o")
	}
	r := do(t, br.method, p.sessionURL+br.path, br.contentType, br.body)
	if br.compat != nil && r.status == br.compat.status && r.body == br.compat.body {
		skipCompat(t, e, fmt.Sprintf("%s %s answers HTTP %d %q; SOCKJS.md wants %d %q",
			br.method, br.path, r.status, r.body, br.status, br.wantBody))
	}
	if r.status != br.status {
		t.Fatalf("%s %s: HTTP %d %q; want %d %q", br.method, br.path, r.status, r.body, br.status, br.wantBody)
	}
	switch br.status {
	case http.StatusMethodNotAllowed:
		if r.header.Get("Allow") == "" || r.body != "" {
			t.Fatalf("405 with Allow %q and body %q; want an Allow header and no body", r.header.Get("Allow"), r.body)
		}
	case http.StatusNotFound:
	default:
		if r.body != br.wantBody {
			t.Fatalf("body %q; want %q", r.body, br.wantBody)
		}
	}
}
