package engine

import (
	"strings"
	"testing"
	"time"

	"github.com/sockgate/sockgate/session"
)

// throttleOptions are testOptions with a small queue and a short slow
// client timeout.
func throttleOptions(t *testing.T) *Options {
	t.Helper()
	opts, _ := testOptions(t)
	o := *opts
	o.MaxQueueBytes = 1000
	o.SlowClientTimeout = 200 * time.Millisecond
	return &o
}

// A broadcast that leaves a member over half its queue bound returns only
// once that member's queue drained below it; the member is not closed.
func TestRoomBroadcastWaitsForDrain(t *testing.T) {
	t.Parallel()
	opts := throttleOptions(t)
	room := session.NewRoom("r")
	s := NewSockJS("id", "xhr-polling", opts)
	defer s.Forget(session.CodeNormal, "test over")
	room.Join(s)
	r, _ := s.attach(nil)
	next(t, r) // "o"

	msg := strings.Repeat("m", 600) // over the soft mark of 500 once queued
	done := make(chan time.Duration, 1)
	start := time.Now()
	go func() { room.Broadcast(msg); done <- time.Since(start) }()
	select {
	case <-done:
		t.Fatal("Broadcast returned while the member's queue was over its soft mark")
	case <-time.After(50 * time.Millisecond):
	}
	if f, _ := next(t, r); f != `a["`+msg+`"]` { // the client reads: the queue drains
		t.Fatalf("member got %.20q", f)
	}
	select {
	case <-done:
	case <-time.After(time.Second):
		t.Fatal("Broadcast still waits after the member's queue drained")
	}
	if s.CloseInfo().Code != 0 {
		t.Fatalf("member closed with %+v, want open", s.CloseInfo())
	}
}

// A member that stays over its soft mark for SlowClientTimeout is closed
// with CodeSlowClient, its queue dropped; the others get every message,
// and the broadcast returns.
func TestRoomBroadcastCutsStuckMember(t *testing.T) {
	t.Parallel()
	opts := throttleOptions(t)
	room := session.NewRoom("r")
	stuck := NewSockJS("stuck", "xhr-polling", opts)
	defer stuck.Forget(session.CodeNormal, "test over")
	reader, rcv := NewRawPush("reader", "raw-websocket", opts, func() {}, func(dst []byte, m string) []byte {
		return append(append(dst, m...), '|')
	})
	defer reader.Forget(session.CodeNormal, "test over")
	room.Join(stuck)
	room.Join(reader)

	msg := strings.Repeat("m", 300)
	start := time.Now()
	for range 2 {
		if n := room.Broadcast(msg); n != 2 {
			t.Fatalf("Broadcast reached %d, want 2", n)
		}
		for { // the reader takes everything at once
			f, _, ok, err := rcv.TryNext(t.Context())
			if err != nil || !ok {
				break
			}
			if string(f) != msg+"|" {
				t.Fatalf("raw member got %.20q, want the message in its own framing", f)
			}
		}
	}
	took := time.Since(start)
	if info := stuck.CloseInfo(); info.Code != session.CodeSlowClient {
		t.Fatalf("stuck member: %+v, want closed with %d", info, session.CodeSlowClient)
	}
	if took < opts.SlowClientTimeout || took > 10*opts.SlowClientTimeout {
		t.Errorf("broadcasts took %v, want about the slow client timeout %v", took, opts.SlowClientTimeout)
	}
	if reader.CloseInfo().Code != 0 {
		t.Errorf("reading member closed with %+v", reader.CloseInfo())
	}
}

// A raw-mode session has no open frame and no "a[...]" batches: its
// receiver hands out the transport's framing of each message, the
// heartbeat frame when one is due, and the close frame last; the queue
// bound, Close and the meter work as in SockJS mode.
func TestRawModeSession(t *testing.T) {
	t.Parallel()
	opts, _ := testOptions(t)
	o := *opts
	o.MaxQueueBytes = 20
	s, r := NewRawPush("raw", "raw-websocket", &o, func() {}, func(dst []byte, m string) []byte {
		return append(append(append(dst, '<'), m...), '>')
	})
	defer s.Forget(session.CodeNormal, "test over")
	try := func() string {
		f, _, ok, err := r.TryNext(t.Context())
		if err != nil || !ok {
			return ""
		}
		return string(f)
	}
	if f := try(); f != "" {
		t.Fatalf("first frame %q, want nothing (no open frame)", f)
	}
	_ = s.Send("a")
	_ = s.SendQuoted(AppendQuoted(nil, "b\u2028"))
	if f := try(); f != "<a><b\u2028>" {
		t.Fatalf("batch %q, want the two messages framed by the transport", f)
	}
	r.Heartbeat()
	if f := try(); f != "h" {
		t.Fatalf("after Heartbeat %q, want the heartbeat frame", f)
	}
	if err := s.Send(strings.Repeat("x", 30)); err != session.ErrQueueFull {
		t.Fatalf("Send over the bound: %v, want session.ErrQueueFull", err)
	}
	f, last, ok, err := r.TryNext(t.Context())
	if string(f) != `c[3008,"Slow client"]` || !last || !ok || err != nil {
		t.Fatalf("after the overflow: %q last=%v ok=%v %v, want the close frame", f, last, ok, err)
	}
}
