package production

import (
	"context"
	"errors"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sockgate/sockgate/gateway"
	"github.com/sockgate/sockgate/session"
	"github.com/sockgate/sockgate/test/sockjsclient"
)

const (
	// floodTotal is how much a flooding handler tries to send: far more
	// than any queue bound, so an unbounded queue would show in the heap.
	floodTotal = 64 << 20
	// floodMessage is the size of each flooded message.
	floodMessage = 1 << 10
	// heapSlack is what the heap may grow beyond the queue bound while a
	// slow client is stuck (the frame in the writer's hands, buffers).
	heapSlack = 4 << 20
)

// floodResult is what a flooding handler reports when it stops.
type floodResult struct {
	sent int
	err  error
}

// floodService sends floodMessage-sized messages as soon as a session
// opens, until Send fails or floodTotal bytes went out.
func floodService(results chan<- floodResult) gateway.Service {
	msg := strings.Repeat("f", floodMessage)
	return gateway.Service{
		Prefix: "/flood", DisconnectDelay: testDisconnect,
		Handler: func(ctx context.Context, s session.Session) {
			sent := 0
			for ; sent < floodTotal; sent += len(msg) {
				if err := s.Send(msg); err != nil {
					results <- floodResult{sent, err}
					return
				}
			}
			results <- floodResult{sent, nil}
		},
	}
}

// A websocket client that never reads while its handler floods it holds
// the server's heap near the queue bound (the session is closed with 3008,
// Send fails with ErrQueueFull), instead of growing with what was sent;
// another client's echo keeps working meanwhile. Not parallel: it measures
// the process heap.
func TestSlowClientWebsocketMemoryBounded(t *testing.T) {
	for _, tc := range []struct{ name, path string }{
		{"sockjs websocket", "/flood/000/slow/websocket"},
		{"raw websocket", "/flood/websocket"},
	} {
		t.Run(tc.name, func(t *testing.T) { checkSlowClient(t, tc.path) })
	}
}

func checkSlowClient(t *testing.T, path string) {
	results := make(chan floodResult, 1)
	srv := startGateway(t, gateway.Config{Services: []gateway.Service{floodService(results), echoService("/echo")}})
	other := dial(t, srv.URL()+"/echo", sockjsclient.Options{Transport: sockjsclient.TransportWebsocket})
	echoRoundTrip(t, other, "before")

	base := heapInUse()
	slow := dialNeverReads(t, srv.URL()+path)
	defer slow.Close()

	echoes := make(chan error, 1)
	stop := make(chan struct{})
	go func() { echoes <- echoWhile(other, stop) }()
	var res floodResult
	select {
	case res = <-results:
	case <-time.After(waitTimeout):
		t.Fatal("the flooding handler never stopped: Send never failed for a client that does not read")
	}
	close(stop)
	if err := <-echoes; err != nil {
		t.Errorf("the other client's echo failed during the flood: %v", err)
	}
	echoRoundTrip(t, other, "after")

	grown := int64(heapInUse()) - int64(base)
	bound := int64(gateway.DefaultMaxQueueBytes + heapSlack)
	t.Logf("handler sent %d KiB before %v; heap grew by %d KiB (bound %d KiB)", res.sent>>10, res.err, grown>>10, bound>>10)
	if !errors.Is(res.err, session.ErrQueueFull) {
		t.Errorf("flooding handler stopped with %v after %d bytes, want ErrQueueFull", res.err, res.sent)
	}
	if grown > bound {
		t.Errorf("heap grew by %d bytes with a client that never reads, want at most %d", grown, bound)
	}
}

// heapInUse is HeapInuse after a collection.
func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// dialNeverReads opens a websocket whose client never reads, with a small
// receive buffer so the server's writes block soon.
func dialNeverReads(t *testing.T, url string) *websocket.Conn {
	t.Helper()
	d := websocket.Dialer{NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		var nd net.Dialer
		c, err := nd.DialContext(ctx, network, addr)
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetReadBuffer(8 << 10)
		}
		return c, err
	}}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	c, _, err := d.DialContext(ctx, wsURL(url), nil)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	return c
}

// echoWhile runs echo round trips on c until stop closes; it returns the
// first failure.
func echoWhile(c *sockjsclient.Conn, stop <-chan struct{}) error {
	for i := 0; ; i++ {
		select {
		case <-stop:
			return nil
		default:
		}
		msg := "during-" + strings.Repeat("x", i%10)
		if err := c.Send(msg); err != nil {
			return err
		}
		got, err := recv(c)
		if err != nil {
			return err
		}
		if got != msg {
			return errors.New("echo " + got + ", want " + msg)
		}
	}
}
