package services

import (
	"context"
	"fmt"
	"slices"
	"unicode/utf8"
)

// apiMember is the member key of posts made through the backend API: the
// replicas take its posts under the nick the event carries (see
// chatRoom.applyPost), as no member holds this key.
const apiMember = "~api"

// DefaultAPINick is the nick of an API post that names none.
const DefaultAPINick = "system"

// InputError is a request to the chat's API that cannot be carried out as
// given (a bad room, nick or text). Code is one of the Err* codes.
type InputError struct {
	Code string
	Msg  string
}

func (e *InputError) Error() string { return "chat: " + e.Code + ": " + e.Msg }

// BadInput marks the error as the caller's fault (HTTP 400).
func (e *InputError) BadInput() bool { return true }

// RoomState is a room as the API shows it: its members (nicks, in join
// order, on every node) and its last messages.
type RoomState struct {
	Room    string      `json:"room"`
	Members []string    `json:"members"`
	History []ChatEvent `json:"history"`
}

// PostMessage posts text into room as nick, as a member would: the post
// goes through the room's bus, so it becomes a message event with the
// room's order and history on every node. A room with no members anywhere
// keeps nothing (its history goes with its last member).
func (c *Chat) PostMessage(ctx context.Context, room, nick, text string) error {
	if nick == "" {
		nick = DefaultAPINick
	}
	switch {
	case !validRoom(room):
		return &InputError{ErrBadRoom, "room names are 1 to 64 letters, digits, '-' or '_'"}
	case c.checkNick(nick) != "":
		return &InputError{ErrBadNick, c.checkNick(nick)}
	case text == "":
		return &InputError{ErrEmpty, "empty message"}
	case utf8.RuneCountInString(text) > c.opts.MaxText:
		return &InputError{ErrTooLong, "message longer than the limit"}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := c.publish(room, wireEvent{Type: wirePost, Member: apiMember, Nick: nick, Text: text, TS: c.now()}); err != nil {
		return fmt.Errorf("chat: post into %q: %w", room, err)
	}
	return nil
}

// Room returns room's members and last messages, from this node's replica
// (made for the call when this node has none: the bus then brings the
// room's state from a node that has it).
func (c *Chat) Room(ctx context.Context, room string) (RoomState, error) {
	if !validRoom(room) {
		return RoomState{}, &InputError{ErrBadRoom, "room names are 1 to 64 letters, digits, '-' or '_'"}
	}
	if err := ctx.Err(); err != nil {
		return RoomState{}, err
	}
	r, err := c.acquire(room)
	if err != nil {
		return RoomState{}, fmt.Errorf("chat: read room %q: %w", room, err)
	}
	defer c.release(r)
	r.mu.Lock()
	defer r.mu.Unlock()
	st := RoomState{Room: room, Members: r.memberList(), History: slices.Clone(r.history)}
	if st.History == nil {
		st.History = []ChatEvent{}
	}
	return st, nil
}
