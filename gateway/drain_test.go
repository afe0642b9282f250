package gateway

import (
	"context"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/sockgate/sockgate/session"
	"github.com/sockgate/sockgate/session/engine"
	"github.com/sockgate/sockgate/session/transport"
)

// drainSessions is how many sessions TestShutdownAtScale drains.
const drainSessions = 50_000

// TestShutdownAtScale drains 50,000 xhr-polling sessions of the native
// engine, opened and polled by direct calls into the service. The drain
// waits on counters, not on a poll of the registry: while it waits it
// walks the sessions exactly once (to close them), it is still waiting
// with one close frame uncollected, and it returns once the last is.
func TestShutdownAtScale(t *testing.T) {
	if testing.Short() {
		t.Skip("50,000 sessions: not in -short")
	}
	srv, err := New(Config{
		Logger:           zerolog.Nop(),
		MaxSessions:      Unlimited,
		MaxSessionsPerIP: Unlimited,
		ShutdownTimeout:  time.Minute,
		Services: []Service{{Prefix: "/echo", DisconnectDelay: time.Hour, HeartbeatDelay: time.Hour,
			Events: session.EventFuncs{Message: func(s session.Session, m string) { _ = s.Send(m) }}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	svc := srv.services[0]
	r := httptest.NewRequest("POST", "/echo/000/x/xhr", nil)
	c := srv.identify(r)
	sessions := make([]*engine.SockJS, drainSessions)
	for i := range sessions {
		id := strconv.Itoa(i)
		s, err := svc.sessionFor(r, c, id, srv.bindKey(id, c), transport.XHRPolling)
		if err != nil {
			t.Fatalf("session %d: %v", i, err)
		}
		sessions[i] = s
	}
	if n := srv.unfinished.Len(); n != drainSessions {
		t.Fatalf("unfinished = %d, want %d", n, drainSessions)
	}

	drained := make(chan error, 1)
	go func() { drained <- srv.Shutdown(context.Background()) }()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i, s := range sessions {
		rcv, err := s.AttachWait(ctx)
		if err != nil {
			t.Fatalf("session %d: attach: %v", i, err)
		}
		for {
			f, last, err := rcv.Next(ctx)
			if err != nil {
				t.Fatalf("session %d: %v", i, err)
			}
			if last {
				if string(f) != `c[3001,"Server shutting down"]` {
					t.Fatalf("session %d: last frame %q, want the shutdown close frame", i, f)
				}
				break
			}
		}
		rcv.Detach()
		if i == len(sessions)-2 {
			select {
			case err := <-drained:
				t.Fatalf("Shutdown returned (%v) with a close frame uncollected", err)
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	select {
	case err := <-drained:
		if err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("Shutdown did not return once every close frame was collected")
	}
	if w := svc.walks.Load(); w != 1 {
		t.Errorf("the drain walked the sessions %d times, want 1 (no poll)", w)
	}
	if n := srv.unfinished.Len(); n != 0 {
		t.Errorf("unfinished = %d after the drain, want 0", n)
	}
}
