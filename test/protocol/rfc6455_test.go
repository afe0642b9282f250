package protocol

import (
	"encoding/binary"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// RFC 6455 cases a lenient frame reader gets wrong, on both websocket
// endpoints: the SockJS one (after its open frame) and the raw one.

// closeWithin is how soon a close the server owes must arrive: at once,
// not after a timeout of the server's.
const closeWithin = 2 * time.Second

// rfc6455Endpoints are the two websocket endpoints of /echo.
var rfc6455Endpoints = []struct {
	name string
	path func() string
	open bool // sends "o" first
}{
	{"sockjs", func() string { return sess("/echo") + "/websocket" }, true},
	{"raw", func() string { return "/echo/websocket" }, false},
}

// clientFrame is one masked client frame; n, when not negative, is the
// length its header declares instead of len(p).
func clientFrame(fin bool, op byte, p []byte, n int64) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	if n < 0 {
		n = int64(len(p))
	}
	out := []byte{b0}
	switch {
	case n < 126:
		out = append(out, 0x80|byte(n))
	case n <= 0xFFFF:
		out = append(out, 0x80|126, byte(n>>8), byte(n))
	default:
		out = append(out, 0x80|127)
		out = binary.BigEndian.AppendUint64(out, uint64(n))
	}
	key := [4]byte{0x0f, 0xf0, 0x55, 0xaa}
	out = append(out, key[:]...)
	for i, c := range p {
		out = append(out, c^key[i&3])
	}
	return out
}

// rfc6455Case sends raw frames on a fresh connection to each endpoint and
// checks the close code the server answers with, within closeWithin, with
// no pong and no message before it but the SockJS close frame.
func rfc6455Case(t *testing.T, frames []byte, wantCode int) {
	t.Helper()
	for _, ep := range rfc6455Endpoints {
		c := wsDial(t, ep.path())
		if ep.open {
			eq(t, ep.name+" open frame", wsRead(t, c), "o")
		}
		var pongs atomic.Int32
		c.SetPongHandler(func(string) error { pongs.Add(1); return nil })
		_ = c.NetConn().SetWriteDeadline(time.Now().Add(ioTimeout))
		if _, err := c.NetConn().Write(frames); err != nil {
			t.Fatalf("%s: write frames: %v", ep.name, err)
		}
		_ = c.SetReadDeadline(time.Now().Add(closeWithin))
		_, msg, err := c.ReadMessage()
		if err == nil && ep.open && len(msg) > 1 && string(msg[:2]) == "c[" {
			_, msg, err = c.ReadMessage()
		}
		var ce *websocket.CloseError
		switch {
		case err == nil:
			t.Errorf("%s: message %q, want close %d", ep.name, msg, wantCode)
		case !errors.As(err, &ce):
			t.Errorf("%s: %v, want close %d within %v", ep.name, err, wantCode, closeWithin)
		case ce.Code != wantCode:
			t.Errorf("%s: close %d %q, want %d", ep.name, ce.Code, ce.Text, wantCode)
		}
		if n := pongs.Load(); n != 0 {
			t.Errorf("%s: %d pongs, want none", ep.name, n)
		}
	}
}

// RFC 6455 8.1: a text message that is not UTF-8 fails the connection with
// 1007; nothing is echoed.
func TestRFC6455InvalidUTF8(t *testing.T) {
	t.Parallel()
	rfc6455Case(t, clientFrame(true, 0x1, []byte("[\"a\xffb\"]"), -1), 1007)
}

// RFC 6455 8.1 also covers a message split inside a character whose rest
// never comes.
func TestRFC6455InvalidUTF8AcrossFragments(t *testing.T) {
	t.Parallel()
	frames := append(clientFrame(false, 0x1, []byte("[\"\xe2"), -1), clientFrame(true, 0x0, []byte("\"]"), -1)...)
	rfc6455Case(t, frames, 1007)
}

// RFC 6455 5.5: control frames must not be fragmented; a fragmented ping
// is a protocol error (1002) and is not answered.
func TestRFC6455FragmentedPing(t *testing.T) {
	t.Parallel()
	frames := append(clientFrame(false, 0x9, []byte("pi"), -1), clientFrame(true, 0x0, []byte("ng"), -1)...)
	rfc6455Case(t, frames, 1002)
}

// A header declaring more than the server's message limit (here 2^62
// bytes, none of them sent) is refused at once with 1009, not waited on.
func TestRFC6455DeclaredLengthOverLimit(t *testing.T) {
	t.Parallel()
	rfc6455Case(t, clientFrame(true, 0x1, nil, 1<<62), 1009)
}
