package gateway

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"
)

// TestShutdownClosesUnusedConnections: a connection that has sat without
// a request does not hold the drain for net/http's 5 s.
func TestShutdownClosesUnusedConnections(t *testing.T) {
	t.Parallel()
	srv, err := New(Config{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Open(); err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	time.Sleep(unusedGrace + 100*time.Millisecond) // unused for longer than the grace
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Shutdown took %v with one unused connection open; net/http alone waits 5 s", d)
	}
	_ = c.SetReadDeadline(time.Now().Add(time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Error("the unused connection is still open after Shutdown")
	}
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

// TestShutdownClosesSpareOpenedLate: a spare connection opened just before
// the drain (younger than the grace when Shutdown starts) is closed once
// it has sat unused for the grace, while Shutdown waits, not after
// net/http's 5 s.
func TestShutdownClosesSpareOpenedLate(t *testing.T) {
	t.Parallel()
	srv, err := New(Config{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Open(); err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Shutdown took %v with a fresh unused connection open; want about the %v grace", d, unusedGrace)
	}
	_ = c.SetReadDeadline(time.Now().Add(time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Error("the unused connection is still open after Shutdown")
	}
}
