package sockjsclient

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/gorilla/websocket"
)

// closeGrace bounds the close handshake Close attempts on a websocket.
const closeGrace = time.Second

// websocketURL maps the session URL (or, for the raw websocket, the base
// URL) onto ws:// or wss://.
func (c *Conn) websocketURL() string {
	u := c.sessionURL + "/websocket"
	if c.transport == TransportRawWebsocket {
		u = strings.TrimSuffix(c.sessionURL, "/"+c.opts.ServerID+"/"+c.opts.SessionID) + "/websocket"
	}
	u = c.withQuery(u)
	if rest, ok := strings.CutPrefix(u, "https://"); ok {
		return "wss://" + rest
	}
	return "ws://" + strings.TrimPrefix(u, "http://")
}

func (c *Conn) dialWebsocket(ctx context.Context) error {
	d := c.opts.Dialer
	if d == nil {
		d = websocket.DefaultDialer
	}
	ws, resp, err := d.DialContext(ctx, c.websocketURL(), c.opts.Header)
	if err != nil {
		err = contextError(ctx, err)
	}
	if err != nil {
		if resp != nil {
			return fmt.Errorf("sockjsclient: dial %s: %w (HTTP %d)", c.transport, err, resp.StatusCode)
		}
		return fmt.Errorf("sockjsclient: dial %s: %w", c.transport, err)
	}
	c.ws = ws
	if c.transport == TransportRawWebsocket {
		ws.SetPingHandler(c.onPing)
		c.isOpen = true
		close(c.opened)
		go c.readRaw()
		return nil
	}
	go c.readSockJS()
	return nil
}

// readSockJS receives SockJS frames, one per websocket message.
func (c *Conn) readSockJS() {
	defer close(c.recvDone)
	defer c.ws.Close()
	var buf bytes.Buffer
	for {
		_, r, err := c.ws.NextReader()
		if err != nil {
			c.finish(fmt.Errorf("sockjsclient: websocket closed without a close frame: %w", err))
			return
		}
		buf.Reset()
		if _, err := buf.ReadFrom(r); err != nil {
			c.finish(fmt.Errorf("sockjsclient: websocket read: %w", err))
			return
		}
		if !c.handleRaw(buf.Bytes()) {
			return
		}
	}
}

// readRaw receives plain messages on the raw websocket; the server's close
// message becomes a *CloseError.
func (c *Conn) readRaw() {
	defer close(c.recvDone)
	defer c.ws.Close()
	for {
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			c.finish(rawReadError(err))
			return
		}
		msgs := []string{string(data)}
		if !c.handleFrame(Frame{Type: FrameMessages, Messages: msgs}) {
			return
		}
	}
}

func rawReadError(err error) error {
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		return &CloseError{Code: ce.Code, Reason: ce.Text}
	}
	return fmt.Errorf("sockjsclient: raw websocket read: %w", err)
}

// onPing counts a ping as a heartbeat and answers it, as gorilla's default
// handler would.
func (c *Conn) onPing(data string) error {
	c.handleFrame(Frame{Type: FrameHeartbeat})
	err := c.ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(closeGrace))
	var ne net.Error
	if errors.Is(err, websocket.ErrCloseSent) || errors.As(err, &ne) && ne.Timeout() {
		return nil
	}
	return err
}

func (c *Conn) sendWebsocket(ctx context.Context, msgs []string) error {
	if dl, ok := ctx.Deadline(); ok {
		if err := c.ws.SetWriteDeadline(dl); err != nil {
			return fmt.Errorf("sockjsclient: send: %w", err)
		}
		defer c.ws.SetWriteDeadline(time.Time{})
	}
	if c.transport == TransportRawWebsocket {
		for _, m := range msgs {
			if err := c.ws.WriteMessage(websocket.TextMessage, []byte(m)); err != nil {
				return fmt.Errorf("sockjsclient: send: %w", err)
			}
		}
		return nil
	}
	payload, err := encodeMessages(msgs)
	if err != nil {
		return err
	}
	if err := c.ws.WriteMessage(websocket.TextMessage, payload); err != nil {
		return fmt.Errorf("sockjsclient: send: %w", err)
	}
	return nil
}

// closeWebsocket starts a close handshake and gives the server closeGrace
// to answer before the connection is dropped.
func (c *Conn) closeWebsocket() {
	msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
	if err := c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(closeGrace)); err != nil {
		c.ws.Close()
		return
	}
	t := time.AfterFunc(closeGrace, func() { c.ws.Close() })
	<-c.recvDone
	t.Stop()
}

// contextError prefers the context's error when ctx has ended or its deadline
// has passed: gorilla reports an expired deadline as an i/o timeout, which
// can come just before the context's own timer fires.
func contextError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
		return context.DeadlineExceeded
	}
	return err
}
