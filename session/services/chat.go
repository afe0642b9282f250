package services

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/rs/zerolog"

	"github.com/sockgate/sockgate/session"
	"github.com/sockgate/sockgate/session/cluster"
)

// Chat defaults.
const (
	DefaultMaxNick    = 32
	DefaultMaxText    = 2000
	DefaultMaxRoom    = 64
	DefaultHistoryLen = 50
	// DefaultApplyTimeout bounds how long a join or leave waits for the bus
	// to deliver it back, and how long a publish may take.
	DefaultApplyTimeout = 10 * time.Second
)

// ChatOptions configure the chat service; zero values mean the defaults.
type ChatOptions struct {
	MaxNick    int              // longest nickname, in characters
	MaxText    int              // longest message, in characters
	HistoryLen int              // messages replayed on join
	Now        func() time.Time // clock for event timestamps
	// Bus carries room events between nodes; nil means an in-process
	// cluster.Local bus of this Chat's own (a single node).
	Bus cluster.Bus
	// NodeID starts the keys of this node's members (default: random).
	// When Bus is a cluster.NodeWatcher, its Instance does instead, so
	// that the members of a node reported gone can be found.
	NodeID string
	// Logger receives the service's log lines (default: none).
	Logger zerolog.Logger
	// ApplyTimeout: see DefaultApplyTimeout.
	ApplyTimeout time.Duration
}

// Chat is a multi-room chat service over SockJS. Clients send JSON
// commands ({"type":"join","room":..,"nick":..}, {"type":"post","text":..},
// {"type":"leave"}) and get JSON events (welcome, joined, left, message,
// error).
//
// A room may span nodes: joins, posts and leaves are published on the
// cluster.Bus and applied only when the bus delivers them, on every node in
// the same order, so every member sees the room's events in one order
// whichever node it is on. Each node keeps a replica of each room it has
// members in (the member list and the last HistoryLen messages) and
// broadcasts to its own members. Safe for concurrent use.
type Chat struct {
	opts ChatOptions
	bus  cluster.Bus
	log  zerolog.Logger
	keys string        // prefix of member keys, unique to this Chat
	seq  atomic.Uint64 // member key counter

	mu    sync.Mutex
	rooms map[string]*chatRoom // rooms with members (or joiners) here
}

