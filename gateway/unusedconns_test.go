package gateway

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"
)

// TestShutdownClosesUnusedConnections: a connection that sends no
// request does not hold the drain for net/http's 5 s: one that sat unused
// for longer than the grace before the drain, and a spare opened just
// before it (younger than the grace when Shutdown starts), closed once it
// has sat unused for the grace.
func TestShutdownClosesUnusedConnections(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		idle time.Duration // before Shutdown
	}{
		{"unused for longer than the grace", unusedGrace + 100*time.Millisecond},
		{"spare opened just before", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, c := openWithConn(t)
			time.Sleep(tc.idle)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			start := time.Now()
			if err := srv.Shutdown(ctx); err != nil {
				t.Fatalf("Shutdown: %v", err)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("Shutdown took %v with one unused connection open; want about the %v grace, not net/http's 5 s", d, unusedGrace)
			}
			_ = c.SetReadDeadline(time.Now().Add(time.Second))
			if _, err := c.Read(make([]byte, 1)); err == nil {
				t.Error("the unused connection is still open after Shutdown")
			}
		})
	}
}

// openWithConn opens a gateway with no service on a free port and one
// connection to it that has sent nothing yet.
func openWithConn(t *testing.T) (*Server, net.Conn) {
	t.Helper()
	srv, err := New(Config{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	c, err := net.Dial("tcp", srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return srv, c
}

// TestUnusedConnsTrack: a connection is tracked from StateNew until its
// first request (or its close), whatever the order of the others.
func TestUnusedConnsTrack(t *testing.T) {
	t.Parallel()
	var u unusedConns
	a, a2 := net.Pipe()
	b, b2 := net.Pipe()
	defer a2.Close()
	defer b2.Close()
	tracked := func(c net.Conn) bool {
		u.mu.Lock()
		defer u.mu.Unlock()
		_, ok := u.m[c]
		return ok
	}
	u.track(a, http.StateNew)
	u.track(b, http.StateNew)
	u.track(a, http.StateActive)
	if tracked(a) || !tracked(b) || u.n.Load() != 1 {
		t.Fatalf("after a's first request: a %v, b %v, n %d; want only b", tracked(a), tracked(b), u.n.Load())
	}
	u.track(a, http.StateIdle)
	u.track(a, http.StateActive)
	u.track(b, http.StateClosed)
	if tracked(b) || u.n.Load() != 0 {
		t.Fatalf("after b closed unused: b %v, n %d; want none", tracked(b), u.n.Load())
	}
	// A stale one is closed by closeStale, a fresh one kept.
	u.track(a, http.StateNew)
	u.mu.Lock()
	u.m[a] = time.Now().Add(-2 * unusedGrace)
	u.mu.Unlock()
	u.track(b, http.StateNew)
	u.closeStale()
	if tracked(a) || !tracked(b) || u.n.Load() != 1 {
		t.Fatalf("after closeStale: a %v, b %v, n %d; want only b", tracked(a), tracked(b), u.n.Load())
	}
	if _, err := a2.Write([]byte("x")); err == nil {
		t.Error("closeStale left the stale connection open")
	}
}
