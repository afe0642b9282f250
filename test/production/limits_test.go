package production

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sockgate/sockgate/gateway"
	"github.com/sockgate/sockgate/session"
	"github.com/sockgate/sockgate/test/sockjsclient"
)

// formHeader marks a jsonp_send body as a form.
var formHeader = http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}

// An xhr_send or jsonp_send body over MaxMessageBytes is 413 "Payload too
// large." and the session carries on.
func TestLimitSendBodyTooLarge(t *testing.T) {
	t.Parallel()
	svc := echoService("/echo")
	svc.MaxMessageBytes = 64
	srv := startGateway(t, gateway.Config{Services: []gateway.Service{svc}})
	sess := srv.URL() + "/echo/000/big"
	big := `["` + strings.Repeat("x", 100) + `"]`

	do(t, http.MethodPost, sess+"/xhr", nil, "").want(t, http.StatusOK, "o\n")
	do(t, http.MethodPost, sess+"/xhr_send", nil, big).want(t, http.StatusRequestEntityTooLarge, "Payload too large.")
	do(t, http.MethodPost, sess+"/jsonp_send", formHeader, "d="+big).want(t, http.StatusRequestEntityTooLarge, "Payload too large.")
	do(t, http.MethodPost, sess+"/jsonp_send", nil, big).want(t, http.StatusRequestEntityTooLarge, "Payload too large.")
	// Exactly at the limit is fine.
	atLimit := `["` + strings.Repeat("y", 60) + `"]`
	do(t, http.MethodPost, sess+"/xhr_send", nil, atLimit).want(t, http.StatusNoContent, "")
	do(t, http.MethodPost, sess+"/xhr_send", nil, `["after"]`).want(t, http.StatusNoContent, "")
	do(t, http.MethodPost, sess+"/jsonp_send", formHeader, `d=["after2"]`).want(t, http.StatusOK, "ok")
	want := `a["` + strings.Repeat("y", 60) + `","after","after2"]` + "\n"
	do(t, http.MethodPost, sess+"/xhr", nil, "").want(t, http.StatusOK, want)
}