// NewChat returns a chat service with no rooms.
func NewChat(opts ChatOptions) *Chat {
	if opts.MaxNick <= 0 {
		opts.MaxNick = DefaultMaxNick
	}
	if opts.MaxText <= 0 {
		opts.MaxText = DefaultMaxText
	}
	if opts.HistoryLen <= 0 {
		opts.HistoryLen = DefaultHistoryLen
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.ApplyTimeout <= 0 {
		opts.ApplyTimeout = DefaultApplyTimeout
	}
	bus := opts.Bus
	if bus == nil {
		bus = cluster.Local()
	}
	c := &Chat{opts: opts, bus: bus, keys: keyPrefix(opts.NodeID), rooms: make(map[string]*chatRoom),
		log: opts.Logger.With().Str("service", "chat").Logger()}
	if w, ok := bus.(cluster.NodeWatcher); ok {
		c.keys = keyPrefix(w.Instance())
		w.OnNodeGone(c.nodeGone)
	}
	return c
}

// nodeGone publishes a gone event into each room of this node where the
// crashed node instance still has members. Every node applies it at the
// same place in the room's order, dropping those members; as applying it
// twice does nothing more, several survivors reporting one node is fine.
func (c *Chat) nodeGone(ctx context.Context, instance string) {
	c.mu.Lock()
	rooms := make([]*chatRoom, 0, len(c.rooms))
	for _, r := range c.rooms {
		rooms = append(rooms, r)
	}
	c.mu.Unlock()
	ev := wireEvent{Type: wireGone, Node: instance + "~", TS: c.now()}
	for _, r := range rooms {
		if !r.hasMembersOf(ev.Node) {
			continue
		}
		data, err := json.Marshal(ev)
		if err == nil {
			pctx, cancel := context.WithTimeout(ctx, c.opts.ApplyTimeout)
			err = c.bus.Publish(pctx, r.name, data)
			cancel()
		}
		if err != nil {
			c.log.Warn().Err(err).Str("room", r.name).Str("instance", instance).Msg("gone node's members not removed")
			continue
		}
		c.log.Info().Str("room", r.name).Str("instance", instance).Msg("removing a gone node's members")
	}
}

// keyPrefix is node + a random part, so that two Chats (or a restarted
// node) never share member keys.
func keyPrefix(node string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	if node == "" {
		return hex.EncodeToString(b[:])
	}
	return node + "~" + hex.EncodeToString(b[:])
}

// command is what a client sends.
type command struct {
	Type string `json:"type"`
	Room string `json:"room"`
	Nick string `json:"nick"`
	Text string `json:"text"`
}

// ChatEvent is what the chat service sends, as JSON: welcome (with Members
// and History), joined, left, message, and error (with Error and Message).
type ChatEvent struct {
	Type    string      `json:"type"`
	Room    string      `json:"room,omitempty"`
	Nick    string      `json:"nick,omitempty"`
	Text    string      `json:"text,omitempty"`
	TS      int64       `json:"ts,omitempty"`
	Members []string    `json:"members,omitempty"`
	History []ChatEvent `json:"history,omitempty"`
	Error   string      `json:"error,omitempty"`
	Message string      `json:"message,omitempty"`
}

// Error codes of error events.
const (
	ErrBadJSON     = "bad_json"
	ErrUnknownType = "unknown_type"
	ErrBadNick     = "bad_nick"
	ErrNickTaken   = "nick_taken"
	ErrBadRoom     = "bad_room"
	ErrTooLong     = "too_long"
	ErrEmpty       = "empty"
	ErrNotJoined   = "not_joined"
	// ErrUnavailable means the cluster bus could not carry the command
	// (the broker is away); the client may try again.
	ErrUnavailable = "unavailable"
)

// member is one session's state in the chat; only its handler goroutine
// touches it.
type member struct {
	s    session.Session
	room *chatRoom // joined room, nil when none
	key  string    // cluster-wide member key for this join
	nick string
}

// Handler is the session.Handler of the chat service.
func (c *Chat) Handler(ctx context.Context, s session.Session) {
	m := &member{s: s}
	defer c.leave(m)
	for {
		raw, err := s.Recv(ctx)
		if err != nil {
			return
		}
		c.handle(m, raw)
	}
}

func (c *Chat) handle(m *member, raw string) {
	var cmd command
	if err := json.Unmarshal([]byte(raw), &cmd); err != nil {
		sendError(m.s, ErrBadJSON, "message is not a JSON object: "+err.Error())
		return
	}
	switch cmd.Type {
	case "join":
		c.join(m, cmd.Room, cmd.Nick)
	case "post":
		c.post(m, cmd.Text)
	case "leave":
		c.leave(m)
	default:
		sendError(m.s, ErrUnknownType, `unknown message type "`+truncate(cmd.Type, 32)+`" (want join, post or leave)`)
	}
}

// join publishes the join and waits for its delivery, where the replica
// either welcomes the member or answers nick_taken.
func (c *Chat) join(m *member, roomName, nick string) {
	if u := m.s.Request().User; u != nil && u.Name != "" {
		nick = u.Name // a token's name is its holder's only nickname
	}
	if msg := c.checkNick(nick); msg != "" {
		sendError(m.s, ErrBadNick, msg)
		return
	}
	if !validRoom(roomName) {
		sendError(m.s, ErrBadRoom, "room names are 1 to 64 letters, digits, '-' or '_'")
		return
	}
	c.leave(m)
	r, err := c.acquire(roomName)
	if err != nil {
		c.unavailable(m.s, "join", roomName, err)
		return
	}
	key := c.keys + "-" + strconv.FormatUint(c.seq.Add(1), 10)
	done := r.expectJoin(key, m.s)
	if err := c.publish(r.name, wireEvent{Type: wireJoin, Member: key, Nick: nick, TS: c.now()}); err != nil {
		r.forget(key)
		c.release(r)
		c.unavailable(m.s, "join", roomName, err)
		return
	}
	var joined bool
	select {
	case joined = <-done:
	case <-time.After(c.opts.ApplyTimeout):
		if r.forget(key) { // still not delivered: give up, and undo it should it come
			_ = c.publish(r.name, wireEvent{Type: wireLeave, Member: key, Nick: nick, TS: c.now()})
			c.release(r)
			c.unavailable(m.s, "join", roomName, errors.New("join not delivered in time"))
			return
		}
		joined = <-done // delivered just now
	}
	if !joined { // nick_taken was sent on delivery
		c.release(r)
		return
	}
	m.room, m.key, m.nick = r, key, nick
}

func (c *Chat) post(m *member, text string) {
	r := m.room
	switch {
	case r == nil:
		sendError(m.s, ErrNotJoined, "join a room before posting")
		return
	case text == "":
		sendError(m.s, ErrEmpty, "empty message")
		return
	case utf8.RuneCountInString(text) > c.opts.MaxText:
		sendError(m.s, ErrTooLong, "message longer than the limit")
		return
	}
	ev := wireEvent{Type: wirePost, Member: m.key, Nick: m.nick, Text: text, TS: c.now()}
	if err := c.publish(r.name, ev); err != nil {
		c.unavailable(m.s, "post", r.name, err)
	}
}

// leave publishes the leave and waits for its delivery, which sends the
// member its left event; if that does not come in time (the broker is
// away) the member is dropped here and gets its left event all the same.
func (c *Chat) leave(m *member) {
	r := m.room
	if r == nil {
		return
	}
	m.room = nil
	left := wireEvent{Type: wireLeave, Member: m.key, Nick: m.nick, TS: c.now()}
	done := r.expectLeave(m.key)
	if err := c.publish(r.name, left); err != nil {
		c.log.Warn().Err(err).Str("room", r.name).Str("nick", m.nick).Msg("leave not published")
	} else {
		select {
		case <-done:
		case <-time.After(c.opts.ApplyTimeout):
			c.log.Warn().Str("room", r.name).Str("nick", m.nick).Msg("leave not delivered in time")
		}
	}
	r.dropLocal(m.key, ChatEvent{Type: "left", Room: r.name, Nick: m.nick, TS: left.TS})
	c.release(r)
}

// acquire returns this node's replica of room, subscribing to the room on
// the bus when it is the first local user; release undoes it.
func (c *Chat) acquire(name string) (*chatRoom, error) {
	c.mu.Lock()
	r := c.rooms[name]
	if r != nil {
		r.refs++
		c.mu.Unlock()
		<-r.ready
	} else {
		r = newChatRoom(c, name)
		r.refs++
		c.rooms[name] = r
		c.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), c.opts.ApplyTimeout)
		r.unsubscribe, r.err = c.bus.Subscribe(ctx, name, r)
		cancel()
		close(r.ready)
	}
	if r.err != nil {
		c.release(r)
		return nil, r.err
	}
	return r, nil
}

