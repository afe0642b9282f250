package engine

import (
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
	SendShared(msg string, enc []byte) (over bool, err error)
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
