package engine

import (
	"context"
	"testing"
	"time"

	"github.com/sockgate/sockgate/session"
)

// TestRoomRelay: Broadcast hands each message to the relay once, after the
// local members; BroadcastLocal does not relay; SetRelay(nil) stops it.
func TestRoomRelay(t *testing.T) {
	t.Parallel()
	room := session.NewRoom("r")
	s := NewSockJS("id", "xhr-polling", Options{DisconnectDelay: time.Minute}.Resolve())
	s.Start()
	room.Join(s)
	var relayed []string
	room.SetRelay(func(msg string) { relayed = append(relayed, msg) })
	if n := room.Broadcast("one"); n != 1 {
		t.Fatalf("Broadcast reached %d local members; want 1", n)
	}
	room.BroadcastLocal("two")
	room.SetRelay(nil)
	room.Broadcast("three")
	if len(relayed) != 1 || relayed[0] != "one" {
		t.Fatalf("relayed %q; want only one", relayed)
	}
	r, err := s.attach(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Detach()
	r.Next(context.Background()) // "o"
	if f, _, _ := r.Next(context.Background()); string(f) != `a["one","two","three"]` {
		t.Fatalf("the member got %q", f)
	}
}
