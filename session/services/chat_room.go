package services

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

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
// members it drops; a post with no Member is the backend API's, from Nick.
// TS is stamped once, by the node that publishes.
type wireEvent struct {
	Type   string `json:"type"`
	Member string `json:"member,omitempty"`
	Node   string `json:"node,omitempty"`
	Nick   string `json:"nick,omitempty"`
	Text   string `json:"text,omitempty"`
	TS     int64  `json:"ts"`
}

// maxKey bounds a member key or gone prefix read from the bus.
const maxKey = 256

// checkWire says what is wrong with an event read from the bus, or "":
// anyone who can publish on the bus may have written it.
func (c *Chat) checkWire(ev *wireEvent) string {
	switch {
	case ev.TS <= 0:
		return "no timestamp"
	case len(ev.Member) > maxKey || len(ev.Node) > maxKey:
		return "oversized member key"
	}
	switch ev.Type {
	case wireJoin:
		if ev.Member == "" {
			return "join without a member"
		}
		return c.checkWireNick(ev.Nick)
	case wirePost:
		if n := utf8.RuneCountInString(ev.Text); n == 0 || n > c.opts.MaxText || !utf8.ValidString(ev.Text) {
			return "post text empty, too long or not UTF-8"
		}
		if ev.Member == "" {
			return c.checkWireNick(ev.Nick)
		}
	case wireLeave:
		if ev.Member == "" {
			return "leave without a member"
		}
	case wireGone:
		if ev.Node == "" || !strings.HasSuffix(ev.Node, "~") {
			return "gone without a node"
		}
	default:
		return "unknown type"
	}
	return ""
}

// checkWireNick accepts only a nickname as a join would leave it.
func (c *Chat) checkWireNick(nick string) string {
	if n, msg := normalizeNick(nick, c.opts.MaxNick); msg != "" || n != nick {
		return "bad nickname"
	}
	return ""
}

// roomSnapshot is a replica's state, as sent to a late node.
type roomSnapshot struct {
	Members []memberInfo `json:"members"`
	History []ChatEvent  `json:"history"`
	// Dropped is the id of the newest message no longer kept (0: none).
	Dropped uint64 `json:"dropped"`
}

type memberInfo struct {
	Key  string `json:"key"`
	Nick string `json:"nick"`
}

// keptMessage is one message of a room's history, with its encoded size.
type keptMessage struct {
	ev   ChatEvent
	seq  uint64
	size int // bytes of its JSON
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
	refs        int         // local users (members and joiners); guarded by Chat.mu
	linger      *time.Timer // set while nobody here uses the room; guarded by Chat.mu
	idleSince   time.Time   // when linger was set; guarded by Chat.mu

	mu        sync.Mutex
	room      *session.Room           // this node's members, for broadcasts
	order     []string                // member keys in join order
	nicks     map[string]string       // member key -> nick
	taken     map[string]bool         // nickKey of the nicks in use
	history   []keptMessage           // the messages kept for resumes, oldest first
	histBytes int                     // their JSON's size
	dropped   uint64                  // id of the newest message no longer kept
	last      uint64                  // seq of the last event applied (or restored at)
	local     map[string]*localMember // this node's members and joiners, by key
}

