package bridge

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sockgate/sockgate/session"
	"github.com/sockgate/sockgate/test/sockjsclient"
)

// faultTransports are the transports each fault runs over: the websocket,
// one stream and one poll.
var faultTransports = []string{
	sockjsclient.TransportWebsocket, sockjsclient.TransportXHRStreaming, sockjsclient.TransportXHRPolling,
}

// wantClose checks a close frame's code and reason.
func wantClose(t *testing.T, got *sockjsclient.CloseError, code int, reason string) {
	t.Helper()
	if got.Code != code || got.Reason != reason {
		t.Fatalf("close frame %d %q, want %d %q", got.Code, got.Reason, code, reason)
	}
}

// Faults of the backend, each against both backends: what the client gets,
// what the backend gets, and how soon.
func TestBackendFaults(t *testing.T) {
	t.Parallel()
	for _, bk := range backends {
		t.Run(bk.name, func(t *testing.T) {
			t.Parallel()
			b := bk.start(t)
			g := startGateway(t, b)
			for _, tr := range faultTransports {
				t.Run(tr, func(t *testing.T) {
					t.Parallel()
					backendFaults(t, b, g, tr)
				})
			}
		})
	}
}

func backendFaults(t *testing.T, b *backend, g *gw, tr string) {
	// Nothing listens: o, then c[3011] at once, never a hanging session.
	t.Run("down-at-open", func(t *testing.T) {
		t.Parallel()
		before := g.metric(t, `sockgate_upstream_dials_total{result="refused",upstream="/down"}`)
		c := dial(t, g, "/down", tr)
		wantClose(t, recvClose(t, c), session.CodeBackendUnavailable, session.ReasonBackendUnavailable)
		if after := g.metric(t, `sockgate_upstream_dials_total{result="refused",upstream="/down"}`); after <= before {
			t.Errorf("refused dials counted %v, then %v", before, after)
		}
	})
	// The backend answers the upgrade with 403.
	t.Run("http-error-at-open", func(t *testing.T) {
		t.Parallel()
		c := dial(t, g, "/forbidden", tr)
		wantClose(t, recvClose(t, c), session.CodeBackendUnavailable, session.ReasonBackendUnavailable)
		if n := g.metric(t, `sockgate_upstream_dials_total{result="http_status",upstream="/forbidden"}`); n < 1 {
			t.Errorf("http_status dials counted: %v", n)
		}
	})
	// An application close code and its reason reach the client as they are.
	t.Run("close-4001", func(t *testing.T) {
		t.Parallel()
		c := dial(t, g, "/ws/chat", tr)
		send(t, c, "cmd:close 4001 custom reason ☃")
		wantClose(t, recvClose(t, c), 4001, "custom reason ☃")
	})
	// 1000 passes too.
	t.Run("close-1000", func(t *testing.T) {
		t.Parallel()
		c := dial(t, g, "/ws/chat", tr)
		send(t, c, "cmd:close 1000 bye")
		wantClose(t, recvClose(t, c), 1000, "bye")
	})
	// Other codes become the reconnectable 3012.
	t.Run("close-1011", func(t *testing.T) {
		t.Parallel()
		c := dial(t, g, "/ws/chat", tr)
		send(t, c, "cmd:close 1011 oops")
		wantClose(t, recvClose(t, c), session.CodeBackendClosed, session.ReasonBackendClosed)
	})
	// A binary frame is dropped (and counted); the session lives on.
	t.Run("binary-dropped", func(t *testing.T) {
		t.Parallel()
		c := dial(t, g, "/ws/chat", tr)
		send(t, c, "cmd:binary")
		if got := recv(t, c); got != "after-binary" {
			t.Fatalf("after a binary frame: got %q, want after-binary", got)
		}
		send(t, c, "still here")
		if got := recv(t, c); got != "still here" {
			t.Fatalf("echo after a binary frame: %q", got)
		}
		if n := g.metric(t, `sockgate_upstream_binary_dropped_total{upstream="/ws/chat"}`); n < 1 {
			t.Errorf("binary frames counted: %v", n)
		}
	})
	// The backend's TCP connection dies without a close frame: the client
	// has its close frame within a second.
	t.Run("connection-dies", func(t *testing.T) {
		t.Parallel()
		c := dial(t, g, "/ws/chat", tr)
		start := time.Now()
		send(t, c, "cmd:die")
		wantClose(t, recvClose(t, c), session.CodeBackendClosed, session.ReasonBackendClosed)
		if took := time.Since(start); took > closeWithin {
			t.Errorf("close frame %v after the backend died, want within %v", took, closeWithin)
		}
	})
	// A backend that answers no pings is dead after two heartbeats.
	t.Run("silent", func(t *testing.T) {
		t.Parallel()
		start := time.Now() // the backend's read deadline starts once it accepted
		c := dial(t, g, "/silent", tr)
		wantClose(t, recvClose(t, c), session.CodeBackendClosed, session.ReasonBackendClosed)
		// The upper bound leaves room for a loaded machine under -race.
		if took := time.Since(start); took < 2*silentHeartbeat || took > 2*silentHeartbeat+silentSlack {
			t.Errorf("silent backend declared dead after %v, want 2 heartbeats (%v) and at most %v more",
				took, 2*silentHeartbeat, silentSlack)
		}
	})
	// A backend that reads nothing: the client's messages back up (the
	// websocket stops being read, sends wait) until the write bound
	// closes the session with 3013.
	t.Run("never-reads", func(t *testing.T) {
		t.Parallel()
		c := dial(t, g, "/ws/chat", tr)
		send(t, c, "cmd:noread")
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		sent := make(chan error, 1)
		go func() {
			// Large, so that few send requests fill the socket buffers
			// (megabytes on loopback) before a write blocks.
			big := strings.Repeat("n", 512<<10)
			for {
				if err := c.SendContext(ctx, big); err != nil {
					sent <- err
					return
				}
			}
		}()
		wantClose(t, recvClose(t, c), session.CodeBackendStalled, session.ReasonBackendStalled)
		cancel()
		<-sent
	})
}

