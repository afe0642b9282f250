package e2e

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/sockgate/sockgate/test/sockjsclient"
)

// transportCase is one end-to-end case run over each transport.
type transportCase struct {
	name    string
	applies func(transport string) bool // nil: every transport
	run     func(t *testing.T, e *env, transport string)
}

var transportCases = []transportCase{
	{name: "open", run: testOpen},
	{name: "echo-tricky-strings", run: testEchoTricky},
	{name: "echo-bmp", run: testEchoBMP},
	{name: "echo-64KiB", run: testEcho64K},
	{name: "order-1000", run: testOrder1000},
	{name: "response-limit", run: testResponseLimit},
	{name: "server-close", run: testServerClose},
	{name: "close-frame-repeated", applies: notWebsocket, run: testCloseFrameRepeated},
	{name: "second-receiver-2010", applies: notWebsocket, run: testSecondReceiver},
	{name: "session-expiry", applies: hasSessionID, run: testSessionExpiry},
	{name: "heartbeat", run: testHeartbeat},
	{name: "chat-bad-input", run: testChatBadInput},
}

func notWebsocket(tr string) bool { return !isWebsocket(tr) }
func hasSessionID(tr string) bool { return tr != sockjsclient.TransportRawWebsocket }

// TestTransports runs every case over every transport on both engines:
// TestTransports/<engine>/<transport>/<case>.
func TestTransports(t *testing.T) {
	t.Parallel()
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			e := startGateway(t, engine)
			for _, tr := range transports {
				t.Run(tr, func(t *testing.T) {
					t.Parallel()
					for _, tc := range transportCases {
						if tc.applies != nil && !tc.applies(tr) {
							continue
						}
						t.Run(tc.name, func(t *testing.T) { tc.run(t, e, tr) })
					}
				})
			}
		})
	}
}

func testOpen(t *testing.T, e *env, tr string) {
	frames := make(chan sockjsclient.Frame, 16)
	c := dial(t, e, "/echo", tr, func(o *sockjsclient.Options) {
		o.OnFrame = func(f sockjsclient.Frame) {
			select {
			case frames <- f:
			default:
			}
		}
	})
	if tr != sockjsclient.TransportRawWebsocket {
		if f := <-frames; f.Type != sockjsclient.FrameOpen {
			t.Fatalf("first frame %q; want the open frame", f.Type)
		}
	}
	send(t, c, "ping")
	if got := recv(t, c); got != "ping" {
		t.Fatalf("echo = %q; want ping", got)
	}
	if err := c.Err(); err != nil {
		t.Fatalf("session ended: %v", err)
	}
}

// escapable are the ranges SockJS servers must \u-escape.
var escapable = [][2]rune{{0x200c, 0x200f}, {0x2028, 0x202f}, {0x2060, 0x206f}, {0xfff0, 0xffff}}

func runeRange(lo, hi rune) string {
	var b strings.Builder
	for r := lo; r <= hi; r++ {
		b.WriteRune(r)
	}
	return b.String()
}

