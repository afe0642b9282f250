package sockjsclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/igm/sockjs-go/v3/sockjs"
)

// testTimeout bounds every wait in these tests.
const testTimeout = 10 * time.Second

// TestMain fails the package when a goroutine of a Conn outlives the tests.
// (goleak would also report the sockjs-go test server's sessions, which
// linger until their disconnect delay.)
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if err := checkLeaks(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

// checkLeaks waits up to 5s for every Conn goroutine to end.
func checkLeaks() error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		buf := make([]byte, 1<<20)
		stacks := string(buf[:runtime.Stack(buf, true)])
		if !strings.Contains(stacks, "sockjsclient.(*Conn)") {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("leaked goroutines:\n%s", stacks)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func echo(s sockjs.Session) {
	for {
		msg, err := s.Recv()
		if err != nil {
			return
		}
		if err := s.Send(msg); err != nil {
			return
		}
	}
}

// newServer serves sockjs-go services: /echo, /close (closes at once with
// 3000), /hb (50ms heartbeats) and /small (a 1 KiB response limit).
func newServer(t *testing.T) string {
	t.Helper()
	opts := sockjs.DefaultOptions
	opts.RawWebsocket = true
	hb := opts
	hb.HeartbeatDelay = 50 * time.Millisecond
	small := opts
	small.ResponseLimit = 1024
	mux := http.NewServeMux()
	mux.Handle("/echo/", sockjs.NewHandler("/echo", opts, echo))
	mux.Handle("/close/", sockjs.NewHandler("/close", opts, func(s sockjs.Session) {
		_ = s.Close(3000, "Go away!")
	}))
	mux.Handle("/hb/", sockjs.NewHandler("/hb", hb, echo))
	mux.Handle("/small/", sockjs.NewHandler("/small", small, echo))
	srv := httptest.NewServer(fixDetachRace(mux))
	t.Cleanup(srv.Close)
	return srv.URL
}

func dial(t *testing.T, url string, opts Options) *Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	c, err := Dial(ctx, url, opts)
	if err != nil {
		t.Fatalf("Dial %s %s: %v", url, opts.Transport, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func recv(t *testing.T, c *Conn) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	msg, err := c.Recv(ctx)
	if err != nil {
		t.Fatalf("Recv: %v", err)
	}
	return msg
}

func forEachTransport(t *testing.T, f func(t *testing.T, transport string)) {
	for _, tr := range Transports {
		t.Run(tr, func(t *testing.T) {
			t.Parallel()
			f(t, tr)
		})
	}
}

func TestEcho(t *testing.T) {
	t.Parallel()
	base := newServer(t)
	msgs := []string{"hello", "", `"quoted" \back\slash`, "\x00nul", "\u2028\u200c\ufff0\uffff",
		"한국어 😀", "</script>", "%25 %\r\n", strings.Repeat("x", 64<<10)}
	forEachTransport(t, func(t *testing.T, tr string) {
		c := dial(t, base+"/echo", Options{Transport: tr})
		for _, m := range msgs {
			if err := c.Send(m); err != nil {
				t.Fatalf("Send: %v", err)
			}
			if got := recv(t, c); got != m {
				t.Fatalf("echo = %.40q; want %.40q", got, m)
			}
		}
	})
}

func TestManyMessagesInOrder(t *testing.T) {
	t.Parallel()
	base := newServer(t)
	forEachTransport(t, func(t *testing.T, tr string) {
		// /small makes the streaming transports reconnect many times.
		c := dial(t, base+"/small", Options{Transport: tr})
		const n = 300
		batch := make([]string, 0, 10)
		for i := range n {
			batch = append(batch, fmt.Sprint(i))
			if len(batch) == cap(batch) {
				if err := c.Send(batch...); err != nil {
					t.Fatalf("Send: %v", err)
				}
				batch = batch[:0]
			}
		}
		for i := range n {
			if got, want := recv(t, c), fmt.Sprint(i); got != want {
				t.Fatalf("message %d = %q; want %q", i, got, want)
			}
		}
	})
}

func TestServerClose(t *testing.T) {
	t.Parallel()
	base := newServer(t)
	forEachTransport(t, func(t *testing.T, tr string) {
		c := dial(t, base+"/close", Options{Transport: tr})
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		_, err := c.Recv(ctx)
		var ce *CloseError
		if !errors.As(err, &ce) || ce.Code != 3000 || ce.Reason != "Go away!" {
			t.Fatalf("Recv = %v; want CloseError 3000 Go away!", err)
		}
		select {
		case <-c.Done():
		case <-ctx.Done():
			t.Fatal("receiving goroutine did not end after the close frame")
		}
		if _, err := c.Recv(ctx); !errors.As(err, &ce) {
			t.Fatalf("second Recv = %v; want the CloseError again", err)
		}
	})
}

func TestSecondReceiver(t *testing.T) {
	t.Parallel()
	base := newServer(t)
	for _, tr := range []string{TransportXHRStreaming, TransportEventSource, TransportHTMLFile} {
		t.Run(tr, func(t *testing.T) {
			t.Parallel()
			c := dial(t, base+"/echo", Options{Transport: tr})
			ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
			defer cancel()
			_, err := Dial(ctx, base+"/echo", Options{Transport: tr, SessionID: c.SessionID()})
			var ce *CloseError
			if !errors.As(err, &ce) || ce.Code != 2010 || ce.Reason != "Another connection still open" {
				t.Fatalf("second Dial = %v; want CloseError 2010", err)
			}
			if err := c.Send("still here"); err != nil {
				t.Fatal(err)
			}
			if got := recv(t, c); got != "still here" {
				t.Fatalf("first receiver got %q", got)
			}
		})
	}
}

func TestHeartbeats(t *testing.T) {
	t.Parallel()
	base := newServer(t)
	forEachTransport(t, func(t *testing.T, tr string) {
		frames := make(chan Frame, 100)
		c := dial(t, base+"/hb", Options{Transport: tr, OnFrame: func(f Frame) {
			select {
			case frames <- f:
			default:
			}
		}})
		timeout := time.After(testTimeout)
		for c.Heartbeats() < 2 {
			select {
			case <-frames:
			case <-timeout:
				t.Fatalf("saw %d heartbeats", c.Heartbeats())
			}
		}
	})
}

func TestCloseStopsReceiving(t *testing.T) {
	t.Parallel()
	base := newServer(t)
	forEachTransport(t, func(t *testing.T, tr string) {
		c := dial(t, base+"/echo", Options{Transport: tr})
		errc := make(chan error, 1)
		go func() {
			_, err := c.Recv(context.Background())
			errc <- err
		}()
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-errc:
			if !errors.Is(err, ErrClosed) {
				t.Fatalf("Recv after Close = %v; want ErrClosed", err)
			}
		case <-time.After(testTimeout):
			t.Fatal("Recv did not return after Close")
		}
		if err := c.Send("x"); !errors.Is(err, ErrClosed) {
			t.Fatalf("Send after Close = %v; want ErrClosed", err)
		}
	})
}

func TestRecvContext(t *testing.T) {
	t.Parallel()
	c := dial(t, newServer(t)+"/echo", Options{Transport: TransportXHRPolling})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := c.Recv(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Recv = %v; want DeadlineExceeded", err)
	}
}

func TestDialCancelled(t *testing.T) {
	t.Parallel()
	// A server that never answers: Dial must give up with its context.
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(block) })
	for _, tr := range Transports {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		_, err := Dial(ctx, srv.URL+"/echo", Options{Transport: tr})
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s: Dial = %v; want DeadlineExceeded", tr, err)
		}
	}
}