// A websocket message over MaxMessageBytes ends the session with 1009:
// the SockJS close frame c[1009,"Message too big"] (what sockjs-client
// reports to the page) and the websocket close code 1009.
func TestLimitWebsocketMessageTooBig(t *testing.T) {
	t.Parallel()
	svc := echoService("/echo")
	svc.MaxMessageBytes = 1024
	srv := startGateway(t, gateway.Config{Services: []gateway.Service{svc}})

	t.Run("sockjs websocket", func(t *testing.T) {
		c, _, err := dialWS(srv.URL()+"/echo/000/big/websocket", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if got := readWS(t, c); got != "o" {
			t.Fatalf("first frame %q", got)
		}
		writeWS(t, c, `["`+strings.Repeat("x", 2000)+`"]`)
		msgs, err := readUntilClose(c)
		if code := wsCloseCode(err); code != 1009 {
			t.Errorf("websocket ended with %v, want close code 1009", err)
		}
		if len(msgs) == 0 || msgs[len(msgs)-1] != `c[1009,"Message too big"]` {
			t.Errorf("frames before the close %q, want the last to be c[1009,\"Message too big\"]", msgs)
		}
	})
	t.Run("raw websocket", func(t *testing.T) {
		c, _, err := dialWS(srv.URL()+"/echo/websocket", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		writeWS(t, c, strings.Repeat("x", 2000))
		if _, err := readUntilClose(c); wsCloseCode(err) != 1009 {
			t.Errorf("raw websocket ended with %v, want close code 1009", err)
		}
	})
}

// MaxSessions bounds sessions in total: the next one gets 503 with
// Retry-After, on HTTP and websocket alike, and its place comes back when a
// session ends.
func TestLimitMaxSessions(t *testing.T) {
	t.Parallel()
	svc := echoService("/echo")
	svc.DisconnectDelay = 300 * time.Millisecond
	srv := startGateway(t, gateway.Config{MaxSessions: 2, Services: []gateway.Service{svc}})
	u := srv.URL()
	const refusal = `sockgate_refusals_total{cause="session_limit"}`

	do(t, http.MethodPost, u+"/echo/000/s1/xhr", nil, "").want(t, http.StatusOK, "o\n")
	ws, _, err := dialWS(u+"/echo/000/s2/websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := readWS(t, ws); got != "o" {
		t.Fatalf("websocket first frame %q", got)
	}
	wantBusy(t, do(t, http.MethodPost, u+"/echo/000/s3/xhr", nil, ""))
	_, resp, err := dialWS(u+"/echo/000/s3/websocket", nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("third websocket: %v %v, want 503 with Retry-After", err, resp)
	}
	_, resp, err = dialWS(u+"/echo/websocket", nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("third raw websocket: %v %v, want 503", err, resp)
	}
	if got := metric(t, u+"/metrics", refusal); got != 3 {
		t.Errorf("%s = %v, want 3", refusal, got)
	}
	// A websocket session gives its place back when its connection ends.
	ws.Close()
	eventually(t, "a place after the websocket closed", func() bool {
		return tryOpen(t, u+"/echo/000/s4/xhr")
	})
	// A polling session gives it back when it times out (s1, s4 unpolled).
	eventually(t, "a place after a polling session timed out", func() bool {
		return tryOpen(t, u+"/echo/000/s5/xhr")
	})
}

// MaxSessionsPerIP bounds sessions per client address.
func TestLimitMaxSessionsPerIP(t *testing.T) {
	t.Parallel()
	svc := echoService("/echo")
	svc.DisconnectDelay = 300 * time.Millisecond
	srv := startGateway(t, gateway.Config{MaxSessionsPerIP: 1, Services: []gateway.Service{svc}})
	u := srv.URL()
	do(t, http.MethodPost, u+"/echo/000/p1/xhr", nil, "").want(t, http.StatusOK, "o\n")
	wantBusy(t, do(t, http.MethodPost, u+"/echo/000/p2/xhr", nil, ""))
	// Requests on the session it already has are not new sessions.
	do(t, http.MethodPost, u+"/echo/000/p1/xhr_send", nil, `["m"]`).want(t, http.StatusNoContent, "")
	do(t, http.MethodPost, u+"/echo/000/p1/xhr", nil, "").want(t, http.StatusOK, `a["m"]`+"\n")
	if got := metric(t, u+"/metrics", `sockgate_refusals_total{cause="ip_limit"}`); got != 1 {
		t.Errorf("ip_limit refusals = %v, want 1", got)
	}
	eventually(t, "the place of the timed-out session", func() bool {
		return tryOpen(t, u+"/echo/000/p3/xhr")
	})
}

// wantBusy checks the answer to a refused new session.
func wantBusy(t *testing.T, r response) {
	t.Helper()
	r.want(t, http.StatusServiceUnavailable, "Server busy, try again later.")
	r.wantHeader(t, "Retry-After", "5")
}

// tryOpen opens a polling session: true on "o", false on 503.
func tryOpen(t *testing.T, url string) bool {
	t.Helper()
	r := do(t, http.MethodPost, url, nil, "")
	switch {
	case r.status == http.StatusOK && r.body == "o\n":
		return true
	case r.status == http.StatusServiceUnavailable:
		return false
	}
	t.Fatalf("%s: %d %q", r.req, r.status, r.body)
	return false
}

// Server and session ids are bounded by MaxSessionIDLength (128).
func TestLimitSessionIDLength(t *testing.T) {
	t.Parallel()
	srv := startGateway(t, gateway.Config{Services: []gateway.Service{echoService("/echo")}})
	u := srv.URL() + "/echo/"
	long := strings.Repeat("s", 10000)
	id128, id129 := strings.Repeat("a", 128), strings.Repeat("b", 129)
	const invalid = "Invalid session id."
	do(t, http.MethodPost, u+"000/"+long+"/xhr", nil, "").want(t, http.StatusBadRequest, invalid)
	do(t, http.MethodPost, u+long+"/sid/xhr", nil, "").want(t, http.StatusBadRequest, invalid)
	do(t, http.MethodPost, u+"000/"+long+"/xhr_send", nil, `["x"]`).want(t, http.StatusBadRequest, invalid)
	do(t, http.MethodGet, u+"000/"+long+"/eventsource", nil, "").want(t, http.StatusBadRequest, invalid)
	do(t, http.MethodPost, u+"000/"+id129+"/xhr", nil, "").want(t, http.StatusBadRequest, invalid)
	do(t, http.MethodPost, u+"000/"+id128+"/xhr", nil, "").want(t, http.StatusOK, "o\n")
	_, resp, err := dialWS(u+"000/"+long+"/websocket", nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusBadRequest {
		t.Errorf("websocket with a 10,000-character id: %v %v, want 400", err, resp)
	}
	if got := metric(t, srv.URL()+"/metrics", `sockgate_refusals_total{cause="bad_session_id"}`); got != 6 {
		t.Errorf("bad_session_id refusals = %v, want 6", got)
	}
}

// A client over MaxMessagesPerSecond is closed with c[3009,"Rate limit
// exceeded"], on polling and websocket transports. The send request that
// trips the limit is answered like any send (204): sockjs-client turns a
// failed xhr_send into its own close 1006 "Sending error", which would hide
// the 3009 from the page.
func TestLimitMessagesPerSecond(t *testing.T) {
	t.Parallel()
	svc := echoService("/echo")
	svc.MaxMessagesPerSecond = 5
	srv := startGateway(t, gateway.Config{Services: []gateway.Service{svc}})
	u := srv.URL()

	t.Run("xhr_send of 10 messages → 204, then c[3009]", func(t *testing.T) {
		sess := u + "/echo/000/rate/xhr"
		do(t, http.MethodPost, sess, nil, "").want(t, http.StatusOK, "o\n")
		r := do(t, http.MethodPost, u+"/echo/000/rate/xhr_send", nil, `["1","2","3","4","5","6","7","8","9","10"]`)
		r.want(t, http.StatusNoContent, "")
		do(t, http.MethodPost, sess, nil, "").want(t, http.StatusOK, `c[3009,"Rate limit exceeded"]`+"\n")
	})
	for _, tr := range []string{sockjsclient.TransportWebsocket, sockjsclient.TransportXHRPolling} {
		t.Run(tr+" one message at a time → c[3009]", func(t *testing.T) {
			c := dial(t, u+"/echo", sockjsclient.Options{Transport: tr})
			for i := range 20 {
				if err := c.Send("m"); err != nil {
					t.Logf("send %d: %v", i, err)
					break
				}
			}
			wantClose(t, c, session.CodeRateLimited, session.ReasonRateLimited)
		})
	}
}

// A session whose client never polls while its handler sends is closed
// with 3008 once its queue passes MaxQueueBytes; the handler's Send says
// so and the slow-client counter counts it.
func TestLimitQueueSlowClient(t *testing.T) {
	t.Parallel()
	result := make(chan error, 1)
	flood := gateway.Service{
		Prefix: "/flood", DisconnectDelay: testDisconnect, MaxQueueBytes: 4096,
		Handler: func(ctx context.Context, s session.Session) {
			result <- floodUntilError(s, strings.Repeat("z", 100), 1<<20)
		},
	}
	srv := startGateway(t, gateway.Config{Services: []gateway.Service{flood}})
	u := srv.URL()
	metrics := u + "/metrics"
	do(t, http.MethodPost, u+"/flood/000/slow/xhr", nil, "").want(t, http.StatusOK, "o\n")
	select {
	case err := <-result:
		if !errors.Is(err, session.ErrQueueFull) {
			t.Fatalf("flooding handler's Send ended with %v, want ErrQueueFull", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("flooding handler never stopped")
	}
	do(t, http.MethodPost, u+"/flood/000/slow/xhr", nil, "").want(t, http.StatusOK, `c[3008,"Slow client"]`+"\n")
	if got := metric(t, metrics, "sockgate_slow_client_closes_total"); got != 1 {
		t.Errorf("sockgate_slow_client_closes_total = %v, want 1", got)
	}
	if got := metric(t, metrics, `sockgate_sessions_closed_total{code="3008",reason="Slow client"}`); got != 1 {
		t.Errorf("sessions closed with 3008 = %v, want 1", got)
	}
}

// floodUntilError sends msg until Send fails or total bytes went out, and
// returns Send's error (nil if it never failed).
func floodUntilError(s session.Session, msg string, total int) error {
	for sent := 0; sent < total; sent += len(msg) {
		if err := s.Send(msg); err != nil {
			return err
		}
	}
	return nil
}
