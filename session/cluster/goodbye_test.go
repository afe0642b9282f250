package cluster_test

import (
	"context"
	"testing"
	"time"

	"github.com/sockgate/sockgate/session/cluster"
	"github.com/sockgate/sockgate/session/cluster/clustertest"
)

// TestNATSGoodbye: a node that closes says goodbye: the others forget it at
// once and never report it gone (its members left as it drained).
func TestNATSGoodbye(t *testing.T) {
	t.Parallel()
	srv := clustertest.StartNATS(t, false)
	opts := func(node string) cluster.NATSOptions {
		return cluster.NATSOptions{NodeID: node, Heartbeat: 50 * time.Millisecond, HeartbeatMisses: 3}
	}
	a := connectWith(t, srv.URL(), opts("a"))
	b := connectWith(t, srv.URL(), opts("b"))
	time.Sleep(200 * time.Millisecond) // b has heard a
	gone := make(chan string, 1)
	b.OnNodeGone(func(_ context.Context, instance string) { gone <- instance })
	if !b.Alive(a.Instance()) {
		t.Fatal("a taken for gone while running")
	}
	_ = a.Close()
	deadline := time.Now().Add(waitTimeout)
	for b.Alive(a.Instance()) {
		if time.Now().After(deadline) {
			t.Fatal("b still takes a for alive after its goodbye")
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case g := <-gone:
		t.Fatalf("%q reported gone after a goodbye", g)
	case <-time.After(500 * time.Millisecond): // ten periods: past 3 missed heartbeats
	}
}
