package cluster_test

import (
	"context"
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/sockgate/sockgate/session/cluster"
	"github.com/sockgate/sockgate/session/cluster/clustertest"
)

// forger is a plain NATS client on the cluster's server: anyone who can
// reach an unauthenticated NATS.
func forger(t *testing.T, url string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatalf("forger: connect: %v", err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// waitDropped waits until b has dropped at least n invalid messages.
func waitDropped(t *testing.T, b *cluster.NATSBus, n uint64) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for b.Dropped() < n {
		if time.Now().After(deadline) {
			t.Fatalf("dropped %d invalid messages; want at least %d", b.Dropped(), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestNATSForgedHeartbeats: heartbeats that claim a node's own id (its
// bare NodeID, which is a prefix of its members' keys, or another random
// part), that do not match their subject, or that are not instance names
// at all are dropped and counted, and once the forger falls silent the node
// reports nobody gone: a node's liveness comes only from that node.
func TestNATSForgedHeartbeats(t *testing.T) {
	t.Parallel()
	srv := clustertest.StartNATS(t, false)
	const period = 20 * time.Millisecond
	opts := cluster.NATSOptions{NodeID: "a", Heartbeat: period, HeartbeatMisses: 3}
	a := connectWith(t, srv.URL(), opts)
	gone := make(chan string, 16)
	a.OnNodeGone(func(_ context.Context, instance string) { gone <- instance })
	nc := forger(t, srv.URL())
	forged := []struct{ subject, body, why string }{
		{"sockgate.nodes.a", "a", "the bare node id, a prefix of its own members' keys"},
		{"sockgate.nodes.a", "a~0123456789ab", "this node's id with another random part"},
		{"sockgate.nodes.b", "a~0123456789ab", "this node's id on another node's subject"},
		{"sockgate.nodes.b", "c~0123456789ab", "another node's id on the wrong subject"},
		{"sockgate.nodes.b", "b", "no random part"},
		{"sockgate.nodes.b", "b~XYZ", "a bad random part"},
		{"sockgate.nodes.b", strings.Repeat("b", 300) + "~0123456789ab", "an oversized name"},
	}
	before := a.Dropped()
	for range 5 {
		for _, f := range forged {
			if err := nc.Publish(f.subject, []byte(f.body)); err != nil {
				t.Fatal(err)
			}
		}
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(period)
	}
	waitDropped(t, a, before+uint64(5*len(forged)))
	time.Sleep(10 * period) // the forger is silent for over HeartbeatMisses periods
	select {
	case g := <-gone:
		t.Fatalf("node a reported %q gone after forged heartbeats", g)
	default:
	}
}

// TestNATSForgedSnapshots: a late node asks for a room's state; besides
// the real node, a forger answers with a start time of 0 (to look oldest),
// with sequence MaxUint64 (which would wrap the consumer's start), with a
// start time of 1 and a body the replica refuses, and with an oversized
// body. Every forgery is dropped and counted, the late node is restored
// from the real node, and the room keeps working.
func TestNATSForgedSnapshots(t *testing.T) {
	t.Parallel()
	srv := clustertest.StartNATS(t, false)
	real := connect(t, srv.URL(), "real")
	late := connectWith(t, srv.URL(), cluster.NATSOptions{NodeID: "late", SnapshotGrace: time.Second})
	early := newRecorder("real")
	subscribe(t, real, "room", early)
	publish(t, real, "room", "one")
	early.waitFor(t, 1)

	nc := forger(t, srv.URL())
	answers := []struct {
		started, seq string
		body         []byte
	}{
		{"0", "1", []byte(`{"events":["forged"],"node":"forger"}`)},
		{"1", strconv.FormatUint(math.MaxUint64, 10), []byte(`{"events":["forged"],"node":"forger"}`)},
		{"1", "1", []byte(`not json`)},
		{"1", "1", make([]byte, cluster.MaxSnapshotBytes+1)},
		{strconv.FormatInt(time.Now().Add(time.Hour).UnixNano(), 10), "1", []byte(`{"events":["future"],"node":"forger"}`)},
	}
	sub, err := nc.Subscribe("sockgate.snapshot.room", func(m *nats.Msg) {
		for _, a := range answers {
			r := nats.NewMsg(m.Reply)
			r.Header.Set("Sockgate-Node", "forger")
			r.Header.Set("Sockgate-Started", a.started)
			r.Header.Set("Sockgate-Seq", a.seq)
			r.Data = a.body
			_ = nc.PublishMsg(r)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	before := late.Dropped()
	l := newRecorder("late")
	subscribe(t, late, "room", l)
	if l.from != "real" || !slices.Equal(l.events(), []string{"one"}) {
		t.Fatalf("late node restored %q from %q; want [one] from the real node", l.events(), l.from)
	}
	if got := late.Dropped() - before; got < uint64(len(answers)) {
		t.Errorf("dropped %d of %d forged answers", got, len(answers))
	}
	publish(t, late, "room", "two")
	if got := l.waitFor(t, 2); !slices.Equal(got, []string{"one", "two"}) {
		t.Fatalf("after the forgeries the room applied %q", got)
	}
	early.waitFor(t, 2)
}

// TestNATSOversizedEvent: Publish refuses an event over MaxEventBytes, and
// one written straight into the stream is dropped and counted by every
// node, which go on applying the events after it.
func TestNATSOversizedEvent(t *testing.T) {
	t.Parallel()
	srv := clustertest.StartNATS(t, false)
	b := connect(t, srv.URL(), "b")
	r := newRecorder("b")
	subscribe(t, b, "room", r)
	big := make([]byte, cluster.MaxEventBytes+1)
	if err := b.Publish(context.Background(), "room", big); !errors.Is(err, cluster.ErrTooBig) {
		t.Fatalf("Publish of %d bytes = %v; want ErrTooBig", len(big), err)
	}
	nc := forger(t, srv.URL())
	before := b.Dropped()
	if err := nc.Publish("sockgate.room.room", big); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	waitDropped(t, b, before+1)
	publish(t, b, "room", "after")
	if got := r.waitFor(t, 1); !slices.Equal(got, []string{"after"}) {
		t.Fatalf("applied %q; want only the event after the oversized one", got)
	}
}
