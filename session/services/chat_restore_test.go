package services

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// snapshotOf is a room snapshot with n members and messages 1..msgs.
func snapshotOf(t *testing.T, room string, members, msgs int) roomSnapshot {
	t.Helper()
	var s roomSnapshot
	for i := range members {
		s.Members = append(s.Members, memberInfo{Key: fmt.Sprintf("n~k-%d", i), Nick: fmt.Sprint("u", i)})
	}
	for i := 1; i <= msgs; i++ {
		s.History = append(s.History, ChatEvent{Type: "message", ID: fmt.Sprint(i), Room: room, Nick: "u0", Text: "hi", TS: 1})
	}
	return s
}

func encode(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRestoreCapsHistory: a snapshot with more messages than this node
// keeps is cut to ResumeLen, the newest, and what was cut counts as not
// kept (a resume from before it is not recovered).
func TestRestoreCapsHistory(t *testing.T) {
	t.Parallel()
	c := NewChat(ChatOptions{ResumeLen: 100, Now: func() time.Time { return time.UnixMilli(1000) }})
	r := newChatRoom(c, "r")
	if err := r.Restore(5000, encode(t, snapshotOf(t, "r", 2, 600))); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	if len(r.history) != 100 || r.history[0].seq != 501 || r.dropped != 500 {
		t.Fatalf("restored %d messages from %d, dropped %d; want 100 from 501, dropped 500", len(r.history), r.history[0].seq, r.dropped)
	}
	since := uint64(499)
	if ev := r.welcome("x", &since); *ev.Recovered {
		t.Fatal("resume from before the cut: recovered")
	}
}

// TestRestoreRefusesForgeries: snapshots no node would send are refused
// whole, and the replica is left empty.
func TestRestoreRefusesForgeries(t *testing.T) {
	t.Parallel()
	c := NewChat(ChatOptions{MaxMembers: 10, Now: func() time.Time { return time.UnixMilli(1000) }})
	good := func() roomSnapshot { return snapshotOf(t, "r", 2, 3) }
	cases := map[string]func(s *roomSnapshot){
		"too many members":   func(s *roomSnapshot) { *s = snapshotOf(t, "r", 11, 0) },
		"repeated nick":      func(s *roomSnapshot) { s.Members[1].Nick = "U0" },
		"invisible nick":     func(s *roomSnapshot) { s.Members[1].Nick = "u0\u200b" },
		"empty key":          func(s *roomSnapshot) { s.Members[0].Key = "" },
		"id beyond position": func(s *roomSnapshot) { s.History[2].ID = "101" },
		"ids out of order":   func(s *roomSnapshot) { s.History[1].ID = "1" },
		"id not a number":    func(s *roomSnapshot) { s.History[0].ID = "x" },
		"dropped after ids":  func(s *roomSnapshot) { s.Dropped = 2 },
		"dropped beyond":     func(s *roomSnapshot) { s.Dropped = 200 },
		"another room":       func(s *roomSnapshot) { s.History[0].Room = "other" },
		"oversized text":     func(s *roomSnapshot) { s.History[0].Text = strings.Repeat("x", 2001) },
		"not a message":      func(s *roomSnapshot) { s.History[0].Type = "welcome" },
	}
	for name, spoil := range cases {
		s := good()
		spoil(&s)
		data := encode(t, s)
		if name == "invisible nick" {
			data = []byte(strings.ReplaceAll(string(data), `\\u200b`, `\u200b`))
		}
		r := newChatRoom(c, "r")
		if err := r.Restore(100, data); err == nil {
			t.Errorf("%s: restored", name)
		}
		if len(r.order) != 0 || len(r.history) != 0 {
			t.Errorf("%s: refused snapshot left state behind", name)
		}
	}
	if err := newChatRoom(c, "r").Restore(100, encode(t, good())); err != nil {
		t.Fatalf("the good snapshot: %v", err)
	}
}
