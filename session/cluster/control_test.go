package cluster_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/sockgate/sockgate/session/cluster"
	"github.com/sockgate/sockgate/session/cluster/clustertest"
)

// fakeNode is a node's sessions: ids and subjects it holds, closed on
// request.
type fakeNode struct {
	mu       sync.Mutex
	ids      map[string]bool
	subjects map[string]int
	closes   []string
}

func (n *fakeNode) CloseSession(id string, code int, reason string) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.ids[id] {
		return 0
	}
	n.closes = append(n.closes, id)
	return 1
}

func (n *fakeNode) DisconnectUser(subject string, code int, reason string) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	c := n.subjects[subject]
	delete(n.subjects, subject)
	if c > 0 {
		n.closes = append(n.closes, subject)
	}
	return c
}

func newControl(t *testing.T, b *cluster.NATSBus, n *fakeNode) *cluster.Control {
	t.Helper()
	c, err := b.NewControl()
	if err != nil {
		t.Fatalf("NewControl: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	c.Serve(n)
	return c
}

// TestControlReachesEveryNode: a close asked on one node closes the
// session on the node that holds it; a user's sessions close on every
// node; what no node holds gives 0.
func TestControlReachesEveryNode(t *testing.T) {
	t.Parallel()
	srv := clustertest.StartNATS(t, false)
	a, b := connect(t, srv.URL(), "a"), connect(t, srv.URL(), "b")
	na := &fakeNode{ids: map[string]bool{"on-a": true}, subjects: map[string]int{"ann": 1}}
	nb := &fakeNode{ids: map[string]bool{"on-b": true}, subjects: map[string]int{"ann": 2}}
	ca := newControl(t, a, na)
	newControl(t, b, nb)
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()

	// The session lives on b; the call is made on a.
	deadline := time.Now().Add(waitTimeout)
	for {
		n, err := ca.CloseSession(ctx, "on-b", 3000, "Go away!")
		if err != nil {
			t.Fatalf("CloseSession: %v", err)
		}
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a session on node b was never closed from node a")
		}
		time.Sleep(20 * time.Millisecond) // b's subscription may not be in place yet
	}
	na.mu.Lock()
	if len(na.closes) != 0 {
		t.Fatalf("node a closed %v", na.closes)
	}
	na.mu.Unlock()
	if n, err := ca.DisconnectUser(ctx, "ann", 3000, "Go away!"); err != nil || n != 3 {
		t.Fatalf("DisconnectUser: %d, %v; want 3 (1 on a, 2 on b)", n, err)
	}
	if n, err := ca.CloseSession(ctx, "nowhere", 3000, "Go away!"); err != nil || n != 0 {
		t.Fatalf("an unknown session: %d, %v; want 0", n, err)
	}
}
