package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/sockgate/sockgate/session/services"
	"github.com/sockgate/sockgate/test/sockjsclient"
)

func recvEvent(t *testing.T, c *client) services.ChatEvent {
	t.Helper()
	raw := recv(t, c)
	var ev services.ChatEvent
	if err := json.Unmarshal([]byte(raw), &ev); err != nil {
		t.Fatalf("chat event %s is not JSON: %v", abbrev(raw), err)
	}
	return ev
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func joinCmd(room, nick string) string {
	return mustJSON(map[string]string{"type": "join", "room": room, "nick": nick})
}

func postCmd(text string) string { return mustJSON(map[string]string{"type": "post", "text": text}) }

// testChatBadInput sends each kind of bad command and expects an error event
// with its code, and the session to stay usable.
func testChatBadInput(t *testing.T, e *env, tr string) {
	c := dial(t, e, "/chat", tr)
	room := "bad-" + strings.ReplaceAll(tr, "-", "_")
	bad := []struct{ name, cmd, code string }{
		{"bad JSON", `{"type":"join",`, "bad_json"},
		{"not an object", `"join"`, "bad_json"},
		{"unknown type", `{"type":"dance"}`, "unknown_type"},
		{"no type", `{}`, "unknown_type"},
		{"post before join", postCmd("hi"), "not_joined"},
		{"empty nick", joinCmd(room, ""), "bad_nick"},
		{"too-long nick", joinCmd(room, strings.Repeat("n", 33)), "bad_nick"},
		{"control char in nick", joinCmd(room, "a\x00b"), "bad_nick"},
		{"zero-width space in nick", joinCmd(room, "ann\u200b"), "bad_nick"},
		{"bidi override in nick", joinCmd(room, "\u202eann"), "bad_nick"},
		{"since not an id", mustJSON(map[string]string{"type": "join", "room": room, "nick": "ann", "since": "x1"}), "bad_since"},
		{"empty room", joinCmd("", "ann"), "bad_room"},
		{"bad room", joinCmd("no spaces!", "ann"), "bad_room"},
		{"too-long room", joinCmd(strings.Repeat("r", 65), "ann"), "bad_room"},
	}
	for _, b := range bad {
		send(t, c, b.cmd)
		if ev := recvEvent(t, c); ev.Type != "error" || ev.Error != b.code || ev.Message == "" {
			t.Fatalf("%s: got %+v; want an error event %q with a message", b.name, ev, b.code)
		}
	}
	send(t, c, joinCmd(room, "ann"))
	if ev := recvEvent(t, c); ev.Type != "welcome" || ev.Nick != "ann" || ev.Room != room {
		t.Fatalf("join: got %+v; want welcome", ev)
	}
	send(t, c, postCmd(strings.Repeat("é", 2001)))
	if ev := recvEvent(t, c); ev.Type != "error" || ev.Error != "too_long" {
		t.Fatalf("over-long message: got %+v; want error too_long", ev)
	}
	send(t, c, postCmd("still here"))
	if ev := recvEvent(t, c); ev.Type != "message" || ev.Text != "still here" || ev.Nick != "ann" {
		t.Fatalf("post after errors: got %+v; want the message", ev)
	}
}

// TestChat: one room shared by a websocket, an xhr-polling and an
// eventsource client, each seeing the others' messages in one order:
// TestChat/<engine>/mixed/shared-room.
func TestChat(t *testing.T) {
	t.Parallel()
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			e := startGateway(t, engine)
			t.Run("mixed/shared-room", func(t *testing.T) { testSharedRoom(t, e) })
		})
	}
}

type chatter struct {
	nick string
	c    *client
}

func testSharedRoom(t *testing.T, e *env) {
	// perClient posts and a join stay within the chat's default burst of
	// services.DefaultBurst commands.
	const room, perClient = "lobby", services.DefaultBurst - 5
	var members []chatter
	for i, tr := range []string{sockjsclient.TransportWebsocket, sockjsclient.TransportXHRPolling, sockjsclient.TransportEventSource} {
		m := chatter{nick: []string{"ann", "bob", "cat"}[i], c: dial(t, e, "/chat", tr)}
		joinRoom(t, m, room, members)
		members = append(members, m)
	}
	// Everyone posts at once.
	ctx := ctxT(t)
	var wg sync.WaitGroup
	errs := make(chan error, len(members))
	for _, m := range members {
		wg.Go(func() {
			for i := range perClient {
				if err := m.c.SendContext(ctx, postCmd(fmt.Sprintf("%s-%d", m.nick, i))); err != nil {
					errs <- fmt.Errorf("%s (%s) post: %w", m.nick, m.c.Transport(), err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	var orders [][]string
	for _, m := range members {
		orders = append(orders, collectMessages(t, ctx, m, len(members)*perClient))
	}
	for i, o := range orders {
		if !slices.Equal(o, orders[0]) {
			t.Fatalf("%s (%s) saw another order than %s (%s):\n%q\n%q", members[i].nick, members[i].c.Transport(),
				members[0].nick, members[0].c.Transport(), o, orders[0])
		}
	}
	checkPerSenderOrder(t, orders[0], members, perClient)
}

// joinRoom joins m and checks the welcome and that the members already in
// the room see the joined event (the joiner gets only the welcome).
func joinRoom(t *testing.T, m chatter, room string, present []chatter) {
	t.Helper()
	send(t, m.c, joinCmd(room, m.nick))
	ev := recvEvent(t, m.c)
	want := []string{}
	for _, p := range present {
		want = append(want, p.nick)
	}
	want = append(want, m.nick)
	if ev.Type != "welcome" || ev.Room != room || ev.Nick != m.nick || !slices.Equal(ev.Members, want) {
		t.Fatalf("%s: got %+v; want welcome with members %q", m.nick, ev, want)
	}
	for _, p := range present {
		if ev := recvEvent(t, p.c); ev.Type != "joined" || ev.Nick != m.nick || ev.Room != room || ev.TS == 0 {
			t.Fatalf("%s: got %+v; want %s joined", p.nick, ev, m.nick)
		}
	}
}

// collectMessages reads m's events until it has n message events and
// returns them as "nick: text".
func collectMessages(t *testing.T, ctx context.Context, m chatter, n int) []string {
	t.Helper()
	var got []string
	for len(got) < n {
		raw, err := m.c.Recv(ctx)
		if err != nil {
			m.c.recvFailed(t, err, fmt.Sprintf("%s: after %d messages", m.nick, len(got)))
		}
		var ev services.ChatEvent
		if err := json.Unmarshal([]byte(raw), &ev); err != nil {
			t.Fatalf("%s: bad event %s", m.nick, abbrev(raw))
		}
		if ev.Type != "message" {
			t.Fatalf("%s: unexpected event %+v", m.nick, ev)
		}
		got = append(got, ev.Nick+": "+ev.Text)
	}
	return got
}

// checkPerSenderOrder checks that each sender's messages appear in the order
// sent.
func checkPerSenderOrder(t *testing.T, order []string, members []chatter, perClient int) {
	t.Helper()
	next := map[string]int{}
	for _, line := range order {
		nick, text, _ := strings.Cut(line, ": ")
		if want := fmt.Sprintf("%s-%d", nick, next[nick]); text != want {
			t.Fatalf("from %s: got %q; want %q", nick, text, want)
		}
		next[nick]++
	}
	for _, m := range members {
		if next[m.nick] != perClient {
			t.Fatalf("%d messages from %s; want %d", next[m.nick], m.nick, perClient)
		}
	}
}
