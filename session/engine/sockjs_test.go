package engine

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sockgate/sockgate/session"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testOptions are short timings for state machine tests.
func testOptions(t *testing.T) (*Options, *atomic.Int32) {
	t.Helper()
	var forgotten atomic.Int32
	return Options{
		HeartbeatDelay:  time.Hour,
		DisconnectDelay: time.Hour,
		OnForget:        func(*SockJS) { forgotten.Add(1) },
	}.Resolve(), &forgotten
}

// next pulls one frame with a timeout.
func next(t *testing.T, r *Receiver) (string, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	f, last, err := r.Next(ctx)
	if err != nil {
		t.Fatalf("Next: %v", err)
	}
	return string(f), last
}

func TestOpenFrameOnceThenBatches(t *testing.T) {
	t.Parallel()
	opts, _ := testOptions(t)
	s := NewSockJS("id", "xhr-polling", opts)
	defer s.Forget(session.CodeNormal, "test over")
	r, err := s.attach(nil)
	if err != nil {
		t.Fatal(err)
	}
	if f, _ := next(t, r); f != "o" {
		t.Fatalf("first frame %q, want o", f)
	}
	r.Detach()
	// Messages sent with no receiver are buffered and come as one batch.
	for _, m := range []string{"a", "b\"", "\u2028"} {
		if err := s.Send(m); err != nil {
			t.Fatal(err)
		}
	}
	r, _ = s.attach(nil)
	if f, _ := next(t, r); f != `a["a","b\"","\u2028"]` {
		t.Fatalf("batch %q", f)
	}
	r.Detach()
}

func TestSecondReceiverRefused(t *testing.T) {
	t.Parallel()
	opts, _ := testOptions(t)
	s := NewSockJS("id", "xhr-streaming", opts)
	defer s.Forget(session.CodeNormal, "test over")
	r1, _ := s.attach(nil)
	if _, err := s.attach(nil); !errors.Is(err, ErrReceiverAttached) {
		t.Fatalf("second Attach: %v, want ErrReceiverAttached", err)
	}
	if f, _ := next(t, r1); f != "o" {
		t.Fatalf("first receiver disturbed: %q", f)
	}
	r1.Detach()
	r2, err := s.attach(nil)
	if err != nil {
		t.Fatalf("Attach after Detach: %v", err)
	}
	r2.Detach()
}

func TestCloseFrameAfterQueuedAndReplayed(t *testing.T) {
	t.Parallel()
	opts, _ := testOptions(t)
	s := NewSockJS("id", "xhr-polling", opts)
	defer s.Forget(session.CodeNormal, "test over")
	r, _ := s.attach(nil)
	next(t, r)
	_ = s.Send("last words")
	_ = s.Close(3000, "Go away!")
	_ = s.Close(3001, "ignored") // idempotent
	if err := s.Send("x"); !errors.Is(err, session.ErrClosed) {
		t.Fatalf("Send after Close: %v", err)
	}
	if f, last := next(t, r); f != `a["last words"]` || last {
		t.Fatalf("queued message first, got %q last=%v", f, last)
	}
	if f, last := next(t, r); f != `c[3000,"Go away!"]` || !last {
		t.Fatalf("close frame, got %q last=%v", f, last)
	}
	r.Detach()
	r, _ = s.attach(nil)
	if f, last := next(t, r); f != `c[3000,"Go away!"]` || !last {
		t.Fatalf("close frame replayed, got %q", f)
	}
	r.Detach()
	select {
	case <-s.Done():
	default:
		t.Fatal("Done not closed")
	}
}

func TestAbortClosesWithInterrupted(t *testing.T) {
	t.Parallel()
	opts, _ := testOptions(t)
	s := NewSockJS("id", "xhr-streaming", opts)
	defer s.Forget(session.CodeNormal, "test over")
	r, _ := s.attach(nil)
	next(t, r)
	r.Abort()
	r, _ = s.attach(nil)
	if f, _ := next(t, r); f != `c[1002,"Connection interrupted"]` {
		t.Fatalf("after abort got %q", f)
	}
	r.Detach()
}

