package protocol

import (
	"crypto/md5"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// wsURL turns a path under baseURL into a ws:// URL.
func wsURL(path string) string {
	return "ws" + strings.TrimPrefix(baseURL, "http") + path
}

// wsDial opens a websocket to path under baseURL.
func wsDial(t *testing.T, path string) *websocket.Conn {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: ioTimeout}
	c, resp, err := d.Dial(wsURL(path), nil)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("websocket %s: %v (status %d)", path, err, status)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// wsRead returns the next text message.
func wsRead(t *testing.T, c *websocket.Conn) string {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(ioTimeout))
	typ, msg, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("websocket read: %v", err)
	}
	if typ != websocket.TextMessage {
		t.Errorf("websocket message type %d, want text", typ)
	}
	return string(msg)
}

// wsWrite sends a text message.
func wsWrite(t *testing.T, c *websocket.Conn, msg string) {
	t.Helper()
	_ = c.SetWriteDeadline(time.Now().Add(ioTimeout))
	if err := c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		t.Fatalf("websocket write %q: %v", msg, err)
	}
}

// wsWantClosed reads until the server ends the connection and returns the
// close error (nil when the connection just dropped).
func wsWantClosed(t *testing.T, c *websocket.Conn) *websocket.CloseError {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(ioTimeout))
	for {
		_, msg, err := c.ReadMessage()
		if err == nil {
			t.Errorf("websocket: message %q where the server should close", msg)
			continue
		}
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return ce
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("websocket: server did not close within %v", ioTimeout)
		}
		return nil
	}
}

// Official: WebsocketHttpErrors.test_httpMethod.
func TestWebsocketPlainGET(t *testing.T) {
	t.Parallel()
	r := do(t, "GET", "/echo/0/0/websocket", nil, "")
	r.wantStatus(t, http.StatusBadRequest)
}

// Official: WebsocketHttpErrors.test_invalidConnectionHeader. (The official
// suite means to check the body but its assertTrue(msg, body) never fails;
// the reference server answers "Not a valid websocket request".)
func TestWebsocketConnectionClose(t *testing.T) {
	t.Parallel()
	r := do(t, "GET", "/echo/0/0/websocket", h{"Upgrade": "WebSocket", "Connection": "close"}, "")
	r.wantStatus(t, http.StatusBadRequest)
	r.wantBody(t, "Not a valid websocket request")
}

// Official: WebsocketHttpErrors.test_invalidMethod.
func TestWebsocketPOST(t *testing.T) {
	t.Parallel()
	for _, hdr := range []h{{"Upgrade": "WebSocket", "Connection": "Upgrade"}, {}} {
		do(t, "POST", "/echo/0/0/websocket", hdr, "").want405(t, "GET")
	}
}

// Official: Websocket.test_transport.
func TestWebsocket(t *testing.T) {
	t.Parallel()
	c := wsDial(t, sess("/echo")+"/websocket")
	eq(t, "websocket", wsRead(t, c), "o")
	wsWrite(t, c, `["a"]`)
	eq(t, "websocket", wsRead(t, c), `a["a"]`)
	wsWrite(t, c, `["b","c"]`)
	got := wsRead(t, c)
	if got == `a["b"]` {
		got = `a["b",` + strings.TrimPrefix(wsRead(t, c), "a[")
	}
	eq(t, "websocket, two messages in one frame", got, `a["b","c"]`)
}

// The reference server also takes a bare JSON string as one message.
func TestWebsocketSingleMessage(t *testing.T) {
	t.Parallel()
	c := wsDial(t, sess("/echo")+"/websocket")
	eq(t, "websocket", wsRead(t, c), "o")
	wsWrite(t, c, `"a"`)
	eq(t, "websocket", wsRead(t, c), `a["a"]`)
}

// Official: Websocket.test_close.
func TestWebsocketClose(t *testing.T) {
	t.Parallel()
	c := wsDial(t, sess("/close")+"/websocket")
	eq(t, "websocket", wsRead(t, c), "o")
	eq(t, "websocket", wsRead(t, c), `c[3000,"Go away!"]`)
	wsWantClosed(t, c)
}

// Official: Websocket.test_headersSanity.
func TestWebsocketHandshakeHeaders(t *testing.T) {
	t.Parallel()
	c := dial(t, baseURL)
	path := basePath(baseURL) + sess("/echo") + "/websocket"
	c.send("GET", path, "HTTP/1.1", h{"Upgrade": "websocket", "Connection": "Upgrade",
		"Sec-WebSocket-Version": "13", "Sec-WebSocket-Origin": "http://asd",
		"Sec-WebSocket-Key": "x3JJHMbDL1EzLkh9GBhXDw=="}, "")
	r := c.readHead("GET " + path)
	r.wantStatus(t, http.StatusSwitchingProtocols)
	r.wantHeader(t, "Sec-Websocket-Accept", "HSmrc0sMlYUkAGmm5OPpG2HaGWk=")
	eq(t, r.req+": Connection", strings.ToLower(r.header.Get("Connection")), "upgrade")
	eq(t, r.req+": Upgrade", strings.ToLower(r.header.Get("Upgrade")), "websocket")
	r.wantNoHeader(t, "Content-Length")
}

// Official: Websocket.test_empty_frame.
func TestWebsocketEmptyFrame(t *testing.T) {
	t.Parallel()
	c := wsDial(t, sess("/echo")+"/websocket")
	eq(t, "websocket", wsRead(t, c), "o")
	wsWrite(t, c, "")
	wsWrite(t, c, "[]")
	wsWrite(t, c, `["a"]`)
	eq(t, "websocket after an empty message and []", wsRead(t, c), `a["a"]`)
}

