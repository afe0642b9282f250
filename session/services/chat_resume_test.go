package services_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/sockgate/sockgate/session/cluster"
	"github.com/sockgate/sockgate/session/cluster/clustertest"
	"github.com/sockgate/sockgate/session/services"
)

func (c *client) joinSince(room, since string) {
	c.send(map[string]string{"type": "join", "room": room, "nick": c.nick, "since": since})
}

// postAndSee has from post n messages "prefix-i" and returns the events
// every one of to sees for them (checking they agree on ids).
func postAndSee(t *testing.T, from *client, prefix string, n int, to ...*client) []services.ChatEvent {
	t.Helper()
	var got []services.ChatEvent
	for i := range n {
		from.post(fmt.Sprint(prefix, "-", i))
	}
	for _, c := range to {
		for i := range n {
			ev := c.expect("message", from.nick)
			if ev.Text != fmt.Sprint(prefix, "-", i) || ev.ID == "" {
				t.Fatalf("%s: got %+v; want %s-%d with an id", c.nick, ev, prefix, i)
			}
			if c == to[0] {
				got = append(got, ev)
			} else if ev.ID != got[i].ID {
				t.Fatalf("%s sees id %s for %q; %s sees %s", c.nick, ev.ID, ev.Text, to[0].nick, got[i].ID)
			}
		}
	}
	return got
}

func id(t *testing.T, ev services.ChatEvent) uint64 {
	t.Helper()
	n, err := strconv.ParseUint(ev.ID, 10, 64)
	if err != nil {
		t.Fatalf("id %q: %v", ev.ID, err)
	}
	return n
}

// TestChatResume: a member that left comes back on another node with
// since = the last id it saw: the welcome is recovered and holds exactly
// the messages after it, then live ones follow, none twice. Ids grow and
// are the same on every node.
func TestChatResume(t *testing.T) {
	forEachCluster(t, func(t *testing.T, nodes nodes) {
		ns := nodes(t, 2)
		ann, bob := connectClient(t, ns[0], "ann"), connectClient(t, ns[1], "bob")
		ann.join("lobby")
		ann.expect("welcome", "ann")
		bob.join("lobby")
		if ev := bob.expect("welcome", "bob"); ev.Recovered != nil || ev.Node != "n1" {
			t.Fatalf("plain join's welcome %+v: want no recovered, node n1", ev)
		}
		ann.expect("joined", "bob")
		seen := postAndSee(t, ann, "before", 3, ann, bob)
		if !(id(t, seen[0]) < id(t, seen[1]) && id(t, seen[1]) < id(t, seen[2])) {
			t.Fatalf("ids do not grow: %+v", seen)
		}
		bob.close()
		ann.expect("left", "bob")
		missed := postAndSee(t, ann, "missed", 4, ann)

		bob2 := connectClient(t, ns[0], "bob")
		bob2.joinSince("lobby", seen[2].ID)
		ev := bob2.expect("welcome", "bob")
		if ev.Recovered == nil || !*ev.Recovered || len(ev.History) != len(missed) {
			t.Fatalf("resume welcome: recovered %v, %d messages; want recovered and the %d missed", ev.Recovered, len(ev.History), len(missed))
		}
		for i, m := range ev.History {
			if m.ID != missed[i].ID || m.Text != missed[i].Text {
				t.Fatalf("history[%d] = %+v; want %+v", i, m, missed[i])
			}
		}
		ann.expect("joined", "bob")
		live := postAndSee(t, ann, "live", 2, ann, bob2)
		if id(t, live[0]) <= id(t, missed[3]) {
			t.Fatalf("live id %s not after %s", live[0].ID, missed[3].ID)
		}
		bob2.quiet()
	})
}

// TestChatResumeWhilePosting: messages keep flowing while a member
// resumes; what its welcome replays and what it then gets live are the
// messages after since, each once, in order.
func TestChatResumeWhilePosting(t *testing.T) {
	forEachCluster(t, func(t *testing.T, nodes nodes) {
		ns := nodes(t, 2)
		ann := connectClient(t, ns[0], "ann")
		ann.join("lobby")
		ann.expect("welcome", "ann")
		first := postAndSee(t, ann, "first", 1, ann)[0]
		const n = 60
		done := make(chan struct{})
		go func() {
			defer close(done)
			for i := range n {
				ann.post(fmt.Sprint("flow-", i))
			}
		}()
		bob := connectClient(t, ns[1], "bob")
		time.Sleep(5 * time.Millisecond)
		bob.joinSince("lobby", first.ID)
		ev := bob.expect("welcome", "bob")
		if ev.Recovered == nil || !*ev.Recovered {
			t.Fatalf("welcome %+v; want recovered", ev)
		}
		got := ev.History
		for len(got) < n {
			got = append(got, bob.expect("message", "ann"))
		}
		<-done
		for i, m := range got {
			if m.Text != fmt.Sprint("flow-", i) {
				t.Fatalf("message %d: %q (after %d replayed); want flow-%d, each once", i, m.Text, len(ev.History), i)
			}
		}
		bob.quiet()
		t.Logf("%d replayed in the welcome, %d live", len(ev.History), n-len(ev.History))
	})
}

