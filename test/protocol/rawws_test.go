package protocol

import (
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// Official: RawWebsocket.test_transport. No SockJS framing: no "o", the
// message comes back as sent.
func TestRawWebsocket(t *testing.T) {
	t.Parallel()
	c := wsDial(t, "/echo/websocket")
	for _, msg := range []string{"Hello world!\uffff", `["not framing"]`, "\u2028\u00e9\U0001F600"} {
		wsWrite(t, c, msg)
		eq(t, "raw websocket echo", wsRead(t, c), msg)
	}
}

// Official: RawWebsocket.test_close: the close frame carries the session's
// code and reason.
func TestRawWebsocketClose(t *testing.T) {
	t.Parallel()
	c := wsDial(t, "/close/websocket")
	ce := wsWantClosed(t, c)
	if ce == nil {
		t.Fatal("raw websocket on /close: connection dropped without a close frame")
	}
	if ce.Code != 3000 || ce.Text != "Go away!" {
		t.Errorf("raw websocket on /close: close %d %q, want 3000 \"Go away!\"", ce.Code, ce.Text)
	}
}

// SOCKJS.md: raw websocket sends no heartbeat frames (it may ping).
func TestRawWebsocketNoHeartbeatFrames(t *testing.T) {
	t.Parallel()
	needTimed(t)
	d := websocket.Dialer{HandshakeTimeout: ioTimeout}
	c, _, err := d.Dial("ws"+timedURL[len("http"):]+"/echo/websocket", nil)
	if err != nil {
		t.Fatalf("raw websocket: %v", err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(3 * heartbeatDelay))
	if _, msg, err := c.ReadMessage(); err == nil {
		t.Errorf("raw websocket: unsolicited message %q on an idle connection", msg)
	}
}

// The reference server accepts only RFC 6455 (version 8 or 13) on the raw
// endpoint.
func TestRawWebsocketPlainGET(t *testing.T) {
	t.Parallel()
	do(t, "GET", "/echo/websocket", nil, "").wantStatus(t, http.StatusBadRequest)
	do(t, "POST", "/echo/websocket", nil, "").want405(t, "GET")
}