// localMember is one of this node's sessions in the room.
type localMember struct {
	s      session.Session
	since  *uint64 // the join's since, if any
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
func (r *chatRoom) expectJoin(key string, s session.Session, since *uint64) <-chan bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	lm := &localMember{s: s, since: since, done: make(chan bool, 1)}
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
func (r *chatRoom) Apply(seq uint64, data []byte) {
	var ev wireEvent
	why := ""
	if err := json.Unmarshal(data, &ev); err != nil {
		why = err.Error()
	} else {
		why = r.c.checkWire(&ev)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.last = seq
	if why != "" {
		r.c.warn.Warn().Str("room", r.name).Uint64("seq", seq).Str("why", why).Int("bytes", len(data)).
			Msg("invalid event on the bus; dropped")
		return
	}
	switch ev.Type {
	case wireJoin:
		r.applyJoin(ev)
	case wirePost:
		r.applyPost(seq, ev)
	case wireLeave:
		r.applyLeave(ev)
	case wireGone:
		for _, key := range slices.Clone(r.order) {
			if strings.HasPrefix(key, ev.Node) {
				r.applyLeave(wireEvent{Type: wireLeave, Member: key, TS: ev.TS})
			}
		}
	}
}

func (r *chatRoom) applyJoin(ev wireEvent) {
	if _, dup := r.nicks[ev.Member]; dup {
		return
	}
	lm := r.local[ev.Member]
	refuse := func(code, msg string) {
		if lm != nil {
			delete(r.local, ev.Member)
			sendError(lm.s, code, msg)
			lm.signal(false)
		}
	}
	switch {
	case r.taken[nickKey(ev.Nick)]:
		refuse(ErrNickTaken, `the nickname "`+ev.Nick+`" is taken in this room`)
		return
	case len(r.order) >= r.c.opts.MaxMembers:
		refuse(ErrRoomFull, fmt.Sprintf("the room has %d members, its limit", r.c.opts.MaxMembers))
		return
	}
	r.order = append(r.order, ev.Member)
	r.nicks[ev.Member] = ev.Nick
	r.taken[nickKey(ev.Nick)] = true
	if lm != nil {
		lm.joined = true
		send(lm.s, r.welcome(ev.Nick, lm.since))
	}
	r.broadcast(ChatEvent{Type: "joined", Room: r.name, Nick: ev.Nick, TS: ev.TS})
	if lm != nil {
		r.room.Join(lm.s)
		lm.signal(true)
	}
}

// welcome is a joiner's welcome: every message after since when the room
// still keeps them all (recovered), else the last HistoryLen; in both
// cases within MaxWelcomeBytes. The caller holds r.mu.
func (r *chatRoom) welcome(nick string, since *uint64) ChatEvent {
	r.prune()
	ev := ChatEvent{Type: "welcome", Room: r.name, Nick: nick, Members: r.memberList(), Node: r.c.opts.NodeID}
	var hist []keptMessage
	if since != nil {
		recovered := r.dropped <= *since && *since <= r.last
		if recovered {
			i, _ := slices.BinarySearchFunc(r.history, *since+1, func(m keptMessage, seq uint64) int { return cmp.Compare(m.seq, seq) })
			hist = r.history[i:]
		}
		ev.Recovered = &recovered
	}
	if since == nil || !*ev.Recovered {
		hist = r.history[max(0, len(r.history)-r.c.opts.HistoryLen):]
	}
	room := r.c.opts.MaxWelcomeBytes - len(mustJSON(ev)) - len(`,"history":[]`)
	if ev.Recovered != nil && *ev.Recovered && historyBytes(hist) > room {
		*ev.Recovered = false // too much to replay in one welcome
		hist = r.history[max(0, len(r.history)-r.c.opts.HistoryLen):]
	}
	start := len(hist)
	for used := 0; start > 0 && used+hist[start-1].size+1 <= room; start-- {
		used += hist[start-1].size + 1
	}
	for _, m := range hist[start:] {
		ev.History = append(ev.History, m.ev)
	}
	return ev
}

// historyBytes is the size of hist in a JSON array.
func historyBytes(hist []keptMessage) int {
	n := 0
	for _, m := range hist {
		n += m.size + 1
	}
	return n
}

func (r *chatRoom) applyPost(seq uint64, ev wireEvent) {
	nick := ev.Nick
	if ev.Member != "" {
		var ok bool
		if nick, ok = r.nicks[ev.Member]; !ok {
			return // posted just as it left
		}
	}
	msg := ChatEvent{Type: "message", ID: strconv.FormatUint(seq, 10), Room: r.name, Nick: nick, Text: ev.Text, TS: ev.TS}
	encoded := mustJSON(msg)
	r.history = append(r.history, keptMessage{ev: msg, seq: seq, size: len(encoded)})
	r.histBytes += len(encoded)
	r.prune()
	r.room.Broadcast(encoded)
}

// prune drops the oldest messages beyond ResumeLen, ResumeBytes or
// ResumeAge. The caller holds r.mu.
func (r *chatRoom) prune() {
	o := r.c.opts
	oldest := o.Now().Add(-o.ResumeAge).UnixMilli()
	n := 0
	for n < len(r.history) && (len(r.history)-n > o.ResumeLen || r.histBytes > o.ResumeBytes || r.history[n].ev.TS < oldest) {
		r.dropped = r.history[n].seq
		r.histBytes -= r.history[n].size
		n++
	}
	if n > 0 {
		r.history = slices.Delete(r.history, 0, n)
	}
}

func (r *chatRoom) applyLeave(ev wireEvent) {
	nick, ok := r.nicks[ev.Member]
	if !ok {
		return
	}
	delete(r.nicks, ev.Member)
	delete(r.taken, nickKey(nick))
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
	if len(r.order) == 0 && len(r.history) > 0 { // the history goes with the last member, as on one node
		r.dropped = r.history[len(r.history)-1].seq
		r.history, r.histBytes = nil, 0
	}
}

// Snapshot implements cluster.Replica.
func (r *chatRoom) Snapshot() ([]byte, error) {
	r.mu.Lock()
	snap := roomSnapshot{Members: make([]memberInfo, 0, len(r.order)), History: make([]ChatEvent, 0, len(r.history)),
		Dropped: r.dropped}
	for _, k := range r.order {
		snap.Members = append(snap.Members, memberInfo{Key: k, Nick: r.nicks[k]})
	}
	for _, m := range r.history {
		snap.History = append(snap.History, m.ev)
	}
	b, err := encodeJSON(snap)
	r.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("chat room %q: encode snapshot: %w", r.name, err)
	}
	return b, nil
}

// Restore implements cluster.Replica. A snapshot is checked whole before
// any of it is used: members and messages well formed, no more members
// than MaxMembers, message ids increasing and not beyond seq; its history
// is cut to what this node keeps (ResumeLen, ResumeBytes, ResumeAge).
func (r *chatRoom) Restore(seq uint64, data []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if data == nil {
		r.last, r.dropped = seq, seq // whatever came before is unknown here
		return nil
	}
	var snap roomSnapshot
	if err := json.Unmarshal(data, &snap); err != nil {
		return fmt.Errorf("chat room %q: decode snapshot: %w", r.name, err)
	}
	hist, err := r.checkSnapshot(seq, &snap)
	if err != nil {
		return fmt.Errorf("chat room %q: snapshot at %d: %w", r.name, seq, err)
	}
	for _, m := range snap.Members {
		r.order = append(r.order, m.Key)
		r.nicks[m.Key] = m.Nick
		r.taken[nickKey(m.Nick)] = true
	}
	r.history, r.dropped, r.last = hist, snap.Dropped, seq
	for _, m := range hist {
		r.histBytes += m.size
	}
	r.prune()
	return nil
}

// checkSnapshot validates snap, taken at seq, and returns its history.
func (r *chatRoom) checkSnapshot(seq uint64, snap *roomSnapshot) ([]keptMessage, error) {
	if len(snap.Members) > r.c.opts.MaxMembers {
		return nil, fmt.Errorf("%d members, over %d", len(snap.Members), r.c.opts.MaxMembers)
	}
	keys, nicks := map[string]bool{}, map[string]bool{}
	for _, m := range snap.Members {
		if m.Key == "" || len(m.Key) > maxKey || keys[m.Key] || nicks[nickKey(m.Nick)] || r.c.checkWireNick(m.Nick) != "" {
			return nil, fmt.Errorf("bad or repeated member %q", truncate(m.Key, 64))
		}
		keys[m.Key], nicks[nickKey(m.Nick)] = true, true
	}
	if snap.Dropped > seq {
		return nil, fmt.Errorf("dropped %d beyond the snapshot's position", snap.Dropped)
	}
	hist := make([]keptMessage, 0, len(snap.History))
	prev := snap.Dropped
	for _, m := range snap.History {
		id, err := strconv.ParseUint(m.ID, 10, 64)
		w := wireEvent{Type: wirePost, Nick: m.Nick, Text: m.Text, TS: m.TS}
		if err != nil || id <= prev || id > seq || m.Type != "message" || m.Room != r.name || r.c.checkWire(&w) != "" {
			return nil, fmt.Errorf("bad message %q", truncate(m.ID, 24))
		}
		prev = id
		hist = append(hist, keptMessage{ev: m, seq: id, size: len(mustJSON(m))})
	}
	if over := len(hist) - r.c.opts.ResumeLen; over > 0 { // keep no more than this node would
		snap.Dropped = hist[over-1].seq
		hist = hist[over:]
	}
	return hist, nil
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
