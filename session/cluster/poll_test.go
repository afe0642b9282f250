package cluster_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/sockgate/sockgate/session/cluster"
	"github.com/sockgate/sockgate/session/cluster/clustertest"
	"github.com/sockgate/sockgate/session/engine"
)

// kinds counts the requests a node forwards, by kind.
type kinds struct {
	mu sync.Mutex
	n  map[string]int
}

func (k *kinds) observe(kind string, _ time.Duration, _ bool, _ error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.n == nil {
		k.n = map[string]int{}
	}
	k.n[kind]++
}

func (k *kinds) get(kind string) int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.n[kind]
}

// waitNoRemoteReceivers waits until n holds no receiver for another node.
func waitNoRemoteReceivers(t *testing.T, n *sessNode, what string) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for n.c.RemoteReceivers() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%s: the owner still holds %d remote receivers", what, n.c.RemoteReceivers())
		}
		time.Sleep(time.Millisecond)
	}
}

// TestSessionsPoll: a forwarded poll's receiver is detached on the owner as
// soon as it hands out its frame, so the client's next request attaches at
// once on any node (here the owner itself) without waiting for the front
// node's acknowledgement. The acknowledgement then rides on the front
// node's next request to the owner (no message of its own), or, with none
// coming, goes alone after a few milliseconds.
func TestSessionsPoll(t *testing.T) {
	t.Parallel()
	srv := clustertest.StartNATS(t, false)
	a := startSessNode(t, srv.URL(), "a", cluster.SessionsOptions{})
	var sent, sentC kinds
	b := startObservedNode(t, srv.URL(), "b", cluster.SessionsOptions{}, sent.observe)
	// c's acknowledgements wait for a request for as long as the test.
	c := startObservedNode(t, srv.URL(), "c", cluster.SessionsOptions{AckDelay: time.Hour}, sentC.observe)
	s := a.owned(t, "s1")
	owner := a.c.Instance()

	rr, err := b.c.Poll(ctxFor(t), owner, "/echo", "s1")
	if err != nil {
		t.Fatal(err)
	}
	if f, last, err := rr.Next(ctxFor(t)); string(f) != "o" || last || err != nil {
		t.Fatalf("poll: %q, last %v, %v; want o", f, last, err)
	}
	// Not acknowledged yet, and still the owner's own receiver attaches
	// at once: well within engine.AttachGrace, which it would otherwise
	// wait out before 2010.
	ctx, cancel := context.WithTimeout(context.Background(), engine.AttachGrace/3)
	local, err := s.AttachWait(ctx)
	cancel()
	if err != nil {
		t.Fatalf("local attach after a forwarded poll's frame: %v; want at once", err)
	}
	local.Detach()
	rr.DoneAsync() // alone: goes in a message of its own
	waitNoRemoteReceivers(t, a, "acknowledgement sent alone")
	if n := sent.get("acks"); n != 1 {
		t.Fatalf("%d acknowledgement messages; want 1", n)
	}

	// Through c: poll, acknowledge, then send: the send carries the
	// acknowledgement.
	rr, err = c.c.Poll(ctxFor(t), owner, "/echo", "s1")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.c.Send(ctxFor(t), owner, "/echo", "s1", []byte(`["x"]`)); err != nil {
		t.Fatal(err)
	}
	if f := next(t, rr); f != `a["x"]` {
		t.Fatalf("poll: %q; want the echo", f)
	}
	rr.DoneAsync()
	if n := a.c.RemoteReceivers(); n != 1 {
		t.Fatalf("a holds %d remote receivers before the acknowledgement arrives; want 1", n)
	}
	if err := c.c.Send(ctxFor(t), owner, "/echo", "s1", []byte(`["y"]`)); err != nil {
		t.Fatal(err)
	}
	waitNoRemoteReceivers(t, a, "acknowledgement on a send")
	if n := sentC.get("acks"); n != 0 {
		t.Fatalf("%d acknowledgement messages; want none (it rode on the send)", n)
	}
	// The next poll gets what came after, once.
	rr, err = b.c.Poll(ctxFor(t), owner, "/echo", "s1")
	if err != nil {
		t.Fatal(err)
	}
	if f := next(t, rr); f != `a["y"]` {
		t.Fatalf("poll: %q; want the second echo only", f)
	}
	rr.Done()
	// A receiver still waiting for a frame is the session's: another gets
	// 2010, as on one node.
	rr, err = b.c.Poll(ctxFor(t), owner, "/echo", "s1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.c.Poll(ctxFor(t), owner, "/echo", "s1"); !errors.Is(err, engine.ErrReceiverAttached) {
		t.Fatalf("second poll while the first waits: %v; want ErrReceiverAttached", err)
	}
	rr.Abort()
}

// TestSessionsPollAbortGivesBack: a poll whose client left before its
// frame was written (the front node aborts) gives the frame back, and the
// session closes with 1002 after it, as with a streaming receiver.
func TestSessionsPollAbortGivesBack(t *testing.T) {
	t.Parallel()
	srv := clustertest.StartNATS(t, false)
	a := startSessNode(t, srv.URL(), "a", cluster.SessionsOptions{})
	b := startSessNode(t, srv.URL(), "b", cluster.SessionsOptions{})
	s := a.owned(t, "s1")
	if f := localNext(t, s); f != "o" {
		t.Fatalf("first frame %q", f)
	}
	rr, err := b.c.Poll(ctxFor(t), a.c.Instance(), "/echo", "s1")
	if err != nil {
		t.Fatal(err)
	}
	_ = s.Send("unwritten")
	if f := next(t, rr); f != `a["unwritten"]` {
		t.Fatalf("poll: %q", f)
	}
	rr.Abort()
	if f := localNext(t, s); f != `a["unwritten"]` {
		t.Fatalf("after the abort: %q; want the frame given back", f)
	}
	if f := localNext(t, s); f != `c[1002,"Connection interrupted"]` {
		t.Fatalf("then %q; want the 1002 close frame", f)
	}
	waitNoRemoteReceivers(t, a, "after the abort")
}

// TestSessionsPollLeaseExpiry: a poll's frame that the front node never
// acknowledged (its acknowledgement lost) is taken as written when the
// lease expires: the receiver went with the frame, a later one may have
// read past it, so giving it back would send it twice.
func TestSessionsPollLeaseExpiry(t *testing.T) {
	t.Parallel()
	srv := clustertest.StartNATS(t, false)
	a := startSessNode(t, srv.URL(), "a", cluster.SessionsOptions{LeaseTTL: 200 * time.Millisecond})
	b := startSessNode(t, srv.URL(), "b", cluster.SessionsOptions{})
	s := a.owned(t, "s1")
	if f := localNext(t, s); f != "o" {
		t.Fatalf("first frame %q", f)
	}
	rr, err := b.c.Poll(ctxFor(t), a.c.Instance(), "/echo", "s1")
	if err != nil {
		t.Fatal(err)
	}
	_ = s.Send("once")
	if f := next(t, rr); f != `a["once"]` {
		t.Fatalf("poll: %q", f)
	}
	// No acknowledgement, no Done: silence until the lease expires.
	waitNoRemoteReceivers(t, a, "lease expiry")
	_ = s.Send("next")
	if f := localNext(t, s); f != `a["next"]` {
		t.Fatalf("after the lease expired: %q; want only the new message", f)
	}
}
