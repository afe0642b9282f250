package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sockgate/sockgate/session/cluster/clustertest"
	"github.com/sockgate/sockgate/test/internal/testbin"
	"github.com/sockgate/sockgate/test/sockjsclient"
)

// echoRounds sends n messages over c, one send request each, then a
// marker, and checks that the echoes come back once each, in order, with
// no close frame in between (no spurious 2010 or 1002; a 404 on a send
// fails SendContext).
func echoRounds(t *testing.T, c *sockjsclient.Conn, tag string, n int) {
	t.Helper()
	ctx := ctxT(t, waitTimeout)
	for i := range n {
		if err := c.SendContext(ctx, fmt.Sprintf("%s-%d", tag, i)); err != nil {
			t.Fatalf("%s over %s: send %d: %v", tag, c.Transport(), i, err)
		}
	}
	if err := c.SendContext(ctx, tag+"-end"); err != nil {
		t.Fatalf("%s over %s: send the marker: %v", tag, c.Transport(), err)
	}
	for i := 0; i <= n; i++ {
		want := fmt.Sprintf("%s-%d", tag, i)
		if i == n {
			want = tag + "-end"
		}
		got, err := c.Recv(ctx)
		if err != nil {
			t.Fatalf("%s over %s: waiting for %q: %v", tag, c.Transport(), want, err)
		}
		if got != want {
			t.Fatalf("%s over %s: got %q; want %q (lost, duplicated or out of order)", tag, c.Transport(), got, want)
		}
	}
}

// runRoundRobin checks every transport and a chat room through a
// round-robin balancer in front of nodes.
func runRoundRobin(t *testing.T, lb *node, nodes []*node) {
	t.Run("echo", func(t *testing.T) {
		for _, tr := range sockjsclient.Transports {
			t.Run(tr, func(t *testing.T) {
				c, err := sockjsclient.Dial(ctxT(t, waitTimeout), lb.url+"/echo", sockjsclient.Options{Transport: tr})
				if err != nil {
					t.Fatalf("dial over %s through %s: %v", tr, lb.name, err)
				}
				defer c.Close()
				echoRounds(t, c, tr, 30)
			})
		}
	})
	t.Run("chat", func(t *testing.T) {
		// Five members, each on another transport, their requests spread
		// over the three nodes: one order, nothing lost, nothing twice.
		var ms []*member
		for i, tr := range []string{sockjsclient.TransportWebsocket, sockjsclient.TransportXHRPolling,
			sockjsclient.TransportXHRStreaming, sockjsclient.TransportEventSource, sockjsclient.TransportJSONP} {
			m := dialMember(t, lb, fmt.Sprintf("m%d", i), tr)
			m.join("rr", ms...)
			ms = append(ms, m)
		}
		postAll(t, ms, "rr-", 8)
	})
	forwarded := 0.0
	for _, n := range nodes {
		forwarded += metric(t, n, `sockgate_forwarded_requests_total{kind="send"}`)
	}
	if forwarded == 0 {
		t.Fatalf("no send was forwarded between the nodes: the balancer did not spread the requests")
	}
	t.Logf("%.0f sends forwarded to their session's node", forwarded)
}

// TestRoundRobinNginx: three nodes behind the shipped round-robin nginx
// config; every transport and a chat room work with no sticky routing.
func TestRoundRobinNginx(t *testing.T) {
	t.Parallel()
	nats := clustertest.StartNATS(t, false)
	nodes := startNodes(t, nats.URL(), 3)
	runRoundRobin(t, startNginxRR(t, nodes), nodes)
}

// TestRoundRobinHAProxy: the same behind the shipped round-robin HAProxy
// config.
func TestRoundRobinHAProxy(t *testing.T) {
	t.Parallel()
	nats := clustertest.StartNATS(t, false)
	nodes := startNodes(t, nats.URL(), 3)
	runRoundRobin(t, startHAProxyRR(t, nodes), nodes)
}

// pinnedFlags are the node flags of the tests with pinned sessions: a
// quick crash detection, and streams that end after one frame, so that a
// stream opened on the owner with the session is soon opened again through
// the front node, as every later request is (pinnedSet sends a message
// over the limit first).
var pinnedFlags = []string{"-node-heartbeat", "500ms", "-response-limit", "4096"}

