package production

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sockgate/sockgate/gateway"
	"github.com/sockgate/sockgate/test/sockjsclient"
)

// hostile is the server every hostile case runs against.
type hostile struct {
	url  string // http://127.0.0.1:port
	addr string // 127.0.0.1:port
}

// hostileCase states what it expects in its name.
type hostileCase struct {
	name string
	run  func(t *testing.T, h hostile)
}

// Hostile input never takes the gateway down or corrupts another session:
// each case asserts its own answer, then a canary websocket session that
// lives through them all must still echo.
func TestHostileInput(t *testing.T) {
	t.Parallel()
	srv := startGateway(t, gateway.Config{Services: []gateway.Service{echoService("/echo")}})
	h := hostile{url: srv.URL(), addr: srv.Addr().String()}
	canary := dial(t, h.url+"/echo", sockjsclient.Options{Transport: sockjsclient.TransportWebsocket})
	echoRoundTrip(t, canary, "canary-start")
	var cases []hostileCase
	cases = append(cases, oversizeCases...)
	cases = append(cases, idCases...)
	cases = append(cases, encodingCases...)
	cases = append(cases, pathCases...)
	cases = append(cases, smugglingCases...)
	cases = append(cases, hostileCase{"1000 concurrent xhr_send on one session → all 204, each echoed exactly once", concurrentSends})
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, h) })
		if canary.Err() != nil {
			t.Fatalf("after %q the canary session ended: %v", tc.name, canary.Err())
		}
		echoRoundTrip(t, canary, "canary-"+strconv.Itoa(i))
	}
}

// overLimit is one byte over the default MaxMessageBytes, as a JSON array.
var overLimit = `["` + strings.Repeat("x", gateway.DefaultMaxMessageBytes) + `"]`

// openPolling opens an xhr-polling session and returns its URL.
func openPolling(t *testing.T, h hostile, sid string) string {
	t.Helper()
	sess := h.url + "/echo/000/" + sid
	do(t, http.MethodPost, sess+"/xhr", nil, "").want(t, http.StatusOK, "o\n")
	return sess
}

// wsOpen dials the SockJS websocket of a new session and reads its "o".
func wsOpen(t *testing.T, h hostile) *websocket.Conn {
	t.Helper()
	c, _, err := dialWS(h.url+"/echo/000/"+strconv.FormatInt(time.Now().UnixNano(), 36)+"/websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if got := readWS(t, c); got != "o" {
		t.Fatalf("first frame %q", got)
	}
	return c
}

var oversizeCases = []hostileCase{
	{"xhr_send body over 1 MiB → 413 Payload too large.", func(t *testing.T, h hostile) {
		sess := openPolling(t, h, "big-xhr")
		do(t, http.MethodPost, sess+"/xhr_send", nil, overLimit).want(t, http.StatusRequestEntityTooLarge, "Payload too large.")
		do(t, http.MethodPost, sess+"/xhr_send", nil, `["still here"]`).want(t, http.StatusNoContent, "")
	}},
	{"jsonp_send form over 1 MiB → 413 Payload too large.", func(t *testing.T, h hostile) {
		sess := openPolling(t, h, "big-jsonp")
		do(t, http.MethodPost, sess+"/jsonp_send", formHeader, "d="+overLimit).want(t, http.StatusRequestEntityTooLarge, "Payload too large.")
	}},
	{"websocket message over 1 MiB → close 1009", func(t *testing.T, h hostile) {
		c := wsOpen(t, h)
		writeWS(t, c, overLimit)
		if _, err := readUntilClose(c); wsCloseCode(err) != 1009 {
			t.Errorf("websocket ended with %v, want close 1009", err)
		}
	}},
	{"raw websocket message over 1 MiB → close 1009", func(t *testing.T, h hostile) {
		c, _, err := dialWS(h.url+"/echo/websocket", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		writeWS(t, c, overLimit)
		if _, err := readUntilClose(c); wsCloseCode(err) != 1009 {
			t.Errorf("raw websocket ended with %v, want close 1009", err)
		}
	}},
	{"header block of 100 KB → 431", func(t *testing.T, h hostile) {
		r := do(t, http.MethodGet, h.url+"/echo/info", http.Header{"X-Big": {strings.Repeat("b", 100<<10)}}, "")
		if r.status != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("%s: %d, want 431", r.req, r.status)
		}
	}},
}

