package cluster_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/sockgate/sockgate/session"
	"github.com/sockgate/sockgate/session/cluster/clustertest"
	"github.com/sockgate/sockgate/session/engine"
)

// TestRelay: a room relayed on two nodes: a broadcast on either reaches
// the members of both, once each; after stop, only the local ones.
func TestRelay(t *testing.T) {
	t.Parallel()
	srv := clustertest.StartNATS(t, false)
	opts := engine.Options{DisconnectDelay: time.Minute}.Resolve()
	var members [2]*engine.SockJS
	var rooms [2]*session.Room
	var stops [2]func()
	for i, name := range []string{"a", "b"} {
		b := connect(t, srv.URL(), name)
		rooms[i] = session.NewRoom("lobby")
		members[i] = engine.NewSockJS(name, "xhr-polling", opts)
		members[i].Start()
		rooms[i].Join(members[i])
		stop, err := b.Relay(rooms[i])
		if err != nil {
			t.Fatal(err)
		}
		stops[i] = stop
	}
	rooms[0].Broadcast("from-a")
	rooms[1].Broadcast("from-b")
	// Each sender's order is kept; there is none across senders.
	for i, s := range members {
		if got := collect(t, s, 2); !slices.Equal(got, []string{"from-a", "from-b"}) {
			t.Fatalf("member on node %d got %q; want both, once each", i, got)
		}
	}
	stops[1]()
	rooms[1].Broadcast("b-only")
	rooms[0].Broadcast("a-only") // published, but b no longer listens
	for i, want := range []string{"a-only", "b-only"} {
		if got := collect(t, members[i], 1); !slices.Equal(got, []string{want}) {
			t.Fatalf("member on node %d got %q after the relay stopped; want %q", i, got, want)
		}
	}
}

// collect reads n messages from s's queue, then checks that nothing else
// comes, and returns them sorted.
func collect(t *testing.T, s *engine.SockJS, n int) []string {
	t.Helper()
	r, err := s.AttachWait(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Detach()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	var got []string
	for len(got) < n {
		f, _, err := r.Next(ctx)
		if err != nil {
			t.Fatalf("waiting for %d messages, got %q: %v", n, got, err)
		}
		if f[0] != 'a' {
			continue // the open frame
		}
		msgs, err := engine.DecodeMessages(f[1:])
		if err != nil {
			t.Fatalf("frame %q: %v", f, err)
		}
		got = append(got, msgs...)
	}
	time.Sleep(200 * time.Millisecond) // a duplicate, or a message not meant for s, would be here by now
	if f, _, ok, _ := r.TryNext(ctx); ok {
		t.Fatalf("extra frame %q after %q", f, got)
	}
	slices.Sort(got)
	return got
}