func (c *Chat) release(r *chatRoom) {
	c.mu.Lock()
	r.refs--
	last := r.refs == 0
	if last && c.rooms[r.name] == r {
		delete(c.rooms, r.name)
	}
	c.mu.Unlock()
	if last && r.unsubscribe != nil {
		r.unsubscribe()
	}
}

func (c *Chat) publish(room string, ev wireEvent) error {
	data, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.opts.ApplyTimeout)
	defer cancel()
	return c.bus.Publish(ctx, room, data)
}

func (c *Chat) unavailable(s session.Session, what, room string, err error) {
	c.log.Warn().Err(err).Str("room", room).Str("session", s.ID()).Msg(what + " failed on the cluster bus")
	sendError(s, ErrUnavailable, "the chat is unavailable just now; try again")
}

func (c *Chat) now() int64 { return c.opts.Now().UnixMilli() }

func (c *Chat) checkNick(nick string) string {
	n := utf8.RuneCountInString(nick)
	switch {
	case n == 0:
		return "nickname is empty"
	case n > c.opts.MaxNick:
		return "nickname is longer than the limit"
	}
	for _, r := range nick {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return "nickname has control or invalid characters"
		}
	}
	return ""
}

func validRoom(name string) bool {
	if name == "" || len(name) > DefaultMaxRoom {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func send(s session.Session, ev ChatEvent) { _ = s.Send(mustJSON(ev)) }

func sendError(s session.Session, code, msg string) {
	send(s, ChatEvent{Type: "error", Error: code, Message: msg})
}

func mustJSON(ev ChatEvent) string {
	b, err := json.Marshal(ev)
	if err != nil {
		panic("services: encode chat event: " + err.Error())
	}
	return string(b)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
