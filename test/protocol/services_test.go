package protocol

import (
	"strings"
	"testing"
	"time"
)

// The standard test-server services beyond the official suite's four.

// /amplify answers a number n (1..18, else 1) with 2^n "x".
func TestServiceAmplify(t *testing.T) {
	t.Parallel()
	c := wsDial(t, sess("/amplify")+"/websocket")
	eq(t, "amplify", wsRead(t, c), "o")
	for _, tc := range []struct {
		in string
		n  int
	}{{"3", 8}, {"10", 1024}, {"0", 2}, {"x", 2}} {
		wsWrite(t, c, `["`+tc.in+`"]`)
		eq(t, "amplify "+tc.in, wsRead(t, c), `a["`+strings.Repeat("x", tc.n)+`"]`)
	}
}

// /broadcast sends every message to every connected client.
func TestServiceBroadcast(t *testing.T) {
	t.Parallel()
	a := wsDial(t, sess("/broadcast")+"/websocket")
	b := wsDial(t, sess("/broadcast")+"/websocket")
	eq(t, "broadcast a", wsRead(t, a), "o")
	eq(t, "broadcast b", wsRead(t, b), "o")
	msg := "hello " + newSID()
	wsWrite(t, a, `["`+msg+`"]`)
	// Other tests may broadcast too: skip foreign messages.
	for _, c := range []struct {
		name string
		read func() string
	}{{"a", func() string { return wsRead(t, a) }}, {"b", func() string { return wsRead(t, b) }}} {
		deadline := time.Now().Add(ioTimeout)
		for {
			got := c.read()
			if got == `a["`+msg+`"]` {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("broadcast %s: never got %q", c.name, msg)
			}
		}
	}
}

// /ticker sends "tick!" every second.
func TestServiceTicker(t *testing.T) {
	t.Parallel()
	s := sess("/ticker")
	poll(t, s, "o\n")
	start := time.Now()
	for { // heartbeats may come first on a server with a short heartbeat delay
		r := do(t, "POST", s+"/xhr", nil, "")
		if r.body != "h\n" {
			r.wantBody(t, "a[\"tick!\"]\n")
			break
		}
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Errorf("first tick after %v, want about 1s", el)
	}
}
