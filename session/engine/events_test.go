package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/sockgate/sockgate/session"
)

// eventLog records Events calls as lines ("open", "msg:x", "close:1000").
type eventLog struct {
	mu    sync.Mutex
	lines []string
	// onMessage, when set, runs inside OnMessage.
	onMessage func(s session.Session, msg string)
}

func (l *eventLog) add(line string) {
	l.mu.Lock()
	l.lines = append(l.lines, line)
	l.mu.Unlock()
}

func (l *eventLog) get() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, " ")
}

func (l *eventLog) OnOpen(session.Session) { l.add("open") }
func (l *eventLog) OnMessage(s session.Session, msg string) {
	l.add("msg:" + msg)
	if l.onMessage != nil {
		l.onMessage(s, msg)
	}
}
func (l *eventLog) OnClose(_ session.Session, info session.CloseInfo) {
	l.add(fmt.Sprintf("close:%d", info.Code))
}

func eventsOptions(ev session.Events, log zerolog.Logger) *Options {
	return Options{HeartbeatDelay: time.Hour, DisconnectDelay: time.Hour, Events: ev, Logger: log}.Resolve()
}

// TestEventsOrder: OnOpen once before any message, messages in order and
// handled by the time Deliver returns, OnClose once, nothing after it.
func TestEventsOrder(t *testing.T) {
	t.Parallel()
	var l eventLog
	l.onMessage = func(s session.Session, msg string) { _ = s.Send("echo " + msg) }
	var busy Counter
	opts := eventsOptions(&l, zerolog.Nop())
	opts.Busy = &busy
	s := NewSockJS("id", "websocket", opts)
	defer s.Forget(session.CodeNormal, "test over")
	s.Start()
	s.Start() // a second Start calls nothing
	if err := s.Deliver(context.Background(), []string{"a", "b"}); err != nil {
		t.Fatal(err)
	}
	if n := busy.Len(); n != 0 {
		t.Errorf("Busy = %d after Deliver returned, want 0: the messages were handled synchronously", n)
	}
	// DeliverAndWait must not wait for a Recv that never comes.
	start := time.Now()
	if err := s.DeliverAndWait(context.Background(), []string{"c"}); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d >= SendGrace {
		t.Errorf("DeliverAndWait took %v: it waited for a Recv loop", d)
	}
	r, err := s.attach(nil)
	if err != nil {
		t.Fatal(err)
	}
	if f, _ := next(t, r); f != "o" {
		t.Fatalf("first frame %q", f)
	}
	if f, _ := next(t, r); f != `a["echo a","echo b","echo c"]` {
		t.Fatalf("answers %q: OnMessage's sends are queued when Deliver returns", f)
	}
	_ = s.Close(3000, "bye")
	_ = s.Close(3001, "again") // one OnClose only
	if err := s.Deliver(context.Background(), []string{"late"}); !errors.Is(err, session.ErrClosed) {
		t.Errorf("Deliver after close = %v, want session.ErrClosed", err)
	}
	if got, want := l.get(), "open msg:a msg:b msg:c close:3000"; got != want {
		t.Errorf("events %q, want %q", got, want)
	}
}

// TestEventsCloseFromOnMessage: a Close inside OnMessage defers OnClose
// until OnMessage returns, and the rest of the batch is not delivered.
func TestEventsCloseFromOnMessage(t *testing.T) {
	t.Parallel()
	var l eventLog
	l.onMessage = func(s session.Session, msg string) {
		if msg == "stop" {
			_ = s.Close(4000, "stopped")
			l.add("after-close")
		}
	}
	s := NewSockJS("id", "xhr-polling", eventsOptions(&l, zerolog.Nop()))
	defer s.Forget(session.CodeNormal, "test over")
	err := s.Deliver(context.Background(), []string{"x", "stop", "never"})
	if !errors.Is(err, session.ErrClosed) {
		t.Errorf("Deliver = %v, want session.ErrClosed for the message after the close", err)
	}
	if got, want := l.get(), "open msg:x msg:stop after-close close:4000"; got != want {
		t.Errorf("events %q, want %q", got, want)
	}
}

