package services

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
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
	// DefaultResumeLen, DefaultResumeAge and DefaultResumeBytes bound the
	// messages a room keeps for members that come back with since: the
	// last 500, none older than 10 minutes (the NATS stream's MaxAge),
	// 128 KiB of JSON at most.
	DefaultResumeLen   = 500
	DefaultResumeAge   = 10 * time.Minute
	DefaultResumeBytes = 128 << 10
	// DefaultMaxWelcomeBytes bounds a welcome event's JSON: the oldest
	// messages of its history are left out to fit.
	DefaultMaxWelcomeBytes = 256 << 10
	// DefaultMaxMembers bounds a room's members, on all nodes together.
	DefaultMaxMembers = 1000
	// DefaultRate and DefaultBurst bound the commands one member may send:
	// 10 a second on average, 20 at once.
	DefaultRate  = 10
	DefaultBurst = 20
	// DefaultMaxRooms bounds the rooms one node follows on the bus (one
	// JetStream consumer each); DefaultRoomLinger is how long it keeps
	// following a room after its last local member left, so that members
	// switching rooms back and forth do not churn consumers.
	DefaultMaxRooms   = 1000
	DefaultRoomLinger = 30 * time.Second
	// DefaultApplyTimeout bounds how long a join or leave waits for the bus
	// to deliver it back, and how long a publish may take.
	DefaultApplyTimeout = 10 * time.Second
)

// ChatOptions configure the chat service; zero values mean the defaults.
type ChatOptions struct {
	MaxNick    int              // longest nickname, in characters
	MaxText    int              // longest message, in characters
	HistoryLen int              // messages replayed on a plain join
	Now        func() time.Time // clock for event timestamps
	// ResumeLen, ResumeAge and ResumeBytes: see DefaultResumeLen.
	ResumeLen   int
	ResumeAge   time.Duration
	ResumeBytes int
	// MaxWelcomeBytes, MaxMembers, MaxRooms, RoomLinger: see the defaults.
	// A negative RoomLinger stops following a room at once.
	MaxWelcomeBytes int
	MaxMembers      int
	MaxRooms        int
	RoomLinger      time.Duration
	// Rate and Burst: see DefaultRate; a negative Rate means no bound.
	Rate  float64
	Burst int
	// Bus carries room events between nodes; nil means an in-process
	// cluster.Local bus of this Chat's own (a single node).
	Bus cluster.Bus
	// NodeID names this node in welcome events, and starts the keys of
	// this node's members (default: random). When Bus is a
	// cluster.NodeWatcher, its Instance starts the keys instead, so that
	// the members of a node reported gone can be found.
	NodeID string
	// Logger receives the service's log lines (default: none).
	Logger zerolog.Logger
	// ApplyTimeout: see DefaultApplyTimeout.
	ApplyTimeout time.Duration
}

func (o ChatOptions) resolve() ChatOptions {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.MaxNick, DefaultMaxNick)
	def(&o.MaxText, DefaultMaxText)
	def(&o.HistoryLen, DefaultHistoryLen)
	def(&o.ResumeLen, DefaultResumeLen)
	def(&o.ResumeBytes, DefaultResumeBytes)
	def(&o.MaxWelcomeBytes, DefaultMaxWelcomeBytes)
	def(&o.MaxMembers, DefaultMaxMembers)
	def(&o.MaxRooms, DefaultMaxRooms)
	def(&o.Burst, DefaultBurst)
	if o.ResumeAge <= 0 {
		o.ResumeAge = DefaultResumeAge
	}
	if o.RoomLinger == 0 {
		o.RoomLinger = DefaultRoomLinger
	}
	if o.Rate == 0 {
		o.Rate = DefaultRate
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.ApplyTimeout <= 0 {
		o.ApplyTimeout = DefaultApplyTimeout
	}
	return o
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
	rooms map[string]*chatRoom // rooms followed: with members (or joiners) here, or lingering
	warn  zerolog.Logger       // sampled, for invalid bus events
}

// NewChat returns a chat service with no rooms.
func NewChat(opts ChatOptions) *Chat {
	opts = opts.resolve()
	bus := opts.Bus
	if bus == nil {
		bus = cluster.Local()
	}
	c := &Chat{opts: opts, bus: bus, keys: keyPrefix(opts.NodeID), rooms: make(map[string]*chatRoom),
		log: opts.Logger.With().Str("service", "chat").Logger()}
	c.warn = c.log.Sample(&zerolog.BurstSampler{Burst: 5, Period: time.Minute})
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
	if instance == "" || strings.HasPrefix(c.keys, instance+"~") {
		c.log.Error().Str("instance", instance).Msg("refusing to remove this node's own members as gone")
		return
	}
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
		data, err := encodeJSON(ev)
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
	Type  string `json:"type"`
	Room  string `json:"room"`
	Nick  string `json:"nick"`
	Text  string `json:"text"`
	Since string `json:"since"`
}

