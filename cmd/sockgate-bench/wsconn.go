package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sockgate/sockgate/test/sockjsclient"
)

// closeWait bounds the close message a closing wsConn writes.
const closeWait = time.Second

// wsWriteBuffers is shared by every client websocket, so that idle sessions
// hold no write buffer in the load tool either.
var wsWriteBuffers = &sync.Pool{}

// wsConn is a lean client of the SockJS websocket transport (or of the raw
// websocket endpoint): no receiving goroutine and no queue; Next reads the
// connection itself. The shared sockjsclient does more per message (a
// goroutine hand-off and a JSON decode), which on the single core the load
// tool gets would make the tool, not the server, the limit of an echo run.
type wsConn struct {
	ws      *websocket.Conn
	raw     bool
	in      bytes.Buffer // the message being parsed; Next's only
	out     []byte       // the message being written; Send's only
	pending []string     // messages of the last frame not yet returned
}

// Websocket client options, set by wsFlags.
var (
	// wsCompression offers permessage-deflate (the server decides).
	wsCompression bool
	// chatPayload pads messages with chat-like JSON instead of 'x'.
	chatPayload bool
)

// wireBytes counts the bytes every websocket of the tool read from the
// network (frame headers included, compressed as they came): the bytes
// on the wire, which compression changes and message counts do not show.
var wireBytes atomic.Int64

// wsFlags registers the websocket client's options.
func wsFlags(fs *flag.FlagSet) {
	fs.BoolVar(&wsCompression, "compression", false, "websockets offer permessage-deflate (the server answers whether it is used); wire_bytes_per_op shows the effect")
	fs.BoolVar(&chatPayload, "chat-json", false, "pad messages with chat-like JSON text instead of 'x' (which compresses unrealistically well)")
}

// dialWS opens a websocket; for SockJS it waits for the "o" frame. Its
// reads are counted in wireBytes.
func dialWS(ctx context.Context, d *websocket.Dialer, url string, raw bool) (*wsConn, error) {
	dd := *d
	dd.EnableCompression = wsCompression
	dd.NetDialContext = countingDial(d.NetDialContext)
	ws, resp, err := dd.DialContext(ctx, url, nil)
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("websocket dial: %w (HTTP %d)", err, resp.StatusCode)
		}
		return nil, fmt.Errorf("websocket dial: %w", err)
	}
	c := &wsConn{ws: ws, raw: raw}
	if raw {
		return c, nil
	}
	dl, _ := ctx.Deadline()
	if err := c.readOpen(dl); err != nil {
		_ = ws.Close()
		return nil, err
	}
	return c, nil
}

// readOpen reads the first frame, which must be "o".
func (c *wsConn) readOpen(deadline time.Time) error {
	p, err := c.read(deadline)
	if err != nil {
		return err
	}
	if len(p) == 1 && p[0] == 'o' {
		return nil
	}
	f, err := sockjsclient.ParseFrame(p)
	if err != nil {
		return err
	}
	if f.Type == sockjsclient.FrameClose {
		return &sockjsclient.CloseError{Code: f.Code, Reason: f.Reason}
	}
	return fmt.Errorf("%w: %q before the open frame", sockjsclient.ErrBadFrame, f.Type)
}

// read returns the next websocket message, valid until the next read.
func (c *wsConn) read(deadline time.Time) ([]byte, error) {
	_ = c.ws.SetReadDeadline(deadline)
	_, r, err := c.ws.NextReader()
	if err != nil {
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return nil, &sockjsclient.CloseError{Code: ce.Code, Reason: ce.Text}
		}
		return nil, fmt.Errorf("websocket read: %w", err)
	}
	c.in.Reset()
	if _, err := c.in.ReadFrom(r); err != nil {
		return nil, fmt.Errorf("websocket read: %w", err)
	}
	return c.in.Bytes(), nil
}

func (c *wsConn) Send(msg string, deadline time.Time) error {
	_ = c.ws.SetWriteDeadline(deadline)
	if c.raw {
		c.out = append(c.out[:0], msg...)
	} else {
		c.out = appendMessages(c.out[:0], msg)
	}
	if err := c.ws.WriteMessage(websocket.TextMessage, c.out); err != nil {
		return fmt.Errorf("websocket send: %w", err)
	}
	return nil
}

func (c *wsConn) Next(deadline time.Time) (string, error) {
	for len(c.pending) == 0 {
		p, err := c.read(deadline)
		if err != nil {
			return "", err
		}
		if c.raw {
			return string(p), nil
		}
		if err := c.parse(p); err != nil {
			return "", err
		}
	}
	m := c.pending[0]
	c.pending = c.pending[1:]
	return m, nil
}