var long = strings.Repeat("i", 10000)

var idCases = []hostileCase{
	{"10,000-character session id on xhr → 400 Invalid session id.", func(t *testing.T, h hostile) {
		do(t, http.MethodPost, h.url+"/echo/000/"+long+"/xhr", nil, "").want(t, http.StatusBadRequest, "Invalid session id.")
	}},
	{"10,000-character server id on jsonp → 400 Invalid session id.", func(t *testing.T, h hostile) {
		do(t, http.MethodGet, h.url+"/echo/"+long+"/sid/jsonp?c=cb", nil, "").want(t, http.StatusBadRequest, "Invalid session id.")
	}},
	{"10,000-character session id on websocket → handshake 400", func(t *testing.T, h hostile) {
		_, resp, err := dialWS(h.url+"/echo/000/"+long+"/websocket", nil)
		if err == nil || resp == nil || resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%v %v, want 400", err, resp)
		}
	}},
	{"session id with NUL (%00) → 400 Invalid session id.", func(t *testing.T, h hostile) {
		do(t, http.MethodPost, h.url+"/echo/000/a%00b/xhr", nil, "").want(t, http.StatusBadRequest, "Invalid session id.")
	}},
}

// nested is 100,000 '[' deep.
var nested = strings.Repeat("[", 100000) + strings.Repeat("]", 100000)

