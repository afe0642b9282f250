package services_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"go.uber.org/goleak"

	"github.com/sockgate/sockgate/session"
	"github.com/sockgate/sockgate/session/cluster"
	"github.com/sockgate/sockgate/session/cluster/clustertest"
	"github.com/sockgate/sockgate/session/services"
)

// waitTimeout bounds every wait in these tests.
const waitTimeout = 10 * time.Second

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeSession is a session.Session whose client is the test.
type fakeSession struct {
	id   string
	in   chan string
	out  chan string
	done chan struct{}
	once sync.Once
	info session.CloseInfo // set once, before done is closed
}

func newFakeSession(id string) *fakeSession {
	return &fakeSession{id: id, in: make(chan string), out: make(chan string, 1024), done: make(chan struct{})}
}

func (s *fakeSession) ID() string        { return s.id }
func (s *fakeSession) Transport() string { return "fake" }
func (s *fakeSession) Request() *session.Request {
	return &session.Request{Header: http.Header{}, Query: url.Values{}}
}

func (s *fakeSession) Recv(ctx context.Context) (string, error) {
	select {
	case m := <-s.in:
		return m, nil
	case <-s.done:
		return "", session.ErrClosed
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

func (s *fakeSession) Send(msg string) error {
	select {
	case <-s.done:
		return session.ErrClosed
	default:
	}
	select {
	case s.out <- msg:
		return nil
	default:
		return session.ErrQueueFull
	}
}

func (s *fakeSession) Close(code int, reason string) error {
	s.once.Do(func() {
		s.info = session.CloseInfo{Code: code, Reason: reason}
		close(s.done)
	})
	return nil
}

func (s *fakeSession) Done() <-chan struct{} { return s.done }

// CloseInfo implements session.Session.
func (s *fakeSession) CloseInfo() session.CloseInfo {
	select {
	case <-s.done:
		return s.info
	default:
		return session.CloseInfo{}
	}
}

// client is one session running the chat handler.
type client struct {
	t    *testing.T
	nick string
	s    *fakeSession
	done chan struct{} // closed when the handler returned
}

func connectClient(t *testing.T, c *services.Chat, nick string) *client {
	t.Helper()
	cl := &client{t: t, nick: nick, s: newFakeSession(nick), done: make(chan struct{})}
	go func() {
		defer close(cl.done)
		c.Handler(context.Background(), cl.s)
	}()
	t.Cleanup(cl.close)
	return cl
}

// close ends the session and waits for the handler.
func (c *client) close() {
	_ = c.s.Close(1000, "")
	select {
	case <-c.done:
	case <-time.After(waitTimeout):
		c.t.Errorf("%s: handler still running %v after close", c.nick, waitTimeout)
	}
}

func (c *client) send(v any) {
	c.t.Helper()
	raw, ok := v.(string)
	if !ok {
		b, err := json.Marshal(v)
		if err != nil {
			c.t.Fatal(err)
		}
		raw = string(b)
	}
	select {
	case c.s.in <- raw:
	case <-time.After(waitTimeout):
		c.t.Fatalf("%s: handler did not take %s", c.nick, raw)
	}
}

func (c *client) join(room string) {
	c.send(map[string]string{"type": "join", "room": room, "nick": c.nick})
}
func (c *client) post(text string) { c.send(map[string]string{"type": "post", "text": text}) }

func (c *client) next() services.ChatEvent {
	c.t.Helper()
	select {
	case raw := <-c.s.out:
		var ev services.ChatEvent
		if err := json.Unmarshal([]byte(raw), &ev); err != nil {
			c.t.Fatalf("%s: event %s: %v", c.nick, raw, err)
		}
		return ev
	case <-time.After(waitTimeout):
		c.t.Fatalf("%s: no event within %v", c.nick, waitTimeout)
		return services.ChatEvent{}
	}
}

// expect reads the next event and checks its type (and nick, when given).
func (c *client) expect(typ, nick string) services.ChatEvent {
	c.t.Helper()
	ev := c.next()
	if ev.Type != typ || (nick != "" && ev.Nick != nick) {
		c.t.Fatalf("%s: got %+v; want %s %s", c.nick, ev, typ, nick)
	}
	return ev
}

// quiet checks that no event is waiting.
func (c *client) quiet() {
	c.t.Helper()
	select {
	case raw := <-c.s.out:
		c.t.Fatalf("%s: unexpected event %s", c.nick, raw)
	case <-time.After(50 * time.Millisecond):
	}
}

// nodes makes n chat services that form one cluster.
type nodes func(t *testing.T, n int) []*services.Chat

func localNodes(t *testing.T, n int) []*services.Chat {
	bus := cluster.Local()
	t.Cleanup(func() { _ = bus.Close() })
	out := make([]*services.Chat, n)
	for i := range out {
		out[i] = services.NewChat(services.ChatOptions{Bus: bus, NodeID: fmt.Sprint("n", i), Rate: -1})
	}
	return out
}

func natsNodes(t *testing.T, n int) []*services.Chat {
	srv := clustertest.StartNATS(t, false)
	out := make([]*services.Chat, n)
	for i := range out {
		node := fmt.Sprint("n", i)
		log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		bus, err := cluster.NATS(ctx, srv.URL(), cluster.NATSOptions{NodeID: node, Logger: log})
		cancel()
		if err != nil {
			t.Fatalf("cluster.NATS: %v", err)
		}
		t.Cleanup(func() { _ = bus.Close() })
		out[i] = services.NewChat(services.ChatOptions{Bus: bus, NodeID: node, Logger: log, Rate: -1})
	}
	return out
}

var clusters = []struct {
	name  string
	nodes nodes
}{{"local", localNodes}, {"nats", natsNodes}}

func forEachCluster(t *testing.T, f func(t *testing.T, nodes nodes)) {
	t.Helper()
	t.Parallel()
	for _, c := range clusters {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f(t, c.nodes)
		})
	}
}

