package proxy

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The hixie-76 handshake example of draft-ietf-hybi-thewebsocketprotocol-00:
// two keys in headers, eight key bytes after them, and the digest the
// server must answer.
const (
	hixieKey1   = "4 @1  46546xW%0l 1 5"
	hixieKey2   = "12998 5 Y3 1  .P00"
	hixieKey3   = "^n:ds[4U"
	hixieDigest = "8jKS'y:G*Co,Wxa-"
)

// testHixie76 runs a hixie-76 (draft-76) websocket session through the
// proxy, as Safari 5 and iOS 5 would: the eight key bytes right after the
// headers, then the 101, the digest and the "o" frame, and an echo. The
// Sec-WebSocket-Location the browser checks must be the URL it asked for.
func testHixie76(t *testing.T, tg *target) {
	host := strings.TrimPrefix(tg.url, "http://")
	conn, err := net.DialTimeout("tcp", host, frameWait)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * frameWait))
	path := tg.basePath + "/echo/000/" + randomID("hixie") + "/websocket"
	handshake := "GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\n" +
		"Origin: " + tg.url + "\r\nSec-WebSocket-Key1: " + hixieKey1 + "\r\nSec-WebSocket-Key2: " + hixieKey2 + "\r\n\r\n" + hixieKey3
	if _, err := io.WriteString(conn, handshake); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("hixie-76 handshake through %s: %v", tg.name, err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		t.Fatalf("hixie-76 handshake through %s: HTTP %d %q; want 101", tg.name, resp.StatusCode, b)
	}
	if got, want := resp.Header.Get("Sec-WebSocket-Location"), "ws://"+host+path; got != want {
		t.Errorf("hixie-76 through %s: Sec-WebSocket-Location %q, want %q (browsers refuse a location other than the URL they asked for)", tg.name, got, want)
	}
	digest := make([]byte, len(hixieDigest))
	if _, err := io.ReadFull(br, digest); err != nil || string(digest) != hixieDigest {
		t.Fatalf("hixie-76 through %s: digest %q, %v; want %q", tg.name, digest, err, hixieDigest)
	}
	expectHixieFrame(t, br, "o")
	msg := `["hixie 한국어 😀"]`
	if _, err := conn.Write([]byte("\x00" + msg + "\xff")); err != nil {
		t.Fatal(err)
	}
	expectHixieFrame(t, br, "a"+msg)
	_, _ = conn.Write([]byte{0xff, 0x00}) // the closing handshake
}

// expectHixieFrame reads one 0x00 <text> 0xFF frame and fails unless its
// text is want.
func expectHixieFrame(t *testing.T, br *bufio.Reader, want string) {
	t.Helper()
	frame, err := br.ReadBytes(0xff)
	if err != nil {
		t.Fatalf("hixie-76: waiting for %q: %v (read %q)", want, err, frame)
	}
	if got := string(bytes.TrimSuffix(bytes.TrimPrefix(frame, []byte{0x00}), []byte{0xff})); got != want || frame[0] != 0x00 {
		t.Fatalf("hixie-76: frame %q, want %q", frame, want)
	}
}
