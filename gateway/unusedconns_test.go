package gateway

import (
	"context"
	"net"
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