// A backend killed outright (SIGKILL for the Node one): every client gets
// its close frame within a second, whatever its transport.
func TestBackendKilled(t *testing.T) {
	t.Parallel()
	for _, bk := range backends {
		t.Run(bk.name, func(t *testing.T) {
			t.Parallel()
			b := bk.start(t)
			g := startGateway(t, b)
			var conns []*sockjsclient.Conn
			for _, tr := range sessionTransports {
				c := dial(t, g, "/ws/chat", tr)
				send(t, c, "ping")
				if got := recv(t, c); got != "ping" {
					t.Fatalf("echo over %s: %q", tr, got)
				}
				conns = append(conns, c)
			}
			start := time.Now()
			b.kill()
			for _, c := range conns {
				wantClose(t, recvClose(t, c), session.CodeBackendClosed, session.ReasonBackendClosed)
				if took := time.Since(start); took > closeWithin {
					t.Errorf("%s: close frame %v after the kill, want within %v", c.Transport(), took, closeWithin)
				}
			}
		})
	}
}

// The client goes away: the backend gets its close frame and the
// connection is released.
func TestClientGone(t *testing.T) {
	t.Parallel()
	for _, bk := range backends {
		t.Run(bk.name, func(t *testing.T) {
			t.Parallel()
			b := bk.start(t)
			g := startGateway(t, b)
			// A poller that stops polling: 1001 once the disconnect
			// delay has passed.
			t.Run("poller-vanishes", func(t *testing.T) {
				t.Parallel()
				c := dial(t, g, "/vanish", sockjsclient.TransportXHRPolling)
				send(t, c, "hi")
				recv(t, c)
				start := time.Now()
				c.Close()
				// Close aborts the poll in flight (1002) or, between
				// polls, leaves the session to time out (3010).
				got := b.closed(t, c.SessionID())
				if got.Code != 1001 || got.Reason != session.ReasonTimeout && got.Reason != session.ReasonInterrupted {
					t.Errorf("backend close %+v, want 1001 %q or %q", got, session.ReasonTimeout, session.ReasonInterrupted)
				}
				if took := time.Since(start); took > vanishDelay+closeWithin {
					t.Errorf("backend closed %v after the client left, want within %v", took, vanishDelay+closeWithin)
				}
			})
			// A websocket whose TCP connection drops without a close frame.
			t.Run("websocket-drops", func(t *testing.T) {
				t.Parallel()
				ws, sid := rawSession(t, g, "/ws/chat")
				_ = ws.NetConn().Close()
				got := b.closed(t, sid)
				if got.Code != 1001 {
					t.Errorf("backend close %+v, want 1001", got)
				}
			})
		})
	}
}

