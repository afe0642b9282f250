package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sockgate/sockgate/session"
	"github.com/sockgate/sockgate/session/cluster"
	"github.com/sockgate/sockgate/session/cluster/clustertest"
	"github.com/sockgate/sockgate/session/engine"
)

// localSessions is a node's sessions, by id, of one service "/echo".
type localSessions struct {
	mu   sync.Mutex
	m    map[string]*engine.SockJS
	opts *engine.Options
}

func newLocalSessions() *localSessions {
	echo := session.EventFuncs{Message: func(s session.Session, msg string) { _ = s.Send(msg) }}
	return &localSessions{m: map[string]*engine.SockJS{},
		opts: engine.Options{Events: echo, DisconnectDelay: time.Minute}.Resolve()}
}

func (l *localSessions) LocalSession(prefix, id string) *engine.SockJS {
	l.mu.Lock()
	defer l.mu.Unlock()
	if prefix != "/echo" {
		return nil
	}
	return l.m[id]
}

// create makes an open session id, as the gateway does on a first poll.
func (l *localSessions) create(id string) *engine.SockJS {
	s := engine.NewSockJS(id, "xhr-polling", l.opts)
	s.Start()
	l.mu.Lock()
	l.m[id] = s
	l.mu.Unlock()
	return s
}

// sessNode is one node: its bus, its Sessions, its local sessions.
type sessNode struct {
	bus   *cluster.NATSBus
	c     *cluster.Sessions
	local *localSessions
}

func startSessNode(t *testing.T, url, name string, opts cluster.SessionsOptions) *sessNode {
	t.Helper()
	return startObservedNode(t, url, name, opts, nil)
}

// startObservedNode is startSessNode with an Observer of the requests the
// node forwards.
func startObservedNode(t *testing.T, url, name string, opts cluster.SessionsOptions, observe cluster.Observer) *sessNode {
	t.Helper()
	b := connectWith(t, url, cluster.NATSOptions{NodeID: name, Heartbeat: 250 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	c, err := cluster.NewSessions(ctx, b, opts)
	if err != nil {
		t.Fatalf("NewSessions: %v", err)
	}
	n := &sessNode{bus: b, c: c, local: newLocalSessions()}
	if err := c.Serve(n.local, observe); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() }) // before the bus's own cleanup
	return n
}

func ctxFor(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	t.Cleanup(cancel)
	return ctx
}

// owned creates session id on n, claimed as n's.
func (n *sessNode) owned(t *testing.T, id string) *engine.SockJS {
	t.Helper()
	owner, mine, err := n.c.Owner(ctxFor(t), "/echo", id, true)
	if err != nil || !mine || owner != n.c.Instance() {
		t.Fatalf("claim %s: owner %q, mine %v, %v", id, owner, mine, err)
	}
	return n.local.create(id)
}

func next(t *testing.T, rr *cluster.RemoteReceiver) string {
	t.Helper()
	f, _, err := rr.Next(ctxFor(t))
	if err != nil {
		t.Fatalf("Next: %v", err)
	}
	return string(f)
}

// localNext attaches a local receiver on the owner and returns its first
// frame (the open frame already went out: messages or the close frame).
func localNext(t *testing.T, s *engine.SockJS) string {
	t.Helper()
	r, err := s.AttachWait(ctxFor(t))
	if err != nil {
		t.Fatalf("local attach: %v", err)
	}
	defer r.Detach()
	f, _, err := r.Next(ctxFor(t))
	if err != nil {
		t.Fatal(err)
	}
	return string(f)
}