// TestChatResumeOutsideWindow: a since older than what the room keeps
// (by count or by age), from the future, or from before the room emptied
// gets recovered false and the usual last messages; a since that is not
// an id gets bad_since.
func TestChatResumeOutsideWindow(t *testing.T) {
	t.Parallel()
	clk := newClock()
	chat := services.NewChat(services.ChatOptions{Now: clk.Now, ResumeLen: 5, HistoryLen: 3, Rate: -1})
	ann := connectClient(t, chat, "ann")
	ann.join("r")
	ann.expect("welcome", "ann")
	msgs := postAndSee(t, ann, "m", 10, ann)
	check := func(since string, recovered bool, want ...string) {
		t.Helper()
		c := connectClient(t, chat, "bob")
		c.joinSince("r", since)
		ev := c.expect("welcome", "bob")
		var texts []string
		for _, h := range ev.History {
			texts = append(texts, h.Text)
		}
		if ev.Recovered == nil || *ev.Recovered != recovered || strings.Join(texts, ",") != strings.Join(want, ",") {
			t.Fatalf("since %s: recovered %v, history %q; want %v, %q", since, ev.Recovered, texts, recovered, want)
		}
		c.close()
		ann.expect("joined", "bob")
		ann.expect("left", "bob")
	}
	check(msgs[6].ID, true, "m-7", "m-8", "m-9")               // in the window (5 kept)
	check(msgs[4].ID, true, "m-5", "m-6", "m-7", "m-8", "m-9") // the oldest kept is m-5
	check(msgs[3].ID, false, "m-7", "m-8", "m-9")              // m-4 is gone: the last HistoryLen
	check(msgs[9].ID, true)                                    // nothing missed
	check("99999999", false, "m-7", "m-8", "m-9")              // from the future (another room's life)
	clk.advance(services.DefaultResumeAge + time.Second)
	check(msgs[8].ID, false) // too old: nothing kept
	bad := connectClient(t, chat, "cat")
	bad.joinSince("r", "abc")
	if ev := bad.expect("error", ""); ev.Error != services.ErrBadSince || ev.Message == "" {
		t.Fatalf("since abc: %+v; want bad_since", ev)
	}
}

// natsChat is a chat on its own NATS bus, with options for both.
func natsChat(t *testing.T, url string, bo cluster.NATSOptions, co services.ChatOptions) (*services.Chat, *cluster.NATSBus) {
	t.Helper()
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
	bo.Logger = log
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	bus, err := cluster.NATS(ctx, url, bo)
	if err != nil {
		t.Fatalf("cluster.NATS: %v", err)
	}
	t.Cleanup(func() { _ = bus.Close() })
	co.Bus, co.NodeID, co.Logger = bus, bo.NodeID, log
	return services.NewChat(co), bus
}

