package services_test

import (
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sockgate/sockgate/session/services"
)

// clock is a settable ChatOptions.Now.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Unix(1_800_000_000, 0)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// rawNext is the next event as sent, unparsed.
func (c *client) rawNext() string {
	c.t.Helper()
	select {
	case raw := <-c.s.out:
		return raw
	case <-time.After(waitTimeout):
		c.t.Fatalf("%s: no event within %v", c.nick, waitTimeout)
		return ""
	}
}

// TestChatNoHTMLEscaping: markup in a post reaches members byte for byte,
// not as \u003c escapes (each '<' was 6 bytes, 7 once SockJS quoted it).
func TestChatNoHTMLEscaping(t *testing.T) {
	t.Parallel()
	ann := connectClient(t, services.NewChat(services.ChatOptions{}), "ann")
	ann.join("r")
	ann.expect("welcome", "ann")
	text := strings.Repeat("<&>", 100)
	ann.post(text)
	raw := ann.rawNext()
	if !strings.Contains(raw, text) || strings.Contains(raw, `\u003c`) {
		t.Fatalf("message event %q: want the text unescaped", raw[:80])
	}
	if len(raw) > len(text)+200 {
		t.Fatalf("a %d-byte post became a %d-byte event", len(text), len(raw))
	}
}

// TestChatTooLong: the error names the limit.
func TestChatTooLong(t *testing.T) {
	t.Parallel()
	ann := connectClient(t, services.NewChat(services.ChatOptions{}), "ann")
	ann.join("r")
	ann.expect("welcome", "ann")
	ann.post(strings.Repeat("x", services.DefaultMaxText+1))
	if ev := ann.expect("error", ""); ev.Error != services.ErrTooLong || !strings.Contains(ev.Message, "2000") {
		t.Fatalf("got %+v; want too_long naming 2000", ev)
	}
}

// TestChatRateLimit: a member gets DefaultBurst commands at once, then an
// error rate_limited for each one over (the post is not delivered), and
// DefaultRate more a second.
func TestChatRateLimit(t *testing.T) {
	t.Parallel()
	clk := newClock()
	chat := services.NewChat(services.ChatOptions{Now: clk.Now})
	ann := connectClient(t, chat, "ann")
	ann.join("r")
	ann.expect("welcome", "ann")
	for i := range services.DefaultBurst + 5 {
		ann.post(strconv.Itoa(i))
	}
	for i := range services.DefaultBurst + 5 {
		ev := ann.next()
		switch {
		case i < services.DefaultBurst-1: // the join took one
			if ev.Type != "message" || ev.Text != strconv.Itoa(i) {
				t.Fatalf("post %d: got %+v; want it delivered", i, ev)
			}
		default:
			if ev.Type != "error" || ev.Error != services.ErrRateLimited || !strings.Contains(ev.Message, "10") {
				t.Fatalf("post %d: got %+v; want rate_limited", i, ev)
			}
		}
	}
	clk.advance(time.Second)
	for i := range services.DefaultRate {
		ann.post("later " + strconv.Itoa(i))
		if ev := ann.expect("message", "ann"); ev.Text != "later "+strconv.Itoa(i) {
			t.Fatalf("after a second: %+v", ev)
		}
	}
	ann.post("one too many")
	if ev := ann.expect("error", ""); ev.Error != services.ErrRateLimited {
		t.Fatalf("got %+v; want rate_limited", ev)
	}
}

// TestChatWelcomeBound: 50 posts that are as big as JSON can make them
// (control characters escape to 6 bytes each) make a welcome that holds
// DefaultMaxWelcomeBytes at most, with the newest messages.
func TestChatWelcomeBound(t *testing.T) {
	t.Parallel()
	chat := services.NewChat(services.ChatOptions{Rate: -1})
	ann := connectClient(t, chat, "ann")
	ann.join("r")
	ann.expect("welcome", "ann")
	for i := range 50 {
		ann.post(strconv.Itoa(i) + strings.Repeat("\x01", services.DefaultMaxText-2))
		ann.expect("message", "ann")
	}
	bob := connectClient(t, chat, "bob")
	bob.join("r")
	raw := bob.rawNext()
	if len(raw) > services.DefaultMaxWelcomeBytes {
		t.Fatalf("welcome of %d bytes; bound %d", len(raw), services.DefaultMaxWelcomeBytes)
	}
	bob.s.out <- raw
	ev := bob.expect("welcome", "bob")
	if len(ev.History) == 0 || !strings.HasPrefix(ev.History[len(ev.History)-1].Text, "49") {
		t.Fatalf("welcome history of %d messages; want the newest that fit", len(ev.History))
	}
	t.Logf("welcome: %d bytes, %d of 50 messages", len(raw), len(ev.History))
}

// TestChatBadNicks: invisible and look-alike nicknames are refused with
// bad_nick, or taken as the nickname they look like (nick_taken).
func TestChatBadNicks(t *testing.T) {
	t.Parallel()
	chat := services.NewChat(services.ChatOptions{Rate: -1})
	ann := connectClient(t, chat, "ann")
	ann.join("r")
	ann.expect("welcome", "ann")
	cases := []struct{ nick, code string }{
		{"ann\u200b", services.ErrBadNick},  // zero-width space
		{"an\u200dn", services.ErrBadNick},  // zero-width joiner
		{"\u202eann", services.ErrBadNick},  // right-to-left override
		{"ann\u2066", services.ErrBadNick},  // left-to-right isolate
		{"a\u00adnn", services.ErrBadNick},  // soft hyphen
		{"\ufeffann", services.ErrBadNick},  // byte order mark
		{"ann\u200e", services.ErrBadNick},  // left-to-right mark
		{"ann\ufe0f", services.ErrBadNick},  // variation selector
		{" ann", services.ErrBadNick},       // leading space
		{"an\tn", services.ErrBadNick},      // tab
		{"an\u2028n", services.ErrBadNick},  // line separator
		{"ann\ue000", services.ErrBadNick},  // private use
		{"Ann", services.ErrNickTaken},      // case
		{"ａｎｎ", services.ErrNickTaken},      // full-width
		{"ANN", services.ErrNickTaken},      // case
		{"a\u0301nn", ""},                   // a combining accent: a real name
		{"\u00e1nn", services.ErrNickTaken}, // the same name precomposed
		{"bob\u00a0", services.ErrBadNick},  // no-break space
		{"zoë", ""},                         // plain letters
		{"😀 \u4e2d\u6587", ""},              // emoji and CJK
		{"x" + strings.Repeat("y", 32), services.ErrBadNick},
	}
	for _, tc := range cases {
		c := connectClient(t, chat, tc.nick)
		c.join("r")
		ev := c.next()
		switch {
		case tc.code == "" && ev.Type != "welcome":
			t.Errorf("nick %+q: got %+v; want a welcome", tc.nick, ev)
		case tc.code != "" && (ev.Type != "error" || ev.Error != tc.code || ev.Message == ""):
			t.Errorf("nick %+q: got %+v; want %s", tc.nick, ev, tc.code)
		}
		if ev.Type == "welcome" && tc.nick == "a\u0301nn" && ev.Nick != "\u00e1nn" {
			t.Errorf("nick %+q welcomed as %+q; want NFC", tc.nick, ev.Nick)
		}
	}
}
