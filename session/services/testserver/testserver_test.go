package testserver_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/sockgate/sockgate/session"
	"github.com/sockgate/sockgate/session/services/testserver"
)

// fakeSession is a session.Session whose client is the test: in holds
// what the client sent, out what the service sent.
type fakeSession struct {
	in   chan string
	mu   sync.Mutex
	out  []string
	info session.CloseInfo
	done chan struct{}
	once sync.Once
}

func newFake(in ...string) *fakeSession {
	s := &fakeSession{in: make(chan string, len(in)), done: make(chan struct{})}
	for _, m := range in {
		s.in <- m
	}
	close(s.in)
	return s
}

func (s *fakeSession) ID() string                { return "fake" }
func (s *fakeSession) Transport() string         { return "fake" }
func (s *fakeSession) Done() <-chan struct{}     { return s.done }
func (s *fakeSession) Request() *session.Request { return &session.Request{} }

func (s *fakeSession) Recv(ctx context.Context) (string, error) {
	select {
	case m, ok := <-s.in:
		if !ok {
			return "", session.ErrClosed
		}
		return m, nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

func (s *fakeSession) Send(msg string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.out = append(s.out, msg)
	return nil
}

func (s *fakeSession) Close(code int, reason string) error {
	s.once.Do(func() {
		s.mu.Lock()
		s.info = session.CloseInfo{Code: code, Reason: reason}
		s.mu.Unlock()
		close(s.done)
	})
	return nil
}

func (s *fakeSession) CloseInfo() session.CloseInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.info
}

func (s *fakeSession) sent() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.out...)
}

// TestAmplify: a message n gets 2^n 'x's for n in 1..18; anything else,
// bad input included, gets 2.
func TestAmplify(t *testing.T) {
	t.Parallel()
	s := newFake("3", " 18 ", "19", "0", "-2", "abc", "2.9")
	testserver.Amplify(context.Background(), s)
	want := []int{8, 1 << 18, 2, 2, 2, 2, 4}
	got := s.sent()
	if len(got) != len(want) {
		t.Fatalf("sent %d messages, want %d", len(got), len(want))
	}
	for i, n := range want {
		if got[i] != strings.Repeat("x", n) {
			t.Errorf("answer %d has %d bytes, want %d 'x's", i, len(got[i]), n)
		}
	}
}

// TestCloseAtOnce: the session closes with 3000 "Go away!" and nothing is sent.
func TestCloseAtOnce(t *testing.T) {
	t.Parallel()
	s := newFake()
	testserver.CloseAtOnce(context.Background(), s)
	if info := s.CloseInfo(); info.Code != session.CodeGoAway || info.Reason != session.ReasonGoAway {
		t.Errorf("closed with %+v, want 3000 Go away!", info)
	}
	if len(s.sent()) != 0 {
		t.Errorf("sent %q, want nothing", s.sent())
	}
}

// TestBroadcastEvents: a message from one member reaches every member,
// the sender included; a member that left gets nothing more.
func TestBroadcastEvents(t *testing.T) {
	t.Parallel()
	ev := testserver.NewBroadcast().Events()
	a, b := newFake(), newFake()
	ev.OnOpen(a)
	ev.OnOpen(b)
	ev.OnMessage(a, "hi")
	ev.OnClose(b, session.CloseInfo{Code: session.CodeNormal})
	ev.OnMessage(a, "again")
	if got := strings.Join(a.sent(), ","); got != "hi,again" {
		t.Errorf("sender got %q, want hi,again", got)
	}
	if got := strings.Join(b.sent(), ","); got != "hi" {
		t.Errorf("member that left got %q, want hi", got)
	}
}

// TestTickerStops: Ticker returns once its context ends.
func TestTickerStops(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	testserver.Ticker(ctx, newFake())
}
