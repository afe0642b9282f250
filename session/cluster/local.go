package cluster

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
)

// LocalBus is the in-process Bus: events are delivered synchronously, inside
// Publish, to every subscription of the room, under one lock per room, so
// the order is the order of Publish calls. Each subscription stands for a
// node: a late one is restored from the oldest subscription's snapshot. It
// needs no external service; several Chat services sharing one LocalBus
// behave as nodes of one cluster. Safe for concurrent use.
type LocalBus struct {
	seq    atomic.Uint64 // the last event's seq, across rooms
	mu     sync.Mutex    // guards rooms and closed; taken before a room's mu
	rooms  map[string]*localRoom
	closed bool
}

// localRoom is one room's subscriptions, oldest first.
type localRoom struct {
	mu   sync.Mutex // held while delivering, snapshotting and (un)subscribing
	subs []*localSub
}

type localSub struct{ r Replica }

// Local returns an empty in-process bus.
func Local() *LocalBus { return &LocalBus{rooms: make(map[string]*localRoom)} }

// Subscribe implements Bus. The snapshot, when there is an older
// subscription, is taken and restored at once; no timeout applies.
func (l *LocalBus) Subscribe(ctx context.Context, room string, r Replica) (func(), error) {
	if err := checkRoom(room); err != nil {
		return nil, fmt.Errorf("subscribe %q: %w", room, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("subscribe %q: %w", room, err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, fmt.Errorf("subscribe %q: %w", room, ErrClosed)
	}
	lr := l.rooms[room]
	if lr == nil {
		lr = &localRoom{}
		l.rooms[room] = lr
	}
	lr.mu.Lock()
	defer lr.mu.Unlock()
	var snap []byte
	if len(lr.subs) > 0 {
		var err error
		if snap, err = lr.subs[0].r.Snapshot(); err != nil {
			return nil, fmt.Errorf("subscribe %q: snapshot: %w", room, err)
		}
	}
	// The room's events are published under lr.mu, so none has a seq
	// between the snapshot and this one.
	if err := r.Restore(l.seq.Load(), snap); err != nil {
		return nil, fmt.Errorf("subscribe %q: restore: %w", room, err)
	}
	s := &localSub{r: r}
	lr.subs = append(lr.subs, s)
	var once sync.Once
	return func() { once.Do(func() { l.unsubscribe(room, lr, s) }) }, nil
}

func (l *LocalBus) unsubscribe(room string, lr *localRoom, s *localSub) {
	l.mu.Lock()
	defer l.mu.Unlock()
	lr.mu.Lock()
	defer lr.mu.Unlock()
	lr.subs = slices.DeleteFunc(lr.subs, func(x *localSub) bool { return x == s })
	if len(lr.subs) == 0 && l.rooms[room] == lr {
		delete(l.rooms, room)
	}
}

// Publish implements Bus: data is applied to every subscription of room
// before Publish returns.
func (l *LocalBus) Publish(ctx context.Context, room string, data []byte) error {
	if err := checkRoom(room); err != nil {
		return fmt.Errorf("publish to %q: %w", room, err)
	}
	if len(data) > MaxEventBytes {
		return fmt.Errorf("publish to %q: %d bytes: %w", room, len(data), ErrTooBig)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("publish to %q: %w", room, err)
	}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return fmt.Errorf("publish to %q: %w", room, ErrClosed)
	}
	lr := l.rooms[room]
	l.mu.Unlock()
	if lr == nil {
		return nil // nobody follows the room
	}
	lr.mu.Lock()
	defer lr.mu.Unlock()
	seq := l.seq.Add(1)
	for _, s := range lr.subs {
		s.r.Apply(seq, data)
	}
	return nil
}

// Close implements Bus: it drops every subscription.
func (l *LocalBus) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	for name, lr := range l.rooms {
		lr.mu.Lock()
		lr.subs = nil
		lr.mu.Unlock()
		delete(l.rooms, name)
	}
	return nil
}
