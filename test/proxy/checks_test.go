package proxy

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sockgate/sockgate/test/sockjsclient"
)

const (
	// frameWait bounds how long a frame may take to cross the proxy. The
	// nodes send a heartbeat every second, so a proxy that buffers shows
	// as a missing frame long before this.
	frameWait = 5 * time.Second
	// stickySessions is how many polling and streaming sessions run at once
	// in the sticky-routing check, and stickyRounds how many messages each
	// echoes.
	stickySessions = 40
	stickyRounds   = 5
	// realClient is the address the client-address check connects from:
	// another loopback address, so that the real client differs from the
	// proxy (127.0.0.1, the nodes' trusted proxy).
	realClient = "127.0.0.2"
	// maxBody is sockgate's default -max-message-bytes, which the shipped
	// configs enforce too.
	maxBody = 1 << 20
	// probes is how many messages the unbuffered check echoes on one open
	// stream, and maxStreamLatency the most their median send-to-echo time
	// may be (through nginx or HAProxy on loopback it is about 1 ms).
	probes           = 5
	maxStreamLatency = 100 * time.Millisecond
)

// streamingTransport is a receiving transport whose response stays open.
type streamingTransport struct {
	name, method, path string
	contentType        string              // prefix of the Content-Type
	line               func(string) string // a frame as one line of the body
	// filler lines may come between frames (besides empty lines).
	filler func(string) bool
}

var streamingTransports = []streamingTransport{
	{name: "xhr_streaming", method: http.MethodPost, path: "xhr_streaming",
		contentType: "application/javascript", line: func(f string) string { return f }},
	{name: "eventsource", method: http.MethodGet, path: "eventsource",
		contentType: "text/event-stream", line: func(f string) string { return "data: " + f }},
	{name: "htmlfile", method: http.MethodGet, path: "htmlfile?c=cb",
		contentType: "text/html", line: func(f string) string { q, _ := json.Marshal(f); return "p(" + string(q) + ");" },
		filler: func(l string) bool { return l == "<script>" || l == "</script>" }},
}

// testUnbuffered opens a stream through the proxy, sends messages once it
// is open, and expects each echo, promptly, and then a heartbeat on that
// same open response: a proxy that buffers the response would hold them
// back until a buffer fills or the response ends, one that waits to fill
// packets would delay each.
func testUnbuffered(t *testing.T, tg *target, st streamingTransport) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*frameWait)
	defer cancel()
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	sessionURL := tg.echoURL() + "/000/" + randomID("stream")

	req, err := http.NewRequestWithContext(ctx, st.method, sessionURL+"/"+st.path, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Asked explicitly, so that the Go client does not decompress behind
	// our back: a compressed stream must show.
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", st.method, st.path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), st.contentType) {
		t.Fatalf("%s through %s: HTTP %d, Content-Type %q; want 200 %s", st.name, tg.name, resp.StatusCode, resp.Header.Get("Content-Type"), st.contentType)
	}
	if ce := resp.Header.Get("Content-Encoding"); ce != "" {
		t.Fatalf("%s through %s: Content-Encoding %q; the proxy compresses the stream", st.name, tg.name, ce)
	}
	lines := readLines(ctx, resp.Body)

	if err := lines.waitFor(st.line("o"), nil); err != nil {
		t.Fatalf("%s through %s: the open frame: %v", st.name, tg.name, err)
	}

	between := func(l string) bool { return l == st.line("h") || st.filler != nil && st.filler(l) }
	var latencies []time.Duration
	for i := range probes {
		probe := fmt.Sprintf("probe %d", i)
		start := time.Now()
		postSend(ctx, t, client, sessionURL, `["`+probe+`"]`, http.StatusNoContent)
		if err := lines.waitFor(st.line(`a["`+probe+`"]`), between); err != nil {
			t.Fatalf("%s through %s: the echo of a message sent while the stream was open did not arrive on it: %v "+
				"(is the proxy buffering the response?)", st.name, tg.name, err)
		}
		latencies = append(latencies, time.Since(start))
	}
	slices.Sort(latencies)
	t.Logf("%s through %s: send-to-echo on the open stream %v", st.name, tg.name, latencies)
	if median := latencies[len(latencies)/2]; median > maxStreamLatency {
		t.Errorf("%s through %s: median send-to-echo %v on the open stream, want under %v: the proxy holds frames back "+
			"(HAProxy without option http-no-delay waits ~200 ms to fill packets)", st.name, tg.name, median, maxStreamLatency)
	}

	onlyFiller := func(l string) bool { return st.filler != nil && st.filler(l) }
	if err := lines.waitFor(st.line("h"), onlyFiller); err != nil {
		t.Fatalf("%s through %s: no heartbeat on the idle stream: %v", st.name, tg.name, err)
	}
}

// lineStream is the lines of a response body as they arrive.
type lineStream struct {
	c   chan string
	err error // why the body ended, valid once c is closed
}

