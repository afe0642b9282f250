package compat_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/rs/zerolog"

	"github.com/sockgate/sockgate/gateway/compat"
	"github.com/sockgate/sockgate/session"
	"github.com/sockgate/sockgate/session/transport"
)

// waitFor bounds every wait in these tests.
const waitFor = 5 * time.Second

// TestMain fails the run if sockjs-go or compat goroutines outlive the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if leaked := leakedGoroutines(waitFor); leaked != "" {
			fmt.Fprintf(os.Stderr, "leaked goroutines:\n%s\n", leaked)
			code = 1
		}
	}
	os.Exit(code)
}

func leakedGoroutines(wait time.Duration) string {
	var leaked string
	for deadline := time.Now().Add(wait); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		buf := make([]byte, 1<<20)
		leaked = ""
		for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
			if strings.Contains(g, "igm/sockjs-go") || strings.Contains(g, "gateway/compat.") {
				leaked += g + "\n\n"
			}
		}
		if leaked == "" {
			return ""
		}
	}
	return leaked
}

// quietAfter forwards to zerolog's test writer until the test ends, then
// drops lines: sockjs-go sessions may log after the last assertion.
type quietAfter struct {
	mu   sync.Mutex
	w    io.Writer
	done bool
}

func (q *quietAfter) Write(p []byte) (int, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.done {
		return len(p), nil
	}
	return q.w.Write(p)
}

// newServer mounts compat.New(opts, h) at "/echo" on a test server.
func newServer(t *testing.T, opts compat.Options, h session.Handler) *httptest.Server {
	t.Helper()
	w := &quietAfter{w: zerolog.NewTestWriter(t)}
	opts.Prefix = "/echo"
	opts.Logger = zerolog.New(w).Level(zerolog.DebugLevel)
	if opts.DisconnectDelay == 0 {
		opts.DisconnectDelay = 200 * time.Millisecond
	}
	handler := compat.New(opts, h)
	mux := http.NewServeMux()
	mux.Handle("/echo", handler)
	mux.Handle("/echo/", handler)
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		srv.Close()
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	return srv
}

// echo sends every message back; "close" closes with 3000 (twice, to check
// that Close is idempotent).
func echo(ctx context.Context, s session.Session) {
	for {
		msg, err := s.Recv(ctx)
		if err != nil {
			return
		}
		if msg == "close" {
			_ = s.Close(session.CodeGoAway, session.ReasonGoAway)
			_ = s.Close(session.CodeNormal, "again")
			continue
		}
		_ = s.Send(msg)
	}
}

