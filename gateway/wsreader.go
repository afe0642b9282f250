package gateway

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// wsReadBuffer is how many bytes of a client's frames a websocket buffers:
// a small message (a chat line, an echo) and its header arrive in one read;
// a longer payload is read straight into the message.
const wsReadBuffer = 256

// wsConnRFC6455 is a server's RFC 6455 connection after the upgrade: our
// own frame reader, and frames for the connWriter. The handshake is
// upgradeWS; reading is ours, not gorilla/websocket's, because an idle
// connection then holds 256 bytes instead of gorilla's buffer and
// connection state, and its goroutine waits for data in a shallow stack
// that the garbage collector can shrink. Frames must be masked; fragmented
// messages are joined; binary messages are dropped (SockJS speaks text).
//
// The one extension is permessage-deflate, when negotiated (deflate set):
// a message whose first frame has RSV1 set is inflated, and text messages
// of at least the deflater's minBytes are written compressed.
//
// A protocol error (RSV1 without the extension among them) is answered
// with a 1002 close; a text message that is not UTF-8, or a compressed one
// that does not inflate, with a 1007 close. A message whose declared
// length goes over the limit is errMessageTooBig at once, before any of
// its payload is read, and ends reading (the stream cannot be followed
// past it without reading what the header declares). The limit bounds a
// compressed message twice: as it arrives, and as it inflates (a deflate
// bomb stops at limit+1 bytes).
type wsConnRFC6455 struct {
	conn    net.Conn
	idle    time.Duration
	limit   int64     // largest message (0: none)
	deflate *deflater // permessage-deflate negotiated (nil: not)
	control func(frame []byte, closing bool)
	active  atomic.Bool // something arrived since the last KeepAlive
	buf     [wsReadBuffer]byte
	r, w    int // buffered bytes are buf[r:w]
}

// wsIdleTimeout is how long a websocket peer may stay silent (no pong, no
// frame; for hixie-76, no acknowledgement of our frames) before it is
// dropped: two heartbeats, plus writeTimeout for a pong stuck behind a
// slow write.
func wsIdleTimeout(heartbeat time.Duration) time.Duration { return 2*heartbeat + writeTimeout }

func newWSConn(conn net.Conn, heartbeat time.Duration) *wsConnRFC6455 {
	c := &wsConnRFC6455{conn: conn, idle: wsIdleTimeout(heartbeat), control: func([]byte, bool) {}}
	_ = conn.SetReadDeadline(time.Now().Add(c.idle))
	return c
}

// wsCloseError is the client's close frame: the code it sent (1005 when
// it sent none).
type wsCloseError struct{ code int }

func (e *wsCloseError) Error() string {
	return fmt.Sprintf("gateway: websocket closed by the client (%d)", e.code)
}

// errWSProtocol is a client's frame RFC 6455 forbids; the connection is
// closed with 1002 (1007 for text that is not UTF-8). The error the reader
// returns is a *wsProtocolError, which matches it.
var errWSProtocol = errors.New("gateway: websocket protocol error")

// wsProtocolError is the close the reader answered a protocol error with.
type wsProtocolError struct {
	code   int
	reason string
}

func (e *wsProtocolError) Error() string {
	return fmt.Sprintf("gateway: websocket protocol error: %s (%d)", e.reason, e.code)
}

// Is makes a *wsProtocolError match errWSProtocol.
func (e *wsProtocolError) Is(target error) bool { return target == errWSProtocol }

// RFC 6455 close codes the reader uses.
const (
	closeNoStatus      = 1005
	closeProtocolError = 1002
	closeInvalidData   = 1007
)