func trickyStrings() []string {
	var msgs []string
	for _, r := range escapable {
		msgs = append(msgs, runeRange(r[0], r[1]))
	}
	return append(msgs,
		"😀🎉👍🏽 \U0001F9D1\u200D\U0001F680 \U0010FFFF",
		"안녕하세요, 세계! 한국어 텍스트",
		`"double" 'single' "`,
		`back\slash \\ \n \u2028 \" ends with \`,
		"\x00", "nul\x00inside\x00",
		"\r\n\t\b\f\x01\x1f\x7f",
		"</script><script>alert(1)</script><!--",
		"%0A%25 % %% %zz data: x\r\n\r\n",
		"\ud7ff\ue000",
		"o", "h", "a[\"x\"]", "c[3000,\"Go away!\"]", "[]", " ",
		"",
	)
}

func testEchoTricky(t *testing.T, e *env, tr string) {
	c := dial(t, e, "/echo", tr)
	msgs := trickyStrings()
	for _, m := range msgs {
		send(t, c, m)
		if got := recv(t, c); got != m {
			t.Fatalf("echo of %+q = %+q", m, got)
		}
	}
	// All at once: one JSON array (one request on the HTTP transports).
	send(t, c, msgs...)
	for i, m := range msgs {
		if got := recv(t, c); got != m {
			t.Fatalf("batched echo %d of %+q = %+q", i, m, got)
		}
	}
}

// testEchoBMP echoes every code point of the Basic Multilingual Plane but
// the surrogates, in chunks.
func testEchoBMP(t *testing.T, e *env, tr string) {
	c := dial(t, e, "/echo", tr)
	const chunk = 4096
	for lo := rune(0); lo < 0x10000; lo += chunk {
		var b strings.Builder
		for r := lo; r < lo+chunk; r++ {
			if utf8.ValidRune(r) {
				b.WriteRune(r)
			}
		}
		m := b.String()
		send(t, c, m)
		if got := recv(t, c); got != m {
			t.Fatalf("echo of U+%04X..U+%04X differs: got %s", lo, lo+chunk-1, abbrev(got))
		}
	}
}

func testEcho64K(t *testing.T, e *env, tr string) {
	c := dial(t, e, "/echo", tr)
	const size = 64 << 10
	msgs := []string{
		strings.Repeat("x", size),
		strings.Repeat("\u2028", size/3), // escaped on the wire: 6 bytes each
		strings.Repeat("é\"\\\x00😀", size/12),
	}
	for _, m := range msgs {
		send(t, c, m)
		if got := recv(t, c); got != m {
			t.Fatalf("echo of a %d-byte message differs: got %s", len(m), abbrev(got))
		}
	}
}

// testOrder1000 sends 1,000 messages, one Send each, while receiving.
func testOrder1000(t *testing.T, e *env, tr string) {
	c := dial(t, e, "/echo", tr)
	const n = 1000
	ctx := ctxT(t)
	errc := make(chan error, 1)
	go func() {
		for i := range n {
			if err := c.SendContext(ctx, fmt.Sprint("msg-", i)); err != nil {
				errc <- fmt.Errorf("send %d: %w", i, err)
				return
			}
		}
		errc <- nil
	}()
	for i := range n {
		m, err := c.Recv(ctx)
		if err != nil {
			c.recvFailed(t, err, fmt.Sprintf("Recv %d (sender: %v)", i, senderErr(errc)))
		}
		if want := fmt.Sprint("msg-", i); m != want {
			t.Fatalf("message %d = %q; want %q", i, m, want)
		}
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

func senderErr(errc chan error) error {
	select {
	case err := <-errc:
		return err
	default:
		return nil
	}
}

// testResponseLimit pushes many times the response limit of /small through
// a session: streaming transports must end their responses and the client
// reconnects without losing or reordering messages.
func testResponseLimit(t *testing.T, e *env, tr string) {
	c := dial(t, e, "/small", tr)
	const n, batch = 300, 10
	pad := strings.Repeat("p", 100)
	for i := 0; i < n; i += batch {
		msgs := make([]string, batch)
		for j := range msgs {
			msgs[j] = fmt.Sprint(i+j, pad)
		}
		send(t, c, msgs...)
	}
	for i := range n {
		if got, want := recv(t, c), fmt.Sprint(i, pad); got != want {
			t.Fatalf("message %d = %s; want %s", i, abbrev(got), abbrev(want))
		}
	}
	switch tr {
	case sockjsclient.TransportXHRStreaming, sockjsclient.TransportEventSource, sockjsclient.TransportHTMLFile:
		// ~31 KB went through a 4 KiB limit. A response ends once it has
		// carried the limit, but one frame may hold many queued messages,
		// so only "it reconnected" is certain.
		if r := c.ReceiveRequests(); r < 2 {
			t.Fatalf("%d receiving request(s) for %d bytes; the response limit is %d", r, n*104, smallResponseLimit)
		}
	}
}

func wantClose(t *testing.T, err error, code int, reason string) {
	t.Helper()
	var ce *sockjsclient.CloseError
	if !errors.As(err, &ce) || ce.Code != code || ce.Reason != reason {
		t.Fatalf("got %v; want close %d %q", err, code, reason)
	}
}

func testServerClose(t *testing.T, e *env, tr string) {
	c := dial(t, e, "/close", tr)
	ctx := ctxT(t)
	_, err := c.Recv(ctx)
	skipCompatRace(t, e, tr, err)
	wantClose(t, err, 3000, "Go away!")
	select {
	case <-c.Done():
	case <-ctx.Done():
		t.Fatal("the client kept receiving after the close frame")
	}
}

// testCloseFrameRepeated: after close, a receiving request on the session
// gets the same close frame again.
func testCloseFrameRepeated(t *testing.T, e *env, tr string) {
	c := dial(t, e, "/close", tr)
	_, err := c.Recv(ctxT(t))
	skipCompatRace(t, e, tr, err)
	wantClose(t, err, 3000, "Go away!")
	_, err = sockjsclient.Dial(ctxT(t), e.url+"/close", sockjsclient.Options{Transport: tr, SessionID: c.SessionID()})
	skipCompatRace(t, e, tr, err)
	wantClose(t, err, 3000, "Go away!")
}

func testHeartbeat(t *testing.T, e *env, tr string) {
	beats := make(chan struct{}, 16)
	c := dial(t, e, "/hb", tr, func(o *sockjsclient.Options) {
		o.OnFrame = func(f sockjsclient.Frame) {
			if f.Type == sockjsclient.FrameHeartbeat {
				select {
				case beats <- struct{}{}:
				default:
				}
			}
		}
	})
	ctx := ctxT(t)
	for i := range 3 {
		select {
		case <-beats:
		case <-ctx.Done():
			skipCompatRace(t, e, tr, c.Err())
			t.Fatalf("saw %d heartbeats in %v with a %v heartbeat delay (session: %v)", i, waitTimeout, heartbeatDelay, c.Err())
		}
	}
	if err := c.Err(); err != nil {
		t.Fatalf("session ended: %v", err)
	}
	// The session is still usable.
	send(t, c, "after heartbeats")
	if got := recv(t, c); got != "after heartbeats" {
		t.Fatalf("echo = %q", got)
	}
}