func TestSendUnknownSession(t *testing.T) {
	t.Parallel()
	base := newServer(t)
	for _, tr := range []string{TransportXHRPolling, TransportJSONP} {
		c := dial(t, base+"/echo", Options{Transport: tr})
		c2, err := newConn(base+"/echo", Options{Transport: tr, SessionID: "nosuch"})
		if err != nil {
			t.Fatal(err)
		}
		c2.http, c2.client = c.http, c.client
		err = c2.SendContext(context.Background(), "x")
		var he *HTTPError
		if !errors.As(err, &he) || he.StatusCode != http.StatusNotFound {
			t.Errorf("%s: send to unknown session = %v; want HTTP 404", tr, err)
		}
	}
}

func TestDialErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	if _, err := Dial(ctx, "ftp://x/echo", Options{}); err == nil {
		t.Error("Dial with an ftp URL succeeded")
	}
	if _, err := Dial(ctx, "http://127.0.0.1:1/echo", Options{Transport: "carrier-pigeon"}); err == nil {
		t.Error("Dial with an unknown transport succeeded")
	}
	base := newServer(t)
	_, err := Dial(ctx, base+"/nosuch", Options{Transport: TransportXHRPolling})
	var he *HTTPError
	if !errors.As(err, &he) || he.StatusCode != http.StatusNotFound {
		t.Errorf("Dial to a missing service = %v; want HTTP 404", err)
	}
}

