package cluster_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sockgate/sockgate/session/cluster"
	"github.com/sockgate/sockgate/session/cluster/clustertest"
	"github.com/sockgate/sockgate/session/services"
	"github.com/sockgate/sockgate/test/sockjsclient"
)

// waitTimeout bounds every wait for an event.
const waitTimeout = 20 * time.Second

// member is one chat client on one node.
type member struct {
	t    *testing.T
	nick string
	node *node
	c    *sockjsclient.Conn
}

func (m *member) String() string {
	return fmt.Sprintf("%s (%s on %s)", m.nick, m.c.Transport(), m.node.name)
}

func dialMember(t *testing.T, n *node, nick, transport string) *member {
	t.Helper()
	c, err := sockjsclient.Dial(ctxT(t, waitTimeout), n.url+"/chat", sockjsclient.Options{Transport: transport})
	if err != nil {
		t.Fatalf("%s: dial %s over %s: %v", nick, n.name, transport, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return &member{t: t, nick: nick, node: n, c: c}
}

func (m *member) send(cmd map[string]string) {
	m.t.Helper()
	b, err := json.Marshal(cmd)
	if err != nil {
		m.t.Fatal(err)
	}
	if err := m.c.SendContext(ctxT(m.t, waitTimeout), string(b)); err != nil {
		m.t.Fatalf("%s: send %s: %v", m, b, err)
	}
}

func (m *member) post(text string) { m.send(map[string]string{"type": "post", "text": text}) }

func (m *member) next() services.ChatEvent {
	m.t.Helper()
	raw, err := m.c.Recv(ctxT(m.t, waitTimeout))
	if err != nil {
		m.t.Fatalf("%s: waiting for an event: %v", m, err)
	}
	var ev services.ChatEvent
	if err := json.Unmarshal([]byte(raw), &ev); err != nil {
		m.t.Fatalf("%s: event %s is not JSON: %v", m, abbrev(raw), err)
	}
	return ev
}

// expect reads the next event and checks its type and nick.
func (m *member) expect(typ, nick string) services.ChatEvent {
	m.t.Helper()
	ev := m.next()
	if ev.Type != typ || ev.Nick != nick {
		m.t.Fatalf("%s: got %+v; want %s %s", m, ev, typ, nick)
	}
	return ev
}

// expectDrained waits for the close 3001 of a drain. Left events of
// other members of the draining node may come first: their sessions end
// at the same time, in no set order.
func (m *member) expectDrained() {
	m.t.Helper()
	for {
		raw, err := m.c.Recv(ctxT(m.t, waitTimeout))
		var ce *sockjsclient.CloseError
		switch {
		case errors.As(err, &ce) && ce.Code == 3001:
			return
		case err != nil:
			m.t.Fatalf("%s: after SIGTERM got %v; want close 3001", m, err)
		case !strings.Contains(raw, `"type":"left"`):
			m.t.Fatalf("%s: after SIGTERM got %s; want close 3001 (after left events at most)", m, abbrev(raw))
		}
	}
}

// join joins room and checks the welcome's member list, and that the
// members already there see the joined event.
func (m *member) join(room string, present ...*member) services.ChatEvent {
	m.t.Helper()
	m.send(map[string]string{"type": "join", "room": room, "nick": m.nick})
	ev := m.expect("welcome", m.nick)
	var want []string
	for _, p := range present {
		want = append(want, p.nick)
	}
	want = append(want, m.nick)
	if ev.Room != room || !slices.Equal(ev.Members, want) {
		m.t.Fatalf("%s: welcome to %q lists %q; want %q (members on both nodes)", m, ev.Room, ev.Members, want)
	}
	for _, p := range present {
		p.expect("joined", m.nick)
	}
	return ev
}

// postAll has every member post per messages at once and checks that each
// sees all of them, in one order, each sender's in the order sent.
func postAll(t *testing.T, ms []*member, prefix string, per int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, len(ms))
	for _, m := range ms {
		wg.Go(func() {
			for i := range per {
				b, _ := json.Marshal(map[string]string{"type": "post", "text": fmt.Sprintf("%s%s-%d", prefix, m.nick, i)})
				ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
				err := m.c.SendContext(ctx, string(b))
				cancel()
				if err != nil {
					errs <- fmt.Errorf("%s: post: %w", m, err)
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
	for _, m := range ms {
		var got []string
		for len(got) < len(ms)*per {
			ev := m.next()
			if ev.Type != "message" {
				t.Fatalf("%s: got %+v; want a message", m, ev)
			}
			got = append(got, ev.Nick+": "+ev.Text)
		}
		orders = append(orders, got)
	}
	for i, o := range orders {
		if !slices.Equal(o, orders[0]) {
			t.Fatalf("%s saw another order than %s:\n%q\n%q", ms[i], ms[0], o, orders[0])
		}
	}
	next := map[string]int{}
	for _, line := range orders[0] {
		nick, text, _ := strings.Cut(line, ": ")
		if want := fmt.Sprintf("%s%s-%d", prefix, nick, next[nick]); text != want {
			t.Fatalf("from %s: got %q; want %q (the sender's order)", nick, text, want)
		}
		next[nick]++
	}
	t.Logf("%d messages from %d members on both nodes, seen in one order by all", len(orders[0]), len(ms))
}

// TestClusterChat: one room across two nodes and three transports.
func TestClusterChat(t *testing.T) {
	t.Parallel()
	nats := clustertest.StartNATS(t, false)
	a, b := startNode(t, "node-a", nats.URL()), startNode(t, "node-b", nats.URL())

	ann := dialMember(t, a, "ann", sockjsclient.TransportWebsocket)
	bob := dialMember(t, b, "bob", sockjsclient.TransportXHRPolling)
	cat := dialMember(t, a, "cat", sockjsclient.TransportEventSource)
	ann.join("lobby")
	bob.join("lobby", ann)
	cat.join("lobby", ann, bob)
	postAll(t, []*member{ann, bob, cat}, "", 15)

	// History: a room only node A has seen, then a member on node B.
	eve := dialMember(t, a, "eve", sockjsclient.TransportWebsocket)
	eve.join("news")
	for i := range 55 {
		time.Sleep(time.Second / services.DefaultRate) // the chat's default rate
		eve.post(fmt.Sprint("news-", i))
		if ev := eve.expect("message", "eve"); ev.Text != fmt.Sprint("news-", i) {
			t.Fatalf("eve: got %+v", ev)
		}
	}
	fay := dialMember(t, b, "fay", sockjsclient.TransportXHRStreaming)
	welcome := fay.join("news", eve)
	if len(welcome.History) != 50 || welcome.History[0].Text != "news-5" || welcome.History[49].Text != "news-54" {
		t.Fatalf("fay on node B: history of %d messages %+v; want news-5..news-54", len(welcome.History), welcome.History)
	}

	// Node A drains on SIGTERM: its members leave, as node B sees it.
	a.Terminate(t)
	for _, m := range []*member{ann, cat, eve} {
		m.expectDrained()
	}
	gone := map[string]bool{}
	for range 2 {
		ev := bob.next()
		if ev.Type != "left" || (ev.Nick != "ann" && ev.Nick != "cat") || gone[ev.Nick] {
			t.Fatalf("%s: got %+v; want ann and cat to leave", bob, ev)
		}
		gone[ev.Nick] = true
	}
	fay.expect("left", "eve")
	dan := dialMember(t, b, "dan", sockjsclient.TransportWebsocket)
	dan.join("lobby", bob)
	bob.post("still here")
	bob.expect("message", "bob")
	dan.expect("message", "bob")
}

// crashBound is how soon after a node's crash the others must see its
// members leave: cluster.DefaultHeartbeat × (DefaultHeartbeatMisses + 1)
// to be found silent, one more period for the sweep, and some slack.
const crashBound = 15 * time.Second

// TestClusterNodeCrash: a node killed with SIGKILL cannot say its members
// leave; the other node finds it silent, removes its members through the
// room's stream, and their nicknames are free again.
func TestClusterNodeCrash(t *testing.T) {
	t.Parallel()
	nats := clustertest.StartNATS(t, false)
	a, b := startNode(t, "node-a", nats.URL()), startNode(t, "node-b", nats.URL())
	ann := dialMember(t, a, "ann", sockjsclient.TransportWebsocket)
	bob := dialMember(t, b, "bob", sockjsclient.TransportXHRPolling)
	ann.join("lobby")
	bob.join("lobby", ann)
	// Let node B hear node A's heartbeats (one is sent at start).
	time.Sleep(2 * cluster.DefaultHeartbeat)

	start := time.Now()
	a.Kill(t)
	bob.expect("left", "ann")
	took := time.Since(start)
	t.Logf("node B saw ann leave %v after node A's SIGKILL", took)
	if took > crashBound {
		t.Fatalf("ann's left came %v after the crash; want within %v", took, crashBound)
	}
	ann2 := dialMember(t, b, "ann", sockjsclient.TransportWebsocket)
	ann2.join("lobby", bob)
	bob.post("after the crash")
	bob.expect("message", "bob")
	ann2.expect("message", "bob")
}

// TestClusterBrokerRestart: NATS restarts under two nodes; they reconnect,
// messages cross again in one order, and the history kept from before the
// restart still reaches a new member.
func TestClusterBrokerRestart(t *testing.T) {
	t.Parallel()
	nats := clustertest.StartNATS(t, false)
	a, b := startNode(t, "node-a", nats.URL()), startNode(t, "node-b", nats.URL())
	ann := dialMember(t, a, "ann", sockjsclient.TransportWebsocket)
	bob := dialMember(t, b, "bob", sockjsclient.TransportXHRPolling)
	ann.join("lobby")
	bob.join("lobby", ann)
	postAll(t, []*member{ann, bob}, "before-", 5)

	nats.Restart()
	probe := postUntilDelivered(t, bob, ann)
	t.Logf("after the NATS restart, %q crossed the nodes", probe)
	postAll(t, []*member{ann, bob}, "after-", 5)

	cat := dialMember(t, a, "cat", sockjsclient.TransportEventSource)
	welcome := cat.join("lobby", ann, bob)
	var texts []string
	for _, h := range welcome.History {
		texts = append(texts, h.Text)
	}
	if len(texts) < 21 || !slices.Contains(texts, "before-ann-0") || !slices.Contains(texts, "after-bob-4") {
		t.Fatalf("history after the restart: %q", texts)
	}
}

// postUntilDelivered has from post probes until one reaches every member
// of to (while the nodes reconnect a post may fail with "unavailable", or
// wait); it returns the probe that crossed.
func postUntilDelivered(t *testing.T, from *member, to ...*member) string {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for i := 0; ; i++ {
		probe := fmt.Sprint("probe-", i)
		from.post(probe)
		ev := from.next()
		for ev.Type == "message" && ev.Text != probe { // an earlier probe that got through late
			ev = from.next()
		}
		if ev.Type == "message" {
			for _, m := range to {
				for ev := m.next(); ev.Text != probe; ev = m.next() {
					if ev.Type != "message" || !strings.HasPrefix(ev.Text, "probe-") {
						t.Fatalf("%s: got %+v while waiting for %q", m, ev, probe)
					}
				}
			}
			return probe
		}
		if ev.Type != "error" || ev.Error != "unavailable" {
			t.Fatalf("%s: got %+v; want its probe or an unavailable error", from, ev)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: posts still unavailable %v after the NATS restart", from, waitTimeout)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestClusterResume: a member drained off one node (3001) resumes on the
// other with since = the last id it saw: its welcome is recovered and
// holds exactly the messages posted while it was away, with the ids the
// other node gave them (the JetStream sequence), and live messages follow,
// none twice.
func TestClusterResume(t *testing.T) {
	t.Parallel()
	nats := clustertest.StartNATS(t, false)
	a, b := startNode(t, "node-a", nats.URL()), startNode(t, "node-b", nats.URL())
	ann := dialMember(t, a, "ann", sockjsclient.TransportWebsocket)
	bob := dialMember(t, b, "bob", sockjsclient.TransportXHRPolling)
	ann.join("lobby")
	bob.join("lobby", ann)
	var last string
	for i := range 5 {
		bob.post(fmt.Sprint("seen-", i))
		bob.expect("message", "bob")
		last = ann.expect("message", "bob").ID
	}
	a.Terminate(t)
	ann.expectDrained()
	bob.expect("left", "ann")
	var missed []services.ChatEvent
	for i := range 5 {
		bob.post(fmt.Sprint("missed-", i))
		missed = append(missed, bob.expect("message", "bob"))
	}
	ann2 := dialMember(t, b, "ann", sockjsclient.TransportXHRStreaming)
	ann2.send(map[string]string{"type": "join", "room": "lobby", "nick": "ann", "since": last})
	ev := ann2.expect("welcome", "ann")
	if ev.Recovered == nil || !*ev.Recovered || ev.Node != "node-b" {
		t.Fatalf("%s: welcome recovered %v on %q; want recovered on node-b", ann2, ev.Recovered, ev.Node)
	}
	if len(ev.History) != len(missed) {
		t.Fatalf("%s: %d messages replayed; want the %d missed", ann2, len(ev.History), len(missed))
	}
	for i, m := range ev.History {
		if m.ID != missed[i].ID || m.Text != missed[i].Text {
			t.Fatalf("%s: replayed %s %q; want %s %q", ann2, m.ID, m.Text, missed[i].ID, missed[i].Text)
		}
	}
	bob.expect("joined", "ann")
	bob.post("live")
	if m := ann2.expect("message", "bob"); m.Text != "live" {
		t.Fatalf("%s: after the welcome got %+v; want the live message", ann2, m)
	}
	t.Logf("resumed on node-b from id %s: %d replayed (ids %s..%s), then live", last, len(missed), missed[0].ID, missed[4].ID)
}
