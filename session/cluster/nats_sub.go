package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
)

// natsSub is one subscription: an ordered consumer of the room's events and
// a responder to the room's snapshot requests. mu serialises Apply and
// Snapshot, so a snapshot answers for exactly the events applied before it.
type natsSub struct {
	b    *NATSBus
	room string
	r    Replica
	log  zerolog.Logger

	mu      sync.Mutex
	applied uint64 // stream sequence of the last event applied (or restored)
	stopped bool

	cons      jetstream.Consumer
	consuming jetstream.ConsumeContext
	responder *nats.Subscription
	once      sync.Once
}

// snapshotReply is one node's answer to a snapshot request.
type snapshotReply struct {
	node    string
	started int64
	seq     uint64
	data    []byte
}

// olderThan reports whether a comes from a node that started before b's.
func (a *snapshotReply) olderThan(b *snapshotReply) bool {
	if a.started != b.started {
		return a.started < b.started
	}
	return a.node < b.node
}

// Subscribe implements Bus. It asks the room's other subscriptions for a
// snapshot (the oldest node's wins; none within SnapshotTimeout, or no
// subscriber at all, means an empty room), restores r from it, then
// consumes the room's events from just after the snapshot's position.
func (b *NATSBus) Subscribe(ctx context.Context, room string, r Replica) (func(), error) {
	if err := checkRoom(room); err != nil {
		return nil, fmt.Errorf("subscribe %q: %w", room, err)
	}
	if b.isClosed() {
		return nil, fmt.Errorf("subscribe %q: %w", room, ErrClosed)
	}
	s := &natsSub{b: b, room: room, r: r, log: b.log.With().Str("room", room).Logger()}
	if err := s.start(ctx); err != nil {
		s.unsubscribe()
		return nil, fmt.Errorf("subscribe %q: %w", room, err)
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		s.unsubscribe()
		return nil, fmt.Errorf("subscribe %q: %w", room, ErrClosed)
	}
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	return s.unsubscribe, nil
}

func (s *natsSub) start(ctx context.Context) error {
	seq, err := s.b.restore(ctx, s.room, s.r)
	if err != nil {
		return err
	}
	s.applied = seq
	s.cons, err = s.b.js.OrderedConsumer(ctx, s.b.opts.Stream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{s.b.roomSubject(s.room)},
		DeliverPolicy:  jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:    seq + 1,
	})
	if err != nil {
		return fmt.Errorf("create consumer: %w", err)
	}
	if s.consuming, err = s.cons.Consume(s.deliver, jetstream.ConsumeErrHandler(s.consumeError)); err != nil {
		return fmt.Errorf("consume: %w", err)
	}
	if s.responder, err = s.b.nc.Subscribe(s.b.snapshotSubject(s.room), s.answer); err != nil {
		return fmt.Errorf("answer snapshot requests: %w", err)
	}
	// Once the server has the subscription, every later snapshot request
	// reaches this node.
	if err := s.b.nc.FlushWithContext(ctx); err != nil {
		return fmt.Errorf("answer snapshot requests: %w", err)
	}
	return nil
}

// restore asks every subscription of room for its state and restores r
// from the oldest node's valid answer that r accepts, trying the next
// oldest when r refuses one. With none, r starts empty at the stream's last
// sequence as of before the request: a node that starts following the room
// later cannot have published to it before then. It returns the position r
// starts at.
func (b *NATSBus) restore(ctx context.Context, room string, r Replica) (uint64, error) {
	before, err := b.lastSeq(ctx)
	if err != nil {
		return 0, err
	}
	replies, err := b.requestSnapshots(ctx, room)
	if err != nil {
		return 0, err
	}
	if len(replies) > 0 {
		// An answer can be taken no later than the stream's end now; one
		// beyond it is forged.
		after, err := b.lastSeq(ctx)
		if err != nil {
			return 0, err
		}
		for _, rep := range replies {
			if rep.seq > after {
				b.drop("snapshot answer", fmt.Sprintf("from %q at seq %d, beyond the stream's last %d", rep.node, rep.seq, after))
				continue
			}
			if err := r.Restore(rep.seq, rep.data); err != nil {
				b.drop("snapshot answer", fmt.Sprintf("from %q refused: %v", rep.node, err))
				continue
			}
			b.log.Debug().Str("room", room).Str("from", rep.node).Uint64("seq", rep.seq).Msg("room restored from a snapshot")
			return rep.seq, nil
		}
	}
	if err := r.Restore(before, nil); err != nil {
		return 0, fmt.Errorf("start empty: %w", err)
	}
	return before, nil
}

