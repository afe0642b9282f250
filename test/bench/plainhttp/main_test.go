package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sockgate/sockgate/test/sockjsclient"
)

const testTimeout = 5 * time.Second

// start serves a fresh server on loopback, after applying the changes
// given.
func start(t *testing.T, changes ...func(*server)) (*server, string) {
	t.Helper()
	s := newServer()
	for _, change := range changes {
		change(s)
	}
	srv := httptest.NewServer(s.mux())
	t.Cleanup(srv.Close)
	return s, srv.URL
}

// post sends one request and returns its status, Content-Type and body.
func post(t *testing.T, url, body string) (int, string, string) {
	t.Helper()
	code, ctype, b, err := tryPost(url, body)
	if err != nil {
		t.Fatal(err)
	}
	return code, ctype, b
}

// tryPost is post for another goroutine than the test's.
func tryPost(url, body string) (code int, ctype, respBody string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return 0, "", "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(b), err
}

// heldPost sends a request from another goroutine; its body (or error)
// comes on the channel.
func heldPost(url string) <-chan string {
	got := make(chan string, 1)
	go func() {
		_, _, body, err := tryPost(url, "")
		if err != nil {
			body = err.Error()
		}
		got <- body
	}()
	return got
}

// expectHeld checks what a heldPost got.
func expectHeld(t *testing.T, got <-chan string, want string) {
	t.Helper()
	select {
	case b := <-got:
		if b != want {
			t.Fatalf("held poll answered %q; want %q", b, want)
		}
	case <-time.After(testTimeout):
		t.Fatal("held poll not answered")
	}
}

// expectPost checks one request's status and body.
func expectPost(t *testing.T, url, body string, status int, want string) {
	t.Helper()
	code, _, got := post(t, url, body)
	if code != status || got != want {
		t.Fatalf("POST %s %q: %d %q; want %d %q", url, body, code, got, status, want)
	}
}

func TestPolling(t *testing.T) {
	t.Parallel()
	s, base := start(t)
	sess := base + "/echo/000/abc"

	code, ctype, body := post(t, sess+"/xhr", "")
	if code != http.StatusOK || body != "o\n" || ctype != "application/javascript; charset=UTF-8" {
		t.Fatalf("first poll: %d %q %q; want 200 \"o\\n\" as application/javascript", code, ctype, body)
	}
	expectPost(t, sess+"/xhr_send", `["hello"]`, http.StatusNoContent, "")
	expectPost(t, sess+"/xhr_send", `["a","b\"c\u2028","<&>"]`, http.StatusNoContent, "")
	expectPost(t, sess+"/xhr_send", `[]`, http.StatusNoContent, "")
	// Everything queued comes in one frame, in order, encoded as JSON.
	expectPost(t, sess+"/xhr", "", http.StatusOK, `a["hello","a","b\"c\u2028","\u003c\u0026\u003e"]`+"\n")

	// A poll with nothing queued is held until a message comes.
	got := heldPost(sess + "/xhr")
	waitReceiving(t, s, "abc")
	// A second receiver meanwhile is refused, the first one kept.
	expectPost(t, sess+"/xhr", "", http.StatusOK, `c[2010,"Another connection still open"]`+"\n")
	expectPost(t, sess+"/xhr_send", `["late"]`, http.StatusNoContent, "")
	expectHeld(t, got, `a["late"]`+"\n")
}

func TestPollTimeout(t *testing.T) {
	t.Parallel()
	_, base := start(t, func(s *server) { s.pollTimeout = 50 * time.Millisecond })
	expectPost(t, base+"/echo/0/t/xhr", "", http.StatusOK, "o\n")
	expectPost(t, base+"/echo/0/t/xhr", "", http.StatusOK, "h\n")
}

// waitReceiving waits until the session id of s has a receiving request
// held.
func waitReceiving(t *testing.T, s *server, id string) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for time.Now().Before(deadline) {
		if sess := s.get(id); sess != nil {
			sess.mu.Lock()
			receiving := sess.receiving
			sess.mu.Unlock()
			if receiving {
				return
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatalf("session %s: no receiving request held", id)
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	_, base := start(t)
	sess := base + "/echo/0/bad"
	// A send to a session that was never opened: 404, nothing created.
	expectPost(t, sess+"/xhr_send", `["x"]`, http.StatusNotFound, "Session not found.\n")
	expectPost(t, sess+"/xhr", "", http.StatusOK, "o\n")
	// Bodies that are not a JSON array of strings: 500 with SockJS's
	// text, and nothing queued.
	for body, want := range map[string]string{
		"":          "Payload expected.\n",
		"  ":        "Payload expected.\n",
		"not json":  "Broken JSON encoding.\n",
		`[1]`:       "Broken JSON encoding.\n",
		`null`:      "Broken JSON encoding.\n",
		`["x"`:      "Broken JSON encoding.\n",
		`{"a":"b"}`: "Broken JSON encoding.\n",
	} {
		expectPost(t, sess+"/xhr_send", body, http.StatusInternalServerError, want)
	}
	// The session is intact: the next message is the only one echoed.
	expectPost(t, sess+"/xhr_send", `["ok"]`, http.StatusNoContent, "")
	expectPost(t, sess+"/xhr", "", http.StatusOK, `a["ok"]`+"\n")
	// A GET on a POST endpoint: 405 from the mux.
	resp, err := http.Get(sess + "/xhr")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET xhr: %d; want 405", resp.StatusCode)
	}
}

// stream opens an xhr_streaming response and returns a reader of its lines.
func stream(t *testing.T, url string) *bufio.Reader {
	t.Helper()
	// Bounded, so that a stream that never ends fails the test instead
	// of hanging it.
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		resp.Body.Close()
	})
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/javascript; charset=UTF-8" {
		t.Fatalf("xhr_streaming: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	return bufio.NewReader(resp.Body)
}

