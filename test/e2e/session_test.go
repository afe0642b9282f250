package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sockgate/sockgate/test/sockjsclient"
)

// rawPoller makes receiving and sending requests of a polling transport by
// hand, for the cases where the test must control each request.
type rawPoller struct {
	transport  string
	sessionURL string
}

func newRawPoller(e *env, service, transport string) *rawPoller {
	id := fmt.Sprintf("raw%08d", rand.IntN(1e8))
	return &rawPoller{transport: transport, sessionURL: e.url + service + "/000/" + id}
}

const rawCallback = "cb"

// poll makes one receiving request and returns its frames.
func (p *rawPoller) poll(ctx context.Context) ([]string, error) {
	method, u := http.MethodPost, p.sessionURL+"/xhr"
	if p.transport == sockjsclient.TransportJSONP {
		method, u = http.MethodGet, p.sessionURL+"/jsonp?c="+rawCallback
	}
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("poll: HTTP %d %q", resp.StatusCode, b)
	}
	return p.frames(string(b))
}

// frames splits a poll body into frames.
func (p *rawPoller) frames(body string) ([]string, error) {
	var out []string
	for line := range strings.SplitSeq(strings.TrimSuffix(body, "\n"), "\n") {
		if p.transport != sockjsclient.TransportJSONP {
			out = append(out, line)
			continue
		}
		call := strings.TrimPrefix(strings.TrimSuffix(line, "\r"), "/**/")
		lit, ok := strings.CutPrefix(call, rawCallback+"(")
		if ok {
			lit, ok = strings.CutSuffix(lit, ");")
		}
		var frame string
		if !ok || json.Unmarshal([]byte(lit), &frame) != nil {
			return nil, fmt.Errorf("bad jsonp line %q", line)
		}
		out = append(out, frame)
	}
	return out, nil
}

// send posts a JSON array to the transport's send URL and returns the status.
func (p *rawPoller) send(t *testing.T, payload string) response {
	t.Helper()
	if p.transport == sockjsclient.TransportJSONP {
		return do(t, http.MethodPost, p.sessionURL+"/jsonp_send", "application/x-www-form-urlencoded",
			"d="+url.QueryEscape(payload))
	}
	return do(t, http.MethodPost, p.sessionURL+"/xhr_send", "text/plain", payload)
}

func wantFrames(t *testing.T, got []string, err error, want ...string) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("frames %q; want %q", got, want)
	}
}

const frame2010 = `c[2010,"Another connection still open"]`

// testSecondReceiver opens a second receiving request on a session whose
// first one is open: the second gets c[2010,...] and the first is unaffected.
func testSecondReceiver(t *testing.T, e *env, tr string) {
	if isPolling(tr) {
		testSecondPoll(t, e, tr)
		return
	}
	c := dial(t, e, "/echo", tr)
	_, err := sockjsclient.Dial(ctxT(t), e.url+"/echo", sockjsclient.Options{Transport: tr, SessionID: c.SessionID()})
	wantClose(t, err, 2010, "Another connection still open")
	send(t, c, "first receiver still works")
	if got := recv(t, c); got != "first receiver still works" {
		t.Fatalf("first receiver got %q", got)
	}
}

// testSecondPoll runs two polls at once. The client cannot tell which one
// the server attached first, so it checks that exactly one gets the 2010
// frame at once and the other gets the next message.
func testSecondPoll(t *testing.T, e *env, tr string) {
	p := newRawPoller(e, "/echo", tr)
	ctx := ctxT(t)
	frames, err := p.poll(ctx)
	wantFrames(t, frames, err, "o")
	type result struct {
		frames []string
		err    error
	}
	results := make(chan result, 2)
	for range 2 {
		go func() {
			f, err := p.poll(ctx)
			results <- result{f, err}
		}()
	}
	var first result
	select {
	case first = <-results:
	case <-ctx.Done():
		t.Fatal("neither of two concurrent polls was answered")
	}
	wantFrames(t, first.frames, first.err, frame2010)
	if r := p.send(t, `["x"]`); r.status/100 != 2 {
		t.Fatalf("send: HTTP %d %q", r.status, r.body)
	}
	second := <-results
	if second.err == nil && slices.Equal(second.frames, []string{frame2010}) {
		skipCompat(t, e, compatPollRace)
	}
	wantFrames(t, second.frames, second.err, `a["x"]`)
}

// testSessionExpiry: a session nobody receives on is gone after the
// disconnect delay; sending to it is then 404.
func testSessionExpiry(t *testing.T, e *env, tr string) {
	if isPolling(tr) {
		testPollExpiry(t, e, tr)
		return
	}
	// Streaming and websocket: close the client (aborting its request or
	// connection); the session must be gone by the disconnect delay.
	c := dial(t, e, "/expire", tr)
	c.Close()
	p := &rawPoller{transport: sockjsclient.TransportXHRPolling, sessionURL: c.SessionURL()}
	elapsed := waitExpiry(t, p)
	t.Logf("xhr_send 404 %v after the client closed", elapsed)
}

// testPollExpiry measures the expiry of a session after one poll, with no
// aborted request involved: it must not come before the disconnect delay.
func testPollExpiry(t *testing.T, e *env, tr string) {
	p := newRawPoller(e, "/expire", tr)
	frames, err := p.poll(ctxT(t))
	polled := time.Now()
	wantFrames(t, frames, err, "o")
	if r := p.send(t, `[]`); r.status/100 != 2 {
		t.Fatalf("send to a live session: HTTP %d %q", r.status, r.body)
	}
	elapsed := waitExpiry(t, p)
	// The server starts its timer when the poll ends, a little before
	// polled; allow for that and for coarse timers.
	if min := expireDelay * 2 / 3; time.Since(polled) < min {
		t.Fatalf("session expired %v after the poll; the disconnect delay is %v", time.Since(polled), expireDelay)
	}
	t.Logf("expired %v after the poll (disconnect delay %v)", elapsed, expireDelay)
	// A receiving request now starts a new session.
	frames, err = p.poll(ctxT(t))
	wantFrames(t, frames, err, "o")
}

// waitExpiry sends [] to the session until the answer is 404, within the
// disconnect delay plus a margin, and returns how long that took. Nothing
// reports expiry, so it checks every pollInterval.
func waitExpiry(t *testing.T, p *rawPoller) time.Duration {
	t.Helper()
	const margin = 3 * time.Second
	start := time.Now()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		r := p.send(t, `[]`)
		switch {
		case r.status == http.StatusNotFound:
			return time.Since(start)
		case r.status/100 != 2:
			t.Fatalf("send while waiting for expiry: HTTP %d %q", r.status, r.body)
		case time.Since(start) > expireDelay+margin:
			t.Fatalf("session still there %v after the receiver left (disconnect delay %v)", time.Since(start), expireDelay)
		}
		<-tick.C
	}
}