// TestChatAcrossNodes: members on three nodes share a room: the member list
// spans nodes, messages cross them, a node that never saw the messages
// replays them on join, and leaves reach everyone.
func TestChatAcrossNodes(t *testing.T) {
	forEachCluster(t, func(t *testing.T, nodes nodes) {
		ns := nodes(t, 3)
		ann, bob := connectClient(t, ns[0], "ann"), connectClient(t, ns[1], "bob")
		ann.join("lobby")
		if ev := ann.expect("welcome", "ann"); !slices.Equal(ev.Members, []string{"ann"}) || ev.Room != "lobby" {
			t.Fatalf("ann's welcome %+v", ev)
		}
		bob.join("lobby")
		if ev := bob.expect("welcome", "bob"); !slices.Equal(ev.Members, []string{"ann", "bob"}) {
			t.Fatalf("bob's welcome lists %q; want ann and bob", ev.Members)
		}
		if ev := ann.expect("joined", "bob"); ev.TS == 0 || ev.Room != "lobby" {
			t.Fatalf("joined %+v", ev)
		}
		for i := range 3 {
			ann.post(fmt.Sprint("hello ", i))
		}
		for i := range 3 {
			for _, c := range []*client{ann, bob} {
				if ev := c.expect("message", "ann"); ev.Text != fmt.Sprint("hello ", i) || ev.TS == 0 {
					t.Fatalf("%s got %+v", c.nick, ev)
				}
			}
		}
		cat := connectClient(t, ns[2], "cat")
		cat.join("lobby")
		ev := cat.expect("welcome", "cat")
		if !slices.Equal(ev.Members, []string{"ann", "bob", "cat"}) || len(ev.History) != 3 || ev.History[2].Text != "hello 2" {
			t.Fatalf("cat's welcome on a node that saw nothing: %+v", ev)
		}
		ann.expect("joined", "cat")
		bob.expect("joined", "cat")
		bob.send(`{"type":"leave"}`)
		bob.expect("left", "bob")
		ann.expect("left", "bob")
		cat.expect("left", "bob")
		cat.close() // its handler leaves for it
		ann.expect("left", "cat")
		ann.quiet()
		bob.quiet()
	})
}

// TestChatOneOrder: members on two nodes post at once; all see every
// message in one order.
func TestChatOneOrder(t *testing.T) {
	forEachCluster(t, func(t *testing.T, nodes nodes) {
		const per = 20
		ns := nodes(t, 2)
		var cs []*client
		for i, nick := range []string{"ann", "bob", "cat"} {
			c := connectClient(t, ns[i%2], nick)
			c.join("lobby")
			c.expect("welcome", nick)
			for _, p := range cs {
				p.expect("joined", nick)
			}
			cs = append(cs, c)
		}
		var wg sync.WaitGroup
		for _, c := range cs {
			wg.Go(func() {
				for i := range per {
					c.post(fmt.Sprintf("%s-%d", c.nick, i))
				}
			})
		}
		wg.Wait()
		var orders [][]string
		for _, c := range cs {
			var got []string
			for range len(cs) * per {
				ev := c.expect("message", "")
				got = append(got, ev.Nick+": "+ev.Text)
			}
			orders = append(orders, got)
		}
		for i, o := range orders[1:] {
			if !slices.Equal(o, orders[0]) {
				t.Fatalf("%s saw another order than ann:\n%q\n%q", cs[i+1].nick, o, orders[0])
			}
		}
	})
}

