package services

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/sockgate/sockgate/session"
)

// Types of the events a Chat publishes on its bus.
const (
	wireJoin  = "join"
	wirePost  = "post"
	wireLeave = "leave"
	// wireGone drops every member of a node that stopped without leaving.
	wireGone = "gone"
)

// wireEvent is one room event on the bus. Member is the cluster-wide key of
// the member it is about, or for gone, Node the prefix of the keys of the
// members it drops; TS is stamped once, by the node that publishes.
type wireEvent struct {
	Type   string `json:"type"`
	Member string `json:"member,omitempty"`
	Node   string `json:"node,omitempty"`
	Nick   string `json:"nick,omitempty"`
	Text   string `json:"text,omitempty"`
	TS     int64  `json:"ts"`
}

// valid reports whether ev names whom it is about.
func (ev *wireEvent) valid() bool {
	if ev.Type == wireGone {
		return ev.Node != ""
	}
	return ev.Member != ""
}

// roomSnapshot is a replica's state, as sent to a late node.
type roomSnapshot struct {
	Members []memberInfo `json:"members"`
	History []ChatEvent  `json:"history"`
}

type memberInfo struct {
	Key  string `json:"key"`
	Nick string `json:"nick"`
}

// chatRoom is this node's replica of one room, a cluster.Replica. The
// replicated part (members, history) changes only in Apply, in the bus's
// order, so it is the same on every node; local tracks this node's own
// sessions, which Apply welcomes, answers and broadcasts to.
type chatRoom struct {
	c    *Chat
	name string

	// Set by acquire; ready is closed once unsubscribe and err are set.
	ready       chan struct{}
	unsubscribe func()
	err         error
	refs        int // local users (members and joiners); guarded by Chat.mu

	mu      sync.Mutex
	room    *session.Room           // this node's members, for broadcasts
	order   []string                // member keys in join order
	nicks   map[string]string       // member key -> nick
	taken   map[string]bool         // nicks in use
	history []ChatEvent             // the last HistoryLen messages
	local   map[string]*localMember // this node's members and joiners, by key
}

// localMember is one of this node's sessions in the room.
type localMember struct {
	s      session.Session
	joined bool
	// done gets the outcome of the join (true: welcomed) or the leave
	// the handler is waiting for.
	done chan bool
}

// signal reports an outcome to the waiting handler; it never blocks.
func (lm *localMember) signal(ok bool) {
	select {
	case lm.done <- ok:
	default:
	}
}

func newChatRoom(c *Chat, name string) *chatRoom {
	return &chatRoom{c: c, name: name, ready: make(chan struct{}), room: session.NewRoom(name),
		nicks: make(map[string]string), taken: make(map[string]bool), local: make(map[string]*localMember)}
}

// expectJoin registers a joiner before its join is published; the channel
// tells how the join went once delivered.
func (r *chatRoom) expectJoin(key string, s session.Session) <-chan bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	lm := &localMember{s: s, done: make(chan bool, 1)}
	r.local[key] = lm
	return lm.done
}

// expectLeave returns the channel that tells when key's leave is delivered.
func (r *chatRoom) expectLeave(key string) <-chan bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	done := make(chan bool, 1)
	if lm := r.local[key]; lm != nil {
		lm.done = done
	} else {
		done <- true // already dropped, by a gone event
	}
	return done
}

// forget drops a joiner whose join was not delivered; false when it was
// delivered after all.
func (r *chatRoom) forget(key string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if lm := r.local[key]; lm != nil && !lm.joined {
		delete(r.local, key)
		return true
	}
	return false
}

// dropLocal removes a leaver whose leave was not delivered in time and
// sends it left, so it always gets one.
func (r *chatRoom) dropLocal(key string, left ChatEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if lm := r.local[key]; lm != nil {
		delete(r.local, key)
		r.room.Leave(lm.s)
		send(lm.s, left)
	}
}