// TestSessionsOwnership: nodes that see a new id at once agree on one
// owner, the others count a conflict; a released id is free again.
func TestSessionsOwnership(t *testing.T) {
	t.Parallel()
	srv := clustertest.StartNATS(t, false)
	nodes := []*sessNode{
		startSessNode(t, srv.URL(), "a", cluster.SessionsOptions{}),
		startSessNode(t, srv.URL(), "b", cluster.SessionsOptions{}),
		startSessNode(t, srv.URL(), "c", cluster.SessionsOptions{}),
	}
	for i := range 20 {
		id := fmt.Sprint("race-", i)
		owners := make([]string, len(nodes))
		mine := make([]bool, len(nodes))
		var wg sync.WaitGroup
		for j, n := range nodes {
			wg.Go(func() {
				var err error
				owners[j], mine[j], err = n.c.Owner(context.Background(), "/echo", id, true)
				if err != nil {
					t.Errorf("Owner: %v", err)
				}
			})
		}
		wg.Wait()
		winners := 0
		for j := range nodes {
			if owners[j] != owners[0] {
				t.Fatalf("%s: nodes disagree on the owner: %q", id, owners)
			}
			if mine[j] {
				winners++
			}
		}
		if winners != 1 {
			t.Fatalf("%s: %d nodes think they own it; want 1", id, winners)
		}
	}
	conflicts := int64(0)
	for _, n := range nodes {
		conflicts += n.c.Conflicts()
	}
	if conflicts > 40 { // at most the two losers of each of the 20 races
		t.Fatalf("%d conflicts counted for 20 ids", conflicts)
	}
	t.Logf("%d ownership conflicts in 20 races of 3 nodes", conflicts)
	// Two requests of one node racing for a new id are no conflict.
	before := nodes[0].c.Conflicts()
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			if _, mine, err := nodes[0].c.Owner(context.Background(), "/echo", "same-node", true); !mine || err != nil {
				t.Errorf("same-node claim: mine %v, %v", mine, err)
			}
		})
	}
	wg.Wait()
	if d := nodes[0].c.Conflicts() - before; d != 0 {
		t.Fatalf("a node racing itself counted %d conflicts", d)
	}
	// Release: the id is free again. (Close waits for the release, which
	// runs in the background; node b never looked the id up, so it has no
	// cached owner.)
	a := nodes[0]
	a.owned(t, "released")
	a.c.Release("/echo", "released")
	_ = a.c.Close()
	if owner, _, err := nodes[1].c.Owner(ctxFor(t), "/echo", "released", false); owner != "" || err != nil {
		t.Fatalf("released id: owner %q, %v; want none", owner, err)
	}
	if _, mine, err := nodes[2].c.Owner(ctxFor(t), "/echo", "released", true); !mine || err != nil {
		t.Fatalf("claim of a released id: mine %v, %v", mine, err)
	}
	// A session nobody owns has no owner without a claim.
	if owner, mine, err := nodes[2].c.Owner(ctxFor(t), "/echo", "nobody", false); owner != "" || mine || err != nil {
		t.Fatalf("unclaimed id: owner %q, mine %v, %v", owner, mine, err)
	}
}

// TestSessionsSendAndPull: a node that does not own a session delivers to
// it (the echo is queued when Send returns) and receives from it, frame by
// frame; after Done the owner's own receiver attaches at once.
func TestSessionsSendAndPull(t *testing.T) {
	t.Parallel()
	srv := clustertest.StartNATS(t, false)
	a := startSessNode(t, srv.URL(), "a", cluster.SessionsOptions{})
	b := startSessNode(t, srv.URL(), "b", cluster.SessionsOptions{})
	s := a.owned(t, "s1")
	owner, mine, err := b.c.Owner(ctxFor(t), "/echo", "s1", true)
	if err != nil || mine || owner != a.c.Instance() {
		t.Fatalf("b's view of s1: owner %q mine %v, %v; want a", owner, mine, err)
	}
	rr, err := b.c.Pull(ctxFor(t), owner, "/echo", "s1")
	if err != nil {
		t.Fatal(err)
	}
	if f := next(t, rr); f != "o" {
		t.Fatalf("first frame %q; want o", f)
	}
	if a.c.RemoteReceivers() != 1 {
		t.Fatalf("a holds %d remote receivers; want 1", a.c.RemoteReceivers())
	}
	if err := b.c.Send(ctxFor(t), owner, "/echo", "s1", []byte(`["x","y"]`)); err != nil {
		t.Fatal(err)
	}
	if f := next(t, rr); f != `a["x","y"]` {
		t.Fatalf("frame %q; want the echoes", f)
	}
	// A second receiver (from any node) gets 2010 while this one is held.
	if _, err := b.c.Pull(ctxFor(t), owner, "/echo", "s1"); !errors.Is(err, engine.ErrReceiverAttached) {
		t.Fatalf("second pull: %v; want ErrReceiverAttached", err)
	}
	rr.Done()
	_ = s.Send("z")
	if f := localNext(t, s); f != `a["z"]` {
		t.Fatalf("local receiver after Done: %q", f)
	}
	// Bad input: an unknown session, and a send to it.
	if _, err := b.c.Pull(ctxFor(t), owner, "/echo", "nope"); !errors.Is(err, cluster.ErrNoSession) {
		t.Fatalf("pull of an unknown session: %v; want ErrNoSession", err)
	}
	if err := b.c.Send(ctxFor(t), owner, "/echo", "nope", []byte(`["x"]`)); !errors.Is(err, cluster.ErrNoSession) {
		t.Fatalf("send to an unknown session: %v; want ErrNoSession", err)
	}
	if err := b.c.Send(ctxFor(t), owner, "/echo", "s1", []byte(`not json`)); err == nil {
		t.Fatal("send of a broken payload: no error")
	}
}