// TestChatNickTakenAcrossNodes: a nickname in use on one node is refused on
// another, and the refused session can join with another.
func TestChatNickTakenAcrossNodes(t *testing.T) {
	forEachCluster(t, func(t *testing.T, nodes nodes) {
		ns := nodes(t, 2)
		ann := connectClient(t, ns[0], "ann")
		ann.join("lobby")
		ann.expect("welcome", "ann")
		other := connectClient(t, ns[1], "ann")
		other.join("lobby")
		if ev := other.expect("error", ""); ev.Error != services.ErrNickTaken || ev.Message == "" {
			t.Fatalf("got %+v; want nick_taken", ev)
		}
		other.post("hi")
		if ev := other.expect("error", ""); ev.Error != services.ErrNotJoined {
			t.Fatalf("post after a refused join: %+v; want not_joined", ev)
		}
		other.send(map[string]string{"type": "join", "room": "lobby", "nick": "ann2"})
		if ev := other.expect("welcome", "ann2"); !slices.Equal(ev.Members, []string{"ann", "ann2"}) {
			t.Fatalf("welcome %+v", ev)
		}
		ann.expect("joined", "ann2")
		ann.quiet()
	})
}

// TestChatHistoryGoesWithLastMember: once the last member anywhere leaves,
// the room starts afresh, as on a single node.
func TestChatHistoryGoesWithLastMember(t *testing.T) {
	forEachCluster(t, func(t *testing.T, nodes nodes) {
		ns := nodes(t, 2)
		ann := connectClient(t, ns[0], "ann")
		ann.join("lobby")
		ann.expect("welcome", "ann")
		ann.post("old news")
		ann.expect("message", "ann")
		ann.send(`{"type":"leave"}`)
		ann.expect("left", "ann")
		bob := connectClient(t, ns[1], "bob")
		bob.join("lobby")
		if ev := bob.expect("welcome", "bob"); len(ev.History) != 0 || !slices.Equal(ev.Members, []string{"bob"}) {
			t.Fatalf("welcome after the room emptied: %+v", ev)
		}
	})
}

// TestChatSwitchRooms: joining another room leaves the first one, with the
// left event before the new welcome.
func TestChatSwitchRooms(t *testing.T) {
	forEachCluster(t, func(t *testing.T, nodes nodes) {
		ns := nodes(t, 2)
		ann, bob := connectClient(t, ns[0], "ann"), connectClient(t, ns[1], "bob")
		ann.join("one")
		ann.expect("welcome", "ann")
		bob.join("one")
		bob.expect("welcome", "bob")
		ann.expect("joined", "bob")
		ann.join("two")
		ann.expect("left", "ann")
		if ev := ann.expect("welcome", "ann"); ev.Room != "two" {
			t.Fatalf("welcome %+v", ev)
		}
		bob.expect("left", "ann")
	})
}

// TestChatBadInput: every error code, on one node, as before the cluster.
func TestChatBadInput(t *testing.T) {
	t.Parallel()
	c := connectClient(t, services.NewChat(services.ChatOptions{}), "ann")
	bad := []struct{ cmd, code string }{
		{`{"type":"join",`, services.ErrBadJSON},
		{`{"type":"dance"}`, services.ErrUnknownType},
		{`{"type":"post","text":"hi"}`, services.ErrNotJoined},
		{`{"type":"join","room":"r","nick":""}`, services.ErrBadNick},
		{`{"type":"join","room":"r","nick":"` + strings.Repeat("n", 33) + `"}`, services.ErrBadNick},
		{`{"type":"join","room":"a.b","nick":"ann"}`, services.ErrBadRoom},
	}
	for _, b := range bad {
		c.send(b.cmd)
		if ev := c.expect("error", ""); ev.Error != b.code {
			t.Fatalf("%s: got %+v; want %s", b.cmd, ev, b.code)
		}
	}
	c.join("r")
	c.expect("welcome", "ann")
	c.post("")
	if ev := c.expect("error", ""); ev.Error != services.ErrEmpty {
		t.Fatalf("empty post: %+v", ev)
	}
	c.post(strings.Repeat("é", 2001))
	if ev := c.expect("error", ""); ev.Error != services.ErrTooLong {
		t.Fatalf("long post: %+v", ev)
	}
}

// failingBus refuses everything, as a bus whose broker is away.
type failingBus struct{}

var errBrokerAway = errors.New("broker away")

func (failingBus) Subscribe(context.Context, string, cluster.Replica) (func(), error) {
	return nil, errBrokerAway
}
func (failingBus) Publish(context.Context, string, []byte) error { return errBrokerAway }
func (failingBus) Close() error                                  { return nil }

// TestChatUnavailable: when the bus fails, the client gets an error event
// with the code unavailable, and the session stays usable.
func TestChatUnavailable(t *testing.T) {
	t.Parallel()
	c := connectClient(t, services.NewChat(services.ChatOptions{Bus: failingBus{}}), "ann")
	c.join("lobby")
	if ev := c.expect("error", ""); ev.Error != services.ErrUnavailable || ev.Message == "" {
		t.Fatalf("got %+v; want unavailable", ev)
	}
	c.post("hi")
	if ev := c.expect("error", ""); ev.Error != services.ErrNotJoined {
		t.Fatalf("got %+v; want not_joined", ev)
	}
}
