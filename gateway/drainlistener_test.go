package gateway

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"syscall"
	"testing"
	"time"
)

// TestDrainingListenerTakesTheQueue: connections the kernel completed
// before a drain stops listening (nobody accepted them yet) are still
// accepted; then the port is closed, new connections are refused, and
// Accept returns net.ErrClosed once Close is called.
func TestDrainingListenerTakesTheQueue(t *testing.T) {
	t.Parallel()
	l := listenDraining(t)
	addr := l.Addr().String()
	for range 3 { // queued: nobody accepts yet
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	closed := make(chan struct{})
	go func() { l.closeAccepting(ctx); close(closed) }()
	for i := range 3 {
		c, err := l.Accept()
		if err != nil {
			t.Fatalf("queued connection %d: %v", i, err)
		}
		_ = c.Close()
	}
	ended := make(chan error, 1)
	go func() { _, err := l.Accept(); ended <- err }()
	select {
	case <-closed:
	case <-ctx.Done():
		t.Fatal("closeAccepting did not return")
	}
	if _, err := net.Dial("tcp", addr); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial after the drain closed the port: %v; want connection refused", err)
	}
	select {
	case err := <-ended:
		t.Fatalf("Accept returned %v before Close", err)
	case <-time.After(100 * time.Millisecond):
	}
	_ = l.Close()
	if err := <-ended; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept after Close: %v; want net.ErrClosed", err)
	}
}

// TestShutdownAnswersConnectionsAlreadyMade: a client whose connection
// was made before the drain closed the port, and whose request arrives
// after, gets its answer (net/http's Shutdown alone would close that
// connection unanswered: an EOF the client or its balancer cannot retry
// for a POST).
func TestShutdownAnswersConnectionsAlreadyMade(t *testing.T) {
	t.Parallel()
	srv, c := openWithConn(t)
	addr := srv.Addr().String()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(ctx) }()
	for { // the drain closes the port while it still serves c
		probe, err := net.Dial("tcp", addr)
		if err != nil {
			// Refused; or reset, by a probe that reached the queue as
			// the port closed.
			if !errors.Is(err, syscall.ECONNREFUSED) && !errors.Is(err, syscall.ECONNRESET) {
				t.Fatalf("dial during the drain: %v", err)
			}
			break
		}
		_ = probe.Close()
		select {
		case err := <-shut:
			t.Fatalf("Shutdown returned (%v) before the port was seen closed", err)
		case <-ctx.Done():
			t.Fatal("the port stayed open")
		case <-time.After(5 * time.Millisecond):
		}
	}
	if _, err := c.Write([]byte("GET /healthz HTTP/1.1\r\nHost: sockgate\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("request on a connection made before the drain: %v; want its answer", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !resp.Close {
		t.Fatalf("answer %d (connection closing: %v); want 200 and Connection: close", resp.StatusCode, resp.Close)
	}
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}

// TestDrainingListenerWithoutAccept: a drain whose server no longer
// accepts still closes the port, within a second of backlogWait.
func TestDrainingListenerWithoutAccept(t *testing.T) {
	t.Parallel()
	l := listenDraining(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	l.closeAccepting(ctx)
	if ctx.Err() != nil {
		t.Fatal("closeAccepting waited for the context")
	}
	if _, err := net.Dial("tcp", l.Addr().String()); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial after closeAccepting: %v; want connection refused", err)
	}
}

// listenDraining is a drainingListener on a free loopback port, closed
// when the test ends.
func listenDraining(t *testing.T) *drainingListener {
	t.Helper()
	tl, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	l := newDrainingListener(tl)
	t.Cleanup(func() { _ = l.Close() })
	return l
}