// TestSessionsAbortGivesBack: a frame pulled but never acknowledged goes
// back to the session when the front node aborts; the session then closes
// with 1002, after it.
func TestSessionsAbortGivesBack(t *testing.T) {
	t.Parallel()
	srv := clustertest.StartNATS(t, false)
	a := startSessNode(t, srv.URL(), "a", cluster.SessionsOptions{})
	b := startSessNode(t, srv.URL(), "b", cluster.SessionsOptions{})
	s := a.owned(t, "s1")
	rr, err := b.c.Pull(ctxFor(t), a.c.Instance(), "/echo", "s1")
	if err != nil {
		t.Fatal(err)
	}
	next(t, rr) // "o", acknowledged by the next pull
	_ = s.Send("lost?")
	if f := next(t, rr); f != `a["lost?"]` {
		t.Fatalf("frame %q", f)
	}
	rr.Abort() // the client left before the frame was written
	if f := localNext(t, s); f != `a["lost?"]` {
		t.Fatalf("after the abort: %q; want the frame given back", f)
	}
	if f := localNext(t, s); f != `c[1002,"Connection interrupted"]` {
		t.Fatalf("then %q; want the 1002 close frame", f)
	}
}

// TestSessionsLeaseExpiry: a front node that goes silent (its process
// died) loses the receiver after the lease TTL; the frame it did not
// acknowledge goes back to the session.
func TestSessionsLeaseExpiry(t *testing.T) {
	t.Parallel()
	srv := clustertest.StartNATS(t, false)
	a := startSessNode(t, srv.URL(), "a", cluster.SessionsOptions{LeaseTTL: 200 * time.Millisecond})
	b := startSessNode(t, srv.URL(), "b", cluster.SessionsOptions{})
	s := a.owned(t, "s1")
	rr, err := b.c.Pull(ctxFor(t), a.c.Instance(), "/echo", "s1")
	if err != nil {
		t.Fatal(err)
	}
	next(t, rr)
	_ = s.Send("kept")
	next(t, rr) // then silence: no acknowledgement, no Done
	deadline := time.Now().Add(waitTimeout)
	for a.c.RemoteReceivers() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the lease did not expire")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if f := localNext(t, s); f != `a["kept"]` {
		t.Fatalf("after the lease expired: %q; want the frame given back", f)
	}
}

// TestSessionsReleaseStale: the owner's own receiver meets one held for a
// node whose request ended without telling: the owner asks that node,
// releases the receiver (frames given back) and attaches instead of 2010.
func TestSessionsReleaseStale(t *testing.T) {
	t.Parallel()
	srv := clustertest.StartNATS(t, false)
	a := startSessNode(t, srv.URL(), "a", cluster.SessionsOptions{})
	b := startSessNode(t, srv.URL(), "b", cluster.SessionsOptions{})
	s := a.owned(t, "s1")
	rr, err := b.c.Pull(ctxFor(t), a.c.Instance(), "/echo", "s1")
	if err != nil {
		t.Fatal(err)
	}
	next(t, rr)
	_ = s.Send("x")
	next(t, rr) // acknowledges "o"; a["x"] is not acknowledged
	if _, err := s.AttachWait(ctxFor(t)); !errors.Is(err, engine.ErrReceiverAttached) {
		t.Fatalf("local attach while b serves a receiver: %v; want ErrReceiverAttached", err)
	}
	if a.c.ReleaseStale("/echo", "s1") {
		t.Fatal("ReleaseStale released a receiver that b still serves")
	}
	_ = b.c.Close() // b stops serving it (and says nothing to a)
	if !a.c.ReleaseStale("/echo", "s1") {
		t.Fatal("ReleaseStale kept a receiver for a node that no longer serves it")
	}
	_ = s.Send("after")
	if f := localNext(t, s); f != `a["x","after"]` {
		t.Fatalf("local receiver after the release: %q; want the unacknowledged frame, then the new message", f)
	}
}