// do makes a request and returns status, headers and body.
func do(t *testing.T, method, url, body string, hdr ...string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, url, err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

// poll makes an xhr-polling request. sockjs-go detaches a receiver in a
// goroutine after the response is written, so a prompt next poll may get
// c[2010,...] without changing the session: poll retries those.
func poll(t *testing.T, base string) string {
	t.Helper()
	for range 50 {
		if _, _, body := do(t, "POST", base+"/xhr", ""); !strings.HasPrefix(body, "c[2010,") {
			return body
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("poll: c[2010] 50 times")
	return ""
}

func dial(t *testing.T, srv *httptest.Server, path string, hdr http.Header) *websocket.Conn {
	t.Helper()
	c, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http")+path, hdr)
	if err != nil {
		t.Fatalf("dial %s: %v", path, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func readWS(t *testing.T, c *websocket.Conn, want string) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(waitFor))
	_, got, err := c.ReadMessage()
	if err != nil || string(got) != want {
		t.Fatalf("read = %q, %v; want %q", got, err, want)
	}
}

func TestXHRPollingEcho(t *testing.T) {
	t.Parallel()
	srv := newServer(t, compat.Options{}, echo)
	base := srv.URL + "/echo/000/xhr1"

	status, hdr, body := do(t, "POST", base+"/xhr", "")
	if status != 200 || body != "o\n" || hdr.Get("Content-Type") != "application/javascript; charset=UTF-8" {
		t.Fatalf("open = %d %q %q; want 200 \"o\\n\"", status, hdr.Get("Content-Type"), body)
	}
	if status, _, body = do(t, "POST", base+"/xhr_send", `["a\u2028b"]`); status != http.StatusNoContent {
		t.Fatalf("xhr_send = %d %q; want 204", status, body)
	}
	if body = poll(t, base); body != `a["a\u2028b"]`+"\n" {
		t.Fatalf("poll = %q; want the echo", body)
	}
	if status, _, _ = do(t, "POST", srv.URL+"/echo/000/nosuch/xhr_send", `["x"]`); status != http.StatusNotFound {
		t.Fatalf("xhr_send to unknown session = %d; want 404", status)
	}
}

func TestWebsocketEchoCrossOrigin(t *testing.T) {
	t.Parallel()
	srv := newServer(t, compat.Options{Websocket: true}, echo)
	c := dial(t, srv, "/echo/000/ws1/websocket", http.Header{"Origin": {"https://elsewhere.example"}})
	readWS(t, c, "o")
	if err := c.WriteMessage(websocket.TextMessage, []byte(`["hello","world"]`)); err != nil {
		t.Fatal(err)
	}
	readWS(t, c, `a["hello"]`)
	readWS(t, c, `a["world"]`)
}

func TestCloseFrame(t *testing.T) {
	t.Parallel()
	srv := newServer(t, compat.Options{Websocket: true}, echo)
	t.Run("websocket", func(t *testing.T) {
		c := dial(t, srv, "/echo/000/ws2/websocket", nil)
		readWS(t, c, "o")
		_ = c.WriteMessage(websocket.TextMessage, []byte(`["close"]`))
		readWS(t, c, `c[3000,"Go away!"]`)
	})
	t.Run("xhr-polling", func(t *testing.T) {
		base := srv.URL + "/echo/000/xhr2"
		do(t, "POST", base+"/xhr", "")
		do(t, "POST", base+"/xhr_send", `["close"]`)
		for range 2 { // the same close frame answers every later poll
			if body := poll(t, base); body != "c[3000,\"Go away!\"]\n" {
				t.Fatalf("poll = %q; want the close frame", body)
			}
		}
	})
}

// TestHandlerEnd checks the close that follows a handler's return or panic.
func TestHandlerEnd(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		h    session.Handler
		want string
	}{
		{"return", func(context.Context, session.Session) {}, `c[1000,"Normal closure"]`},
		{"panic", func(context.Context, session.Session) { panic("boom") }, `c[1011,"Internal error"]`},
		{"closed already", func(_ context.Context, s session.Session) { _ = s.Close(4000, "bye") }, `c[4000,"bye"]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newServer(t, compat.Options{Websocket: true}, tt.h)
			c := dial(t, srv, "/echo/000/ws3/websocket", nil)
			readWS(t, c, "o")
			readWS(t, c, tt.want)
		})
	}
}

type opened struct{ id, transport string }

// TestSessionNames checks ID and Transport for every transport.
func TestSessionNames(t *testing.T) {
	t.Parallel()
	got := make(chan opened, 1)
	srv := newServer(t, compat.Options{Websocket: true, RawWebsocket: true}, func(ctx context.Context, s session.Session) {
		got <- opened{s.ID(), s.Transport()}
		echo(ctx, s)
	})
	tests := []struct{ transport, method, path string }{
		{"websocket", "WS", "/echo/000/id-ws/websocket"},
		{"raw-websocket", "WS", "/echo/websocket"},
		{"xhr-polling", "POST", "/echo/000/id-xhr/xhr"},
		{"xhr-streaming", "POST", "/echo/000/id-xs/xhr_streaming"},
		{"eventsource", "GET", "/echo/000/id-es/eventsource"},
		{"htmlfile", "GET", "/echo/000/id-hf/htmlfile?c=cb"},
		{"jsonp-polling", "GET", "/echo/000/id-jp/jsonp?c=cb"},
	}
	for _, tt := range tests { // one at a time: got is shared
		t.Run(tt.transport, func(t *testing.T) {
			if tt.method == "WS" {
				dial(t, srv, tt.path, nil)
			} else {
				openStream(t, tt.method, srv.URL+tt.path)
			}
			wantID := ""
			if i := strings.Index(tt.path, "/id-"); i >= 0 {
				wantID = strings.SplitN(tt.path[i+1:], "/", 2)[0]
			}
			select {
			case o := <-got:
				if o != (opened{wantID, tt.transport}) {
					t.Fatalf("session = %+v; want {%s %s}", o, wantID, tt.transport)
				}
			case <-time.After(waitFor):
				t.Fatal("handler not called")
			}
		})
	}
}

// openStream starts a receiving request and aborts it when the test ends.
func openStream(t *testing.T, method, url string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, method, url, nil)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
}

// TestClientGone checks Recv, Send, Done and ctx once the client hangs up.
func TestClientGone(t *testing.T) {
	t.Parallel()
	type result struct {
		recvErr, sendErr error
		ctxDone          bool
	}
	res := make(chan result, 1)
	srv := newServer(t, compat.Options{Websocket: true}, func(ctx context.Context, s session.Session) {
		_, err := s.Recv(context.Background())
		var r result
		r.recvErr = err
		select {
		case <-s.Done():
		case <-time.After(waitFor):
		}
		r.sendErr = s.Send("late")
		r.ctxDone = ctx.Err() != nil
		res <- r
	})
	c := dial(t, srv, "/echo/000/ws4/websocket", nil)
	readWS(t, c, "o")
	_ = c.Close()
	select {
	case r := <-res:
		if !errors.Is(r.recvErr, session.ErrClosed) || !errors.Is(r.sendErr, session.ErrClosed) || !r.ctxDone {
			t.Fatalf("after hang-up: Recv %v, Send %v, ctx done %v; want ErrClosed, ErrClosed, true", r.recvErr, r.sendErr, r.ctxDone)
		}
	case <-time.After(waitFor):
		t.Fatal("handler did not see the hang-up")
	}
}

func TestRecvHonoursContext(t *testing.T) {
	t.Parallel()
	errc := make(chan error, 1)
	srv := newServer(t, compat.Options{Websocket: true}, func(ctx context.Context, s session.Session) {
		rctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		defer cancel()
		_, err := s.Recv(rctx)
		errc <- err
	})
	c := dial(t, srv, "/echo/000/ws5/websocket", nil)
	readWS(t, c, "o")
	if err := <-errc; !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Recv = %v; want context.DeadlineExceeded", err)
	}
}

func TestRouting(t *testing.T) {
	t.Parallel()
	srv := newServer(t, compat.Options{DisabledTransports: []transport.Name{transport.XHRPolling}}, echo)
	tests := []struct {
		method, path string
		hdr          []string
		status       int
		body, header string // header is "Name: value"
	}{
		{"GET", "/echo", nil, 200, "Welcome to SockJS!\n", ""},
		{"GET", "/echo/", nil, 200, "Welcome to SockJS!\n", ""},
		{"GET", "/echo/a", nil, 404, "", ""},
		{"POST", "/echo/000/r1/xhr", nil, 404, "", ""},      // disabled
		{"GET", "/echo/000/r1/websocket", nil, 404, "", ""}, // Websocket false
		{"GET", "/echo/000/r1/xhr_streaming", nil, 405, "", "Allow: POST, OPTIONS"},
		{"OPTIONS", "/echo/info", []string{"Origin", "null"}, 204, "", "Access-Control-Allow-Origin: null"},
		{"GET", "/echo/info", []string{"Origin", "https://a.example"}, 200, "", "Access-Control-Allow-Origin: https://a.example"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			status, hdr, body := do(t, tt.method, srv.URL+tt.path, "", tt.hdr...)
			if status != tt.status || (tt.body != "" && body != tt.body) {
				t.Fatalf("= %d %q; want %d %q", status, body, tt.status, tt.body)
			}
			if name, value, ok := strings.Cut(tt.header, ": "); ok && hdr.Get(name) != value {
				t.Fatalf("%s = %q; want %q", name, hdr.Get(name), value)
			}
		})
	}
}