// Official: Websocket.test_reuseSessionId.
func TestWebsocketReuseSessionID(t *testing.T) {
	t.Parallel()
	path := sess("/echo") + "/websocket"
	c1 := wsDial(t, path)
	eq(t, "first websocket", wsRead(t, c1), "o")
	c2 := wsDial(t, path)
	eq(t, "second websocket, same id", wsRead(t, c2), "o")
	wsWrite(t, c1, `["a"]`)
	eq(t, "first websocket", wsRead(t, c1), `a["a"]`)
	wsWrite(t, c2, `["b"]`)
	eq(t, "second websocket", wsRead(t, c2), `a["b"]`)
	c1.Close()
	c2.Close()

	c3 := wsDial(t, path)
	eq(t, "websocket reusing a closed id", wsRead(t, c3), "o")
	wsWrite(t, c3, `["a"]`)
	eq(t, "websocket reusing a closed id", wsRead(t, c3), `a["a"]`)
}

// Official: Websocket.test_broken_json.
func TestWebsocketBrokenJSON(t *testing.T) {
	t.Parallel()
	c := wsDial(t, sess("/echo")+"/websocket")
	eq(t, "websocket", wsRead(t, c), "o")
	wsWrite(t, c, `["a`)
	if ce := wsWantClosed(t, c); ce == nil || ce.Code != 3000 {
		t.Errorf("websocket: broken JSON closed with %v, want close code 3000", ce)
	}
	// The server waits for our close reply before it closes the socket, so
	// the connection ends cleanly (EOF) rather than being reset.
	_ = c.UnderlyingConn().SetReadDeadline(time.Now().Add(ioTimeout))
	if _, err := io.Copy(io.Discard, c.UnderlyingConn()); err != nil {
		t.Errorf("websocket: after the close handshake the connection ended with %v, want a clean EOF", err)
	}
}

// SOCKJS.md: with websockets disabled, both websocket endpoints are 404.
func TestWebsocketDisabled(t *testing.T) {
	t.Parallel()
	for _, path := range []string{sess("/disabled_websocket_echo") + "/websocket", "/disabled_websocket_echo/websocket"} {
		d := websocket.Dialer{HandshakeTimeout: ioTimeout}
		c, resp, err := d.Dial(wsURL(path), nil)
		if err == nil {
			c.Close()
			t.Errorf("websocket %s: handshake succeeded on a service with websockets disabled", path)
			continue
		}
		if resp == nil || resp.StatusCode != http.StatusNotFound {
			t.Errorf("websocket %s: %v, want a 404 answer", path, err)
		}
	}
}

// hixie76Key turns a draft-76 Sec-WebSocket-Key into its 32-bit number.
func hixie76Key(k string) uint32 {
	var digits, spaces uint64
	for _, r := range k {
		switch {
		case r >= '0' && r <= '9':
			digits = digits*10 + uint64(r-'0')
		case r == ' ':
			spaces++
		}
	}
	return uint32(digits / spaces)
}

// Official: Websocket.test_haproxy. SOCKJS.md: hixie-76 handshakes must be
// answered with headers before the 8-byte key3 arrives (HAProxy waits for
// them), then the digest, then frames as 0x00 <utf-8> 0xff.
func TestWebsocketHixie76(t *testing.T) {
	t.Parallel()
	path := basePath(baseURL) + sess("/echo") + "/websocket"
	const key1, key2 = "4 @1  46546xW%0l 1 5", "12998 5 Y3 1  .P00"
	c := dial(t, baseURL)
	origin := "http://" + c.host
	c.send("GET", path, "HTTP/1.1", h{"Connection": "Upgrade", "Upgrade": "WebSocket",
		"Origin": origin, "Sec-WebSocket-Key1": key1, "Sec-WebSocket-Key2": key2}, "")
	r := c.readHead("GET " + path + " (hixie-76)")
	r.wantStatus(t, http.StatusSwitchingProtocols)
	eq(t, r.req+": Connection", strings.ToLower(r.header.Get("Connection")), "upgrade")
	eq(t, r.req+": Upgrade", strings.ToLower(r.header.Get("Upgrade")), "websocket")
	r.wantHeader(t, "Sec-Websocket-Location", "ws://"+c.host+path)
	r.wantHeader(t, "Sec-Websocket-Origin", origin)
	r.wantNoHeader(t, "Content-Length")
	if r.status != http.StatusSwitchingProtocols {
		return
	}
	c.write("aaaaaaaa")
	var challenge [16]byte
	binary.BigEndian.PutUint32(challenge[0:], hixie76Key(key1))
	binary.BigEndian.PutUint32(challenge[4:], hixie76Key(key2))
	copy(challenge[8:], "aaaaaaaa")
	sum := md5.Sum(challenge[:])
	const official = "\xca4\x00\xd8\xa5\x08G\x97,\xd5qZ\xba\xbfC{"
	eq(t, "hixie-76 digest computed here", string(sum[:]), official)
	st := c.stream(r)
	st.length = -1
	eq(t, "hixie-76 digest", st.readN(16), official)
	eq(t, "hixie-76 open frame", st.readN(3), "\x00o\xff")
	c.write("\x00[\"a\"]\xff")
	eq(t, "hixie-76 echo frame", st.readUntil("\xff"), "\x00a[\"a\"]\xff")
}
