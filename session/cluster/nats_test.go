package cluster_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sockgate/sockgate/session/cluster"
	"github.com/sockgate/sockgate/session/cluster/clustertest"
)

// TestNATSDown: with no broker at the URL, NATS fails at once and says so.
func TestNATSDown(t *testing.T) {
	t.Parallel()
	url := clustertest.FreeURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	start := time.Now()
	b, err := cluster.NATS(ctx, url, cluster.NATSOptions{})
	if err == nil {
		_ = b.Close()
		t.Fatal("NATS with no server: no error")
	}
	if !strings.Contains(err.Error(), url) || !strings.Contains(err.Error(), "nats-server running") {
		t.Errorf("error %q should name the URL and suggest starting nats-server", err)
	}
	if d := time.Since(start); d > cluster.DefaultConnectTimeout {
		t.Errorf("failing took %v", d)
	}
}

// TestNATSWithoutJetStream: a server without JetStream is refused with the
// flag that fixes it.
func TestNATSWithoutJetStream(t *testing.T) {
	t.Parallel()
	srv := clustertest.StartNATS(t, true)
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	b, err := cluster.NATS(ctx, srv.URL(), cluster.NATSOptions{})
	if err == nil {
		_ = b.Close()
		t.Fatal("NATS without JetStream: no error")
	}
	if !strings.Contains(err.Error(), "-js") {
		t.Errorf("error %q should say to start nats-server with -js", err)
	}
}

// TestNATSOldestNodeWins: when several nodes answer a snapshot request,
// the one that started first is used, whichever subscribed first.
func TestNATSOldestNodeWins(t *testing.T) {
	t.Parallel()
	srv := clustertest.StartNATS(t, false)
	oldest := connect(t, srv.URL(), "oldest")
	time.Sleep(5 * time.Millisecond) // distinct start times
	younger := connect(t, srv.URL(), "younger")
	// A long grace, so that the test does not depend on which answer
	// comes first.
	late := connectWith(t, srv.URL(), cluster.NATSOptions{NodeID: "late", SnapshotGrace: 2 * time.Second})

	y := newRecorder("younger")
	subscribe(t, younger, "room", y)
	publish(t, younger, "room", "one")
	y.waitFor(t, 1)
	o := newRecorder("oldest")
	subscribe(t, oldest, "room", o)
	if o.from != "younger" {
		t.Fatalf("first restore came from %q; want younger (the only one)", o.from)
	}
	l := newRecorder("late")
	subscribe(t, late, "room", l)
	if l.from != "oldest" {
		t.Fatalf("restored from %q; want oldest", l.from)
	}
	if got := l.events(); !slices.Equal(got, []string{"one"}) {
		t.Fatalf("restored %q", got)
	}
}

// TestNATSRestart: the broker restarts (same port and store) while nodes
// follow a room; they reconnect, and events published after the restart
// reach every node, after the earlier ones, in one order.
func TestNATSRestart(t *testing.T) {
	t.Parallel()
	srv := clustertest.StartNATS(t, false)
	ns := []*cluster.NATSBus{connect(t, srv.URL(), "a"), connect(t, srv.URL(), "b")}
	recs := []*recorder{newRecorder("a"), newRecorder("b")}
	for i, b := range ns {
		subscribe(t, b, "room", recs[i])
	}
	for i := range 4 {
		publish(t, ns[i%2], "room", fmt.Sprint("before-", i))
	}
	recs[0].waitFor(t, 4)
	recs[1].waitFor(t, 4)
	srv.Restart()
	for i := range 4 {
		publishEventually(t, ns[i%2], "room", fmt.Sprint("after-", i))
	}
	want := recs[0].waitFor(t, 8)
	if got := recs[1].waitFor(t, 8); !slices.Equal(got, want) {
		t.Fatalf("after the restart:\nb %q\na %q", got, want)
	}
	if want[3] != "before-3" || want[4] != "after-0" {
		t.Fatalf("events out of order: %q", want)
	}
}

// publishEventually retries while the client reconnects.
func publishEventually(t *testing.T, b cluster.Bus, room, data string) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := b.Publish(ctx, room, []byte(data))
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Publish(%q) still failing after %v: %v", data, waitTimeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestNATSNodeGone: a node that stops sending heartbeats is reported gone
// by the others, once, after HeartbeatMisses periods; a live one never is.
func TestNATSNodeGone(t *testing.T) {
	t.Parallel()
	srv := clustertest.StartNATS(t, false)
	opts := func(node string) cluster.NATSOptions {
		return cluster.NATSOptions{NodeID: node, Heartbeat: 20 * time.Millisecond, HeartbeatMisses: 3}
	}
	a := connectWith(t, srv.URL(), opts("a"))
	b := connectWith(t, srv.URL(), opts("b"))
	gone := make(chan string, 4)
	b.OnNodeGone(func(_ context.Context, instance string) { gone <- instance })
	time.Sleep(200 * time.Millisecond) // ten periods: a is alive, b has heard it
	select {
	case g := <-gone:
		t.Fatalf("%q reported gone while alive", g)
	default:
	}
	a.Crash()
	select {
	case g := <-gone:
		if g != a.Instance() {
			t.Fatalf("reported %q gone; want %q", g, a.Instance())
		}
	case <-time.After(waitTimeout):
		t.Fatalf("a not reported gone after %v", waitTimeout)
	}
	time.Sleep(100 * time.Millisecond)
	if len(gone) != 0 {
		t.Fatalf("a reported gone again: %q", <-gone)
	}
}