// member is one session's state in the chat; only its handler goroutine
// touches it.
type member struct {
	s     session.Session
	room  *chatRoom // joined room, nil when none
	key   string    // cluster-wide member key for this join
	nick  string
	quota bucket // commands it may still send
}

// Handler is the session.Handler of the chat service.
func (c *Chat) Handler(ctx context.Context, s session.Session) {
	m := &member{s: s, quota: newBucket(c.opts.Rate, c.opts.Burst, c.opts.Now())}
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
	if !m.quota.take(c.opts.Now()) {
		sendError(m.s, ErrRateLimited, fmt.Sprintf("more than %g commands a second (bursts of %d); this one was not carried out",
			c.opts.Rate, c.opts.Burst))
		return
	}
	var cmd command
	if err := json.Unmarshal([]byte(raw), &cmd); err != nil {
		sendError(m.s, ErrBadJSON, "message is not a JSON object: "+err.Error())
		return
	}
	switch cmd.Type {
	case "join":
		c.join(m, cmd.Room, cmd.Nick, cmd.Since)
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
func (c *Chat) join(m *member, roomName, nick, since string) {
	if u := m.s.Request().User; u != nil && u.Name != "" {
		nick = u.Name // a token's name is its holder's only nickname
	}
	nick, msg := normalizeNick(nick, c.opts.MaxNick)
	if msg != "" {
		sendError(m.s, ErrBadNick, msg)
		return
	}
	if !validRoom(roomName) {
		sendError(m.s, ErrBadRoom, "room names are 1 to 64 letters, digits, '-' or '_'")
		return
	}
	resume, err := parseSince(since)
	if err != nil {
		sendError(m.s, ErrBadSince, err.Error())
		return
	}
	c.leave(m)
	r, err := c.acquire(roomName)
	if err != nil {
		c.unavailable(m.s, "join", roomName, err)
		return
	}
	key := c.keys + "-" + strconv.FormatUint(c.seq.Add(1), 10)
	done := r.expectJoin(key, m.s, resume)
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
	c.log.Info().Str("room", r.name).Str("nick", nick).Str("session", m.s.ID()).
		Str("client", m.s.Request().RemoteAddr.String()).Bool("resumed", resume != nil).Msg("chat join")
}

func (c *Chat) post(m *member, text string) {
	if m.room == nil {
		sendError(m.s, ErrNotJoined, "join a room before posting")
		return
	}
	if err := c.publishPost(m.room.name, m.key, m.nick, text); err != nil {
		var ce *ChatError
		if errors.As(err, &ce) {
			sendError(m.s, ce.Code, ce.Message)
			return
		}
		c.unavailable(m.s, "post", m.room.name, err)
	}
}

// publishPost is the one way into a room for a message: it checks text
// and publishes it; every node gives it its id and delivers it in the
// room's order, as a message event and into the history. key is the
// posting member's (its post is dropped should it have left by then); with
// key "", nick posts without being a member (the backend API), and is
// checked as a join's would be. A refusal is a *ChatError (ErrEmpty,
// ErrTooLong, ErrBadNick, ErrBadRoom); any other error is the bus's (the
// chat is unavailable).
func (c *Chat) publishPost(room, key, nick, text string) error {
	switch {
	case !validRoom(room):
		return &ChatError{ErrBadRoom, "room names are 1 to 64 letters, digits, '-' or '_'"}
	case text == "":
		return &ChatError{ErrEmpty, "empty message"}
	case !utf8.ValidString(text):
		return &ChatError{ErrBadJSON, "message is not valid UTF-8"}
	case utf8.RuneCountInString(text) > c.opts.MaxText:
		return &ChatError{ErrTooLong, fmt.Sprintf("message is longer than %d characters", c.opts.MaxText)}
	}
	if key == "" {
		var msg string
		if nick, msg = normalizeNick(nick, c.opts.MaxNick); msg != "" {
			return &ChatError{ErrBadNick, msg}
		}
	}
	return c.publish(room, wireEvent{Type: wirePost, Member: key, Nick: nick, Text: text, TS: c.now()})
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
	c.log.Info().Str("room", r.name).Str("nick", m.nick).Str("session", m.s.ID()).Msg("chat leave")
}

// errTooManyRooms refuses a join into one more room than MaxRooms.
var errTooManyRooms = errors.New("services: this node follows too many rooms")

// acquire returns this node's replica of room, subscribing to the room on
// the bus when it is the first local user (and the room is not lingering);
// release undoes it.
func (c *Chat) acquire(name string) (*chatRoom, error) {
	c.mu.Lock()
	r := c.rooms[name]
	if r != nil {
		r.refs++
		if r.linger != nil {
			r.linger.Stop()
			r.linger = nil
		}
		c.mu.Unlock()
		<-r.ready
	} else {
		evicted, ok := c.makeRoomLocked()
		if !ok {
			c.mu.Unlock()
			return nil, fmt.Errorf("%w (%d)", errTooManyRooms, c.opts.MaxRooms)
		}
		r = newChatRoom(c, name)
		r.refs++
		c.rooms[name] = r
		c.mu.Unlock()
		if evicted != nil {
			evicted.unsubscribe()
		}
		ctx, cancel := context.WithTimeout(context.Background(), c.opts.ApplyTimeout)
		r.unsubscribe, r.err = c.bus.Subscribe(ctx, name, r)
		cancel()
		close(r.ready)
	}
	if r.err != nil {
		c.mu.Lock()
		r.refs--
		if c.rooms[r.name] == r {
			delete(c.rooms, r.name)
		}
		c.mu.Unlock()
		return nil, r.err
	}
	return r, nil
}

// makeRoomLocked makes space for one more room: true when there is, with
// the lingering room it evicted for it (to unsubscribe once c.mu is
// released), if any: the one idle longest. The caller holds c.mu.
func (c *Chat) makeRoomLocked() (*chatRoom, bool) {
	if len(c.rooms) < c.opts.MaxRooms {
		return nil, true
	}
	var oldest *chatRoom
	for _, r := range c.rooms {
		if r.refs == 0 && r.linger != nil && (oldest == nil || r.idleSince.Before(oldest.idleSince)) {
			oldest = r
		}
	}
	if oldest == nil || !oldest.linger.Stop() {
		return nil, false
	}
	delete(c.rooms, oldest.name)
	return oldest, true
}

// release drops a local user of r; after the last, r lingers for
// RoomLinger before this node stops following the room.
func (c *Chat) release(r *chatRoom) {
	c.mu.Lock()
	r.refs--
	switch {
	case r.refs > 0 || c.rooms[r.name] != r:
	case c.opts.RoomLinger < 0:
		delete(c.rooms, r.name)
		c.mu.Unlock()
		r.unsubscribe()
		return
	default:
		r.idleSince = time.Now()
		r.linger = time.AfterFunc(c.opts.RoomLinger, func() { c.expire(r) })
	}
	c.mu.Unlock()
}

// expire stops following r unless a user came back meanwhile.
func (c *Chat) expire(r *chatRoom) {
	c.mu.Lock()
	if r.refs > 0 || c.rooms[r.name] != r {
		c.mu.Unlock()
		return
	}
	delete(c.rooms, r.name)
	r.linger = nil
	c.mu.Unlock()
	r.unsubscribe()
}

// Following is how many rooms this node follows on the bus (with local
// members, or lingering).
func (c *Chat) Following() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.rooms)
}

func (c *Chat) publish(room string, ev wireEvent) error {
	data, err := encodeJSON(ev)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.opts.ApplyTimeout)
	defer cancel()
	return c.bus.Publish(ctx, room, data)
}

func (c *Chat) unavailable(s session.Session, what, room string, err error) {
	c.warn.Warn().Err(err).Str("room", room).Str("session", s.ID()).Msg(what + " failed on the cluster bus")
	msg := "the chat is unavailable just now; try again"
	if errors.Is(err, errTooManyRooms) {
		msg = fmt.Sprintf("this node already follows %d rooms; try again later", c.opts.MaxRooms)
	}
	sendError(s, ErrUnavailable, msg)
}

// parseSince reads a join's since: "" for none, else a message id.
func parseSince(since string) (*uint64, error) {
	if since == "" {
		return nil, nil
	}
	id, err := strconv.ParseUint(since, 10, 64)
	if err != nil || len(since) > 20 {
		return nil, fmt.Errorf("since %q is not a message id (the id of the last message seen, a decimal number)", truncate(since, 32))
	}
	return &id, nil
}

func (c *Chat) now() int64 { return c.opts.Now().UnixMilli() }

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
