package services

import (
	"bytes"
	"encoding/json"

	"github.com/sockgate/sockgate/session"
)

// ChatEvent is what the chat service sends, as JSON: welcome (with Members,
// History, Node, and Recovered when the join asked to resume), joined,
// left, message (with ID), and error (with Error and Message).
type ChatEvent struct {
	Type string `json:"type"`
	// ID orders a message within its room: a decimal integer, greater for
	// later messages, the same on every node (the JetStream sequence in a
	// cluster). A join's "since" takes it back.
	ID      string      `json:"id,omitempty"`
	Room    string      `json:"room,omitempty"`
	Nick    string      `json:"nick,omitempty"`
	Text    string      `json:"text,omitempty"`
	TS      int64       `json:"ts,omitempty"`
	Members []string    `json:"members,omitempty"`
	History []ChatEvent `json:"history,omitempty"`
	// Recovered, in the welcome of a join with since: true when History
	// holds every message after since; false when some are no longer kept
	// (History is then the usual last messages).
	Recovered *bool `json:"recovered,omitempty"`
	// Node is the node that serves the session, in a welcome.
	Node    string `json:"node,omitempty"`
	Error   string `json:"error,omitempty"`
	Message string `json:"message,omitempty"`
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
	// ErrBadSince: a join's since is not a message id.
	ErrBadSince = "bad_since"
	// ErrRateLimited: the member sent more commands than its rate allows;
	// the command was not carried out.
	ErrRateLimited = "rate_limited"
	// ErrRoomFull: the room has MaxMembers members.
	ErrRoomFull = "room_full"
	// ErrUnavailable means the cluster bus could not carry the command
	// (the broker is away, or this node follows too many rooms); the
	// client may try again.
	ErrUnavailable = "unavailable"
)

// ChatError is a refused chat command: the code and text of its error
// event.
type ChatError struct {
	Code    string
	Message string
}

func (e *ChatError) Error() string { return "chat: " + e.Code + ": " + e.Message }

func send(s session.Session, ev ChatEvent) { _ = s.Send(mustJSON(ev)) }

func sendError(s session.Session, code, msg string) {
	send(s, ChatEvent{Type: "error", Error: code, Message: msg})
}

// mustJSON encodes v without HTML escaping: the page shows text with
// textContent, and "\u003c" for each '<' would make a post several times
// bigger for every member.
func mustJSON(v any) string {
	b, err := encodeJSON(v)
	if err != nil {
		panic("services: encode chat event: " + err.Error())
	}
	return string(b)
}

func encodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}), nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
