package cluster

import (
	"context"
	"testing"
	"time"

	"github.com/sockgate/sockgate/session/cluster/clustertest"
	"github.com/sockgate/sockgate/session/engine"
)

type oneSession struct{ s *engine.SockJS }

func (o oneSession) LocalSession(_, id string) *engine.SockJS {
	if id == o.s.ID() {
		return o.s
	}
	return nil
}

// TestPullAgainAfterALostReply: a pull sent again with the same
// acknowledgement (its reply was lost, NATS restarting) gets the same frame
// with the same sequence, not the next one: nothing is lost or sent twice.
func TestPullAgainAfterALostReply(t *testing.T) {
	t.Parallel()
	srv := clustertest.StartNATS(t, false)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var nodes [2]*Sessions
	for i := range nodes {
		b, err := NATS(ctx, srv.URL(), NATSOptions{NodeID: string(rune('a' + i))})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = b.Close() })
		if nodes[i], err = NewSessions(ctx, b, SessionsOptions{}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = nodes[i].Close() })
	}
	s := engine.NewSockJS("s1", "xhr-polling", engine.Options{DisconnectDelay: time.Minute}.Resolve())
	s.Start()
	if err := nodes[0].Serve(oneSession{s}, nil); err != nil {
		t.Fatal(err)
	}
	if err := nodes[1].Serve(oneSession{s}, nil); err != nil {
		t.Fatal(err)
	}
	rr, err := nodes[1].Pull(ctx, nodes[0].Instance(), "/echo", "s1")
	if err != nil {
		t.Fatal(err)
	}
	if f, _, err := rr.Next(ctx); err != nil || string(f) != "o" {
		t.Fatalf("first frame %q, %v", f, err)
	}
	_ = s.Send("m1")
	first, err := rr.request(ctx, opNext)
	if err != nil {
		t.Fatal(err)
	}
	_ = s.Send("m2")
	again, err := rr.request(ctx, opNext) // same acknowledgement: the reply above was "lost"
	if err != nil {
		t.Fatal(err)
	}
	if string(first.Data) != `a["m1"]` || string(again.Data) != `a["m1"]` ||
		first.Header.Get(hSeq) != again.Header.Get(hSeq) {
		t.Fatalf("pull and pull again: %q (seq %s), %q (seq %s); want the same frame twice",
			first.Data, first.Header.Get(hSeq), again.Data, again.Header.Get(hSeq))
	}
	rr.frame(again)
	if f, _, err := rr.Next(ctx); err != nil || string(f) != `a["m2"]` {
		t.Fatalf("after the acknowledgement: %q, %v; want m2", f, err)
	}
	rr.Done()
}
