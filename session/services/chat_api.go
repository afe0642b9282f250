package services

import (
	"context"
	"errors"
	"fmt"
)

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
	if err := ctx.Err(); err != nil {
		return err
	}
	err := c.publishPost(room, "", nick, text)
	var ce *ChatError
	if errors.As(err, &ce) {
		return &InputError{ce.Code, ce.Message}
	}
	if err != nil {
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
	r.prune()
	st := RoomState{Room: room, Members: r.memberList(), History: []ChatEvent{}}
	for _, m := range r.history[max(0, len(r.history)-c.opts.HistoryLen):] {
		st.History = append(st.History, m.ev)
	}
	return st, nil
}