func TestHeartbeat(t *testing.T) {
	t.Parallel()
	opts, _ := testOptions(t)
	opts.HeartbeatDelay = 20 * time.Millisecond
	s := NewSockJS("id", "xhr-streaming", opts)
	defer s.Forget(session.CodeNormal, "test over")
	r, _ := s.attach(nil)
	next(t, r)
	if f, _ := next(t, r); f != "h" {
		t.Fatalf("idle receiver got %q, want h", f)
	}
	r.Detach()
}

func TestExpiryAfterDisconnectDelay(t *testing.T) {
	t.Parallel()
	opts, forgotten := testOptions(t)
	opts.DisconnectDelay = 20 * time.Millisecond
	var closed atomic.Value
	opts.OnClose = func(_ *SockJS, info session.CloseInfo) { closed.Store(info) }
	s := NewSockJS("id", "xhr-polling", opts)
	r, _ := s.attach(nil)
	next(t, r)
	r.Detach()
	select {
	case <-s.Done():
	case <-time.After(2 * time.Second):
		t.Fatal("session did not expire")
	}
	deadline := time.Now().Add(2 * time.Second)
	for forgotten.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if forgotten.Load() != 1 {
		t.Fatalf("OnForget called %d times", forgotten.Load())
	}
	if info := closed.Load().(session.CloseInfo); info.Code != session.CodeTimeout {
		t.Fatalf("closed with %+v", info)
	}
	if _, err := s.attach(nil); !errors.Is(err, session.ErrClosed) {
		t.Fatalf("Attach to forgotten session: %v", err)
	}
}

func TestQueueBoundClosesSlowClient(t *testing.T) {
	t.Parallel()
	opts, _ := testOptions(t)
	opts.MaxQueueBytes = 100
	s := NewSockJS("id", "websocket", opts)
	defer s.Forget(session.CodeNormal, "test over")
	var err error
	for i := 0; i < 100 && err == nil; i++ {
		err = s.Send("0123456789")
	}
	if !errors.Is(err, session.ErrQueueFull) {
		t.Fatalf("Send to a never-read session: %v, want session.ErrQueueFull", err)
	}
	r, _ := s.attach(nil)
	next(t, r) // o
	if f, _ := next(t, r); f != `c[3008,"Slow client"]` {
		t.Fatalf("slow client closed with %q", f)
	}
	r.Detach()
}

func TestRecvDrainsThenErrClosed(t *testing.T) {
	t.Parallel()
	opts, _ := testOptions(t)
	s := NewSockJS("id", "xhr-polling", opts)
	defer s.Forget(session.CodeNormal, "test over")
	ctx := context.Background()
	if err := s.Deliver(ctx, []string{"a", "b"}); err != nil {
		t.Fatal(err)
	}
	_ = s.Close(session.CodeNormal, "bye")
	for _, want := range []string{"a", "b"} {
		if m, err := s.Recv(ctx); err != nil || m != want {
			t.Fatalf("Recv = %q, %v; want %q", m, err, want)
		}
	}
	if _, err := s.Recv(ctx); !errors.Is(err, session.ErrClosed) {
		t.Fatalf("Recv after drain: %v", err)
	}
	if err := s.Deliver(ctx, []string{"c"}); !errors.Is(err, session.ErrClosed) {
		t.Fatalf("Deliver after close: %v", err)
	}
}

func TestRunRecoversPanic(t *testing.T) {
	t.Parallel()
	opts, _ := testOptions(t)
	s := NewSockJS("id", "xhr-polling", opts)
	defer s.Forget(session.CodeNormal, "test over")
	session.Run(func(context.Context, session.Session) { panic("boom") }, s, testLogger(t))
	if info := s.CloseInfo(); info.Code != session.CodeInternalError {
		t.Fatalf("closed with %+v, want 1011", info)
	}
}