func readLines(ctx context.Context, body io.Reader) *lineStream {
	ls := &lineStream{c: make(chan string, 64)}
	go func() {
		defer close(ls.c)
		br := bufio.NewReaderSize(body, 64<<10)
		for {
			l, err := br.ReadString('\n')
			if l != "" {
				select {
				case ls.c <- strings.TrimRight(l, "\r\n"):
				case <-ctx.Done():
					return
				}
			}
			if err != nil {
				ls.err = err
				return
			}
		}
	}()
	return ls
}

// waitFor reads lines until want, within frameWait. Lines skip accepts
// (and empty lines, the separators of some transports) may come first;
// anything else, or the end of the body, is an error. skip nil means any
// line may come first (the preludes).
func (ls *lineStream) waitFor(want string, skip func(string) bool) error {
	timeout := time.After(frameWait)
	for {
		select {
		case l, ok := <-ls.c:
			switch {
			case !ok:
				return fmt.Errorf("the response ended (%v) before %q", ls.err, want)
			case l == want:
				return nil
			case skip != nil && l != "" && !skip(l):
				return fmt.Errorf("got %q, want %q", abbrev(l), want)
			}
		case <-timeout:
			return fmt.Errorf("no %q within %v", want, frameWait)
		}
	}
}

// postSend posts body to the session's xhr_send and checks the status.
func postSend(ctx context.Context, t *testing.T, client *http.Client, sessionURL, body string, want int) {
	t.Helper()
	status, answer, err := post(ctx, client, sessionURL+"/xhr_send", body, nil)
	if err != nil || status != want {
		t.Fatalf("POST %s/xhr_send (%d bytes): HTTP %d %s, %v; want %d", sessionURL, len(body), status, abbrev(answer), err, want)
	}
}

// post sends a POST with body and headers, returning the status and (at
// most 4 KiB of) the answer.
func post(ctx context.Context, client *http.Client, url, body string, header http.Header) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	return resp.StatusCode, string(answer), err
}

func randomID(prefix string) string {
	return prefix + strconv.FormatUint(rand.Uint64(), 36)
}

// testSticky runs many polling and streaming sessions at once. Each
// session's sends go beside its receiving requests, so each must reach the
// node holding the session: a send routed to the other node gets 404, a
// poll routed there opens a second session. It also checks that both nodes
// got sessions (or the routing was not tested) and that together they
// opened exactly one per client session.
func testSticky(t *testing.T, tg *target) {
	before := openedPerNode(t, tg)
	transports := []string{sockjsclient.TransportXHRPolling, sockjsclient.TransportJSONP,
		sockjsclient.TransportXHRStreaming, sockjsclient.TransportEventSource, sockjsclient.TransportHTMLFile}
	errs := make(chan error, stickySessions)
	var wg sync.WaitGroup
	for i := range stickySessions {
		wg.Go(func() { errs <- stickySession(tg, transports[i%len(transports)], i) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	after := openedPerNode(t, tg)
	total := 0
	for i, n := range tg.nodes {
		d := after[i] - before[i]
		total += d
		t.Logf("%s (%s) opened %d of the %d sessions", n.name, n.addr, d, stickySessions)
		if d == 0 {
			t.Errorf("%s got none of the %d sessions: %s sends everything to one node, so stickiness was not tested", n.name, stickySessions, tg.name)
		}
	}
	if total != stickySessions {
		t.Errorf("the nodes opened %d sessions for %d client sessions: requests of a session reached a node that did not hold it", total, stickySessions)
	}
}

// stickySession echoes a few messages on one session.
func stickySession(tg *target, transport string, i int) error {
	ctx, cancel := context.WithTimeout(context.Background(), sessionTimeout)
	defer cancel()
	c, err := sockjsclient.Dial(ctx, tg.echoURL(), sockjsclient.Options{Transport: transport})
	if err != nil {
		return fmt.Errorf("session %d (%s): dial: %w", i, transport, err)
	}
	defer c.Close()
	for r := range stickyRounds {
		msg := fmt.Sprintf("session %d round %d", i, r)
		if err := c.SendContext(ctx, msg); err != nil {
			return fmt.Errorf("session %d (%s, %s): send: %w", i, transport, c.SessionID(), err)
		}
		got, err := c.Recv(ctx)
		if err != nil || got != msg {
			return fmt.Errorf("session %d (%s, %s): got %q, %v; want %q", i, transport, c.SessionID(), got, err, msg)
		}
	}
	return nil
}

// openedPerNode reads sockgate_sessions_opened_total (all transports) from
// each node's /metrics, directly.
func openedPerNode(t *testing.T, tg *target) []int {
	t.Helper()
	var counts []int
	for _, n := range tg.nodes {
		status, body, err := getAll("http://" + n.addr + "/metrics")
		if err != nil || status != http.StatusOK {
			t.Fatalf("%s /metrics: HTTP %d, %v", n.name, status, err)
		}
		sum := 0
		for _, l := range strings.Split(body, "\n") {
			if !strings.HasPrefix(l, "sockgate_sessions_opened_total{") {
				continue
			}
			f := strings.Fields(l)
			v, err := strconv.ParseFloat(f[len(f)-1], 64)
			if err != nil {
				t.Fatalf("%s /metrics: %q: %v", n.name, l, err)
			}
			sum += int(v)
		}
		counts = append(counts, sum)
	}
	return counts
}

// getAll fetches url with the whole body.
func getAll(url string) (int, string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// testClientAddress connects from 127.0.0.2 with forged forwarding headers
// and a foreign Origin. The node must refuse the origin (the forged
// X-Forwarded-Host must not make it the gateway's own host) and log the
// real client address (the forged X-Forwarded-For and Forwarded must not
// count). A page from the proxy's own host and port must be allowed: the
// proxy passes the host it was asked for.
func testClientAddress(t *testing.T, tg *target) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*frameWait)
	defer cancel()
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(realClient)}}
	client := &http.Client{Transport: &http.Transport{DialContext: dialer.DialContext}}
	defer client.CloseIdleConnections()

	sid := randomID("addr")
	forged := http.Header{
		"Origin":            {"http://evil.example"},
		"X-Forwarded-For":   {"203.0.113.9"},
		"Forwarded":         {"for=198.51.100.7"},
		"X-Forwarded-Host":  {"evil.example"},
		"X-Forwarded-Proto": {"https"},
	}
	status, body, err := post(ctx, client, tg.echoURL()+"/000/"+sid+"/xhr", "", forged)
	if err != nil || status != http.StatusForbidden {
		t.Errorf("xhr from Origin http://evil.example with a forged X-Forwarded-Host: HTTP %d %q, %v; want 403", status, body, err)
	}
	line, err := waitLogLine(tg, "origin refused", sid)
	if err != nil {
		t.Fatal(err)
	}
	if got := line["client"]; got != realClient {
		t.Errorf("sockgate logged the client of a request from %s through %s as %v; want %s (log line %v)", realClient, tg.name, got, realClient, line)
	}

	own := http.Header{"Origin": {tg.url}}
	status, body, err = post(ctx, client, tg.echoURL()+"/000/"+randomID("own")+"/xhr", "", own)
	if err != nil || status != http.StatusOK || body != "o\n" {
		t.Errorf("xhr from the proxy's own origin %s: HTTP %d %q, %v; want 200 \"o\\n\" (X-Forwarded-Host lost?)", tg.url, status, body, err)
	}
}