// lastSeq is the event stream's last sequence.
func (b *NATSBus) lastSeq(ctx context.Context) (uint64, error) {
	st, err := b.js.Stream(ctx, b.opts.Stream)
	if err != nil {
		return 0, fmt.Errorf("look up stream %s: %w", b.opts.Stream, err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("stream %s info: %w", b.opts.Stream, err)
	}
	return info.State.LastSeq, nil
}

// requestSnapshots asks every subscription of room for its state and
// returns the well-formed answers, oldest node first.
func (b *NATSBus) requestSnapshots(ctx context.Context, room string) ([]*snapshotReply, error) {
	inbox := b.nc.NewInbox()
	replies, err := b.nc.SubscribeSync(inbox)
	if err != nil {
		return nil, fmt.Errorf("snapshot inbox: %w", err)
	}
	defer func() { _ = replies.Unsubscribe() }()
	req := nats.NewMsg(b.snapshotSubject(room))
	req.Reply = inbox
	req.Header.Set(hdrNode, b.opts.NodeID)
	if err := b.nc.PublishMsg(req); err != nil {
		return nil, fmt.Errorf("request a snapshot: %w", err)
	}
	all, err := b.collectReplies(ctx, replies)
	slices.SortFunc(all, func(x, y *snapshotReply) int {
		if x.olderThan(y) {
			return -1
		}
		return 1
	})
	return all, err
}

// collectReplies waits SnapshotTimeout for a first answer and then
// SnapshotGrace for older nodes, and returns the well-formed answers;
// none when nobody answered or the server said nobody listens.
func (b *NATSBus) collectReplies(ctx context.Context, replies *nats.Subscription) ([]*snapshotReply, error) {
	var all []*snapshotReply
	deadline := time.Now().Add(b.opts.SnapshotTimeout)
	for len(all) < maxSnapshotAnswers {
		m, err := nextBefore(ctx, replies, deadline)
		switch {
		case ctx.Err() != nil:
			return nil, fmt.Errorf("wait for a snapshot: %w", ctx.Err())
		case errors.Is(err, context.DeadlineExceeded):
			return all, nil
		case errors.Is(err, nats.ErrNoResponders):
			return all, nil // nobody follows the room
		case err != nil:
			return nil, fmt.Errorf("wait for a snapshot: %w", err)
		}
		rep, err := parseSnapshotReply(m, time.Now())
		if err != nil {
			b.drop("snapshot answer", err.Error())
			continue
		}
		if len(all) == 0 {
			deadline = time.Now().Add(b.opts.SnapshotGrace)
		}
		all = append(all, rep)
	}
	return all, nil
}

// maxSnapshotAnswers bounds the answers one request considers.
const maxSnapshotAnswers = 64

// nextBefore is the next message on sub, or context.DeadlineExceeded at
// deadline.
func nextBefore(ctx context.Context, sub *nats.Subscription, deadline time.Time) (*nats.Msg, error) {
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	return sub.NextMsgWithContext(ctx)
}

// parseSnapshotReply reads a snapshot answer's headers and checks that they
// can be true: a node name, a start time after 1970 and not in the future,
// a body within MaxSnapshotBytes. Whether its sequence lies within the
// stream, and its body, are checked by the caller.
func parseSnapshotReply(m *nats.Msg, now time.Time) (*snapshotReply, error) {
	node := m.Header.Get(hdrNode)
	started, err1 := strconv.ParseInt(m.Header.Get(hdrStarted), 10, 64)
	seq, err2 := strconv.ParseUint(m.Header.Get(hdrSeq), 10, 64)
	switch {
	case errors.Join(err1, err2) != nil:
		return nil, fmt.Errorf("from %q: %w", truncate(node, 64), errors.Join(err1, err2))
	case node == "" || len(node) > maxNodeID:
		return nil, fmt.Errorf("bad node name %q", truncate(node, 64))
	case started <= 0 || started > now.Add(maxClockSkew).UnixNano():
		return nil, fmt.Errorf("from %q: impossible start time %d", node, started)
	case len(m.Data) > MaxSnapshotBytes:
		return nil, fmt.Errorf("from %q: %d bytes, over %d", node, len(m.Data), MaxSnapshotBytes)
	}
	data := m.Data
	if data == nil {
		data = []byte{}
	}
	return &snapshotReply{node: node, started: started, seq: seq, data: data}, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// deliver applies one event from the ordered consumer.
func (s *natsSub) deliver(msg jetstream.Msg) {
	meta, err := msg.Metadata()
	if err != nil {
		s.log.Error().Err(err).Msg("event without stream metadata; dropped")
		return
	}
	if n := len(msg.Data()); n > MaxEventBytes {
		s.b.drop("event", fmt.Sprintf("room %q, seq %d: %d bytes, over %d", s.room, meta.Sequence.Stream, n, MaxEventBytes))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped || meta.Sequence.Stream <= s.applied {
		return // already in the restored snapshot, or unsubscribed
	}
	s.r.Apply(meta.Sequence.Stream, msg.Data())
	s.applied = meta.Sequence.Stream
}

// answer replies to a late node's snapshot request.
func (s *natsSub) answer(m *nats.Msg) {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return
	}
	snap, err := s.r.Snapshot()
	seq := s.applied
	s.mu.Unlock()
	if err == nil && len(snap) > MaxSnapshotBytes {
		err = fmt.Errorf("%d bytes, over %d", len(snap), MaxSnapshotBytes)
	}
	if err != nil {
		s.log.Error().Err(err).Msg("snapshot for a late node failed")
		return
	}
	reply := nats.NewMsg(m.Reply)
	reply.Header.Set(hdrNode, s.b.opts.NodeID)
	reply.Header.Set(hdrStarted, strconv.FormatInt(s.b.started.UnixNano(), 10))
	reply.Header.Set(hdrSeq, strconv.FormatUint(seq, 10))
	reply.Data = snap
	if err := m.RespondMsg(reply); err != nil {
		s.log.Warn().Err(err).Str("to", m.Header.Get(hdrNode)).Msg("snapshot answer not sent")
		return
	}
	s.log.Debug().Str("to", m.Header.Get(hdrNode)).Uint64("seq", seq).Msg("snapshot sent")
}

func (s *natsSub) consumeError(_ jetstream.ConsumeContext, err error) {
	if s.b.isClosed() || errors.Is(err, jetstream.ErrConnectionClosed) {
		return
	}
	s.log.Warn().Err(err).Msg("room consumer (it resumes on its own)")
}

// unsubscribe stops deliveries and answers, then deletes the consumer.
func (s *natsSub) unsubscribe() {
	s.once.Do(func() {
		s.mu.Lock()
		s.stopped = true
		s.mu.Unlock()
		if s.responder != nil {
			_ = s.responder.Unsubscribe()
		}
		if s.consuming != nil {
			s.consuming.Stop()
		}
		s.deleteConsumer()
		s.b.mu.Lock()
		delete(s.b.subs, s)
		s.b.mu.Unlock()
	})
}

// deleteConsumer removes the server-side consumer now rather than at its
// inactivity threshold.
func (s *natsSub) deleteConsumer() {
	if s.cons == nil || !s.b.nc.IsConnected() { // the server drops it after its inactivity threshold
		return
	}
	info := s.cons.CachedInfo()
	if info == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := s.b.js.DeleteConsumer(ctx, s.b.opts.Stream, info.Name); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		s.log.Debug().Err(err).Msg("delete consumer")
	}
}
