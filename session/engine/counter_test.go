package engine

import (
	"context"
	"testing"
	"time"

	"github.com/sockgate/sockgate/session"
)

// TestCounterWait: Wait returns at once at zero, blocks while the count is
// above it, returns when the last add brings it back, and gives up when
// its context ends.
func TestCounterWait(t *testing.T) {
	t.Parallel()
	var c Counter
	if !c.Wait(context.Background()) {
		t.Fatal("Wait on a zero counter = false")
	}
	c.add(2)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if c.Wait(ctx) {
		t.Fatal("Wait = true while the count is 2")
	}
	done := make(chan bool)
	go func() { done <- c.Wait(context.Background()) }()
	c.add(-1)
	select {
	case <-done:
		t.Fatal("Wait returned at 1")
	case <-time.After(20 * time.Millisecond):
	}
	c.add(-1)
	select {
	case ok := <-done:
		if !ok {
			t.Fatal("Wait = false at zero")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Wait did not return at zero")
	}
	var none *Counter
	none.add(1) // a nil counter counts nothing
}

// TestBusyCounts: a Handler session is busy from the delivery of a message
// until the handler asks for the next one, and for good idle once its
// handler is done.
func TestBusyCounts(t *testing.T) {
	t.Parallel()
	var busy Counter
	opts, _ := testOptions(t)
	opts.Busy = &busy
	s := NewSockJS("id", "xhr-polling", opts)
	defer s.Forget(session.CodeNormal, "test over")
	ctx := context.Background()
	if err := s.Deliver(ctx, []string{"a", "b"}); err != nil {
		t.Fatal(err)
	}
	if busy.Len() != 1 {
		t.Fatalf("Busy = %d after a delivery, want 1", busy.Len())
	}
	for range 2 {
		if _, err := s.Recv(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if busy.Len() != 1 {
		t.Fatalf("Busy = %d while the handler handles the last message, want 1", busy.Len())
	}
	short, cancel := context.WithTimeout(ctx, time.Millisecond)
	defer cancel()
	_, _ = s.Recv(short) // asks for the next: both are handled
	if busy.Len() != 0 {
		t.Fatalf("Busy = %d once the handler asked for more, want 0", busy.Len())
	}
	s.HandlerDone()
	if err := s.Deliver(ctx, []string{"late"}); err != nil {
		t.Fatal(err)
	}
	if busy.Len() != 0 {
		t.Fatalf("Busy = %d after a delivery nobody will take, want 0", busy.Len())
	}
}

// TestUnfinishedCounts: a polled session is unfinished until the receiver
// that took its close frame detaches (or it is forgotten); a
// connection-owned one until it is forgotten.
func TestUnfinishedCounts(t *testing.T) {
	t.Parallel()
	var unfinished Counter
	opts, _ := testOptions(t)
	opts.Unfinished = &unfinished
	s := NewSockJS("poll", "xhr-polling", opts)
	if unfinished.Len() != 1 {
		t.Fatalf("Unfinished = %d after NewSockJS, want 1", unfinished.Len())
	}
	_ = s.Close(session.CodeShutdown, session.ReasonShutdown)
	if unfinished.Len() != 1 {
		t.Fatalf("Unfinished = %d after Close, want 1: the close frame is not collected", unfinished.Len())
	}
	r, _ := s.attach(nil)
	if f, _ := next(t, r); f != "o" {
		t.Fatalf("first frame %q", f)
	}
	if f, last := next(t, r); !last || f != `c[3001,"Server shutting down"]` {
		t.Fatalf("frame %q last=%v, want the close frame", f, last)
	}
	if unfinished.Len() != 1 {
		t.Fatalf("Unfinished = %d with the close frame handed out, want 1 until its receiver detaches", unfinished.Len())
	}
	r.Detach()
	if unfinished.Len() != 0 {
		t.Fatalf("Unfinished = %d after the close frame, want 0", unfinished.Len())
	}
	s.Forget(session.CodeNormal, "test over")
	if unfinished.Len() != 0 {
		t.Fatalf("Unfinished = %d after Forget, want 0: counted out once", unfinished.Len())
	}

	ws, rcv := NewSockJSPush("ws", "websocket", opts, func() {})
	_ = ws.Close(session.CodeShutdown, session.ReasonShutdown)
	for {
		if _, last, ok, err := rcv.TryNext(context.Background()); err != nil || !ok || last {
			break
		}
	}
	if unfinished.Len() != 1 {
		t.Fatalf("Unfinished = %d with a websocket's close frame written, want 1 until its connection ends", unfinished.Len())
	}
	ws.Forget(session.CodeNormal, "connection ended")
	if unfinished.Len() != 0 {
		t.Fatalf("Unfinished = %d after the websocket is forgotten, want 0", unfinished.Len())
	}
}