// rawSession opens a SockJS websocket session with gorilla directly (so the
// test controls reading) and reads its open frame.
func rawSession(t *testing.T, g *gw, prefix string) (*websocket.Conn, string) {
	t.Helper()
	sid := "raw" + strings.ReplaceAll(t.Name(), "/", "-")
	u := "ws" + strings.TrimPrefix(g.url, "http") + prefix + "/000/" + sid + "/websocket"
	ws, _, err := websocket.DefaultDialer.DialContext(ctxT(t), u, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", u, err)
	}
	t.Cleanup(func() { _ = ws.Close() })
	_ = ws.SetReadDeadline(time.Now().Add(waitTimeout))
	if _, p, err := ws.ReadMessage(); err != nil || string(p) != "o" {
		t.Fatalf("open frame: %q, %v", p, err)
	}
	return ws, sid
}

// A backend flooding a client that does not read: the client is cut with
// 3008 at its queue bound, the backend gets 1001, and the gateway's heap
// stays near the bound instead of growing with what the backend sent. Not
// parallel: it measures the heap.
func TestBackendFloods(t *testing.T) {
	for _, bk := range backends {
		t.Run(bk.name, func(t *testing.T) {
			b := bk.start(t)
			g := startGateway(t, b)
			before := heapInUse()
			ws, sid := rawSession(t, g, "/flood")
			if err := ws.WriteMessage(websocket.TextMessage, []byte(`["cmd:flood"]`)); err != nil {
				t.Fatal(err)
			}
			got := b.closed(t, sid)
			if got.Code != 1001 || got.Reason != session.ReasonSlowClient {
				t.Errorf("backend close %+v, want 1001 %q", got, session.ReasonSlowClient)
			}
			if grown := heapInUse() - before; grown > 16<<20 {
				t.Errorf("heap grew %d bytes while the backend flooded a stuck client", grown)
			}
			// The client, reading at last, finds c[3008] after what was queued.
			for {
				_, p, err := ws.ReadMessage()
				if err != nil {
					t.Fatalf("reading up to the close frame: %v", err)
				}
				if strings.HasPrefix(string(p), "c[") {
					if string(p) != `c[3008,"Slow client"]` {
						t.Fatalf("close frame %s", p)
					}
					break
				}
			}
		})
	}
}

// A backend that never reads while a websocket client sends 64 KiB
// messages as fast as it can: the gateway stops reading that client, so
// its heap stays flat whatever the client pushes, until the write bound
// closes the session with 3013. Not parallel: it measures the heap.
func TestBackendNeverReadsMemoryBounded(t *testing.T) {
	for _, bk := range backends {
		t.Run(bk.name, func(t *testing.T) {
			b := bk.start(t)
			g := startGateway(t, b)
			before := heapInUse()
			ws, _ := rawSession(t, g, "/ws/chat")
			if err := ws.WriteMessage(websocket.TextMessage, []byte(`["cmd:noread"]`)); err != nil {
				t.Fatal(err)
			}
			frame := []byte(`["` + strings.Repeat("n", 64<<10) + `"]`)
			written := 0
			_ = ws.SetWriteDeadline(time.Now().Add(2 * writeTimeout))
			for ws.WriteMessage(websocket.TextMessage, frame) == nil && written < 256<<20 {
				written += len(frame)
			}
			if grown := heapInUse() - before; grown > 16<<20 {
				t.Errorf("heap grew %d bytes while a client pushed %d bytes at a backend that does not read", grown, written)
			}
			t.Logf("the client got %d bytes out before its writes blocked", written)
			_ = ws.SetReadDeadline(time.Now().Add(waitTimeout))
			for {
				_, p, err := ws.ReadMessage()
				if err != nil {
					t.Fatalf("reading up to the close frame: %v", err)
				}
				if strings.HasPrefix(string(p), "c[") {
					if string(p) != `c[3013,"Backend not reading"]` {
						t.Fatalf("close frame %s", p)
					}
					break
				}
			}
		})
	}
}

// heapInUse is the live heap after a collection.
func heapInUse() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapInuse)
}