// pinnedConn is a session created on one node and served through another.
type pinnedConn struct {
	*sockjsclient.Conn
	owner, front *node
}

func (p *pinnedConn) String() string {
	return fmt.Sprintf("%s session owned by %s, served through %s", p.Transport(), p.owner.name, p.front.name)
}

// dialPinned opens an echo session on owner and serves every later
// request of it through front (then the fallbacks, once front stops).
func dialPinned(t *testing.T, owner, front *node, transport string, fallbacks ...*node) *pinnedConn {
	t.Helper()
	client, p := newPinned(owner, append([]*node{front}, fallbacks...)...)
	t.Cleanup(p.base.CloseIdleConnections)
	c, err := sockjsclient.Dial(ctxT(t, waitTimeout), owner.url+"/echo", sockjsclient.Options{Transport: transport, HTTPClient: client})
	if err != nil {
		t.Fatalf("dial %s on %s: %v", transport, owner.name, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return &pinnedConn{Conn: c, owner: owner, front: front}
}

// pinnedSet opens one session per forwarded transport for each
// (owner, front, fallback...) set.
func pinnedSet(t *testing.T, sets ...[]*node) []*pinnedConn {
	t.Helper()
	var out []*pinnedConn
	for _, p := range sets {
		for _, tr := range []string{sockjsclient.TransportXHRPolling, sockjsclient.TransportXHRStreaming,
			sockjsclient.TransportEventSource, sockjsclient.TransportJSONP} {
			c := dialPinned(t, p[0], p[1], tr, p[2:]...)
			big := strings.Repeat("x", 5000)
			if err := c.SendContext(ctxT(t, waitTimeout), big); err != nil {
				t.Fatalf("%s: send: %v", c, err)
			}
			if m, err := c.Recv(ctxT(t, waitTimeout)); err != nil || m != big {
				t.Fatalf("%s: echo of 5000 bytes: %d bytes, %v", c, len(m), err)
			}
			echoRounds(t, c.Conn, "before", 3)
			out = append(out, c)
		}
	}
	return out
}

// endBound is how long a session of a crashed node may take to end for its
// client: the other nodes take the node for gone after 3 missed heartbeats
// (-node-heartbeat 500ms here), then answer with a close frame.
const endBound = 15 * time.Second

// expectEnd waits for c's session to end: a close frame with one of codes,
// or a failed request; a hang fails the test.
func expectEnd(t *testing.T, c *pinnedConn, codes ...int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), endBound)
	defer cancel()
	for {
		m, err := c.Recv(ctx)
		if err == nil {
			t.Fatalf("%s: got %q after its node stopped; want the session to end", c, m)
		}
		var ce *sockjsclient.CloseError
		switch {
		case ctx.Err() != nil:
			t.Fatalf("%s: still open %v after its node stopped; want a close frame or a failed request", c, endBound)
		case errors.As(err, &ce) && len(codes) > 0:
			for _, code := range codes {
				if ce.Code == code {
					return
				}
			}
			t.Fatalf("%s: closed with %d %q; want one of %v", c, ce.Code, ce.Reason, codes)
		case len(codes) > 0:
			t.Fatalf("%s: ended with %v; want a close frame with one of %v", c, err, codes)
		default:
			t.Logf("%s: ended with %v", c, err)
			return
		}
	}
}

// TestRoundRobinNodeCrash: node A is killed with SIGKILL. The sessions it
// owned end for their clients (a close frame 3014 from the node that
// served them), and the sessions of the other nodes carry on, including
// those another node forwards.
func TestRoundRobinNodeCrash(t *testing.T) {
	t.Parallel()
	nats := clustertest.StartNATS(t, false)
	nodes := startNodes(t, nats.URL(), 3, pinnedFlags...)
	a, b, c := nodes[0], nodes[1], nodes[2]
	doomed := pinnedSet(t, []*node{a, b})
	living := pinnedSet(t, []*node{b, c}, []*node{c, b})

	a.Kill(t)
	for _, s := range doomed {
		expectEnd(t, s, 3014)
	}
	for _, s := range living {
		echoRounds(t, s.Conn, "after", 3)
	}
}

