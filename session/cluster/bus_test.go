package cluster_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"go.uber.org/goleak"

	"github.com/sockgate/sockgate/session/cluster"
	"github.com/sockgate/sockgate/session/cluster/clustertest"
)

// waitTimeout bounds every wait in these tests.
const waitTimeout = 10 * time.Second

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// recorder is a Replica that records the events applied to it; its
// snapshot is that record plus the name of the node that took it.
type recorder struct {
	name string
	mu   sync.Mutex
	got  []string
	seqs []uint64 // seq of each event in got
	from string   // node whose snapshot restored it
	at   uint64   // the position Restore started it at
	more chan struct{}
}

type recording struct {
	Events []string `json:"events"`
	Seqs   []uint64 `json:"seqs"`
	Node   string   `json:"node"`
}

func newRecorder(name string) *recorder {
	return &recorder{name: name, more: make(chan struct{}, 1)}
}

func (r *recorder) Apply(seq uint64, data []byte) {
	r.mu.Lock()
	last := r.at
	if n := len(r.seqs); n > 0 {
		last = r.seqs[n-1]
	}
	if seq <= last {
		panic(fmt.Sprintf("%s: event %q at seq %d after seq %d", r.name, data, seq, last))
	}
	r.got = append(r.got, string(data))
	r.seqs = append(r.seqs, seq)
	r.mu.Unlock()
	select {
	case r.more <- struct{}{}:
	default:
	}
}

func (r *recorder) Snapshot() ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return json.Marshal(recording{Events: r.got, Seqs: r.seqs, Node: r.name})
}

func (r *recorder) Restore(seq uint64, data []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.at = seq
	if data == nil {
		return nil
	}
	var rec recording
	if err := json.Unmarshal(data, &rec); err != nil {
		return err
	}
	r.got, r.seqs, r.from = rec.Events, rec.Seqs, rec.Node
	return nil
}

// eventSeqs is the seq of each event applied or restored.
func (r *recorder) eventSeqs() []uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.seqs)
}

func (r *recorder) events() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

// waitFor waits until r has applied n events.
func (r *recorder) waitFor(t *testing.T, n int) []string {
	t.Helper()
	deadline := time.After(waitTimeout)
	for {
		if got := r.events(); len(got) >= n {
			return got
		}
		select {
		case <-r.more:
		case <-deadline:
			t.Fatalf("%s: %d events after %v; want %d", r.name, len(r.events()), waitTimeout, n)
		}
	}
}

// nodes makes n buses that stand for n nodes of one cluster.
type nodes func(t *testing.T, n int) []cluster.Bus

func localNodes(t *testing.T, n int) []cluster.Bus {
	bus := cluster.Local()
	t.Cleanup(func() { _ = bus.Close() })
	out := make([]cluster.Bus, n)
	for i := range out {
		out[i] = bus
	}
	return out
}

func natsNodes(t *testing.T, n int) []cluster.Bus {
	srv := clustertest.StartNATS(t, false)
	out := make([]cluster.Bus, n)
	for i := range out {
		out[i] = connect(t, srv.URL(), fmt.Sprintf("node%d", i))
	}
	return out
}

func connect(t *testing.T, url, node string) *cluster.NATSBus {
	t.Helper()
	return connectWith(t, url, cluster.NATSOptions{NodeID: node})
}

