package proxy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/sockgate/sockgate/test/sockjsclient"
)

const (
	// sessionTimeout bounds one transport's whole run through a proxy.
	sessionTimeout = 90 * time.Second
	// orderedCount is how many messages must come back in order.
	orderedCount = 200
	// idleWait is how long a session stays idle to see heartbeats: the
	// nodes send one after 1 s idle.
	idleWait = 2500 * time.Millisecond
	// bigMessage is the size of the large message.
	bigMessage = 64 << 10
)

// runSuite runs every check through tg. The sticky-routing check runs
// first and alone, so that the per-node session counts it compares are its
// own; the rest run in parallel.
func runSuite(t *testing.T, tg *target) {
	t.Helper()
	t.Run("sticky", func(t *testing.T) { testSticky(t, tg) })
	t.Run("parallel", func(t *testing.T) {
		for _, tr := range sockjsclient.Transports {
			t.Run("transport/"+tr, func(t *testing.T) {
				t.Parallel()
				testTransport(t, tg, tr)
			})
		}
		for _, st := range streamingTransports {
			t.Run("unbuffered/"+st.name, func(t *testing.T) {
				t.Parallel()
				testUnbuffered(t, tg, st)
			})
		}
		t.Run("heartbeats", func(t *testing.T) {
			t.Parallel()
			testHeartbeats(t, tg)
		})
		if tg.hixie76 {
			t.Run("hixie-76", func(t *testing.T) {
				t.Parallel()
				testHixie76(t, tg)
			})
		}
		t.Run("client-address", func(t *testing.T) {
			t.Parallel()
			testClientAddress(t, tg)
		})
		t.Run("body-limit", func(t *testing.T) {
			t.Parallel()
			testBodyLimit(t, tg)
		})
	})
	checkNodeLogs(t, tg)
}

// testTransport opens a session on one transport through the proxy,
// echoes the tricky messages one by one and all at once, then 200 messages
// that must come back in order, and closes.
func testTransport(t *testing.T, tg *target, transport string) {
	ctx, cancel := context.WithTimeout(context.Background(), sessionTimeout)
	defer cancel()
	c, err := sockjsclient.Dial(ctx, tg.echoURL(), sockjsclient.Options{Transport: transport})
	if err != nil {
		t.Fatalf("dial %s through %s: %v", transport, tg.name, err)
	}
	defer c.Close()

	msgs := trickyMessages()
	for _, m := range msgs {
		send(t, c, m)
		expect(ctx, t, c, m)
	}
	send(t, c, msgs...)
	for _, m := range msgs {
		expect(ctx, t, c, m)
	}

	for i := range orderedCount {
		send(t, c, fmt.Sprintf("ordered %03d", i))
	}
	for i := range orderedCount {
		expect(ctx, t, c, fmt.Sprintf("ordered %03d", i))
	}

	if err := c.Close(); err != nil {
		t.Errorf("close %s: %v", transport, err)
	}
	if _, err := c.Recv(ctx); !errors.Is(err, sockjsclient.ErrClosed) {
		t.Errorf("%s: Recv after Close: %v, want ErrClosed", transport, err)
	}
}

// testHeartbeats opens a session on every transport at once, leaves them
// idle, and expects heartbeats on each (pings on the raw websocket) and
// the session still working afterwards: the proxy passes heartbeats and
// does not cut idle sessions.
func testHeartbeats(t *testing.T, tg *target) {
	ctx, cancel := context.WithTimeout(context.Background(), sessionTimeout)
	defer cancel()
	conns := map[string]*sockjsclient.Conn{}
	for _, tr := range sockjsclient.Transports {
		c, err := sockjsclient.Dial(ctx, tg.echoURL(), sockjsclient.Options{Transport: tr})
		if err != nil {
			t.Fatalf("dial %s through %s: %v", tr, tg.name, err)
		}
		defer c.Close()
		conns[tr] = c
	}
	before := map[string]int64{}
	for tr, c := range conns {
		before[tr] = c.Heartbeats()
	}
	time.Sleep(idleWait)
	for tr, c := range conns {
		if got := c.Heartbeats() - before[tr]; got < 1 {
			t.Errorf("%s through %s: %d heartbeats in %v idle with -heartbeat-delay 1s; want at least 1",
				tr, tg.name, got, idleWait)
		}
		send(t, c, "after the idle time")
		expect(ctx, t, c, "after the idle time")
	}
}

// trickyMessages are strings that a proxy or a codec could mangle: every
// code point SockJS must \u-escape, line separators, emoji (surrogate pairs
// in JSON), Korean, quotes, backslashes, control characters, what looks
// like escapes or markup, and a 64 KiB message.
func trickyMessages() []string {
	var escapable strings.Builder
	for _, r := range [][2]rune{{0x200c, 0x200f}, {0x2028, 0x202f}, {0x2060, 0x206f}, {0xfff0, 0xffff}} {
		for c := r[0]; c <= r[1]; c++ {
			escapable.WriteRune(c)
		}
	}
	var big strings.Builder
	for big.Len() < bigMessage-8 {
		big.WriteString("big é 한 😀 \"q\" \\ ")
	}
	return []string{
		"hello",
		escapable.String(),
		"line\u2028separator\u2029paragraph",
		"emoji 😀 🎉 👍🏽 🏳️‍🌈 and a flag 🇰🇷",
		"한국어 메시지: 안녕하세요, 세계!",
		`"double" 'single' ` + "`back`",
		`back\slash \\ \" \n \u0041 \/`,
		"controls \x00 \x01 \x1f \t \r \n \r\n end",
		"percent % %25 %zz %u2028",
		"</script><script>alert(1)</script> <!-- -->",
		`["not","a","frame"] a["x"] c[3000,"Go away!"] h o`,
		"data: fake event\r\n\r\n",
		strings.Repeat("0123456789abcdef", bigMessage/16),
		big.String(),
	}
}

func send(t *testing.T, c *sockjsclient.Conn, msgs ...string) {
	t.Helper()
	if err := c.Send(msgs...); err != nil {
		t.Fatalf("%s send %d message(s) (first %s): %v", c.Transport(), len(msgs), abbrev(msgs[0]), err)
	}
}

// expect receives one message and fails unless it is want.
func expect(ctx context.Context, t *testing.T, c *sockjsclient.Conn, want string) {
	t.Helper()
	got, err := c.Recv(ctx)
	if err != nil {
		t.Fatalf("%s: waiting for %s: %v", c.Transport(), abbrev(want), err)
	}
	if got != want {
		t.Fatalf("%s: got %s, want %s (%s)", c.Transport(), abbrev(got), abbrev(want), firstDiff(got, want))
	}
}

// abbrev quotes s, shortened in the middle when long.
func abbrev(s string) string {
	if len(s) <= 120 {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprintf("%q...%q (%d bytes)", s[:60], s[len(s)-40:], len(s))
}

// firstDiff says where got and want part.
func firstDiff(got, want string) string {
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	if !utf8.ValidString(got) {
		return fmt.Sprintf("got is not valid UTF-8; first difference at byte %d", i)
	}
	return fmt.Sprintf("first difference at byte %d of %d/%d", i, len(got), len(want))
}
