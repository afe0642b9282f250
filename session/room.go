package session

import (
	"sync"
	"time"
)

// QuotedSender is implemented by sessions that accept a message already
// encoded with AppendQuoted; Room.Broadcast uses it to encode once.
type QuotedSender interface {
	SendQuoted(q []byte) error
}

// Room is a named set of sessions that receive the same broadcasts. Safe for
// concurrent use.
type Room struct {
	name    string
	mu      sync.RWMutex
	members map[Session]struct{}
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
// bytes are shared by all members that accept them (QuotedSender). Send
// never blocks, so one member cannot make the others lose messages. It
// returns how many members accepted the message.
//
// Broadcast throttles whoever calls it instead: when a member's queue is
// over its soft mark (half of Options.MaxQueueBytes) once the message is
// queued, Broadcast waits, with no lock held, until that queue drains
// below the mark. So a client that floods a room is read no faster than
// its room can take: a service that broadcasts from OnMessage or a Recv
// loop stops the flooder's reads, not the healthy members' connections. A
// member that stays over the mark for Options.SlowClientTimeout is closed
// with CodeSlowClient, so the wait is bounded and only the member that
// does not read is cut.
func (r *Room) Broadcast(msg string) int {
	q := AppendQuoted(make([]byte, 0, len(msg)+8), msg)
	n := 0
	var full []*SockJS // members over their soft mark
	r.mu.RLock()
	for s := range r.members {
		var err error
		switch m := s.(type) {
		case *SockJS:
			var over bool
			if over, err = m.sendShared(msg, q); over && err == nil {
				full = append(full, m)
			}
		case QuotedSender:
			err = m.SendQuoted(q)
		default:
			err = s.Send(msg)
		}
		if err == nil {
			n++
		}
	}
	r.mu.RUnlock()
	if len(full) > 0 {
		start := time.Now()
		for _, m := range full {
			m.awaitSoftMark(start.Add(m.opts.SlowClientTimeout))
		}
	}
	return n
}
