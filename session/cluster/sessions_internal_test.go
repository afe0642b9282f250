package cluster

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

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

// TestPollAgainAfterALostReply: a poll's receiver is detached on the owner
// with its frame, but a pull sent again (its reply was lost) still gets
// that frame, with the same sequence, and takes nothing from the receiver
// attached since.
func TestPollAgainAfterALostReply(t *testing.T) {
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
	for _, n := range nodes {
		if err := n.Serve(oneSession{s}, nil); err != nil {
			t.Fatal(err)
		}
	}
	rr, err := nodes[1].Poll(ctx, nodes[0].Instance(), "/echo", "s1")
	if err != nil {
		t.Fatal(err)
	}
	if f, _, err := rr.Next(ctx); err != nil || string(f) != "o" || !rr.detached {
		t.Fatalf("first frame %q, detached %v, %v; want o from an owner that detached", f, rr.detached, err)
	}
	local, err := s.AttachWait(ctx) // the client's next poll, on the owner
	if err != nil {
		t.Fatalf("local attach: %v", err)
	}
	_ = s.Send("m1")
	rr.seq = 0                            // as before the reply, which was "lost"
	again, err := rr.request(ctx, opOpen) // and the open is sent again
	if err != nil {
		t.Fatal(err)
	}
	if string(again.Data) != "o" || again.Header.Get(hSeq) != "1" || again.Header.Get(hDetached) != "1" {
		t.Fatalf("open sent again: %q (seq %s, detached %q); want o again, seq 1",
			again.Data, again.Header.Get(hSeq), again.Header.Get(hDetached))
	}
	if f, _, err := local.Next(ctx); err != nil || string(f) != `a["m1"]` {
		t.Fatalf("the receiver attached since: %q, %v; want m1", f, err)
	}
	local.Detach()
	rr.Done()
}

// TestPollAgainstAnOlderOwner: an owner that does not know Sg-Poll (the
// version before it, during a rolling upgrade) answers without
// Sg-Detached and keeps its receiver; the front node then releases it with
// a done it waits for, as before, never with an acknowledgement sent
// alone.
func TestPollAgainstAnOlderOwner(t *testing.T) {
	t.Parallel()
	srv := clustertest.StartNATS(t, false)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, err := NATS(ctx, srv.URL(), NATSOptions{NodeID: "new"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	front, err := NewSessions(ctx, b, SessionsOptions{AckDelay: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = front.Close() })
	if err := front.Serve(oneSession{engine.NewSockJS("none", "xhr-polling", engine.Options{}.Resolve())}, nil); err != nil {
		t.Fatal(err)
	}
	// The older owner, as it answered: status, sequence, last; nothing
	// else.
	old, err := nats.Connect(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	ops := make(chan string, 10)
	if _, err := old.Subscribe(front.subject("old", kindPull), func(m *nats.Msg) {
		ops <- m.Header.Get(hOp) + " reply=" + strconv.FormatBool(m.Reply != "")
		r := nats.NewMsg(m.Reply)
		r.Header.Set(hStatus, stOK)
		if m.Header.Get(hOp) == opOpen {
			r.Header.Set(hSeq, "1")
			r.Header.Set(hLast, "0")
			r.Data = []byte("o")
		}
		_ = m.RespondMsg(r)
	}); err != nil {
		t.Fatal(err)
	}
	if err := old.Flush(); err != nil {
		t.Fatal(err)
	}
	rr, err := front.Poll(ctx, "old", "/echo", "s1")
	if err != nil {
		t.Fatal(err)
	}
	if f, _, err := rr.Next(ctx); err != nil || string(f) != "o" || rr.detached {
		t.Fatalf("first frame %q, detached %v, %v; want o, not detached", f, rr.detached, err)
	}
	rr.Done()
	for _, want := range []string{opOpen + " reply=true", opDone + " reply=true"} {
		select {
		case got := <-ops:
			if got != want {
				t.Fatalf("the older owner got %q; want %q", got, want)
			}
		case <-ctx.Done():
			t.Fatalf("the older owner never got %q", want)
		}
	}
	select {
	case got := <-ops:
		t.Fatalf("the older owner got %q after the done; want nothing", got)
	case <-time.After(50 * time.Millisecond): // 50 times AckDelay
	}
}