// TestEventsPanic: a panicking OnMessage is logged, closes the session
// with 1011, and OnClose still comes.
func TestEventsPanic(t *testing.T) {
	t.Parallel()
	var l eventLog
	l.onMessage = func(session.Session, string) { panic("boom") }
	var logs bytes.Buffer
	var mu sync.Mutex
	log := zerolog.New(zerolog.SyncWriter(&lockedWriter{w: &logs, mu: &mu}))
	s := NewSockJS("id", "websocket", eventsOptions(&l, log))
	defer s.Forget(session.CodeNormal, "test over")
	s.Start()
	_ = s.Deliver(context.Background(), []string{"x"})
	if info := s.CloseInfo(); info.Code != session.CodeInternalError {
		t.Errorf("close info %+v, want code %d", info, session.CodeInternalError)
	}
	if got, want := l.get(), "open msg:x close:1011"; got != want {
		t.Errorf("events %q, want %q", got, want)
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(logs.String(), "handler panicked") || !strings.Contains(logs.String(), "boom") {
		t.Errorf("log %q does not report the panic", logs.String())
	}
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestEventsConcurrentClose: a Close racing a stream of messages gives
// exactly one OnClose, after OnOpen, with no message after it.
func TestEventsConcurrentClose(t *testing.T) {
	t.Parallel()
	for range 50 {
		var l eventLog
		s := NewSockJS("id", "websocket", eventsOptions(&l, zerolog.Nop()))
		s.Start()
		var wg sync.WaitGroup
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := range 20 {
				_ = s.Deliver(context.Background(), []string{fmt.Sprint(i)})
			}
		}()
		go func() {
			defer wg.Done()
			_ = s.Close(3000, "x")
		}()
		wg.Wait()
		s.Forget(session.CodeNormal, "test over")
		lines := strings.Fields(l.get())
		if lines[0] != "open" || lines[len(lines)-1] != "close:3000" {
			t.Fatalf("events %v: want open first and one close last", lines)
		}
		if n := strings.Count(l.get(), "close:"); n != 1 {
			t.Fatalf("events %v: %d closes", lines, n)
		}
	}
}

// TestEventsHandler: the adapter gives the compat engine the same calls.
func TestEventsHandler(t *testing.T) {
	t.Parallel()
	var l eventLog
	s := NewSockJS("id", "websocket", Options{HeartbeatDelay: time.Hour, DisconnectDelay: time.Hour}.Resolve())
	defer s.Forget(session.CodeNormal, "test over")
	done := make(chan struct{})
	go func() {
		defer close(done)
		session.Run(session.EventsHandler(&l), s, zerolog.Nop())
	}()
	if err := s.Deliver(context.Background(), []string{"a", "b"}); err != nil {
		t.Fatal(err)
	}
	_ = s.Close(3000, "bye")
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("handler did not return after the close")
	}
	if got, want := l.get(), "open msg:a msg:b close:3000"; got != want {
		t.Errorf("events %q, want %q", got, want)
	}
}

// TestEventsSlowClientInBroadcast: a member whose queue overflows during a
// Room broadcast is closed with 3008, and its OnClose (which leaves the
// room) does not deadlock against the broadcast holding the room.
func TestEventsSlowClientInBroadcast(t *testing.T) {
	t.Parallel()
	room := session.NewRoom("r")
	closed := make(chan session.CloseInfo, 1)
	ev := session.EventFuncs{
		Open:  func(s session.Session) { room.Join(s) },
		Close: func(s session.Session, info session.CloseInfo) { room.Leave(s); closed <- info },
	}
	opts := Options{HeartbeatDelay: time.Hour, DisconnectDelay: time.Hour, MaxQueueBytes: 1000, Events: ev}.Resolve()
	s := NewSockJS("slow", "websocket", opts)
	defer s.Forget(session.CodeNormal, "test over")
	s.Start()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 20 { // 20 * 100 bytes > 1000: the queue overflows
			room.Broadcast(strings.Repeat("x", 100))
		}
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("broadcast deadlocked on the slow member's close")
	}
	select {
	case info := <-closed:
		if info.Code != session.CodeSlowClient {
			t.Errorf("closed with %+v, want %d", info, session.CodeSlowClient)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("OnClose never ran")
	}
	if n := room.Len(); n != 0 {
		t.Errorf("%d members left; the slow one should have left", n)
	}
}
