package session

import (
	"sync"
	"time"
)

// fastMember is a session of an engine that takes a broadcast message
// encoded once for every member and throttles the broadcaster (the native
// engine's sessions implement it); Room.Broadcast sends to any other
// session with Send.
type fastMember interface {
	// EncodeShared encodes msg once, for every member of the same engine.
	EncodeShared(msg string) []byte
	// QueueShared queues msg, whose encoding enc came from EncodeShared
	// (enc is shared: not kept, not changed), without writing it; flush
	// reports that the caller must call FlushShared once (the member's
	// later messages ride on that flush until it runs); over reports that
	// the member's queue is now past its soft mark, so the broadcaster
	// should call AwaitSoftMark.
	QueueShared(msg string, enc []byte) (flush, over bool, err error)
	// FlushShared hands what QueueShared queued to the member's
	// connection.
	FlushShared()
	// AwaitSoftMark waits until the member's queue is back under its soft
	// mark, or closes the member with CodeSlowClient when that has not
	// happened within its slow-client timeout from start.
	AwaitSoftMark(start time.Time)
}

// Room is a named set of sessions that receive the same broadcasts. Safe for
// concurrent use.
type Room struct {
	name    string
	mu      sync.RWMutex
	members map[Session]struct{}
	relay   func(msg string) // set by SetRelay
	flush   flusher
}

// NewRoom returns an empty room.
func NewRoom(name string) *Room {
	return &Room{name: name, members: make(map[Session]struct{})}
}

// Name is the room's name.
func (r *Room) Name() string { return r.name }

// Join adds s; it reports false if s was already a member.
func (r *Room) Join(s Session) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.members[s]; ok {
		return false
	}
	r.members[s] = struct{}{}
	return true
}

// Leave removes s and returns how many members are left.
func (r *Room) Leave(s Session) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.members, s)
	return len(r.members)
}

// Len is the number of members.
func (r *Room) Len() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.members)
}

// Broadcast sends msg to every member. The message is encoded once and the
// bytes are shared by all members of the native engine. Send
// never blocks, so one member cannot make the others lose messages.
//
// Broadcast queues the message for every member and leaves the writing to
// the room's flushers (one per CPU at most, started on demand, ended when
// idle): a member whose connection is not written yet gets every message
// queued since in the same frame and the same write. So at a gentle rate a
// message goes out at once, and at saturation the writes per message fall
// instead of the messages piling up behind them. It
// returns how many members (in this process) accepted the message; with a
// relay (SetRelay), the members on other nodes get it too.
//
// Broadcast throttles whoever calls it instead: when a member's queue is
// over its soft mark (half of the service's queue bound) once the message is
// queued, Broadcast waits, with no lock held, until that queue drains
// below the mark. So a client that floods a room is read no faster than
// its room can take: a service that broadcasts from OnMessage or a Recv
// loop stops the flooder's reads, not the healthy members' connections. A
// member that stays over the mark for the slow-client timeout is closed
// with CodeSlowClient, so the wait is bounded and only the member that
// does not read is cut.
func (r *Room) Broadcast(msg string) int {
	n := r.BroadcastLocal(msg)
	r.mu.RLock()
	relay := r.relay
	r.mu.RUnlock()
	if relay != nil {
		relay(msg)
	}
	return n
}

// SetRelay makes Broadcast also hand every message to relay, which takes
// it to the room's members on other nodes (see cluster.NATSBus.Relay);
// those nodes deliver it with BroadcastLocal. relay must not block. nil
// turns it off.
func (r *Room) SetRelay(relay func(msg string)) {
	r.mu.Lock()
	r.relay = relay
	r.mu.Unlock()
}

// BroadcastLocal is Broadcast to the members in this process only.
func (r *Room) BroadcastLocal(msg string) int {
	var enc []byte
	n := 0
	var full []fastMember  // members over their soft mark
	var flush []fastMember // members whose connection must be written
	r.mu.RLock()
	for s := range r.members {
		var err error
		if m, ok := s.(fastMember); ok {
			if enc == nil {
				enc = m.EncodeShared(msg)
			}
			var more, over bool
			more, over, err = m.QueueShared(msg, enc)
			if more {
				// Chunk by chunk, so the flushers write while the rest
				// is queued.
				if flush == nil {
					flush = make([]fastMember, 0, flushChunk)
				}
				if flush = append(flush, m); len(flush) == flushChunk {
					r.flush.submit(flush)
					flush = nil
				}
			}
			if over && err == nil {
				full = append(full, m)
			}
		} else {
			err = s.Send(msg)
		}
		if err == nil {
			n++
		}
	}
	r.mu.RUnlock()
	r.flush.submit(flush)
	if len(full) > 0 {
		start := time.Now()
		for _, m := range full {
			m.AwaitSoftMark(start)
		}
	}
	return n
}
