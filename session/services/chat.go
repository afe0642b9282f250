package services

import (
	"context"
	"encoding/json"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/sockgate/sockgate/session"
)

// Chat defaults.
const (
	DefaultMaxNick    = 32
	DefaultMaxText    = 2000
	DefaultMaxRoom    = 64
	DefaultHistoryLen = 50
)

// ChatOptions configure the chat service; zero values mean the defaults.
type ChatOptions struct {
	MaxNick    int              // longest nickname, in characters
	MaxText    int              // longest message, in characters
	HistoryLen int              // messages replayed on join
	Now        func() time.Time // clock for event timestamps
}

// Chat is a multi-room chat service over SockJS. Clients send JSON
// commands ({"type":"join","room":..,"nick":..}, {"type":"post","text":..},
// {"type":"leave"}) and get JSON events (welcome, joined, left, message,
// error). Every member of a room sees its events in the same order. Safe for
// concurrent use.
type Chat struct {
	opts  ChatOptions
	mu    sync.Mutex
	rooms map[string]*chatRoom
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
	return &Chat{opts: opts, rooms: make(map[string]*chatRoom)}
}

// chatRoom is one room: its members' nicks, its history and the session
// room that broadcasts. mu orders events: whoever holds it appends to the
// history and broadcasts, so all members see one order.
type chatRoom struct {
	name    string
	room    *session.Room
	mu      sync.Mutex
	nicks   map[session.Session]string
	order   []session.Session // join order, for the member list
	history []event
}

// command is what a client sends.
type command struct {
	Type string `json:"type"`
	Room string `json:"room"`
	Nick string `json:"nick"`
	Text string `json:"text"`
}

// event is what the service sends.
type event struct {
	Type    string   `json:"type"`
	Room    string   `json:"room,omitempty"`
	Nick    string   `json:"nick,omitempty"`
	Text    string   `json:"text,omitempty"`
	TS      int64    `json:"ts,omitempty"`
	Members []string `json:"members,omitempty"`
	History []event  `json:"history,omitempty"`
	Error   string   `json:"error,omitempty"`
	Message string   `json:"message,omitempty"`
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
)

// member is one session's state in the chat.
type member struct {
	s    session.Session
	room *chatRoom
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

func (c *Chat) join(m *member, roomName, nick string) {
	if msg := c.checkNick(nick); msg != "" {
		sendError(m.s, ErrBadNick, msg)
		return
	}
	if !validRoom(roomName) {
		sendError(m.s, ErrBadRoom, "room names are 1 to 64 letters, digits, '-' or '_'")
		return
	}
	c.leave(m)
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.rooms[roomName]
	if r == nil {
		r = &chatRoom{name: roomName, room: session.NewRoom(roomName), nicks: make(map[session.Session]string)}
		c.rooms[roomName] = r
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, n := range r.nicks {
		if n == nick {
			sendError(m.s, ErrNickTaken, `the nickname "`+nick+`" is taken in this room`)
			return
		}
	}
	r.nicks[m.s] = nick
	r.order = append(r.order, m.s)
	m.room, m.nick = r, nick
	send(m.s, event{Type: "welcome", Room: r.name, Nick: nick, Members: r.memberList(),
		History: append([]event(nil), r.history...)})
	r.broadcast(event{Type: "joined", Room: r.name, Nick: nick, TS: c.now()})
	r.room.Join(m.s)
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
	ev := event{Type: "message", Room: r.name, Nick: m.nick, Text: text, TS: c.now()}
	r.mu.Lock()
	r.history = append(r.history, ev)
	if over := len(r.history) - c.opts.HistoryLen; over > 0 {
		r.history = append(r.history[:0:0], r.history[over:]...)
	}
	r.broadcast(ev)
	r.mu.Unlock()
}

func (c *Chat) leave(m *member) {
	r := m.room
	if r == nil {
		return
	}
	left := event{Type: "left", Room: r.name, Nick: m.nick, TS: c.now()}
	c.mu.Lock()
	r.mu.Lock()
	r.room.Leave(m.s)
	delete(r.nicks, m.s)
	for i, s := range r.order {
		if s == m.s {
			r.order = append(r.order[:i], r.order[i+1:]...)
			break
		}
	}
	r.broadcast(left)
	if len(r.nicks) == 0 && c.rooms[r.name] == r {
		delete(c.rooms, r.name) // its history goes with it
	}
	r.mu.Unlock()
	c.mu.Unlock()
	send(m.s, left)
	m.room, m.nick = nil, ""
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

// memberList is the room's nicks in join order; the caller holds r.mu.
func (r *chatRoom) memberList() []string {
	out := make([]string, 0, len(r.order))
	for _, s := range r.order {
		out = append(out, r.nicks[s])
	}
	return out
}

// broadcast sends ev to every member; the caller holds r.mu.
func (r *chatRoom) broadcast(ev event) { r.room.Broadcast(mustJSON(ev)) }

func send(s session.Session, ev event) { _ = s.Send(mustJSON(ev)) }

func sendError(s session.Session, code, msg string) {
	send(s, event{Type: "error", Error: code, Message: msg})
}

func mustJSON(ev event) string {
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