// expectLine reads one line (with its "\n") of a stream.
func expectLine(t *testing.T, br *bufio.Reader, want string) {
	t.Helper()
	got := make(chan string, 1)
	go func() {
		line, _ := br.ReadString('\n')
		got <- line
	}()
	select {
	case line := <-got:
		if line != want {
			t.Fatalf("stream line %.60q (%d bytes); want %.60q (%d bytes)", line, len(line), want, len(want))
		}
	case <-time.After(testTimeout):
		t.Fatalf("no stream line; want %.60q", want)
	}
}

func TestStreaming(t *testing.T) {
	t.Parallel()
	_, base := start(t)
	sess := base + "/echo/0/st"
	prelude := strings.Repeat("h", 2048) + "\n"

	br := stream(t, sess+"/xhr_streaming")
	expectLine(t, br, prelude)
	expectLine(t, br, "o\n")
	expectPost(t, sess+"/xhr_send", `["one","two"]`, http.StatusNoContent, "")
	expectLine(t, br, `a["one","two"]`+"\n")
	// A second receiver gets the prelude and 2010.
	second := stream(t, sess+"/xhr_streaming")
	expectLine(t, second, prelude)
	expectLine(t, second, `c[2010,"Another connection still open"]`+"\n")

	// The response ends once 128 KiB of frames have gone: three 50 KiB
	// messages, each sent after the previous one arrived.
	big := strings.Repeat("x", 50<<10)
	for range 3 {
		expectPost(t, sess+"/xhr_send", `["`+big+`"]`, http.StatusNoContent, "")
		expectLine(t, br, `a["`+big+`"]`+"\n")
	}
	if rest, err := io.ReadAll(br); err != nil || len(rest) != 0 {
		t.Fatalf("after the limit: %q, %v; want the end of the response", rest, err)
	}
	// The client reconnects: the prelude again, no "o" (the session is
	// the same), and messages queued meanwhile.
	expectPost(t, sess+"/xhr_send", `["again"]`, http.StatusNoContent, "")
	br = stream(t, sess+"/xhr_streaming")
	expectLine(t, br, prelude)
	expectLine(t, br, `a["again"]`+"\n")
}

// TestSockJSClient runs echo round trips with the client the load tool
// uses, over both transports.
func TestSockJSClient(t *testing.T) {
	t.Parallel()
	_, base := start(t)
	for _, tr := range []string{sockjsclient.TransportXHRPolling, sockjsclient.TransportXHRStreaming} {
		t.Run(tr, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
			defer cancel()
			c, err := sockjsclient.Dial(ctx, base+"/echo", sockjsclient.Options{Transport: tr})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			for _, msg := range []string{"hello", `quote " and \ backslash`, "ünïcode \u2028", strings.Repeat("y", 3000)} {
				if err := c.SendContext(ctx, msg); err != nil {
					t.Fatal(err)
				}
				got, err := c.Recv(ctx)
				if err != nil || got != msg {
					t.Fatalf("echo of %.40q: %.40q, %v", msg, got, err)
				}
			}
		})
	}
}

func TestSweep(t *testing.T) {
	t.Parallel()
	s, base := start(t)
	expectPost(t, base+"/echo/0/gone/xhr", "", http.StatusOK, "o\n")
	expectPost(t, base+"/echo/0/held/xhr", "", http.StatusOK, "o\n")
	held := heldPost(base + "/echo/0/held/xhr")
	waitReceiving(t, s, "held")
	s.sweepOnce() // both were seen since they opened
	if s.get("gone") == nil {
		t.Fatal("a session polled since the last sweep was dropped")
	}
	s.sweepOnce()
	if s.get("gone") != nil {
		t.Fatal("a session without a poll for a whole sweep period was kept")
	}
	if s.get("held") == nil {
		t.Fatal("a session with a held poll was dropped")
	}
	expectPost(t, base+"/echo/0/held/xhr_send", `["bye"]`, http.StatusNoContent, "")
	expectHeld(t, held, `a["bye"]`+"\n")
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	_, base := start(t)
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, name := range []string{"go_goroutines ", "go_memstats_heap_inuse_bytes ", "go_memstats_stack_inuse_bytes "} {
		if !strings.Contains(string(b), name) {
			t.Errorf("/metrics lacks %s:\n%s", name, b)
		}
	}
}

// TestHeaders: every xhr response carries its content type, no caching and
// CORS (the request's Origin echoed, or "*").
func TestHeaders(t *testing.T) {
	t.Parallel()
	_, base := start(t)
	check := func(path, body, origin, ctype, allow string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, base+"/echo/0/hd/"+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		h := resp.Header
		if h.Get("Content-Type") != ctype || h.Get("Access-Control-Allow-Origin") != allow ||
			!strings.HasPrefix(h.Get("Cache-Control"), "no-store, no-cache") {
			t.Errorf("%s: Content-Type %q, Access-Control-Allow-Origin %q, Cache-Control %q; want %q, %q, no-store",
				path, h.Get("Content-Type"), h.Get("Access-Control-Allow-Origin"), h.Get("Cache-Control"), ctype, allow)
		}
	}
	const js, text = "application/javascript; charset=UTF-8", "text/plain; charset=UTF-8"
	check("xhr", "", "https://app.example.com", js, "https://app.example.com")
	check("xhr_send", `["x"]`, "", text, "*")
	check("xhr", "", "", js, "*")
}
