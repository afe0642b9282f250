package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/sockgate/sockgate/session"
)

func testLogger(t *testing.T) zerolog.Logger { return zerolog.New(zerolog.NewTestWriter(t)) }

// SockJS has the method set session.Room looks for (its unexported
// fastMember interface) to encode a broadcast once and throttle the
// broadcaster; the compiler checks it here.
var _ interface {
	EncodeShared(msg string) []byte
	QueueShared(msg string, enc []byte) (flush, over bool, err error)
	FlushShared()
	AwaitSoftMark(start time.Time)
} = (*SockJS)(nil)

func TestRoomBroadcastEncodesOnce(t *testing.T) {
	t.Parallel()
	opts, _ := testOptions(t)
	room := session.NewRoom("r")
	var members []*SockJS
	for i := 0; i < 3; i++ {
		s := NewSockJS("id", "websocket", opts)
		defer s.Forget(session.CodeNormal, "test over")
		members = append(members, s)
		room.Join(s)
	}
	_ = members[2].Close(session.CodeNormal, "gone")
	if n := room.Broadcast("hi\u2028"); n != 2 {
		t.Fatalf("Broadcast reached %d, want 2 (one member closed)", n)
	}
	r, _ := members[0].attach(nil)
	next(t, r)
	if f, _ := next(t, r); f != `a["hi\u2028"]` {
		t.Fatalf("member got %q", f)
	}
	r.Detach()
	if room.Leave(members[0]) != 2 {
		t.Fatal("Leave count wrong")
	}
}

func TestRegistry(t *testing.T) {
	t.Parallel()
	opts, _ := testOptions(t)
	reg := NewRegistry()
	s1, created := reg.GetOrCreate("a", func() *SockJS { return NewSockJS("a", "x", opts) })
	defer s1.Forget(session.CodeNormal, "test over")
	if !created || reg.Len() != 1 || reg.Get("a") != s1 {
		t.Fatal("create failed")
	}
	if s2, created := reg.GetOrCreate("a", func() *SockJS { t.Fatal("create called twice"); return nil }); created || s2 != s1 {
		t.Fatal("second GetOrCreate did not return the first")
	}
	if s, _ := reg.GetOrCreate("b", func() *SockJS { return nil }); s != nil || reg.Len() != 1 {
		t.Fatal("refused create was stored")
	}
	n := 0
	reg.Range(func(*SockJS) bool { n++; return true })
	reg.Remove(s1)
	if n != 1 || reg.Len() != 0 || reg.Get("a") != nil {
		t.Fatal("Range/Remove wrong")
	}
}

// TestRoomBroadcastCoalesces: while a member's writer is busy (its first
// wake has not returned), the broadcasts that follow ask for at most one
// more wake per flusher, and the member then reads them all in one frame,
// in order. A member whose queue passes its bound is still cut.
func TestRoomBroadcastCoalesces(t *testing.T) {
	t.Parallel()
	opts, _ := testOptions(t)
	room := session.NewRoom("r")
	release := make(chan struct{})
	var wakes atomic.Int32
	s, r := NewSockJSPush("busy", "websocket", opts, func() {
		wakes.Add(1)
		<-release // a write that takes long
	})
	defer s.Forget(session.CodeNormal, "test over")
	s.Start()
	ctx := context.Background()
	if f, _, _, _ := r.TryNext(ctx); string(f) != "o" {
		t.Fatalf("first frame %q", f)
	}
	room.Join(s)
	const n = 50
	var want []string
	for i := range n {
		msg := fmt.Sprintf("m%d", i)
		want = append(want, msg)
		room.Broadcast(msg)
	}
	// Each flusher is stuck in a wake; no other wake can have been asked.
	if got, most := wakes.Load(), int32(runtime.GOMAXPROCS(0)+1); got > most {
		t.Fatalf("%d wakes for %d broadcasts to a busy member; want at most %d", got, n, most)
	}
	close(release)
	f, _, ok, err := r.TryNext(ctx)
	if !ok || err != nil {
		t.Fatalf("TryNext: %v %v", ok, err)
	}
	wantFrame, _ := json.Marshal(want)
	if string(f) != "a"+string(wantFrame) {
		t.Fatalf("frame %q; want every message in one frame, in order", f)
	}

	// A member whose writer never takes anything is cut at its bound.
	small := Options{HeartbeatDelay: time.Hour, DisconnectDelay: time.Hour, MaxQueueBytes: 1024, SlowClientTimeout: time.Millisecond}.Resolve()
	stuck, _ := NewSockJSPush("stuck", "websocket", small, func() {})
	defer stuck.Forget(session.CodeNormal, "test over")
	stuck.Start()
	room.Join(stuck)
	for i := 0; i < 100; i++ {
		room.Broadcast(strings.Repeat("x", 100))
	}
	select {
	case <-stuck.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("a member that takes nothing was not cut")
	}
	if info := stuck.CloseInfo(); info.Code != session.CodeSlowClient {
		t.Fatalf("stuck member closed with %+v; want %d", info, session.CodeSlowClient)
	}
}