func TestEmptyPollResponse(t *testing.T) {
	t.Parallel()
	var polls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if polls.Add(1) == 1 {
			_, _ = io.WriteString(w, "o\n")
		}
	}))
	t.Cleanup(srv.Close)
	c := dial(t, srv.URL+"/echo", Options{Transport: TransportXHRPolling})
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if _, err := c.Recv(ctx); err == nil || !strings.Contains(err.Error(), "without a frame") {
		t.Fatalf("Recv = %v; want the empty-response error", err)
	}
}

// TestSessionsDoNotShareConnections checks that, without
// Options.HTTPClient, two sessions never send requests over the same
// connection (one session's cancelled poll must not touch the connection
// another session's send takes: see newSessionTransport), and that Close
// closes the session's keep-alive connections.
func TestSessionsDoNotShareConnections(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	addrsBySession := map[string]map[string]bool{} // session id -> client addresses
	sessionByAddr := map[string]string{}
	open := map[net.Conn]bool{}
	opts := sockjs.DefaultOptions
	mux := http.NewServeMux()
	mux.Handle("/echo/", sockjs.NewHandler("/echo", opts, echo))
	srv := httptest.NewUnstartedServer(fixDetachRace(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		parts := strings.Split(r.URL.Path, "/") // "", "echo", server, session, transport
		if len(parts) == 5 {
			mu.Lock()
			if addrsBySession[parts[3]] == nil {
				addrsBySession[parts[3]] = map[string]bool{}
			}
			addrsBySession[parts[3]][r.RemoteAddr] = true
			if other, ok := sessionByAddr[r.RemoteAddr]; ok && other != parts[3] {
				t.Errorf("connection %s carried requests of sessions %s and %s", r.RemoteAddr, other, parts[3])
			}
			sessionByAddr[r.RemoteAddr] = parts[3]
			mu.Unlock()
		}
		mux.ServeHTTP(w, r)
	})))
	srv.Config.ConnState = func(c net.Conn, s http.ConnState) {
		mu.Lock()
		defer mu.Unlock()
		switch s {
		case http.StateNew:
			open[c] = true
		case http.StateClosed, http.StateHijacked:
			delete(open, c)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)

	var conns []*Conn
	for range 2 {
		conns = append(conns, dial(t, srv.URL+"/echo", Options{Transport: TransportXHRPolling}))
	}
	for round := range 20 {
		for i, c := range conns {
			msg := fmt.Sprintf("session %d round %d", i, round)
			if err := c.Send(msg); err != nil {
				t.Fatalf("Send: %v", err)
			}
			if got := recv(t, c); got != msg {
				t.Fatalf("got %q, want %q", got, msg)
			}
		}
	}
	mu.Lock()
	for id, addrs := range addrsBySession {
		if len(addrs) < 2 {
			// A poll and a send overlap, so each session needs two.
			t.Errorf("session %s used %d connection(s); want its own two or more", id, len(addrs))
		}
	}
	if len(addrsBySession) != 2 {
		t.Errorf("the server saw %d sessions, want 2", len(addrsBySession))
	}
	mu.Unlock()

	for _, c := range conns {
		c.Close()
	}
	deadline := time.Now().Add(testTimeout)
	for {
		mu.Lock()
		n := len(open)
		mu.Unlock()
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d connection(s) still open %v after both sessions closed", n, testTimeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