// ReadText returns the next text message.
func (c *wsConnRFC6455) ReadText() ([]byte, error) {
	var msg []byte
	inMessage, text, compressed := false, false, false
	for {
		fin, op, n, key, comp, err := c.header()
		if err != nil {
			return nil, err
		}
		c.active.Store(true)
		if op >= 0x8 { // control frame
			if !fin {
				return nil, c.protocolError("fragmented control frame")
			}
			if comp {
				return nil, c.protocolError("compressed control frame")
			}
			if err := c.controlFrame(op, n, key); err != nil {
				return nil, err
			}
			continue
		}
		if op == 0x0 && !inMessage || op != 0x0 && inMessage || op > 0x2 {
			return nil, c.protocolError("unexpected frame")
		}
		if op != 0x0 {
			inMessage, text, compressed = true, op == 0x1, comp
		} else if comp {
			return nil, c.protocolError("RSV1 set on a continuation frame")
		}
		if c.limit > 0 && int64(len(msg))+int64(n) > c.limit {
			return nil, errMessageTooBig // at once: the payload is never read
		}
		if msg, err = c.appendPayload(msg, n, key); err != nil {
			return nil, err
		}
		if !fin {
			continue
		}
		if text && compressed {
			if msg, err = c.inflate(msg); err != nil {
				return nil, err
			}
		}
		if text {
			if !utf8.Valid(msg) {
				return nil, c.closeWith(closeInvalidData, "invalid UTF-8")
			}
			return msg, nil
		}
		msg, inMessage = msg[:0], false // a binary message: dropped
	}
}

// header reads one frame header: final bit, opcode, payload length,
// masking key and RSV1 (only when permessage-deflate is negotiated; else
// it is a reserved bit).
func (c *wsConnRFC6455) header() (fin bool, op byte, n int, key [4]byte, comp bool, err error) {
	if err = c.fill(2); err != nil {
		return
	}
	b0, b1 := c.buf[c.r], c.buf[c.r+1]
	fin, op = b0&0x80 != 0, b0&0x0f
	reserved := byte(0x70)
	if c.deflate != nil {
		reserved, comp = 0x30, b0&rsv1 != 0
	}
	if b0&reserved != 0 {
		return fin, op, 0, key, comp, c.protocolError("reserved bits set")
	}
	if b1&0x80 == 0 {
		return fin, op, 0, key, comp, c.protocolError("unmasked client frame")
	}
	size, ext := int(b1&0x7f), 0
	switch size {
	case 126:
		ext = 2
	case 127:
		ext = 8
	}
	if err = c.fill(2 + ext + 4); err != nil {
		return
	}
	p := c.buf[c.r+2:]
	switch ext {
	case 2:
		size = int(binary.BigEndian.Uint16(p))
	case 8:
		v := binary.BigEndian.Uint64(p)
		if v > 1<<62 {
			return fin, op, 0, key, comp, c.protocolError("frame too long")
		}
		size = int(v)
	}
	copy(key[:], p[ext:ext+4])
	c.r += 2 + ext + 4
	return fin, op, size, key, comp, nil
}

// inflate returns the compressed message z inflated: errMessageTooBig over
// the limit, a 1007 close when it does not inflate (the frames were sound;
// their payload is not the deflate data it claims to be, as text that is
// not UTF-8 is not the text it claims to be).
func (c *wsConnRFC6455) inflate(z []byte) ([]byte, error) {
	p, err := inflate(z, c.limit)
	if errors.Is(err, errBadDeflate) {
		return nil, c.closeWith(closeInvalidData, "invalid compressed data")
	}
	return p, err
}

// controlFrame answers a ping, notes a pong, and answers a close.
func (c *wsConnRFC6455) controlFrame(op byte, n int, key [4]byte) error {
	if n > 125 {
		return c.protocolError("control frame too long")
	}
	var p [125]byte
	if err := c.payload(p[:n], key, 0); err != nil {
		return err
	}
	switch op {
	case 0x9: // ping
		c.control(appendWSFrame(nil, opPong, p[:n]), false)
		return nil
	case 0xA: // pong
		return nil
	case 0x8:
		code := closeNoStatus
		switch {
		case n == 1:
			return c.protocolError("close frame of one byte")
		case n >= 2:
			code = int(binary.BigEndian.Uint16(p[:2]))
			if !validReceivedCloseCode(code) {
				return c.protocolError("invalid close code")
			}
			if !utf8.Valid(p[2:n]) {
				return c.closeWith(closeInvalidData, "")
			}
		}
		if code == closeNoStatus {
			c.control(appendWSFrame(nil, opClose, nil), true)
		} else {
			c.control(appendWSClose(nil, code, ""), true)
		}
		return &wsCloseError{code: code}
	}
	return c.protocolError("unknown control opcode")
}