// TestSessionsNodeGone: requests for a session of a node that said goodbye
// fail at once with ErrNodeGone; the other node does not take it for
// crashed.
func TestSessionsNodeGone(t *testing.T) {
	t.Parallel()
	srv := clustertest.StartNATS(t, false)
	a := startSessNode(t, srv.URL(), "a", cluster.SessionsOptions{})
	b := startSessNode(t, srv.URL(), "b", cluster.SessionsOptions{OwnerGrace: 500 * time.Millisecond})
	a.owned(t, "s1")
	owner := a.c.Instance()
	_ = a.c.Close()
	_ = a.bus.Close()
	deadline := time.Now().Add(waitTimeout)
	for b.bus.Alive(owner) {
		if time.Now().After(deadline) {
			t.Fatal("b still takes a for alive after its goodbye")
		}
		time.Sleep(10 * time.Millisecond)
	}
	start := time.Now()
	if _, err := b.c.Pull(ctxFor(t), owner, "/echo", "s1"); !errors.Is(err, cluster.ErrNodeGone) {
		t.Fatalf("pull from a node gone: %v; want ErrNodeGone", err)
	}
	if err := b.c.Send(ctxFor(t), owner, "/echo", "s1", []byte(`["x"]`)); !errors.Is(err, cluster.ErrNodeGone) {
		t.Fatalf("send to a node gone: %v; want ErrNodeGone", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("failing took %v", d)
	}
	// An owner never heard of, with no subscription: gone after OwnerGrace.
	if err := b.c.Send(ctxFor(t), "ghost~0", "/echo", "s2", []byte(`["x"]`)); !errors.Is(err, cluster.ErrNodeGone) {
		t.Fatalf("send to a node that never was: %v; want ErrNodeGone", err)
	}
}

// TestSessionsAbortWhileOpening: a client that leaves while its forwarded
// receiver is still being attached aborts it: the session closes with
// 1002, as on one node, instead of the owner holding a receiver nobody
// reads.
func TestSessionsAbortWhileOpening(t *testing.T) {
	t.Parallel()
	srv := clustertest.StartNATS(t, false)
	a := startSessNode(t, srv.URL(), "a", cluster.SessionsOptions{})
	b := startSessNode(t, srv.URL(), "b", cluster.SessionsOptions{})
	s := a.owned(t, "s1")
	if f := localNext(t, s); f != "o" {
		t.Fatalf("first frame %q", f)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := b.c.Pull(ctx, a.c.Instance(), "/echo", "s1"); err == nil {
		t.Fatal("Pull with nothing to send and its context ended: no error")
	}
	deadline := time.Now().Add(waitTimeout)
	for s.CloseInfo().Code != session.CodeInterrupted {
		if time.Now().After(deadline) {
			t.Fatalf("session not closed with 1002 after the abort: %+v", s.CloseInfo())
		}
		time.Sleep(10 * time.Millisecond)
	}
	for a.c.RemoteReceivers() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("a still holds %d remote receivers", a.c.RemoteReceivers())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestSessionsCrashPurge: the ownership records of a node that crashed
// (it could not delete them) are deleted by the survivors once they find
// it silent, so its session ids are free again.
func TestSessionsCrashPurge(t *testing.T) {
	t.Parallel()
	srv := clustertest.StartNATS(t, false)
	a := startSessNode(t, srv.URL(), "a", cluster.SessionsOptions{})
	b := startSessNode(t, srv.URL(), "b", cluster.SessionsOptions{})
	a.owned(t, "s1")
	a.owned(t, "s2")
	if owner, _, _ := b.c.Owner(ctxFor(t), "/echo", "s1", false); owner != a.c.Instance() {
		t.Fatalf("b sees s1 owned by %q", owner)
	}
	time.Sleep(500 * time.Millisecond) // b has heard a
	a.bus.Crash()
	deadline := time.Now().Add(waitTimeout)
	for {
		owner, _, err := b.c.Owner(ctxFor(t), "/echo", "s1", false)
		if err != nil {
			t.Fatal(err)
		}
		if owner == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("s1 still owned by %q after its node crashed", owner)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, mine, err := b.c.Owner(ctxFor(t), "/echo", "s2", true); !mine || err != nil {
		t.Fatalf("claim of a crashed node's id: mine %v, %v", mine, err)
	}
}