// TestChatForgedHeartbeat: heartbeats forged with a node's bare id (a
// prefix of its members' keys) used to make that node publish gone for
// its own members once they stopped. Now the node drops them: its member
// stays in the room, and posts on.
func TestChatForgedHeartbeat(t *testing.T) {
	t.Parallel()
	srv := clustertest.StartNATS(t, false)
	const period = 20 * time.Millisecond
	hb := cluster.NATSOptions{Heartbeat: period, HeartbeatMisses: 3}
	hb.NodeID = "a"
	a, busA := natsChat(t, srv.URL(), hb, services.ChatOptions{})
	hb.NodeID = "b"
	b, _ := natsChat(t, srv.URL(), hb, services.ChatOptions{})
	ann := connectClient(t, a, "ann")
	ann.join("lobby")
	ann.expect("welcome", "ann")
	nc, err := nats.Connect(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	for range 5 {
		for _, body := range []string{"a", busA.Instance()[:len(busA.Instance())-1] + "0"} {
			_ = nc.Publish("sockgate.nodes.a", []byte(body))
		}
		time.Sleep(period)
	}
	time.Sleep(10 * period) // the forger has fallen silent
	ann.quiet()
	bob := connectClient(t, b, "bob")
	bob.join("lobby")
	if ev := bob.expect("welcome", "bob"); strings.Join(ev.Members, ",") != "ann,bob" {
		t.Fatalf("members after the forgery: %q; want ann still there", ev.Members)
	}
	ann.expect("joined", "bob")
	postAndSee(t, ann, "still", 1, ann, bob)
	if busA.Dropped() == 0 {
		t.Fatal("node a counted no dropped heartbeat")
	}
}

// TestChatForgedEvents: events written straight into a room's stream
// that no node would write (bad JSON, an invisible nickname, an oversized
// text, a gone that is not a node prefix, an unknown type) are dropped;
// the room goes on.
func TestChatForgedEvents(t *testing.T) {
	t.Parallel()
	srv := clustertest.StartNATS(t, false)
	a, _ := natsChat(t, srv.URL(), cluster.NATSOptions{NodeID: "a"}, services.ChatOptions{})
	ann := connectClient(t, a, "ann")
	ann.join("lobby")
	ann.expect("welcome", "ann")
	nc, err := nats.Connect(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range []string{
		`{"type":"join",`,
		`{"type":"join","member":"x~1","nick":"ann\u200b","ts":1}`,
		`{"type":"post","nick":"sys","text":"` + strings.Repeat("x", 2001) + `","ts":1}`,
		`{"type":"post","nick":"","text":"no nick","ts":1}`,
		`{"type":"gone","node":"a","ts":1}`,
		`{"type":"dance","member":"x","ts":1}`,
		`{"type":"post","member":"x","text":"no ts"}`,
	} {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		_, err := js.Publish(ctx, "sockgate.room.lobby", []byte(ev))
		cancel()
		if err != nil {
			t.Fatal(err)
		}
	}
	postAndSee(t, ann, "after", 1, ann)
	ann.quiet()
}

// countingBus counts the subscriptions made through it.
type countingBus struct {
	cluster.Bus
	subscribes atomic.Int64
}

func (b *countingBus) Subscribe(ctx context.Context, room string, r cluster.Replica) (func(), error) {
	b.subscribes.Add(1)
	return b.Bus.Subscribe(ctx, room, r)
}

// TestChatConsumerChurn: a member hopping through rooms costs at most
// MaxRooms JetStream consumers at once, and hopping back into a room it
// left within RoomLinger reuses its consumer; with MaxRooms rooms in use
// a join into another gets unavailable.
func TestChatConsumerChurn(t *testing.T) {
	t.Parallel()
	srv := clustertest.StartNATS(t, false)
	const maxRooms = 3
	_, b := natsChat(t, srv.URL(), cluster.NATSOptions{NodeID: "a"}, services.ChatOptions{})
	bus := &countingBus{Bus: b}
	a := services.NewChat(services.ChatOptions{Bus: bus, MaxRooms: maxRooms, RoomLinger: time.Minute, Rate: -1})
	nc, err := nats.Connect(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	consumers := func() int {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		st, err := js.Stream(ctx, cluster.DefaultStream)
		if err != nil {
			t.Fatal(err)
		}
		info, err := st.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return info.State.Consumers
	}
	ann := connectClient(t, a, "ann")
	most := 0
	hop := func(room string) {
		t.Helper()
		ann.join(room)
		if ev := ann.next(); ev.Type == "left" {
			ann.expect("welcome", "ann")
		} else if ev.Type != "welcome" {
			t.Fatalf("join %s: %+v", room, ev)
		}
	}
	for i := range 12 {
		hop(fmt.Sprint("room-", i))
		most = max(most, consumers())
		if f := a.Following(); f > maxRooms {
			t.Fatalf("following %d rooms; bound %d", f, maxRooms)
		}
	}
	if most > maxRooms+1 { // +1: an evicted consumer may still be on its way out
		t.Fatalf("%d consumers at once for one member hopping through 12 rooms; bound %d", most, maxRooms)
	}
	hop("hop-0")
	hop("hop-1")
	before := bus.subscribes.Load()
	for i := range 10 {
		hop(fmt.Sprint("hop-", i%2))
	}
	if n := bus.subscribes.Load() - before; n != 0 {
		t.Fatalf("10 hops between two rooms subscribed %d times; want the 2 subscriptions reused", n)
	}
	t.Logf("12 rooms: %d subscriptions, at most %d consumers at once; 10 hops between 2 rooms: no new subscription",
		before-2, most)
	// Rooms in use are not evicted: with maxRooms rooms held, one more is refused.
	ann.send(`{"type":"leave"}`)
	ann.expect("left", "ann")
	for i := range maxRooms {
		c := connectClient(t, a, fmt.Sprint("m", i))
		c.join(fmt.Sprint("busy-", i))
		c.expect("welcome", "")
	}
	ann.join("one-more")
	if ev := ann.expect("error", ""); ev.Error != services.ErrUnavailable || !strings.Contains(ev.Message, "3 rooms") {
		t.Fatalf("join beyond MaxRooms: %+v; want unavailable naming the bound", ev)
	}
}