func connectWith(t *testing.T, url string, opts cluster.NATSOptions) *cluster.NATSBus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	opts.ReconnectWait = 50 * time.Millisecond
	opts.Logger = zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
	b, err := cluster.NATS(ctx, url, opts)
	if err != nil {
		t.Fatalf("cluster.NATS(%s): %v", url, err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

var buses = []struct {
	name  string
	nodes nodes
}{{"local", localNodes}, {"nats", natsNodes}}

func subscribe(t *testing.T, b cluster.Bus, room string, r cluster.Replica) func() {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	unsub, err := b.Subscribe(ctx, room, r)
	if err != nil {
		t.Fatalf("Subscribe(%q): %v", room, err)
	}
	t.Cleanup(unsub)
	return unsub
}

func publish(t *testing.T, b cluster.Bus, room, data string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := b.Publish(ctx, room, []byte(data)); err != nil {
		t.Errorf("Publish(%q, %q): %v", room, data, err)
	}
}

// TestOneOrder: three nodes publish to one room at once; every node applies
// every event, all in the same order, each publisher's in its own order.
func TestOneOrder(t *testing.T) {
	t.Parallel()
	for _, bus := range buses {
		t.Run(bus.name, func(t *testing.T) {
			t.Parallel()
			const per = 50
			ns := bus.nodes(t, 3)
			recs := make([]*recorder, len(ns))
			for i, b := range ns {
				recs[i] = newRecorder(fmt.Sprint("node", i))
				subscribe(t, b, "lobby", recs[i])
			}
			other := newRecorder("other-room")
			subscribe(t, ns[0], "other", other)
			var wg sync.WaitGroup
			for i, b := range ns {
				wg.Go(func() {
					for j := range per {
						publish(t, b, "lobby", fmt.Sprintf("%d-%d", i, j))
					}
				})
			}
			wg.Wait()
			first := recs[0].waitFor(t, len(ns)*per)
			for _, r := range recs[1:] {
				if got := r.waitFor(t, len(ns)*per); !slices.Equal(got, first) {
					t.Fatalf("%s applied another order than node0:\n%q\n%q", r.name, got, first)
				}
				if got, want := r.eventSeqs(), recs[0].eventSeqs(); !slices.Equal(got, want) {
					t.Fatalf("%s gave the events other seqs than node0:\n%v\n%v", r.name, got, want)
				}
			}
			checkPerPublisher(t, first, len(ns), per)
			if got := other.events(); len(got) != 0 {
				t.Fatalf("another room got %q", got)
			}
		})
	}
}

func checkPerPublisher(t *testing.T, events []string, publishers, per int) {
	t.Helper()
	next := make([]int, publishers)
	for _, e := range events {
		var p, n int
		if _, err := fmt.Sscanf(e, "%d-%d", &p, &n); err != nil || n != next[p] {
			t.Fatalf("event %q out of its publisher's order (want %d-%d)", e, p, next[p])
		}
		next[p]++
	}
}

// TestLateNode: a node that subscribes after events were published is
// restored from a snapshot and then gets exactly the events after it.
func TestLateNode(t *testing.T) {
	t.Parallel()
	for _, bus := range buses {
		t.Run(bus.name, func(t *testing.T) {
			t.Parallel()
			ns := bus.nodes(t, 2)
			early := newRecorder("early")
			subscribe(t, ns[0], "room", early)
			for i := range 5 {
				publish(t, ns[0], "room", fmt.Sprint("before-", i))
			}
			early.waitFor(t, 5)
			late := newRecorder("late")
			subscribe(t, ns[1], "room", late)
			if late.from != "early" {
				t.Fatalf("late node restored from %q; want early", late.from)
			}
			for i := range 5 {
				publish(t, ns[i%2], "room", fmt.Sprint("after-", i))
			}
			want := early.waitFor(t, 10)
			if got := late.waitFor(t, 10); !slices.Equal(got, want) {
				t.Fatalf("late node:\n%q\nearly node:\n%q", got, want)
			}
		})
	}
}

// TestEmptyRoom: with nobody following a room, Subscribe starts empty and
// at once (NATS answers "no responders"), and the events of the time
// before are not replayed.
func TestEmptyRoom(t *testing.T) {
	t.Parallel()
	for _, bus := range buses {
		t.Run(bus.name, func(t *testing.T) {
			t.Parallel()
			ns := bus.nodes(t, 1)
			first := newRecorder("first")
			unsub := subscribe(t, ns[0], "room", first)
			publish(t, ns[0], "room", "old")
			first.waitFor(t, 1)
			unsub()
			start := time.Now()
			again := newRecorder("again")
			subscribe(t, ns[0], "room", again)
			if d := time.Since(start); d > cluster.DefaultSnapshotTimeout/2 {
				t.Errorf("Subscribe to an empty room took %v", d)
			}
			publish(t, ns[0], "room", "new")
			if got := again.waitFor(t, 1); !slices.Equal(got, []string{"new"}) {
				t.Fatalf("got %q; want only the new event", got)
			}
		})
	}
}

// TestErrors: bad room names and a closed bus.
func TestErrors(t *testing.T) {
	t.Parallel()
	for _, bus := range buses {
		t.Run(bus.name, func(t *testing.T) {
			t.Parallel()
			b := bus.nodes(t, 1)[0]
			ctx := context.Background()
			for _, room := range []string{"", "a.b", "a*", ">", "a b"} {
				if _, err := b.Subscribe(ctx, room, newRecorder("x")); !errors.Is(err, cluster.ErrBadRoom) {
					t.Errorf("Subscribe(%q) = %v; want ErrBadRoom", room, err)
				}
				if err := b.Publish(ctx, room, nil); !errors.Is(err, cluster.ErrBadRoom) {
					t.Errorf("Publish(%q) = %v; want ErrBadRoom", room, err)
				}
			}
			r := newRecorder("r")
			subscribe(t, b, "room", r)
			if err := b.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if err := b.Close(); err != nil {
				t.Fatalf("second Close: %v", err)
			}
			if err := b.Publish(ctx, "room", []byte("x")); !errors.Is(err, cluster.ErrClosed) {
				t.Errorf("Publish after Close = %v; want ErrClosed", err)
			}
			if _, err := b.Subscribe(ctx, "room", newRecorder("y")); !errors.Is(err, cluster.ErrClosed) {
				t.Errorf("Subscribe after Close = %v; want ErrClosed", err)
			}
			if got := r.events(); len(got) != 0 {
				t.Errorf("applied %q after Close", got)
			}
		})
	}
}