// validReceivedCloseCode reports whether a client may send code.
func validReceivedCloseCode(code int) bool {
	switch {
	case code >= 1000 && code <= 1003, code >= 1007 && code <= 1014, code >= 3000 && code <= 4999:
		return true
	}
	return false
}

// protocolError closes with 1002 and returns the error to end reading.
func (c *wsConnRFC6455) protocolError(reason string) error {
	return c.closeWith(closeProtocolError, reason)
}

// closeWith answers a protocol error with a close frame of code and reason
// and returns the error to end reading with.
func (c *wsConnRFC6455) closeWith(code int, reason string) error {
	c.control(appendWSClose(nil, code, reason), true)
	return &wsProtocolError{code: code, reason: reason}
}

// fill buffers at least k bytes (k <= wsReadBuffer).
func (c *wsConnRFC6455) fill(k int) error {
	if c.w-c.r >= k {
		return nil
	}
	if c.r > 0 {
		c.w = copy(c.buf[:], c.buf[c.r:c.w])
		c.r = 0
	}
	for c.w < k {
		m, err := c.conn.Read(c.buf[c.w:])
		c.w += m
		if err != nil && c.w < k {
			if errors.Is(err, io.EOF) && c.w > 0 {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
	}
	return nil
}

// payload reads len(p) payload bytes into p, unmasked from mask position
// phase: what is buffered first, then straight from the connection.
func (c *wsConnRFC6455) payload(p []byte, key [4]byte, phase int) error {
	k := copy(p, c.buf[c.r:c.w])
	c.r += k
	if k < len(p) {
		if _, err := io.ReadFull(c.conn, p[k:]); err != nil {
			return err
		}
	}
	for i := range p {
		p[i] ^= key[(i+phase)&3]
	}
	return nil
}

// appendPayload appends n payload bytes to msg, unmasked. The message
// grows as the bytes arrive (64 KiB at a time), not by the length a header
// claims, so a lying header costs no memory.
func (c *wsConnRFC6455) appendPayload(msg []byte, n int, key [4]byte) ([]byte, error) {
	var phase int // the mask restarts with each frame
	for n > 0 {
		k := min(n, 64<<10)
		start := len(msg)
		msg = append(msg, make([]byte, k)...)
		if err := c.payload(msg[start:], key, phase); err != nil {
			return nil, err
		}
		phase, n = (phase+k)&3, n-k
	}
	return msg, nil
}

// OnControl implements wsConn.
func (c *wsConnRFC6455) OnControl(write func([]byte, bool)) { c.control = write }

// KeepAlive implements wsConn: the read deadline moves on only when the
// peer was heard from, so one that stops answering pings times out
// 2 heartbeat delays (plus writeTimeout) after it was last heard, without
// a deadline change per message.
func (c *wsConnRFC6455) KeepAlive() {
	if c.active.Swap(false) {
		_ = c.conn.SetReadDeadline(time.Now().Add(c.idle))
	}
}

// AppendText implements wsConn: compressed when permessage-deflate is
// negotiated and p is long enough.
func (c *wsConnRFC6455) AppendText(dst, p []byte) []byte {
	if c.deflate != nil {
		return c.deflate.appendText(dst, p)
	}
	return appendWSFrame(dst, opText, p)
}

// appendFrames appends frames, text messages framed by appendWSFrame,
// compressing those long enough when permessage-deflate is negotiated.
func (c *wsConnRFC6455) appendFrames(dst, frames []byte) []byte {
	if c.deflate != nil {
		return c.deflate.appendFrames(dst, frames)
	}
	return append(dst, frames...)
}

func (c *wsConnRFC6455) AppendPing(dst []byte) []byte { return appendWSFrame(dst, opPing, nil) }
func (c *wsConnRFC6455) AppendClose(dst []byte, code int, reason string) []byte {
	return appendWSClose(dst, code, reason)
}
func (c *wsConnRFC6455) NetConn() net.Conn                 { return c.conn }
func (c *wsConnRFC6455) SetReadLimit(n int64)              { c.limit = n }
func (c *wsConnRFC6455) SetReadDeadline(t time.Time) error { return c.conn.SetReadDeadline(t) }
func (c *wsConnRFC6455) Close() error                      { return c.conn.Close() }
