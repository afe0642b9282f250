package services_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/sockgate/sockgate/session/services"
)

// TestChatAPIPost: a post through the API reaches the room's members as a
// message from its nick and joins the history; bad input gets an
// InputError with its code and posts nothing.
func TestChatAPIPost(t *testing.T) {
	t.Parallel()
	chat := services.NewChat(services.ChatOptions{})
	ann := connectClient(t, chat, "ann")
	ann.join("ops")
	ann.expect("welcome", "ann")
	ctx := context.Background()
	bad := []struct {
		room, nick, text, code string
	}{
		{"no spaces", "", "x", services.ErrBadRoom},
		{"ops", strings.Repeat("n", 33), "x", services.ErrBadNick},
		{"ops", "a\x00b", "x", services.ErrBadNick},
		{"ops", "", "", services.ErrEmpty},
		{"ops", "", strings.Repeat("x", 2001), services.ErrTooLong},
	}
	for _, b := range bad {
		var ie *services.InputError
		if err := chat.PostMessage(ctx, b.room, b.nick, b.text); !errors.As(err, &ie) || ie.Code != b.code || !ie.BadInput() {
			t.Errorf("PostMessage(%q, %q, %d chars): %v; want %s", b.room, b.nick, len(b.text), err, b.code)
		}
	}
	if err := chat.PostMessage(ctx, "ops", "", "deploy"); err != nil {
		t.Fatalf("PostMessage: %v", err)
	}
	if ev := ann.expect("message", services.DefaultAPINick); ev.Text != "deploy" || ev.TS == 0 {
		t.Fatalf("member got %+v", ev)
	}
	ann.quiet() // nothing of the bad posts
	st, err := chat.Room(ctx, "ops")
	if err != nil {
		t.Fatalf("Room: %v", err)
	}
	if len(st.Members) != 1 || st.Members[0] != "ann" || len(st.History) != 1 || st.History[0].Nick != services.DefaultAPINick {
		t.Fatalf("room state %+v", st)
	}
}

// TestChatAPIRoom: a room with no members reads as empty lists, and a bad
// name is an InputError.
func TestChatAPIRoom(t *testing.T) {
	t.Parallel()
	chat := services.NewChat(services.ChatOptions{})
	st, err := chat.Room(context.Background(), "nobody-here")
	if err != nil || st.Members == nil || st.History == nil || len(st.Members)+len(st.History) != 0 {
		t.Fatalf("empty room: %+v, %v; want empty lists", st, err)
	}
	var ie *services.InputError
	if _, err := chat.Room(context.Background(), "bad room"); !errors.As(err, &ie) || ie.Code != services.ErrBadRoom {
		t.Fatalf("bad room: %v", err)
	}
}