var encodingCases = []hostileCase{
	{"invalid UTF-8 in xhr_send → 204, echoed as \\ufffd", func(t *testing.T, h hostile) {
		sess := openPolling(t, h, "utf8-xhr")
		do(t, http.MethodPost, sess+"/xhr_send", nil, "[\"a\xff\xfeb\"]").want(t, http.StatusNoContent, "")
		do(t, http.MethodPost, sess+"/xhr", nil, "").want(t, http.StatusOK, `a["a\ufffd\ufffdb"]`+"\n")
	}},
	{"invalid UTF-8 in jsonp_send → 200 ok, echoed as \\ufffd", func(t *testing.T, h hostile) {
		sess := openPolling(t, h, "utf8-jsonp")
		do(t, http.MethodPost, sess+"/jsonp_send", nil, "[\"\xc3\"]").want(t, http.StatusOK, "ok")
		do(t, http.MethodPost, sess+"/xhr", nil, "").want(t, http.StatusOK, `a["\ufffd"]`+"\n")
	}},
	{"invalid UTF-8 in a websocket message → close 1007 (RFC 6455 8.1), nothing echoed", func(t *testing.T, h hostile) {
		c := wsOpen(t, h)
		writeWS(t, c, "[\"a\xffb\"]")
		msgs, err := readUntilClose(c)
		if len(msgs) > 0 || wsCloseCode(err) != 1007 {
			t.Errorf("websocket got %q then %v, want close 1007 and no message", msgs, err)
		}
	}},
	{"invalid UTF-8 on the raw websocket → close 1007, never an invalid text frame", func(t *testing.T, h hostile) {
		c, _, err := dialWS(h.url+"/echo/websocket", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		writeWS(t, c, "a\xffb")
		msgs, err := readUntilClose(c)
		if len(msgs) > 0 || wsCloseCode(err) != 1007 {
			t.Errorf("raw websocket got %q then %v, want close 1007 and no message", msgs, err)
		}
	}},
	{"100k-deep nested JSON to xhr_send → 500 Broken JSON encoding.", func(t *testing.T, h hostile) {
		sess := openPolling(t, h, "nested")
		do(t, http.MethodPost, sess+"/xhr_send", nil, nested).want(t, http.StatusInternalServerError, "Broken JSON encoding.")
	}},
	{"100k-deep nested JSON to jsonp_send → 500 Broken JSON encoding.", func(t *testing.T, h hostile) {
		sess := openPolling(t, h, "nested-jsonp")
		do(t, http.MethodPost, sess+"/jsonp_send", nil, nested).want(t, http.StatusInternalServerError, "Broken JSON encoding.")
	}},
	{"100k-deep nested JSON on the websocket → close 3000 Broken framing.", func(t *testing.T, h hostile) {
		c := wsOpen(t, h)
		writeWS(t, c, nested)
		_, err := readUntilClose(c)
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != 3000 || ce.Text != "Broken framing." {
			t.Errorf("websocket ended with %v, want close 3000 \"Broken framing.\"", err)
		}
	}},
	{"broken JSON → 500 Broken JSON encoding.; JSON of another shape or empty → 500 Payload expected.", func(t *testing.T, h hostile) {
		sess := openPolling(t, h, "badjson")
		for body, want := range map[string]string{
			`[1,2]`:      "Payload expected.", // as the reference server
			`{"a":"b"}`:  "Payload expected.",
			`["a"]x`:     "Broken JSON encoding.",
			`["a`:        "Broken JSON encoding.",
			`["\ud800"]`: "",
			"":           "Payload expected.",
		} {
			if want == "" {
				do(t, http.MethodPost, sess+"/xhr_send", nil, body).want(t, http.StatusNoContent, "")
				continue
			}
			do(t, http.MethodPost, sess+"/xhr_send", nil, body).want(t, http.StatusInternalServerError, want)
		}
	}},
	{`jsonp callback </script><script>alert(1) → 500 invalid "callback" parameter`, func(t *testing.T, h hostile) {
		cb := "%3C%2Fscript%3E%3Cscript%3Ealert(1)"
		do(t, http.MethodGet, h.url+"/echo/000/xss/jsonp?c="+cb, nil, "").want(t, http.StatusInternalServerError, `invalid "callback" parameter`)
		do(t, http.MethodGet, h.url+"/echo/000/xss/htmlfile?c="+cb, nil, "").want(t, http.StatusInternalServerError, `invalid "callback" parameter`)
	}},
}

// pathCase sends a raw request line and expects one 404.
func pathCase(path string) hostileCase {
	return hostileCase{path + " → 404", func(t *testing.T, h hostile) {
		resps := rawExchange(t, h.addr, "POST "+path+" HTTP/1.1\r\nHost: "+h.addr+"\r\nContent-Length: 0\r\n\r\n")
		if len(resps) != 1 || resps[0].status != http.StatusNotFound {
			t.Errorf("answers %+v, want one 404", resps)
		}
	}}
}

var pathCases = []hostileCase{
	pathCase("/echo/../../etc/passwd"),
	pathCase("/echo/a/..%2F..%2F/xhr"),
	pathCase("/echo/%2e%2e/%2e%2e/xhr"),
	pathCase("/echo/000/..%2F..%2Fetc%2Fpasswd/xhr"),
	pathCase("/echo/000/a/..%2Fxhr"),
}

// smuggle sends a raw request and expects a 400, or exactly one answer.
func smuggle(name, req string) hostileCase {
	return hostileCase{name + " → 400 or one response, never two", func(t *testing.T, h hostile) {
		resps := rawExchange(t, h.addr, strings.ReplaceAll(req, "HOST", h.addr))
		if len(resps) != 1 {
			t.Errorf("%d responses %+v, want exactly one", len(resps), resps)
		}
	}}
}

// smuggled is a request hidden in a body (its Host is fixed, so the
// lengths computed from it hold).
const smuggled = "GET /echo/info HTTP/1.1\r\nHost: x\r\n\r\n"

var smugglingCases = []hostileCase{
	smuggle("Content-Length and Transfer-Encoding: chunked",
		"POST /echo/000/smug/xhr_send HTTP/1.1\r\nHost: HOST\r\nContent-Length: "+strconv.Itoa(5+len(smuggled))+
			"\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"+smuggled),
	smuggle("two different Content-Length",
		"POST /echo/000/smug/xhr_send HTTP/1.1\r\nHost: HOST\r\nContent-Length: 7\r\nContent-Length: "+strconv.Itoa(7+len(smuggled))+
			"\r\n\r\n[\"abc\"]"+smuggled),
	smuggle("two equal Content-Length",
		"POST /echo/000/smug/xhr_send HTTP/1.1\r\nHost: HOST\r\nContent-Length: 7\r\nContent-Length: 7\r\n\r\n[\"abc\"]"),
	smuggle("Content-Length with a space before the colon",
		"POST /echo/000/smug/xhr_send HTTP/1.1\r\nHost: HOST\r\nContent-Length : "+strconv.Itoa(len(smuggled))+"\r\n\r\n"+smuggled),
	smuggle("obs-fold continuation of Transfer-Encoding",
		"POST /echo/000/smug/xhr_send HTTP/1.1\r\nHost: HOST\r\nContent-Length: "+strconv.Itoa(5+len(smuggled))+
			"\r\nX-Pad: a\r\n Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"+smuggled),
	smuggle("Transfer-Encoding: chunked twice",
		"POST /echo/000/smug/xhr_send HTTP/1.1\r\nHost: HOST\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"+smuggled),
	smuggle("Transfer-Encoding: xchunked with Content-Length",
		"POST /echo/000/smug/xhr_send HTTP/1.1\r\nHost: HOST\r\nContent-Length: "+strconv.Itoa(5+len(smuggled))+
			"\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n"+smuggled),
	smuggle("bad chunk size",
		"POST /echo/000/smug/xhr_send HTTP/1.1\r\nHost: HOST\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n\r\n"+smuggled),
}

// concurrentSends posts 1000 xhr_send at once to one session, then checks
// that each message comes back exactly once before an end marker.
func concurrentSends(t *testing.T, h hostile) {
	const n = 1000
	sess := openPolling(t, h, "thousand")
	client := &http.Client{Timeout: 2 * waitTimeout, Transport: &http.Transport{DisableKeepAlives: true}}
	defer client.CloseIdleConnections()
	start := make(chan struct{})
	statuses := make(chan string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			body := fmt.Sprintf(`["m-%d"]`, i)
			resp, err := client.Post(sess+"/xhr_send", "text/plain", strings.NewReader(body))
			if err != nil {
				statuses <- err.Error()
				return
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusNoContent {
				statuses <- resp.Status
			}
		}()
	}
	got := make(map[string]int)
	polled := make(chan error, 1)
	stopPolling := make(chan struct{})
	go func() { polled <- pollUntil(sess, "end", got, stopPolling) }()
	close(start)
	wg.Wait()
	close(statuses)
	bad := 0
	for s := range statuses {
		if bad++; bad <= 5 {
			t.Errorf("xhr_send answered %s, want 204", s)
		}
	}
	do(t, http.MethodPost, sess+"/xhr_send", nil, `["end"]`).want(t, http.StatusNoContent, "")
	select {
	case err := <-polled:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(2 * waitTimeout):
		close(stopPolling)
		t.Fatalf("the end marker never came back; %d distinct messages did", len(got))
	}
	for i := range n {
		if c := got[fmt.Sprintf("m-%d", i)]; c != 1 {
			t.Errorf("m-%d echoed %d times, want once", i, c)
		}
	}
	if len(got) != n+1 {
		t.Errorf("%d distinct messages echoed, want %d", len(got), n+1)
	}
}

// pollUntil polls an xhr session, counting messages into got, until the
// marker message arrives.
func pollUntil(sess, marker string, got map[string]int, stop <-chan struct{}) error {
	for {
		select {
		case <-stop:
			return fmt.Errorf("stopped")
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*waitTimeout)
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, sess+"/xhr", nil)
		resp, err := httpClient.Do(req)
		if err != nil {
			cancel()
			return err
		}
		var b strings.Builder
		_, err = ioCopy(&b, resp)
		cancel()
		if err != nil {
			return err
		}
		frame := strings.TrimSuffix(b.String(), "\n")
		switch {
		case frame == "h":
			continue
		case !strings.HasPrefix(frame, "a"):
			return fmt.Errorf("poll answered %q", frame)
		}
		var msgs []string
		if err := json.Unmarshal([]byte(frame[1:]), &msgs); err != nil {
			return fmt.Errorf("frame %q: %v", frame, err)
		}
		for _, m := range msgs {
			got[m]++
			if m == marker {
				return nil
			}
		}
	}
}