// parse sets pending from one SockJS frame; heartbeats give none.
func (c *wsConn) parse(p []byte) error {
	if m, ok := plainMessage(p); ok {
		c.pending = append(c.pending[:0], m)
		return nil
	}
	if ms, ok := plainMessages(p, c.pending[:0]); ok {
		c.pending = ms
		return nil
	}
	f, err := sockjsclient.ParseFrame(p)
	if err != nil {
		return err
	}
	switch f.Type {
	case sockjsclient.FrameHeartbeat:
		return nil
	case sockjsclient.FrameMessages:
		c.pending = f.Messages
		return nil
	case sockjsclient.FrameClose:
		return &sockjsclient.CloseError{Code: f.Code, Reason: f.Reason}
	}
	return fmt.Errorf("%w: a second open frame", sockjsclient.ErrBadFrame)
}

func (c *wsConn) Close() {
	msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
	_ = c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(closeWait))
	_ = c.ws.Close()
}

// plainMessage decodes the common frame a["<message>"] holding one message
// with nothing to unescape, without a JSON decoder.
func plainMessage(p []byte) (string, bool) {
	if len(p) < 5 || p[0] != 'a' || p[1] != '[' || p[2] != '"' || p[len(p)-2] != '"' || p[len(p)-1] != ']' {
		return "", false
	}
	body := p[3 : len(p)-2]
	if !plainASCII(body) {
		return "", false
	}
	return string(body), true
}

// plainMessages decodes a frame a["m1","m2",...] of several messages with
// nothing to unescape (a broadcast a subscriber fell behind on, coalesced
// by the server) onto dst, without a JSON decoder: the load tool's cost per
// message stays that of the one-message frame.
func plainMessages(p []byte, dst []string) ([]string, bool) {
	if len(p) < 5 || p[0] != 'a' || p[1] != '[' || p[2] != '"' || p[len(p)-2] != '"' || p[len(p)-1] != ']' {
		return nil, false
	}
	body := p[3 : len(p)-2]
	for len(body) > 0 {
		i := bytes.IndexByte(body, '"')
		if i < 0 {
			break
		}
		// a quote must end a message: ","
		if i+2 >= len(body) || body[i+1] != ',' || body[i+2] != '"' || !plainASCII(body[:i]) {
			return nil, false
		}
		dst = append(dst, string(body[:i]))
		body = body[i+3:]
	}
	if !plainASCII(body) {
		return nil, false
	}
	return append(dst, string(body)), true
}

// appendMessages appends the client payload ["msg"]: by hand when msg needs
// no escaping, else with encoding/json.
func appendMessages(b []byte, msg string) []byte {
	if plainASCII(msg) {
		b = append(b, '[', '"')
		b = append(b, msg...)
		return append(b, '"', ']')
	}
	j, _ := json.Marshal([]string{msg}) // a []string always encodes
	return append(b, j...)
}

// plainASCII reports whether b is printable ASCII without '"' or '\', so
// that it stands in a JSON string as it is.
func plainASCII[T string | []byte](b T) bool {
	for i := range len(b) {
		c := b[i]
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// countingDial wraps dial so that its connections count what they read in
// wireBytes.
func countingDial(dial func(ctx context.Context, network, addr string) (net.Conn, error)) func(context.Context, string, string) (net.Conn, error) {
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return countingConn{c}, nil
	}
}

// countingConn is a connection whose reads are counted in wireBytes.
type countingConn struct{ net.Conn }

func (c countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	wireBytes.Add(int64(n))
	return n, err
}

// chatText is n bytes of chat events as a chat service sends them: JSON
// with words, not a run of one letter, so that compression does what it
// does on real traffic. One event is about 330 bytes; past that, events
// follow one another with the same text (as in a batch of history, which
// compresses better than one event does).
func chatText(n int) string {
	const text = "Are we still on for the release review tomorrow at ten? I pushed the fix for the reconnect loop " +
		"last night, and the dashboard looks calm since then; Bob wants to walk through the broadcast numbers first, " +
		"then we can decide whether compression stays on for the mobile clients."
	var b strings.Builder
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, `{"type":"message","id":"%d","room":"lobby","from":"alice","text":%q,"ts":%d}`,
			1000+i, text, 1764800000000+int64(i))
	}
	return b.String()[:n]
}
