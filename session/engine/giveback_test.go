package engine

import (
	"context"
	"testing"
	"time"
)

// TestGiveBack: frames handed out and given back come again, in order,
// before what was queued since; the close frame is replayed.
func TestGiveBack(t *testing.T) {
	t.Parallel()
	s := NewSockJS("id", "xhr-polling", Options{DisconnectDelay: time.Minute}.Resolve())
	s.Start()
	ctx := context.Background()
	next := func(r *Receiver) string {
		t.Helper()
		f, _, err := r.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return string(f)
	}
	r, err := s.attach(nil)
	if err != nil {
		t.Fatal(err)
	}
	if f := next(r); f != "o" {
		t.Fatalf("first frame %q; want o", f)
	}
	r.GiveBack(OpenFrame)
	if f := next(r); f != "o" {
		t.Fatalf("after giving the open frame back: %q; want o again", f)
	}
	_ = s.Send("a")
	_ = s.Send("b")
	batch := []byte(next(r))
	if string(batch) != `a["a","b"]` {
		t.Fatalf("batch %q", batch)
	}
	_ = s.Send("c")
	r.GiveBack(batch)
	r.GiveBack(HeartbeatFrame) // dropped
	r.Detach()
	r2, err := s.attach(nil)
	if err != nil {
		t.Fatal(err)
	}
	if f := next(r2); f != `a["a","b","c"]` {
		t.Fatalf("after the give-back: %q; want a, b, then c", f)
	}
	_ = s.Close(3000, "Go away!")
	c := next(r2)
	if c != `c[3000,"Go away!"]` {
		t.Fatalf("close frame %q", c)
	}
	r2.GiveBack([]byte(c))
	if f := next(r2); f != c {
		t.Fatalf("after giving the close frame back: %q; want %q", f, c)
	}
	r2.Detach()
}