// waitLogLine finds, in any node's log, the JSON line with this message
// whose path contains sub.
func waitLogLine(tg *target, message, sub string) (map[string]any, error) {
	deadline := time.Now().Add(frameWait)
	for time.Now().Before(deadline) {
		for _, n := range tg.nodes {
			for _, l := range strings.Split(n.proc.Out.String(), "\n") {
				var m map[string]any
				if json.Unmarshal([]byte(l), &m) != nil {
					continue
				}
				if path, _ := m["path"].(string); m["message"] == message && strings.Contains(path, sub) {
					return m, nil
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil, fmt.Errorf("no %q log line for %s on any node within %v", message, sub, frameWait)
}

// testBodyLimit posts send bodies of exactly the limit (accepted) and one
// byte more (413, from the proxy or the node).
func testBodyLimit(t *testing.T, tg *target) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*frameWait)
	defer cancel()
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	sessionURL := tg.echoURL() + "/000/" + randomID("body")
	if status, body, err := post(ctx, client, sessionURL+"/xhr", "", nil); err != nil || body != "o\n" {
		t.Fatalf("open a session: HTTP %d %q, %v", status, body, err)
	}
	atLimit := `["` + strings.Repeat("x", maxBody-4) + `"]`
	postSend(ctx, t, client, sessionURL, atLimit, http.StatusNoContent)
	postSend(ctx, t, client, sessionURL, atLimit+" ", http.StatusRequestEntityTooLarge)
}

// checkNodeLogs fails on node log lines that no check expects: errors,
// answers with a 5xx status, and anything that is not a JSON log line (a
// panic, a race report).
func checkNodeLogs(t *testing.T, tg *target) {
	t.Helper()
	for _, n := range tg.nodes {
		out := n.proc.Out.String()
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			if l == "" {
				continue
			}
			var m map[string]any
			dec := json.NewDecoder(bytes.NewReader([]byte(l)))
			dec.UseNumber()
			if err := dec.Decode(&m); err != nil {
				t.Errorf("%s wrote a line that is not a JSON log line: %s", n.name, abbrev(l))
				continue
			}
			status, _ := m["status"].(json.Number)
			code, _ := status.Int64()
			if lv := m["level"]; lv == "error" || lv == "fatal" || lv == "panic" || code >= 500 {
				t.Errorf("%s logged: %s", n.name, l)
			}
		}
	}
}
