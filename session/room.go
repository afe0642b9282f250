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
	relay   func(msg string) // set by SetRelay
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
// returns how many members (in this process) accepted the message; with a
// relay (SetRelay), the members on other nodes get it too.
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

// Hub holds rooms by name, creating them on first join and dropping them
// when the last member leaves. Safe for concurrent use.
type Hub struct {
	mu    sync.Mutex
	rooms map[string]*Room
}

// NewHub returns an empty hub.
func NewHub() *Hub { return &Hub{rooms: make(map[string]*Room)} }

// Join adds s to the room called name and returns the room.
func (h *Hub) Join(name string, s Session) *Room {
	h.mu.Lock()
	defer h.mu.Unlock()
	r := h.rooms[name]
	if r == nil {
		r = NewRoom(name)
		h.rooms[name] = r
	}
	r.Join(s)
	return r
}

// Leave removes s from the room called name, dropping the room once empty.
func (h *Hub) Leave(name string, s Session) {
	h.mu.Lock()
	defer h.mu.Unlock()
	r := h.rooms[name]
	if r != nil && r.Leave(s) == 0 {
		delete(h.rooms, name)
	}
}

// Room returns the room called name, or nil.
func (h *Hub) Room(name string) *Room {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.rooms[name]
}