// Apply implements cluster.Replica.
func (r *chatRoom) Apply(data []byte) {
	var ev wireEvent
	if err := json.Unmarshal(data, &ev); err != nil || !ev.valid() {
		r.c.log.Error().Err(err).Str("room", r.name).Bytes("event", data).Msg("bad event on the bus; ignored")
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	switch ev.Type {
	case wireJoin:
		r.applyJoin(ev)
	case wirePost:
		r.applyPost(ev)
	case wireLeave:
		r.applyLeave(ev)
	case wireGone:
		for _, key := range slices.Clone(r.order) {
			if strings.HasPrefix(key, ev.Node) {
				r.applyLeave(wireEvent{Type: wireLeave, Member: key, TS: ev.TS})
			}
		}
	default:
		r.c.log.Error().Str("room", r.name).Str("type", ev.Type).Msg("unknown event on the bus; ignored")
	}
}

func (r *chatRoom) applyJoin(ev wireEvent) {
	if _, dup := r.nicks[ev.Member]; dup {
		return
	}
	lm := r.local[ev.Member]
	if r.taken[ev.Nick] {
		if lm != nil {
			delete(r.local, ev.Member)
			sendError(lm.s, ErrNickTaken, `the nickname "`+ev.Nick+`" is taken in this room`)
			lm.signal(false)
		}
		return
	}
	r.order = append(r.order, ev.Member)
	r.nicks[ev.Member] = ev.Nick
	r.taken[ev.Nick] = true
	if lm != nil {
		lm.joined = true
		send(lm.s, ChatEvent{Type: "welcome", Room: r.name, Nick: ev.Nick, Members: r.memberList(),
			History: slices.Clone(r.history)})
	}
	r.broadcast(ChatEvent{Type: "joined", Room: r.name, Nick: ev.Nick, TS: ev.TS})
	if lm != nil {
		r.room.Join(lm.s)
		lm.signal(true)
	}
}

func (r *chatRoom) applyPost(ev wireEvent) {
	nick, ok := r.nicks[ev.Member]
	if ev.Member == apiMember {
		nick, ok = ev.Nick, true // a post by the backend API (chat_api.go)
	}
	if !ok {
		return // posted just as it left
	}
	msg := ChatEvent{Type: "message", Room: r.name, Nick: nick, Text: ev.Text, TS: ev.TS}
	r.history = append(r.history, msg)
	if over := len(r.history) - r.c.opts.HistoryLen; over > 0 {
		r.history = append(r.history[:0:0], r.history[over:]...)
	}
	r.broadcast(msg)
}

func (r *chatRoom) applyLeave(ev wireEvent) {
	nick, ok := r.nicks[ev.Member]
	if !ok {
		return
	}
	delete(r.nicks, ev.Member)
	delete(r.taken, nick)
	r.order = slices.DeleteFunc(r.order, func(k string) bool { return k == ev.Member })
	left := ChatEvent{Type: "left", Room: r.name, Nick: nick, TS: ev.TS}
	lm := r.local[ev.Member]
	if lm != nil {
		r.room.Leave(lm.s)
	}
	r.broadcast(left)
	if lm != nil {
		delete(r.local, ev.Member)
		send(lm.s, left)
		lm.signal(true)
	}
	if len(r.order) == 0 {
		r.history = nil // the history goes with the last member, as on one node
	}
}

// Snapshot implements cluster.Replica.
func (r *chatRoom) Snapshot() ([]byte, error) {
	r.mu.Lock()
	snap := roomSnapshot{Members: make([]memberInfo, 0, len(r.order)), History: r.history}
	for _, k := range r.order {
		snap.Members = append(snap.Members, memberInfo{Key: k, Nick: r.nicks[k]})
	}
	b, err := json.Marshal(snap)
	r.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("chat room %q: encode snapshot: %w", r.name, err)
	}
	return b, nil
}

// Restore implements cluster.Replica.
func (r *chatRoom) Restore(data []byte) error {
	var snap roomSnapshot
	if err := json.Unmarshal(data, &snap); err != nil {
		return fmt.Errorf("chat room %q: decode snapshot: %w", r.name, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range snap.Members {
		r.order = append(r.order, m.Key)
		r.nicks[m.Key] = m.Nick
		r.taken[m.Nick] = true
	}
	r.history = snap.History
	return nil
}

// hasMembersOf reports whether some member key starts with prefix.
func (r *chatRoom) hasMembersOf(prefix string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.ContainsFunc(r.order, func(k string) bool { return strings.HasPrefix(k, prefix) })
}

// memberList is the room's nicks in join order; the caller holds r.mu.
func (r *chatRoom) memberList() []string {
	out := make([]string, 0, len(r.order))
	for _, k := range r.order {
		out = append(out, r.nicks[k])
	}
	return out
}

// broadcast sends ev to this node's members; the caller holds r.mu.
func (r *chatRoom) broadcast(ev ChatEvent) { r.room.Broadcast(mustJSON(ev)) }