// TestRoundRobinNodeStop: node A stops with SIGTERM. The clients of its
// sessions get 3001 through the nodes that serve them, the other nodes'
// sessions carry on, and no node takes A for crashed.
func TestRoundRobinNodeStop(t *testing.T) {
	t.Parallel()
	nats := clustertest.StartNATS(t, false)
	nodes := startNodes(t, nats.URL(), 3, pinnedFlags...)
	a, b, c := nodes[0], nodes[1], nodes[2]
	draining := pinnedSet(t, []*node{a, b})
	living := pinnedSet(t, []*node{b, c}, []*node{c, b})
	// Sessions of B served through A: A ends their requests cleanly as it
	// stops, and their clients carry on through C.
	through := pinnedSet(t, []*node{b, a, c})

	a.Terminate(t)
	for _, s := range draining {
		expectEnd(t, s, 3001)
	}
	for _, s := range append(living, through...) {
		echoRounds(t, s.Conn, "after", 3)
	}
	time.Sleep(2 * time.Second) // 4 heartbeat periods: a crash would have been declared
	for _, n := range []*node{b, c} {
		if out := n.Out.String(); strings.Contains(out, "taking it for gone") || strings.Contains(out, `"level":"error"`) {
			t.Fatalf("%s took the stopped node for crashed:\n%s", n.name, testbin.Tail(out, 4<<10))
		}
	}
}

// TestRoundRobinBrokerRestart: NATS restarts under three nodes. /readyz
// is 503 while it is away; afterwards forwarding resumes by itself, for
// sessions opened before and after.
func TestRoundRobinBrokerRestart(t *testing.T) {
	t.Parallel()
	nats := clustertest.StartNATS(t, false)
	nodes := startNodes(t, nats.URL(), 3, pinnedFlags...)
	a, b, c := nodes[0], nodes[1], nodes[2]
	before := pinnedSet(t, []*node{a, b})

	nats.Shutdown()
	testbin.WaitHTTP(t, b.Proc, b.url+"/readyz", http.StatusServiceUnavailable)
	nats.Restart()
	for _, n := range nodes {
		testbin.WaitHTTP(t, n.Proc, n.url+"/readyz", http.StatusOK)
	}
	for _, s := range before {
		echoRounds(t, s.Conn, "after", 3)
	}
	for _, s := range pinnedSet(t, []*node{c, a}) {
		echoRounds(t, s.Conn, "new", 3)
	}
}

// TestRoundRobinBroadcast: with -conformance, /broadcast reaches every
// member once, whichever node each member's requests reach.
func TestRoundRobinBroadcast(t *testing.T) {
	t.Parallel()
	nats := clustertest.StartNATS(t, false)
	nodes := startNodes(t, nats.URL(), 3, "-conformance")
	lb := startNginxRR(t, nodes)
	var conns []*sockjsclient.Conn
	for _, tr := range []string{sockjsclient.TransportWebsocket, sockjsclient.TransportXHRPolling,
		sockjsclient.TransportXHRStreaming, sockjsclient.TransportEventSource, sockjsclient.TransportJSONP} {
		c, err := sockjsclient.Dial(ctxT(t, waitTimeout), lb.url+"/broadcast", sockjsclient.Options{Transport: tr})
		if err != nil {
			t.Fatalf("dial /broadcast over %s: %v", tr, err)
		}
		t.Cleanup(func() { _ = c.Close() })
		conns = append(conns, c)
	}
	var want []string
	for i, c := range conns {
		msg := fmt.Sprint("from-", i)
		want = append(want, msg)
		if err := c.SendContext(ctxT(t, waitTimeout), msg); err != nil {
			t.Fatalf("send over %s: %v", c.Transport(), err)
		}
	}
	for _, c := range conns {
		var got []string
		for len(got) < len(want) {
			m, err := c.Recv(ctxT(t, waitTimeout))
			if err != nil {
				t.Fatalf("%s: after %q: %v", c.Transport(), got, err)
			}
			got = append(got, m)
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Fatalf("%s got %q; want %q, once each", c.Transport(), got, want)
		}
	}
	for _, c := range conns { // nothing twice
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		m, err := c.Recv(ctx)
		cancel()
		if err == nil {
			t.Fatalf("%s: extra message %q", c.Transport(), m)
		}
	}
}
